"""Who may see a case's 进度查询: the token in the applicant's link and the secret it is made with.

The link in every notification to the applicant is ``<SHUANGSHI_PROGRESS_BASE_URL>/<case number>?t=<token>``
with ``token`` = HMAC-SHA256 of the case number (UTF-8) under the portal secret, base64url without
padding (43 characters). The portal answers only requests carrying the right token (compared in constant
time); anyone else gets the same 404 as for a case that does not exist.

The secret is ``SHUANGSHI_PORTAL_SECRET`` (:class:`PortalSettings`; at least 32 characters, e.g. from
``python -c 'import secrets; print(secrets.token_urlsafe(32))'``), or a file ``shuangshi_portal_secret``
in the secrets folder (``SHUANGSHI_SECRETS_DIR``, default ``/run/secrets``) as for the workers' secrets.
Without either, a development secret is generated once in ``<data dir>/portal.secret`` (0600) and a
warning is logged: the workers (which write the links) and the portal (which checks them) then agree only
when they share that data dir. Changing the secret invalidates every link already sent.
"""

import base64
import contextlib
import hashlib
import hmac
import os
import secrets
from pathlib import Path
from typing import Final

from pydantic import SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from workers.logging import get_logger
from workers.settings import SecretFileSettings

__all__ = [
    "DEV_SECRET_FILE_NAME",
    "MIN_SECRET_LENGTH",
    "SECRET_ENV",
    "PortalSettings",
    "ProgressTokens",
    "load_secret",
]

SECRET_ENV: Final = "SHUANGSHI_PORTAL_SECRET"  # noqa: S105 - the variable's name, not a secret
DEV_SECRET_FILE_NAME: Final = "portal.secret"  # noqa: S105 - a file name, not a secret
MIN_SECRET_LENGTH: Final = 32

_log = get_logger(__name__)


class PortalSettings(SecretFileSettings):
    """The portal's own settings: ``SHUANGSHI_PORTAL_SECRET`` (environment or secret file)."""

    model_config = SettingsConfigDict(
        env_prefix="SHUANGSHI_PORTAL_", extra="ignore", hide_input_in_errors=True
    )

    secret: SecretStr | None = None

    @field_validator("secret")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        if len(value.get_secret_value().strip()) < MIN_SECRET_LENGTH:
            raise ValueError(f"must be at least {MIN_SECRET_LENGTH} characters (use a random string)")
        return value


def _development_secret(data_dir: Path) -> bytes:
    """The secret in ``<data dir>/portal.secret``, created (0600, atomically) when it does not exist."""
    path = data_dir / DEV_SECRET_FILE_NAME
    if not path.is_file():
        data_dir.mkdir(parents=True, exist_ok=True)
        temporary = data_dir / f".{DEV_SECRET_FILE_NAME}.{os.getpid()}.{secrets.token_hex(4)}"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "w", encoding="ascii") as handle:
                handle.write(secrets.token_urlsafe(32) + "\n")
            with contextlib.suppress(FileExistsError):  # another process made it first: use theirs
                os.link(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
        _log.warning(
            "portal.development_secret",
            path=str(path),
            hint=f"set {SECRET_ENV} so that the workers and the portal share a secret",
        )
    return path.read_text(encoding="ascii").strip().encode("ascii")


def load_secret(data_dir: Path, settings: PortalSettings | None = None) -> bytes:
    """``SHUANGSHI_PORTAL_SECRET`` (or its secret file), else the development secret of ``data_dir``."""
    configured = (settings or PortalSettings()).secret
    if configured is not None:
        return configured.get_secret_value().strip().encode("utf-8")
    return _development_secret(data_dir)


class ProgressTokens:
    """Makes and checks the tokens of progress links under one secret; never shows the secret."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < MIN_SECRET_LENGTH:
            raise ValueError(f"the portal secret must be at least {MIN_SECRET_LENGTH} bytes")
        self._secret = secret

    def __repr__(self) -> str:
        return "ProgressTokens(secret=***)"

    def token(self, case_number: str) -> str:
        """HMAC-SHA256 of the case number, base64url without padding."""
        mac = hmac.new(self._secret, case_number.encode("utf-8"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")

    def matches(self, case_number: str, token: str | None) -> bool:
        """Whether ``token`` is the case's token (constant-time comparison; a missing token never is)."""
        if not token:
            return False
        expected = self.token(case_number).encode("ascii")
        return hmac.compare_digest(expected, token.encode("utf-8", errors="replace"))
