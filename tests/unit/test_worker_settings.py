"""Worker settings: secret files, the ledger password, the channel choice, limits and the back-off."""

import random
from pathlib import Path

import pytest
from pydantic import AliasChoices, SecretStr, ValidationError
from sqlalchemy.engine import make_url

import workers.settings
from workers.connection import (
    CLOUD_OAUTH_URL,
    CLOUD_TOKEN_AUDIENCE,
    ConnectionSettingsError,
    channel_options,
    channel_plan,
    create_channel,
)
from workers.logging import json_for_format
from workers.reconnect import Backoff
from workers.settings import SECRETS_DIR_ENV, WorkerSettings

#: Variables these tests set; cleared first so that the developer's environment does not leak in.
_ENV = (
    "ZEEBE_ADDRESS",
    "CAMUNDA_AUTH_STRATEGY",
    "CAMUNDA_CLIENT_ID",
    "ZEEBE_CLIENT_ID",
    "CAMUNDA_CLIENT_SECRET",
    "ZEEBE_CLIENT_SECRET",
    "CAMUNDA_OAUTH_URL",
    "ZEEBE_AUTHORIZATION_SERVER_URL",
    "CAMUNDA_TOKEN_AUDIENCE",
    "ZEEBE_TOKEN_AUDIENCE",
    "CAMUNDA_TOKEN_SCOPE",
    "CAMUNDA_CLUSTER_ID",
    "CAMUNDA_CLUSTER_REGION",
    "ZEEBE_CA_CERTIFICATE_PATH",
    "SHUANGSHI_ZEEBE_TLS",
    "SHUANGSHI_LEDGER_URL",
    "SHUANGSHI_LEDGER_PASSWORD",
    "SHUANGSHI_SMTP_PASSWORD",
    "SHUANGSHI_MAX_JOBS_PER_TYPE",
    "SHUANGSHI_MAX_JOBS_OVERRIDES",
    SECRETS_DIR_ENV,
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(workers.settings, "DEFAULT_SECRETS_DIR", tmp_path / "no-such-dir")


# --- secret files and the ledger password ---------------------------------------------------------------


def test_secrets_are_read_from_files_named_like_the_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files named after the variables (lower case) in SHUANGSHI_SECRETS_DIR fill the secret settings."""
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "shuangshi_smtp_password").write_text("smtp-pw\n", encoding="utf-8")
    (secrets / "shuangshi_ledger_password").write_text("ledger-pw", encoding="utf-8")
    (secrets / "zeebe_client_secret").write_text("client-pw", encoding="utf-8")
    monkeypatch.setenv(SECRETS_DIR_ENV, str(secrets))
    settings = WorkerSettings()
    assert settings.smtp_password == SecretStr("smtp-pw")
    assert settings.ledger_password == SecretStr("ledger-pw")
    assert settings.client_secret == SecretStr("client-pw")
    assert "pw" not in repr(settings)


def test_an_environment_variable_wins_over_a_secret_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The environment overrides the file of the same name."""
    (tmp_path / "shuangshi_smtp_password").write_text("from-file", encoding="utf-8")
    monkeypatch.setenv(SECRETS_DIR_ENV, str(tmp_path))
    monkeypatch.setenv("SHUANGSHI_SMTP_PASSWORD", "from-env")
    assert WorkerSettings().smtp_password == SecretStr("from-env")


def test_a_missing_default_secrets_dir_is_skipped_silently() -> None:
    """Without /run/secrets (here: a missing stand-in) settings load, with no warning (warnings fail tests)."""
    assert WorkerSettings().smtp_password is None


def test_a_configured_secrets_dir_must_exist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SHUANGSHI_SECRETS_DIR naming a missing folder is an error that names the variable."""
    monkeypatch.setenv(SECRETS_DIR_ENV, str(tmp_path / "typo"))
    with pytest.raises(ValueError, match=SECRETS_DIR_ENV):
        WorkerSettings()


def test_ledger_password_is_merged_into_a_url_without_one() -> None:
    """A PostgreSQL URL without a password gets SHUANGSHI_LEDGER_PASSWORD; the user, host and db stay."""
    settings = WorkerSettings(
        ledger_url="postgresql+psycopg://ledger@db.example:5432/ledger",
        ledger_password=SecretStr("p@ss/w:rd"),
    )
    url = make_url(settings.resolved_ledger_url)
    assert (url.username, url.password, url.host, url.port, url.database) == (
        "ledger",
        "p@ss/w:rd",
        "db.example",
        5432,
        "ledger",
    )
    assert "p@ss" not in repr(settings)


def test_a_password_in_the_url_is_kept_and_sqlite_is_left_alone(tmp_path: Path) -> None:
    """The URL's own password wins; SQLite URLs never take a password."""
    own = WorkerSettings(
        ledger_url="postgresql+psycopg://ledger:own@db/ledger", ledger_password=SecretStr("other")
    )
    assert make_url(own.resolved_ledger_url).password == "own"  # noqa: S105 - test value
    sqlite = WorkerSettings(data_dir=tmp_path, ledger_password=SecretStr("other"))
    assert sqlite.resolved_ledger_url == f"sqlite:///{(tmp_path / 'ledger.sqlite3').resolve()}"


def test_redact_hides_every_secret_value() -> None:
    """Error text that quotes a secret (an SMTP password, the ledger URL's password) is redacted."""
    settings = WorkerSettings(
        ledger_url="postgresql+psycopg://ledger:url-pw@db/ledger",
        smtp_password=SecretStr("smtp-pw"),
        client_secret=SecretStr("client-pw"),
    )
    text = "could not parse 'postgresql+psycopg://ledger:url-pw@db/ledger'; smtp-pw; client-pw"
    assert settings.redact(text) == "could not parse 'postgresql+psycopg://ledger:***@db/ledger'; ***; ***"


# --- concurrency limits ----------------------------------------------------------------------------------


def test_limits_per_type_come_from_the_overrides_or_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """SHUANGSHI_MAX_JOBS_OVERRIDES (JSON) wins for its types; others use SHUANGSHI_MAX_JOBS_PER_TYPE."""
    monkeypatch.setenv("SHUANGSHI_MAX_JOBS_PER_TYPE", "8")
    monkeypatch.setenv("SHUANGSHI_MAX_JOBS_OVERRIDES", '{"seal.stamp": 2}')
    settings = WorkerSettings()
    assert settings.max_jobs("seal.stamp") == 2
    assert settings.max_jobs("case.register") == 8


def test_a_limit_below_one_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A zero limit would stop a job type silently; it is a settings error instead."""
    monkeypatch.setenv("SHUANGSHI_MAX_JOBS_OVERRIDES", '{"seal.stamp": 0}')
    with pytest.raises(ValidationError, match=r"seal\.stamp"):
        WorkerSettings()


@pytest.mark.parametrize(("value", "expected"), [("auto", None), ("json", True), ("console", False)])
def test_log_format_values(value: str, expected: bool | None) -> None:
    """SHUANGSHI_LOG_FORMAT maps to JSON, console, or the terminal check; anything else is refused."""
    assert json_for_format(value) is expected
    with pytest.raises(ValueError, match="log format"):
        json_for_format("xml")


# --- the channel ------------------------------------------------------------------------------------------


def test_default_is_a_plain_channel_to_zeebe_address(monkeypatch: pytest.MonkeyPatch) -> None:
    """No credentials, no TLS: plain gRPC to ZEEBE_ADDRESS (the embedded engine, a local Zeebe)."""
    monkeypatch.setenv("ZEEBE_ADDRESS", "zeebe.internal:26500")
    plan = channel_plan(WorkerSettings())
    assert (plan.kind, plan.address, plan.oauth) == ("insecure", "zeebe.internal:26500", None)


def test_basic_auth_strategy_leaves_grpc_plain(monkeypatch: pytest.MonkeyPatch) -> None:
    """CAMUNDA_AUTH_STRATEGY=BASIC is for the REST API; the gateway channel stays plain."""
    monkeypatch.setenv("CAMUNDA_AUTH_STRATEGY", "BASIC")
    assert channel_plan(WorkerSettings()).kind == "insecure"


def test_tls_by_flag_or_by_ca_certificate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SHUANGSHI_ZEEBE_TLS or ZEEBE_CA_CERTIFICATE_PATH ask for TLS without credentials."""
    monkeypatch.setenv("SHUANGSHI_ZEEBE_TLS", "true")
    assert channel_plan(WorkerSettings()).kind == "tls"
    monkeypatch.delenv("SHUANGSHI_ZEEBE_TLS")
    monkeypatch.setenv("ZEEBE_CA_CERTIFICATE_PATH", str(tmp_path / "ca.pem"))
    plan = channel_plan(WorkerSettings())
    assert (plan.kind, plan.ca_certificate_path) == ("tls", tmp_path / "ca.pem")


def test_oauth_is_inferred_from_client_credentials_with_pyzeebe_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """ZEEBE_CLIENT_ID/SECRET and ZEEBE_AUTHORIZATION_SERVER_URL/TOKEN_AUDIENCE (pyzeebe's names) give OAuth."""
    monkeypatch.setenv("ZEEBE_ADDRESS", "zeebe.example:443")
    monkeypatch.setenv("ZEEBE_CLIENT_ID", "workers")
    monkeypatch.setenv("ZEEBE_CLIENT_SECRET", "s3cret")
    monkeypatch.setenv("ZEEBE_AUTHORIZATION_SERVER_URL", "https://idp.example/token")
    monkeypatch.setenv("ZEEBE_TOKEN_AUDIENCE", "zeebe-api")
    plan = channel_plan(WorkerSettings())
    assert plan.kind == "oauth"
    assert plan.address == "zeebe.example:443"
    assert plan.oauth is not None
    assert (plan.oauth.client_id, plan.oauth.url, plan.oauth.audience) == (
        "workers",
        "https://idp.example/token",
        "zeebe-api",
    )
    assert plan.oauth.client_secret.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(plan)


def test_camunda_names_win_over_zeebe_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """CAMUNDA_* come first, as in pyzeebe's and the Camunda SDK's lookups."""
    monkeypatch.setenv("CAMUNDA_AUTH_STRATEGY", "OAUTH")
    monkeypatch.setenv("CAMUNDA_CLIENT_ID", "camunda-id")
    monkeypatch.setenv("ZEEBE_CLIENT_ID", "zeebe-id")
    monkeypatch.setenv("CAMUNDA_CLIENT_SECRET", "x")
    monkeypatch.setenv("CAMUNDA_OAUTH_URL", "https://idp.example/camunda")
    monkeypatch.setenv("ZEEBE_AUTHORIZATION_SERVER_URL", "https://idp.example/zeebe")
    plan = channel_plan(WorkerSettings())
    assert plan.oauth is not None
    assert (plan.oauth.client_id, plan.oauth.url) == ("camunda-id", "https://idp.example/camunda")


def test_oauth_without_a_token_url_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """OAUTH without CAMUNDA_OAUTH_URL fails naming the variable (no silent fallback to SaaS)."""
    monkeypatch.setenv("CAMUNDA_AUTH_STRATEGY", "OAUTH")
    monkeypatch.setenv("CAMUNDA_CLIENT_ID", "workers")
    monkeypatch.setenv("CAMUNDA_CLIENT_SECRET", "s3cret")
    with pytest.raises(ConnectionSettingsError, match="CAMUNDA_OAUTH_URL"):
        channel_plan(WorkerSettings())


def test_oauth_without_credentials_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """OAUTH without the client id and secret fails naming both variables."""
    monkeypatch.setenv("CAMUNDA_AUTH_STRATEGY", "OAUTH")
    with pytest.raises(ConnectionSettingsError, match="CAMUNDA_CLIENT_ID and CAMUNDA_CLIENT_SECRET"):
        channel_plan(WorkerSettings())


def test_cluster_id_means_camunda_saas_with_its_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """CAMUNDA_CLUSTER_ID: the SaaS address from cluster and region, SaaS token URL and audience."""
    monkeypatch.setenv("CAMUNDA_CLUSTER_ID", "abc-123")
    monkeypatch.setenv("CAMUNDA_CLUSTER_REGION", "syd-1")
    monkeypatch.setenv("CAMUNDA_CLIENT_ID", "workers")
    monkeypatch.setenv("CAMUNDA_CLIENT_SECRET", "s3cret")
    plan = channel_plan(WorkerSettings())
    assert (plan.kind, plan.address) == ("camunda-cloud", "abc-123.syd-1.zeebe.camunda.io:443")
    assert plan.oauth is not None
    assert (plan.oauth.url, plan.oauth.audience) == (CLOUD_OAUTH_URL, CLOUD_TOKEN_AUDIENCE)


def test_saas_without_credentials_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A cluster id alone cannot connect: the error names the credential variables."""
    monkeypatch.setenv("CAMUNDA_CLUSTER_ID", "abc-123")
    with pytest.raises(ConnectionSettingsError, match="CAMUNDA_CLIENT_SECRET"):
        channel_plan(WorkerSettings())


def test_grpc_reconnect_backoff_follows_the_settings() -> None:
    """The channel's own reconnect back-off starts and caps where the workers' polls do."""
    settings = WorkerSettings(reconnect_initial_seconds=0.25, reconnect_max_seconds=12)
    assert dict(channel_options(settings)) == {
        "grpc.initial_reconnect_backoff_ms": 250,
        "grpc.max_reconnect_backoff_ms": 12_000,
    }


async def test_every_kind_of_channel_is_created(tmp_path: Path) -> None:
    """create_channel builds each kind without connecting (pyzeebe's helpers; a CA file is read)."""
    ca = tmp_path / "ca.pem"
    ca.write_bytes(b"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")
    secret = SecretStr("s3cret")
    variants = [
        WorkerSettings(),
        WorkerSettings(zeebe_tls=True),
        WorkerSettings(ca_certificate_path=ca),
        WorkerSettings(client_id="w", client_secret=secret, oauth_url="https://idp.example/token"),
        WorkerSettings(cluster_id="abc", client_id="w", client_secret=secret),
    ]
    for settings in variants:
        channel = create_channel(settings)
        await channel.close()
    with pytest.raises(ConnectionSettingsError, match="ZEEBE_CA_CERTIFICATE_PATH"):
        create_channel(WorkerSettings(ca_certificate_path=tmp_path / "missing.pem"))


# --- back-off ---------------------------------------------------------------------------------------------


def test_backoff_doubles_up_to_the_cap_with_full_jitter_and_resets() -> None:
    """Delays are uniform in [0, min(cap, initial * 2**n)]; reset starts again at the first delay."""
    backoff = Backoff(0.5, 30.0, random.Random(7))  # noqa: S311 - reproducible jitter
    ceilings = []
    for _ in range(9):
        ceiling = backoff.ceiling()
        ceilings.append(ceiling)
        assert 0 <= backoff.next_delay() <= ceiling
    assert ceilings == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    seeded = [random.Random(seed) for seed in range(50)]  # noqa: S311 - reproducible jitter
    delays = [Backoff(0.5, 30.0, rng).next_delay() for rng in seeded]
    assert len(set(delays)) == 50  # jittered: no two workers retry in lock-step
    backoff.reset()
    assert backoff.failures == 0
    assert backoff.ceiling() == 0.5


def test_backoff_rejects_a_cap_below_the_first_delay() -> None:
    """Back-off settings that cannot grow are refused (in the class and in the settings)."""
    with pytest.raises(ValueError, match="initial"):
        Backoff(5, 1)
    with pytest.raises(ValidationError, match="SHUANGSHI_RECONNECT_INITIAL_SECONDS"):
        WorkerSettings(reconnect_initial_seconds=5, reconnect_max_seconds=1)


def test_env_example_lists_every_worker_setting() -> None:
    """config/.env.example names every WorkerSettings variable (its first alias, or SHUANGSHI_<FIELD>)."""
    example = (Path(__file__).parents[2] / "config" / ".env.example").read_text(encoding="utf-8")
    missing = []
    for name, info in WorkerSettings.model_fields.items():
        alias = info.validation_alias
        variable = str(alias.choices[0]) if isinstance(alias, AliasChoices) else f"SHUANGSHI_{name.upper()}"
        if variable not in example:
            missing.append(variable)
    assert missing == []


def test_readme_configuration_table_lists_every_worker_setting() -> None:
    """README.md's Configuration section names every WorkerSettings variable, aliases included."""
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Configuration") : readme.index("## Checks")]
    missing: list[str] = []
    for name, info in WorkerSettings.model_fields.items():
        alias = info.validation_alias
        names = (
            [str(choice) for choice in alias.choices if str(choice).isupper()]
            if isinstance(alias, AliasChoices)
            else [f"SHUANGSHI_{name.upper()}"]
        )
        missing.extend(variable for variable in names if f"`{variable}`" not in section)
    assert missing == []
