"""HTTP Basic authentication for the embedded mode, from a users file.

Off by default (local runs). With ``--auth basic --users-file FILE`` every request needs valid
credentials, and user-task endpoints show and act on only the tasks a user may work on: those whose
candidate users or assignee name them, or whose candidate groups include one of their groups. Members
of the ``admin`` group see everything.

The users file (YAML or JSON)::

    users:
      - username: xiji-clerk
        passwordHash: "pbkdf2_sha256$260000$<salt hex>$<hash hex>"   # shuangshi engine hash-password
        groups: ["town:xiji"]
"""

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

ADMIN_GROUP = "admin"
_ITERATIONS = 260_000


class UsersFileError(ValueError):
    """The users file cannot be used; the message names the file and the entry."""


def hash_password(password: str, *, iterations: int = _ITERATIONS) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return f"pbkdf2_sha256${iterations}${salt.hex()}${digest.hex()}"


def _verify(password: str, encoded: str) -> bool:
    try:
        scheme, iterations, salt, expected = encoded.split("$")
        if scheme != "pbkdf2_sha256":
            return False
        digest = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt), int(iterations))
    except ValueError:
        return False
    return hmac.compare_digest(digest.hex(), expected)


@dataclass(frozen=True)
class Principal:
    username: str
    groups: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return ADMIN_GROUP in self.groups

    def may_work_on(self, task: Any) -> bool:
        """Whether this user may see and act on a user task (``engine.state.UserTask``)."""
        if self.is_admin:
            return True
        if task.assignee == self.username or self.username in task.candidate_users:
            return True
        return bool(self.groups.intersection(task.candidate_groups))


@dataclass
class BasicAuthenticator:
    users: dict[str, tuple[str, frozenset[str]]]
    _verified: dict[str, bytes] = field(default_factory=dict)

    @classmethod
    def from_file(cls, path: Path) -> "BasicAuthenticator":
        try:
            data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
        except (OSError, YAMLError) as exc:
            raise UsersFileError(f"{path}: cannot read the users file: {exc}") from exc
        entries = data.get("users") if isinstance(data, dict) else None
        if not isinstance(entries, list):
            raise UsersFileError(f"{path}: expected a top-level 'users' list")
        users: dict[str, tuple[str, frozenset[str]]] = {}
        for index, entry in enumerate(entries):
            where = f"{path}: users[{index}]"
            if not isinstance(entry, dict):
                raise UsersFileError(f"{where}: expected a mapping with username, passwordHash, groups")
            username, password_hash, groups = (
                entry.get("username"),
                entry.get("passwordHash"),
                entry.get("groups", []),
            )
            if not isinstance(username, str) or not username:
                raise UsersFileError(f"{where}.username: required")
            if username in users:
                raise UsersFileError(f"{where}.username: duplicate user '{username}'")
            if not isinstance(password_hash, str) or not password_hash.startswith("pbkdf2_sha256$"):
                raise UsersFileError(
                    f"{where}.passwordHash: expected a pbkdf2_sha256 hash (shuangshi engine hash-password)"
                )
            if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
                raise UsersFileError(f"{where}.groups: expected a list of group names")
            users[username] = (password_hash, frozenset(groups))
        return cls(users)

    def authenticate(self, authorization: str | None) -> Principal | None:
        """The principal for an ``Authorization: Basic …`` header, or None if it does not check out."""
        if not authorization or not authorization.lower().startswith("basic "):
            return None
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        username, sep, password = decoded.partition(":")
        if not sep or username not in self.users:
            return None
        password_hash, groups = self.users[username]
        fingerprint = hashlib.sha256(password.encode()).digest()
        known = self._verified.get(username)
        if known is None or not hmac.compare_digest(known, fingerprint):
            if not _verify(password, password_hash):
                return None
            # PBKDF2 is slow on purpose; remember a verified password for this process's lifetime.
            self._verified[username] = fingerprint
        return Principal(username, groups)
