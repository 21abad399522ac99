"""Worker settings from the environment (pydantic-settings).

pyzeebe's and the Camunda SDK's own variable names are used as they are (``ZEEBE_ADDRESS``,
``CAMUNDA_*``); everything of this project carries the ``SHUANGSHI_`` prefix. ``config/.env.example``
lists every variable. Secrets (SMTP password, SMS API key) come from the environment or a mounted
secret file, never from the repository.
"""

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class WorkerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHUANGSHI_", extra="ignore", populate_by_name=True)

    zeebe_address: str = Field(
        default="127.0.0.1:26500", validation_alias=AliasChoices("ZEEBE_ADDRESS", "zeebe_address")
    )
    camunda_rest_address: str = Field(
        default="http://127.0.0.1:8080",
        validation_alias=AliasChoices("CAMUNDA_REST_ADDRESS", "camunda_rest_address"),
    )
    data_dir: Path = Path("data")
    ledger_url: str | None = None  # default: SQLite file in the data dir
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
    progress_base_url: str = "http://127.0.0.1:8080/progress"
    supervisor_group: str = "supervisor:xzsp"
    max_jobs_per_type: int = 32
    log_level: str = "INFO"

    @property
    def resolved_ledger_url(self) -> str:
        return self.ledger_url or f"sqlite:///{(self.data_dir / 'ledger.sqlite3').resolve()}"

    @property
    def resolved_seal_key_dir(self) -> Path:
        return self.seal_key_dir or self.data_dir / "seals"
