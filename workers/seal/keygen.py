"""Production seal keys: write one Ed25519 key pair per seal owner into a key directory, once.

The files have the layout :class:`workers.seal.keys.KeyStore` reads (``<owner>.key`` PKCS#8 PEM,
``<owner>.pub`` SubjectPublicKeyInfo PEM) with the modes a mounted secret should have: the private key
0400 (readable by its owner only, as the key store demands), the public key 0444. A directory this
module creates gets mode 0700.

Nothing is ever overwritten: :func:`generate_keys` checks every target file first and raises
:class:`KeyFilesExistError` naming the ones that exist before it writes anything. With
``only_missing=True`` owners whose pair is complete are skipped instead, so a new town or department can
be given a key without touching the others; a half pair (a ``.key`` without its ``.pub`` or the other
way round) is still refused, because generating its missing half would not match the other.

Each file is created atomically with its final mode (:func:`workers.seal._files.create_exclusive`), and
every written pair is read back through a production :class:`KeyStore` before the function returns.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from workers.seal._files import create_exclusive, ensure_private_dir
from workers.seal.keys import KeyStore, SealKeyError, check_owner_code, fingerprint

__all__ = [
    "PRIVATE_KEY_MODE",
    "PUBLIC_KEY_MODE",
    "GeneratedKey",
    "KeyFilesExistError",
    "generate_keys",
]

PRIVATE_KEY_MODE: Final = 0o400
PUBLIC_KEY_MODE: Final = 0o444


class KeyFilesExistError(SealKeyError):
    """Key files that would be written exist already; nothing was written."""

    def __init__(self, existing: Sequence[Path], reason: str) -> None:
        self.existing = tuple(existing)
        names = ", ".join(str(path) for path in self.existing)
        super().__init__(f"{reason}: {names}")


@dataclass(frozen=True, slots=True)
class GeneratedKey:
    """A key pair written by :func:`generate_keys`."""

    owner: str
    private_path: Path
    public_path: Path
    fingerprint: str


def _private_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _public_pem(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _pending_owners(key_dir: Path, owners: Sequence[str], *, only_missing: bool) -> list[str]:
    """The owners to write, after checking that no file of theirs exists (KeyFilesExistError if one does)."""
    store = KeyStore(key_dir, generate_missing=False)
    existing: list[Path] = []
    half_pairs: list[Path] = []
    pending: list[str] = []
    for owner in owners:
        paths = (store.private_key_path(owner), store.public_key_path(owner))
        present = [path for path in paths if path.exists() or path.is_symlink()]
        if not present:
            pending.append(owner)
        elif only_missing and len(present) == 1:
            half_pairs.extend(present)
        elif not only_missing:
            existing.extend(present)
    if half_pairs:
        raise KeyFilesExistError(
            half_pairs, "half a key pair exists (restore its other half or remove it first)"
        )
    if existing:
        raise KeyFilesExistError(existing, "refusing to overwrite existing seal key files")
    return pending


def generate_keys(key_dir: Path, owners: Sequence[str], *, only_missing: bool = False) -> list[GeneratedKey]:
    """Write a new key pair for each owner into ``key_dir`` and return them, in the order given.

    ValueError for an invalid or repeated owner code; :class:`KeyFilesExistError` when a file that would
    be written exists (see the module docstring for ``only_missing``); OSError when the directory cannot
    be created or written.
    """
    codes = [check_owner_code(owner) for owner in owners]
    repeated = sorted({code for code in codes if codes.count(code) > 1})
    if repeated:
        raise ValueError(f"seal owner given more than once: {', '.join(repeated)}")
    key_dir = Path(key_dir)
    if key_dir.exists() and not key_dir.is_dir():
        raise NotADirectoryError(f"{key_dir} is not a directory")
    pending = _pending_owners(key_dir, codes, only_missing=only_missing) if key_dir.is_dir() else codes
    if not pending:
        return []
    ensure_private_dir(key_dir)
    store = KeyStore(key_dir, generate_missing=False)
    written: list[GeneratedKey] = []
    for owner in pending:
        key = Ed25519PrivateKey.generate()
        private_path = store.private_key_path(owner)
        public_path = store.public_key_path(owner)
        if not create_exclusive(private_path, _private_pem(key), mode=PRIVATE_KEY_MODE):
            raise KeyFilesExistError([private_path], "a key file appeared while writing")
        if not create_exclusive(public_path, _public_pem(key), mode=PUBLIC_KEY_MODE):
            raise KeyFilesExistError([public_path], "a key file appeared while writing")
        # The exact modes, whatever the umask took away when the files were created.
        private_path.chmod(PRIVATE_KEY_MODE)
        public_path.chmod(PUBLIC_KEY_MODE)
        written.append(GeneratedKey(owner, private_path, public_path, fingerprint(key.public_key())))
    # Read every pair back as the workers will (mode check, PEM parsing, .pub matching .key).
    check = KeyStore(key_dir, generate_missing=False)
    for entry in written:
        check.private_key(entry.owner)
    return written
