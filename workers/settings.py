"""Worker settings from the environment (pydantic-settings).

pyzeebe's and the Camunda SDK's own variable names are used as they are (``ZEEBE_ADDRESS``,
``ZEEBE_CLIENT_ID``, ``CAMUNDA_*``); everything of this project carries the ``SHUANGSHI_`` prefix.
``config/.env.example`` lists every variable.

Secrets (SMTP password, SMS API key, ledger password, OAuth client secret) come from the environment or
from files in a secrets folder: ``/run/secrets`` by default, ``SHUANGSHI_SECRETS_DIR`` to change it. A file
is named like the variable, in lower case (``shuangshi_smtp_password``, ``shuangshi_ledger_password``,
``zeebe_client_secret`` or ``camunda_client_secret``); an environment variable wins over a file. The
default folder is skipped when it does not exist; a folder named in ``SHUANGSHI_SECRETS_DIR`` must exist.
"""

import contextlib
import os
from pathlib import Path
from typing import Final, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SecretsSettingsSource,
    SettingsConfigDict,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

__all__ = ["DEFAULT_SECRETS_DIR", "SECRETS_DIR_ENV", "SecretFileSettings", "WorkerSettings", "secrets_dir"]

SECRETS_DIR_ENV: Final = "SHUANGSHI_SECRETS_DIR"
DEFAULT_SECRETS_DIR: Final = Path("/run/secrets")

AuthStrategy = Literal["NONE", "OAUTH", "BASIC"]
LogFormat = Literal["auto", "json", "console"]


def secrets_dir() -> Path | None:
    """The secret files folder: ``SHUANGSHI_SECRETS_DIR`` (must exist), else ``/run/secrets`` if it exists."""
    configured = os.environ.get(SECRETS_DIR_ENV)
    if configured:
        path = Path(configured)
        if not path.is_dir():
            raise ValueError(f"{SECRETS_DIR_ENV}={configured}: no such folder")
        return path
    return DEFAULT_SECRETS_DIR if DEFAULT_SECRETS_DIR.is_dir() else None


