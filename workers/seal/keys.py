"""Seal keys: one Ed25519 key pair per seal owner (each town, each district department), kept as files.

Layout of the key directory, one pair per owner code::

    <owner>.key   the private key, PKCS#8 PEM, unencrypted, mode 0600 (or 0400); never readable by others
    <owner>.pub   the public key, SubjectPublicKeyInfo PEM ("-----BEGIN PUBLIC KEY-----")

Two modes:

- development (``generate_missing=True``): the first time an owner's private key is needed it is
  generated and written; the directory is created with mode 0700 and the files are created atomically
  (a temporary file opened with mode 0600, then linked into place), so concurrent workers agree on one key.
- production (``generate_missing=False``): keys are mounted files (a Docker or Kubernetes secret
  directory); nothing is ever written. A missing key is an error naming the owner and the expected path.

In both modes a private key file that grants any permission to group or others is refused, and a
``.pub`` that does not belong to the ``.key`` next to it is an error. Verification needs only the
``.pub`` (a verifying worker may be given public keys only); without one it derives the public key from
the private key.

The fingerprint of a key is the SHA-256 of the raw 32-byte Ed25519 public key (RFC 8032 encoding), as
64 lowercase hex digits: ``hashlib.sha256(public_key.public_bytes_raw()).hexdigest()``.

Keys are cached for the life of the :class:`KeyStore`; rotating a key means restarting the workers.
"""

import hashlib
import os
import re
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from workers.logging import get_logger
from workers.seal._files import create_exclusive, ensure_private_dir
from workers.seal.models import OWNER_CODE_PATTERN

__all__ = [
    "InsecureKeyFileError",
    "KeyStore",
    "PublicKeyLookup",
    "PublicKeySource",
    "SealKeyError",
    "SealKeyNotFoundError",
    "SigningKeySource",
    "check_owner_code",
    "fingerprint",
]

_log = get_logger(__name__)
_OWNER_RE = re.compile(OWNER_CODE_PATTERN)


class SealKeyError(Exception):
    """A seal key is missing, unreadable, insecure or inconsistent (an operations problem, not a case's)."""


class SealKeyNotFoundError(SealKeyError, LookupError):
    """No key is registered for a seal owner."""


class InsecureKeyFileError(SealKeyError):
    """A private key file may be read or written by group or others."""


class SigningKeySource(Protocol):
    """Where :func:`workers.seal.service.stamp` gets an owner's private key."""

    def private_key(self, owner: str, /) -> Ed25519PrivateKey: ...


class PublicKeySource(Protocol):
    """Where verification gets an owner's registered public key; SealKeyNotFoundError when there is none."""

    def public_key(self, owner: str, /) -> Ed25519PublicKey: ...


#: A key store or a plain function from owner code to public key (raising SealKeyNotFoundError).
PublicKeyLookup = PublicKeySource | Callable[[str], Ed25519PublicKey]


def fingerprint(public_key: Ed25519PublicKey) -> str:
    """SHA-256 of the raw 32-byte public key, lowercase hex (64 digits)."""
    return hashlib.sha256(public_key.public_bytes_raw()).hexdigest()


def check_owner_code(owner: str) -> str:
    """``owner`` if it is a valid owner code (``xiji``, ``rsj``); ValueError otherwise.

    Owner codes name key files, so anything that could leave the key directory is refused.
    """
    if not isinstance(owner, str) or len(owner) > 64 or not _OWNER_RE.fullmatch(owner):
        raise ValueError(
            f"invalid seal owner code {owner!r}: expected lowercase letters and digits like 'xiji'"
        )
    return owner


def _private_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