class SecretFileSettings(BaseSettings):
    """Settings whose values may also be files in :func:`secrets_dir` (environment first)."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,  # noqa: ARG003 - replaced by the folder found now
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        folder = secrets_dir()
        if folder is None:
            return init_settings, env_settings, dotenv_settings
        return init_settings, env_settings, dotenv_settings, SecretsSettingsSource(settings_cls, folder)


class WorkerSettings(SecretFileSettings):
    model_config = SettingsConfigDict(env_prefix="SHUANGSHI_", extra="ignore", populate_by_name=True)

    # --- Zeebe gateway (pyzeebe's variable names) ---
    zeebe_address: str = Field(
        default="127.0.0.1:26500", validation_alias=AliasChoices("ZEEBE_ADDRESS", "zeebe_address")
    )
    camunda_rest_address: str = Field(
        default="http://127.0.0.1:8080",
        validation_alias=AliasChoices("CAMUNDA_REST_ADDRESS", "camunda_rest_address"),
    )
    #: NONE: no credentials on gRPC; OAUTH: client credentials (inferred when id and secret are set, as the
    #: Camunda SDK does); BASIC is for the REST API only, gRPC then goes without credentials.
    auth_strategy: AuthStrategy | None = Field(
        default=None, validation_alias=AliasChoices("CAMUNDA_AUTH_STRATEGY", "auth_strategy")
    )
    client_id: str | None = Field(
        default=None, validation_alias=AliasChoices("CAMUNDA_CLIENT_ID", "ZEEBE_CLIENT_ID", "client_id")
    )
    client_secret: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("CAMUNDA_CLIENT_SECRET", "ZEEBE_CLIENT_SECRET", "client_secret"),
    )
    oauth_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("CAMUNDA_OAUTH_URL", "ZEEBE_AUTHORIZATION_SERVER_URL", "oauth_url"),
    )
    token_audience: str | None = Field(
        default=None,
        validation_alias=AliasChoices("CAMUNDA_TOKEN_AUDIENCE", "ZEEBE_TOKEN_AUDIENCE", "token_audience"),
    )
    token_scope: str | None = Field(
        default=None, validation_alias=AliasChoices("CAMUNDA_TOKEN_SCOPE", "ZEEBE_TOKEN_SCOPE", "token_scope")
    )
    cluster_id: str | None = Field(
        default=None, validation_alias=AliasChoices("CAMUNDA_CLUSTER_ID", "cluster_id")
    )
    cluster_region: str | None = Field(
        default=None, validation_alias=AliasChoices("CAMUNDA_CLUSTER_REGION", "cluster_region")
    )
    ca_certificate_path: Path | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "ZEEBE_CA_CERTIFICATE_PATH", "CAMUNDA_CA_CERTIFICATE_PATH", "ca_certificate_path"
        ),
    )
    zeebe_tls: bool = False  # TLS without OAuth (OAuth and Camunda SaaS always use TLS)

    # --- This project ---
    data_dir: Path = Path("data")
    ledger_url: str | None = None  # default: SQLite file in the data dir
    ledger_password: SecretStr | None = None  # merged into ledger_url when that has no password
    seal_key_dir: Path | None = None  # default: <data dir>/seals with generated development keys
    seal_generate_keys: bool = True  # production: false, keys come from mounted files
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    mail_from: str = "noreply@shanting.example"
    sms_gateway_url: str | None = None
    sms_api_key: SecretStr | None = None
    sms_sign_name: str = "山亭区政务服务"
    progress_base_url: str = "http://127.0.0.1:8090/progress"  # `shuangshi portal`
    supervisor_group: str = "supervisor:xzsp"

    # --- Worker runtime ---
    max_jobs_per_type: int = Field(default=32, ge=1)  # jobs of one type running at once in this process
    max_jobs_overrides: dict[str, int] = Field(default_factory=dict)  # per type, JSON: {"seal.stamp": 4}
    shutdown_grace_seconds: float = Field(default=30.0, ge=0)
    reconnect_initial_seconds: float = Field(default=0.5, gt=0)
    reconnect_max_seconds: float = Field(default=30.0, gt=0)
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=9464, ge=0, le=65535)  # 0: a free port, logged in workers.ready
    log_level: str = "INFO"
    log_format: LogFormat = "auto"

    @field_validator("max_jobs_overrides")
    @classmethod
    def _positive_limits(cls, value: dict[str, int]) -> dict[str, int]:
        bad = sorted(name for name, limit in value.items() if limit < 1)
        if bad:
            raise ValueError(f"limits must be at least 1 (see {', '.join(bad)})")
        return value

    @field_validator("reconnect_max_seconds")
    @classmethod
    def _cap_not_below_initial(cls, value: float, info: ValidationInfo) -> float:
        initial = info.data.get("reconnect_initial_seconds")
        if initial is not None and value < initial:
            raise ValueError("must not be below SHUANGSHI_RECONNECT_INITIAL_SECONDS")
        return value

    def redact(self, text: str) -> str:
        """``text`` with the value of every secret setting (and the ledger URL's password) replaced."""
        secrets = [value.get_secret_value() for value in vars(self).values() if isinstance(value, SecretStr)]
        if self.ledger_url:
            with contextlib.suppress(ArgumentError):
                secrets.append(make_url(self.ledger_url).password or "")
        for secret in sorted((s for s in secrets if s), key=len, reverse=True):
            text = text.replace(secret, "***")
        return text

    def max_jobs(self, task_type: str) -> int:
        """How many jobs of ``task_type`` may run at once (the override, else ``max_jobs_per_type``)."""
        return self.max_jobs_overrides.get(task_type, self.max_jobs_per_type)

    @property
    def resolved_ledger_url(self) -> str:
        """The ledger URL, with ``ledger_password`` filled in when the URL has no password of its own."""
        url = self.ledger_url or f"sqlite:///{(self.data_dir / 'ledger.sqlite3').resolve()}"
        if self.ledger_password is None:
            return url
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite" or parsed.password is not None:
            return url
        password = self.ledger_password.get_secret_value()
        return parsed.set(password=password).render_as_string(hide_password=False)

    @property
    def resolved_seal_key_dir(self) -> Path:
        return self.seal_key_dir or self.data_dir / "seals"