class KeyStore:
    """Ed25519 key pairs of seal owners in ``key_dir`` (see the module docstring for layout and modes)."""

    def __init__(self, key_dir: Path, *, generate_missing: bool) -> None:
        self._dir = Path(key_dir)
        self._generate = generate_missing
        self._lock = threading.Lock()
        self._private: dict[str, Ed25519PrivateKey] = {}
        self._public: dict[str, Ed25519PublicKey] = {}

    @property
    def key_dir(self) -> Path:
        """The directory holding ``<owner>.key`` and ``<owner>.pub``."""
        return self._dir

    @property
    def generate_missing(self) -> bool:
        """True in development: missing private keys are generated."""
        return self._generate

    def private_key_path(self, owner: str) -> Path:
        """Where the owner's private key is (or will be) stored."""
        return self._dir / f"{check_owner_code(owner)}.key"

    def public_key_path(self, owner: str) -> Path:
        """Where the owner's public key is (or will be) stored."""
        return self._dir / f"{check_owner_code(owner)}.pub"

    def private_key(self, owner: str, /) -> Ed25519PrivateKey:
        """The owner's private key; generated on first use in development mode.

        SealKeyNotFoundError (production, no key file), InsecureKeyFileError (group or others may access
        it) or SealKeyError (unreadable, not Ed25519, or not matching ``<owner>.pub``).
        """
        check_owner_code(owner)
        with self._lock:
            cached = self._private.get(owner)
            if cached is not None:
                return cached
            path = self.private_key_path(owner)
            if not path.exists() and self._generate:
                key = self._generate_key(owner)
            else:
                key = self._read_private(owner, path)
            self._check_pair(owner, key)
            self._private[owner] = key
            self._public[owner] = key.public_key()
            return key

    def public_key(self, owner: str, /) -> Ed25519PublicKey:
        """The owner's registered public key, from ``<owner>.pub`` or else derived from ``<owner>.key``.

        Never generates a key: an owner without key files raises SealKeyNotFoundError.
        """
        check_owner_code(owner)
        with self._lock:
            cached = self._public.get(owner)
            if cached is not None:
                return cached
            public_path = self.public_key_path(owner)
            private_path = self.private_key_path(owner)
            if public_path.exists():
                key = self._read_public(owner, public_path)
            elif private_path.exists():
                key = self._read_private(owner, private_path).public_key()
            else:
                raise SealKeyNotFoundError(
                    f"no key registered for seal owner {owner!r}: expected {public_path} or {private_path}"
                )
            self._public[owner] = key
            return key

    def fingerprint(self, owner: str) -> str:
        """Fingerprint of the owner's registered public key (see :func:`fingerprint`)."""
        return fingerprint(self.public_key(owner))

    # ----------------------------------------------------------------------------------------------

    def _generate_key(self, owner: str) -> Ed25519PrivateKey:
        private_path = self.private_key_path(owner)
        public_path = self.public_key_path(owner)
        # A worker that wins the race links the private key before it writes the public one.
        if public_path.exists() and not private_path.exists():
            raise SealKeyError(
                f"seal owner {owner!r} has a public key {public_path} but no private key "
                f"{private_path}; restore the private key or remove the public key"
            )
        ensure_private_dir(self._dir)
        key = Ed25519PrivateKey.generate()
        if create_exclusive(private_path, _private_pem(key), mode=0o600):
            _log.info(
                "seal.key_generated",
                owner=owner,
                fingerprint=fingerprint(key.public_key()),
                path=str(private_path),
            )
        else:  # another worker created it first: use theirs
            key = self._read_private(owner, private_path)
        create_exclusive(public_path, _public_pem(key.public_key()), mode=0o644)
        return key

    def _read_private(self, owner: str, path: Path) -> Ed25519PrivateKey:
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            raise SealKeyNotFoundError(
                f"no private key for seal owner {owner!r}: expected the file {path} "
                "(PKCS#8 PEM, mode 0600 or 0400)"
            ) from None
        except OSError as exc:
            raise SealKeyError(
                f"cannot read the private key of seal owner {owner!r} at {path}: {exc}"
            ) from exc
        with os.fdopen(fd, "rb") as file:
            info = os.fstat(file.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise SealKeyError(f"the private key of seal owner {owner!r} at {path} is not a regular file")
            if info.st_mode & 0o077:
                raise InsecureKeyFileError(
                    f"refusing the private key of seal owner {owner!r} at {path}: its mode "
                    f"{stat.S_IMODE(info.st_mode):04o} lets group or others access it; use mode 0600 or 0400"
                )
            data = file.read()
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as exc:
            raise SealKeyError(
                f"the private key of seal owner {owner!r} at {path} is not an unencrypted PKCS#8 PEM key"
            ) from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise SealKeyError(f"the private key of seal owner {owner!r} at {path} is not an Ed25519 key")
        return key

    def _read_public(self, owner: str, path: Path) -> Ed25519PublicKey:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise SealKeyError(
                f"cannot read the public key of seal owner {owner!r} at {path}: {exc}"
            ) from exc
        try:
            key = serialization.load_pem_public_key(data)
        except (ValueError, TypeError) as exc:
            raise SealKeyError(
                f"the public key of seal owner {owner!r} at {path} is not a PEM public key"
            ) from exc
        if not isinstance(key, Ed25519PublicKey):
            raise SealKeyError(f"the public key of seal owner {owner!r} at {path} is not an Ed25519 key")
        return key

    def _check_pair(self, owner: str, key: Ed25519PrivateKey) -> None:
        """A ``.pub`` next to the ``.key`` must be its public half, or every seal would fail to verify."""
        public_path = self.public_key_path(owner)
        if not public_path.exists():
            return
        registered = self._read_public(owner, public_path)
        if registered.public_bytes_raw() != key.public_key().public_bytes_raw():
            raise SealKeyError(
                f"the key pair of seal owner {owner!r} does not match: {public_path} (fingerprint "
                f"{fingerprint(registered)}) is not the public key of {self.private_key_path(owner)} "
                f"(fingerprint {fingerprint(key.public_key())})"
            )
