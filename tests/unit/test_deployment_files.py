"""The production deployment files, checked without a Docker engine: docker-compose.yml with its test
override and the committed .env, the Dockerfile, .dockerignore and scripts/make-secrets.sh.

The compose files are resolved by the compose tool itself (`docker compose config`, the v2 plugin, or
Debian's `docker-compose`), with the committed .env and placeholder secret files in a copy of the
project, so interpolation, merging and validation are the tool's, not a re-implementation. A machine
without the tool fails these tests with that reason: CI (.ci/run) installs it.
"""

import os
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import pytest
from pydantic import SecretStr
from ruamel.yaml import YAML

from workers.portal.access import PortalSettings

ROOT: Final = Path(__file__).parents[2]
COMPOSE: Final = "docker-compose.yml"
COMPOSE_TEST: Final = "docker-compose.test.yml"
PROJECT_FILES: Final = (COMPOSE, COMPOSE_TEST, ".env", "Dockerfile", ".dockerignore")
#: Services that run once and exit; every other service runs for good.
ONE_SHOT: Final = frozenset({"deploy"})
#: Services the test override keeps off (profile `app`): the real-Zeebe tests bring their own.
APP_SERVICES: Final = ("workers", "portal", "deploy", "ledger-db", "mailpit")
#: The files of ./secrets/ the compose secrets name (the seal keys are a bind-mounted folder).
SECRET_FILES: Final = ("shuangshi_ledger_password", "shuangshi_portal_secret")
#: Where the portal listens inside its container.
PORTAL_CONTAINER_PORT: Final = 8090
#: The container user of the worker image, which must own the mounted secrets.
CONTAINER_UID: Final = 10001
PLUGIN_PATHS: Final = (
    Path("/usr/libexec/docker/cli-plugins/docker-compose"),
    Path("/usr/lib/docker/cli-plugins/docker-compose"),
    Path("/usr/local/lib/docker/cli-plugins/docker-compose"),
    Path.home() / ".docker/cli-plugins/docker-compose",
)
#: Names of settings whose value is a secret: only a *_FILE path to /run/secrets may appear for them.
SECRET_NAME: Final = re.compile(
    r"PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL", re.IGNORECASE
)
#: An exact version tag: numbers with dots (at least major.minor), an optional v and suffix.
EXACT_TAG: Final = re.compile(r"^v?\d+(\.\d+){1,3}(-[0-9A-Za-z.]+)?$")


# ---------------------------------------------------------------------------------------------------
# The compose tool


def compose_command() -> list[str] | None:
    """How to run compose here: the docker v2 plugin, a docker-compose binary, or the plugin itself."""
    docker = shutil.which("docker")
    if docker is not None:
        probe = subprocess.run(
            [docker, "compose", "version"], capture_output=True, text=True, timeout=30, check=False
        )
        if probe.returncode == 0:
            return [docker, "compose"]
    standalone = shutil.which("docker-compose")
    if standalone is not None:
        return [standalone]
    plugin = next((path for path in PLUGIN_PATHS if os.access(path, os.X_OK)), None)
    return [str(plugin)] if plugin is not None else None


@dataclass(frozen=True)
class Project:
    """A copy of the deployment files with placeholder secrets, and the compose tool to read it."""

    directory: Path
    command: list[str]

    def run(self, *files: str, args: tuple[str, ...] = ("config",)) -> subprocess.CompletedProcess[str]:
        selected = [part for name in files for part in ("-f", name)]
        # Only what the tool needs: no variable of this shell may stand in for the committed .env.
        environment = {"PATH": os.environ.get("PATH", ""), "HOME": str(self.directory)}
        return subprocess.run(
            [*self.command, *selected, *args],
            cwd=self.directory,
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def resolved(self, *files: str) -> dict[str, Any]:
        result = self.run(*files)
        assert result.returncode == 0, f"{' '.join(self.command)} config failed:\n{result.stderr}"
        loaded = YAML(typ="safe").load(result.stdout)
        assert isinstance(loaded, dict)
        return loaded


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    command = compose_command()
    if command is None:
        pytest.fail(
            "neither `docker compose` (the Docker CLI's v2 plugin) nor `docker-compose` is installed, so "
            "docker-compose.yml cannot be validated. Install one (Debian: apt-get install docker-compose; "
            ".ci/run does); no Docker engine is needed.",
            pytrace=False,
        )
    directory = tmp_path_factory.mktemp("compose-project")
    for name in PROJECT_FILES:
        shutil.copy2(ROOT / name, directory / name)
    secrets = directory / "secrets"
    (secrets / "seals").mkdir(parents=True)
    for name in SECRET_FILES:
        (secrets / name).write_text("placeholder-for-config", encoding="utf-8")
    return Project(directory, command)


@pytest.fixture(scope="module")
def stack(project: Project) -> dict[str, Any]:
    """docker-compose.yml as the tool resolves it with the committed .env."""
    return project.resolved(COMPOSE)


@pytest.fixture(scope="module")
def test_stack(project: Project) -> dict[str, Any]:
    """docker-compose.yml with docker-compose.test.yml on top."""
    return project.resolved(COMPOSE, COMPOSE_TEST)


def services(config: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    found = config.get("services")
    assert isinstance(found, dict)
    return found


def environment(service: Mapping[str, Any]) -> dict[str, str]:
    """A service's environment as a mapping, from either form the tools print."""
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        pairs = (str(entry).partition("=") for entry in raw)
        return {name: value for name, _, value in pairs}
    return {str(name): "" if value is None else str(value) for name, value in raw.items()}


def depends_on(service: Mapping[str, Any]) -> dict[str, str | None]:
    """Service name → start condition (None when the short list form gives none)."""
    raw = service.get("depends_on") or {}
    if isinstance(raw, list):
        return dict.fromkeys(raw)
    return {name: (spec or {}).get("condition") for name, spec in raw.items()}


def published_ports(service: Mapping[str, Any]) -> list[tuple[str, int, int]]:
    """(host address, host port, container port) of each published port, from either form."""
    found: list[tuple[str, int, int]] = []
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            found.append((str(entry.get("host_ip", "")), int(entry["published"]), int(entry["target"])))
            continue
        address, host, container = str(entry).split("/")[0].rsplit(":", 2)
        found.append((address, int(host), int(container)))
    return found


def read_env_file() -> dict[str, str]:
    pairs: dict[str, str] = {}
    for line in (ROOT / ".env").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, separator, value = line.partition("=")
            assert separator, f".env: not NAME=value: {line!r}"
            pairs[name.strip()] = value
    return pairs


# ---------------------------------------------------------------------------------------------------
# docker-compose.yml and .env


def test_compose_files_are_valid_with_the_committed_env(project: Project) -> None:
    """`config -q` accepts docker-compose.yml alone and with the test override."""
    for files in ((COMPOSE,), (COMPOSE, COMPOSE_TEST)):
        result = project.run(*files, args=("config", "-q"))
        assert result.returncode == 0, f"{files}: {result.stderr}"


def test_every_image_is_pinned_to_an_exact_version(stack: dict[str, Any]) -> None:
    """Each service names an image with an exact version tag; the cluster is Camunda 8.8."""
    for name, service in services(stack).items():
        image = service.get("image")
        assert isinstance(image, str), f"{name}: no image name (a built image needs one, with a tag)"
        assert "@" not in image or ":" in image.split("@")[0], f"{name}: {image}"
        repository, _, tag = image.split("@")[0].rpartition(":")
        assert repository, f"{name}: {image} has no tag"
        assert "/" not in tag, f"{name}: {image} has no tag"
        assert tag != "latest", f"{name}: {image} floats"
        assert EXACT_TAG.match(tag), f"{name}: {image} is not an exact version"
    camunda = services(stack)["camunda"]["image"]
    assert re.fullmatch(r"camunda/camunda:8\.8\.\d+", camunda), camunda


def test_long_running_services_have_health_checks_and_restart_policies(stack: dict[str, Any]) -> None:
    """Every service but the one-shot deploy has a health check and restarts; deploy never restarts."""
    for name, service in services(stack).items():
        if name in ONE_SHOT:
            assert str(service.get("restart", "no")) == "no", f"{name}: a one-shot service must not restart"
            continue
        check = service.get("healthcheck") or {}
        assert check.get("test"), f"{name}: no health check"
        assert not check.get("disable"), f"{name}: health check disabled"
        assert check["test"] not in (["NONE"], "NONE"), f"{name}: health check disabled"
        assert service.get("restart") in {"always", "unless-stopped", "on-failure"}, f"{name}: no restart"


def test_start_order_waits_for_health_and_for_the_deployment(stack: dict[str, Any]) -> None:
    """depends_on always carries a condition; workers wait for the cluster, the ledger and the deploy."""
    all_services = services(stack)
    for name, service in all_services.items():
        for dependency, condition in depends_on(service).items():
            expected = "service_completed_successfully" if dependency in ONE_SHOT else "service_healthy"
            assert condition == expected, f"{name} → {dependency}: {condition}"
    assert depends_on(all_services["camunda"]) == {"elasticsearch": "service_healthy"}
    assert depends_on(all_services["deploy"]) == {"camunda": "service_healthy"}
    assert depends_on(all_services["workers"]) == {
        "camunda": "service_healthy",
        "ledger-db": "service_healthy",
        "mailpit": "service_healthy",
        "deploy": "service_completed_successfully",
    }
    # The portal reads the ledger's tables, which the workers create when they start.
    assert depends_on(all_services["portal"]) == {
        "camunda": "service_healthy",
        "ledger-db": "service_healthy",
        "deploy": "service_completed_successfully",
        "workers": "service_healthy",
    }


def test_workers_can_be_scaled(stack: dict[str, Any]) -> None:
    """Workers publish no host port and no service has a fixed container name; replicas come from .env."""
    all_services = services(stack)
    for name, service in all_services.items():
        assert "container_name" not in service, f"{name}: a fixed container name prevents scaling"
    workers = all_services["workers"]
    assert not workers.get("ports"), "workers must not publish host ports (replicas would collide)"
    replicas = (workers.get("deploy") or {}).get("replicas")
    assert replicas is not None, "workers: no deploy.replicas"
    assert int(replicas) == int(read_env_file()["SHUANGSHI_WORKER_REPLICAS"]) >= 1


def test_portal_runs_from_the_workers_image_where_the_progress_links_point(stack: dict[str, Any]) -> None:
    """The portal is the workers' image running `portal` on 8090, published on PORTAL_PORT (which the
    notifications' SHUANGSHI_PROGRESS_BASE_URL names), checked on /healthz with Python's urllib, and
    reads the workers' ledger and starts rating processes on their gateway."""
    all_services = services(stack)
    portal, workers = all_services["portal"], all_services["workers"]
    assert portal["build"] == workers["build"]
    assert portal["image"] == workers["image"]
    command = portal["command"]
    assert command[0] == "portal"
    assert command[command.index("--address") + 1] == f"0.0.0.0:{PORTAL_CONTAINER_PORT}"
    env = read_env_file()
    published = published_ports(portal)
    assert published == [(env["PUBLISH_ADDRESS"], int(env["PORTAL_PORT"]), PORTAL_CONTAINER_PORT)]
    link = urlsplit(environment(workers)["SHUANGSHI_PROGRESS_BASE_URL"])
    assert (link.port, link.path) == (int(env["PORTAL_PORT"]), "/progress"), link.geturl()
    assert link.port != int(env["CAMUNDA_HTTP_PORT"])
    check = " ".join(portal["healthcheck"]["test"])
    assert "urllib.request" in check
    assert f"http://127.0.0.1:{PORTAL_CONTAINER_PORT}/healthz" in check
    settings, worker_settings = environment(portal), environment(workers)
    for name in ("SHUANGSHI_LEDGER_URL", "ZEEBE_ADDRESS"):
        assert settings[name] == worker_settings[name], name


def test_secrets_are_files_under_secrets_and_mounted_read_only(
    stack: dict[str, Any], project: Project
) -> None:
    """Passwords come from ./secrets/ files as compose secrets; seal keys from a read-only mount."""
    declared = stack.get("secrets") or {}
    assert set(declared) == set(SECRET_FILES)
    for name, spec in declared.items():
        source = Path(spec["file"])
        source = source if source.is_absolute() else project.directory / source
        assert source.resolve() == (project.directory / "secrets" / name).resolve(), f"{name}: {source}"
    all_services = services(stack)
    ledger_db = all_services["ledger-db"]
    mounted_at = Path("/run/secrets") / "shuangshi_ledger_password"
    assert environment(ledger_db)["POSTGRES_PASSWORD_FILE"] == str(mounted_at)
    workers = all_services["workers"]
    # The workers sign the progress links with the portal secret, the portal checks them with it.
    for name in ("workers", "portal"):
        granted = [
            entry if isinstance(entry, str) else entry["source"] for entry in all_services[name]["secrets"]
        ]
        assert set(granted) == set(SECRET_FILES), f"{name}: {granted}"
    mounts = [entry for entry in workers["volumes"] if isinstance(entry, dict) and entry["type"] == "bind"]
    seals = next(entry for entry in mounts if entry["target"] == "/run/secrets/seals")
    assert seals.get("read_only") is True
    assert Path(seals["source"]).resolve() == (project.directory / "secrets" / "seals").resolve()
    settings = environment(workers)
    assert settings["SHUANGSHI_SEAL_KEY_DIR"] == "/run/secrets/seals"
    assert settings["SHUANGSHI_SEAL_GENERATE_KEYS"] == "false"
    assert ":" not in settings["SHUANGSHI_LEDGER_URL"].split("@")[0].split("//")[1], "password in the URL"


def test_no_secret_values_in_the_compose_files_or_env(
    stack: dict[str, Any], test_stack: dict[str, Any]
) -> None:
    """Secret-named settings are only *_FILE paths into /run/secrets; no key material in the files."""
    for config in (stack, test_stack):
        for name, service in services(config).items():
            for variable, value in environment(service).items():
                if SECRET_NAME.search(variable):
                    assert variable.endswith("_FILE"), f"{name}: {variable} is set in the compose file"
                    assert value.startswith("/run/secrets/"), f"{name}: {variable}={value}"
    for variable in read_env_file():
        assert not SECRET_NAME.search(variable), f".env sets {variable}"
    for file_name in (COMPOSE, COMPOSE_TEST, ".env"):
        text = (ROOT / file_name).read_text(encoding="utf-8")
        assert "-----BEGIN" not in text, f"{file_name} holds key material"
        assert not re.search(r"INITIALIZATION_USERS_\d+_PASSWORD", text), f"{file_name} sets a user password"


def test_production_cluster_uses_elasticsearch_and_the_real_clock(stack: dict[str, Any]) -> None:
    """The orchestration cluster writes to Elasticsearch and its clock cannot be moved."""
    settings = environment(services(stack)["camunda"])
    assert settings["ZEEBE_CLOCK_CONTROLLED"] == "false"
    assert settings["CAMUNDA_DATA_SECONDARYSTORAGE_TYPE"] == "elasticsearch"
    assert settings["CAMUNDA_DATA_SECONDARYSTORAGE_ELASTICSEARCH_URL"] == "http://elasticsearch:9200"
    ports = {container: address for address, _, container in published_ports(services(stack)["camunda"])}
    assert set(ports) == {8080, 26500}, "the management port 9600 stays inside in production"


def test_test_override_gives_the_real_zeebe_tests_their_cluster(test_stack: dict[str, Any]) -> None:
    """The override moves the clock under test control, unprotects the API, publishes 26500, 8080 and
    9600 on 127.0.0.1, and keeps the application services (which would take the tests' jobs) off."""
    camunda = services(test_stack)["camunda"]
    settings = environment(camunda)
    assert settings["ZEEBE_CLOCK_CONTROLLED"] == "true"
    assert settings["CAMUNDA_SECURITY_AUTHENTICATION_UNPROTECTEDAPI"] == "true"
    published = {container: (address, host) for address, host, container in published_ports(camunda)}
    for port in (26500, 8080, 9600):
        assert published[port] == ("127.0.0.1", port), f"{port}: {published.get(port)}"
    override = YAML(typ="safe").load((ROOT / COMPOSE_TEST).read_text(encoding="utf-8"))
    for name in APP_SERVICES:
        assert override["services"][name].get("profiles") == ["app"], f"{name} starts with the cluster"
    for name, service in services(test_stack).items():
        if name in APP_SERVICES:  # docker-compose v1 prints them all
            assert service.get("profiles") == ["app"], name


# ---------------------------------------------------------------------------------------------------
# Dockerfile and .dockerignore


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]]


def dockerfile_stages() -> list[Stage]:
    """The stages of the Dockerfile with their instructions (continuation lines joined, ARGs resolved)."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    logical: list[str] = []
    pending = ""
    for line in text.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        logical.append(pending + line.strip())
        pending = ""
    arguments: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical:
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "ARG" and not stages:
            name, _, default = rest.partition("=")
            arguments[name.strip()] = default.strip()
            continue
        if keyword == "FROM":
            words = rest.split()
            base = re.sub(r"\$\{(\w+)\}", lambda match: arguments[match.group(1)], words[0])
            name = words[2] if len(words) > 2 and words[1].upper() == "AS" else str(len(stages))
            stages.append(Stage(name, base, []))
            continue
        stages[-1].instructions.append((keyword, rest.strip()))
    return stages


def effective(stage_name: str, stages: list[Stage]) -> list[tuple[str, str]]:
    """The instructions that make up a stage: its parents' (stages it is built FROM) first."""
    by_name = {stage.name: stage for stage in stages}
    stage = by_name[stage_name]
    inherited = effective(stage.base, stages) if stage.base in by_name else []
    return inherited + stage.instructions


def last(keyword: str, instructions: list[tuple[str, str]]) -> str | None:
    values = [rest for found, rest in instructions if found == keyword]
    return values[-1] if values else None


def test_dockerfile_base_images_are_pinned() -> None:
    """Every external base image has an exact version tag; the Python one is a slim 3.11."""
    stages = dockerfile_stages()
    names = {stage.name for stage in stages}
    external = [stage.base for stage in stages if stage.base not in names]
    assert external
    for image in external:
        _, _, tag = image.rpartition(":")
        assert re.match(r"^\d+\.\d+\.\d+-", tag), f"{image} is not pinned to an exact version"
    assert any(re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", image) for image in external), external


def test_worker_image_is_non_root_with_health_check_and_graceful_stop() -> None:
    """The default target (workers) runs `shuangshi workers` as uid 10001, checks /healthz with
    Python's urllib, stops on SIGTERM and reads its configuration and keys from fixed paths."""
    stages = dockerfile_stages()
    assert stages[-1].name == "workers"
    instructions = effective("workers", stages)
    user = last("USER", instructions)
    assert user is not None
    assert user.split(":")[0] == str(CONTAINER_UID)
    check = last("HEALTHCHECK", instructions)
    assert check is not None
    assert "urllib.request" in check
    assert "/healthz" in check
    assert last("STOPSIGNAL", instructions) == "SIGTERM"
    assert last("ENTRYPOINT", instructions) == '["shuangshi"]'
    assert last("CMD", instructions) == '["workers"]'
    settings = " ".join(rest for keyword, rest in instructions if keyword == "ENV")
    for expected in (
        "SHUANGSHI_CONFIG_DIR=/app/config",
        "SHUANGSHI_RESOURCES_DIR=/app",
        "SHUANGSHI_SEAL_KEY_DIR=/run/secrets/seals",
        "SHUANGSHI_SEAL_GENERATE_KEYS=false",
        "SHUANGSHI_HTTP_HOST=0.0.0.0",
    ):
        assert expected in settings, expected
    copied = " ".join(rest for keyword, rest in instructions if keyword == "COPY")
    for folder in ("bpmn", "forms", "config"):
        assert f"{folder} ./{folder}" in copied, folder


def test_worker_image_installs_no_development_dependencies() -> None:
    """The wheel is installed with its runtime dependencies only: no [dev] extra, no test or lint tools."""
    stages = dockerfile_stages()
    instructions = effective("workers", stages) + effective("build", stages)
    commands = " ".join(rest for keyword, rest in instructions if keyword == "RUN")
    assert "pip install" in commands
    for tool in ("[dev]", "pytest", "mypy", "ruff", "hypothesis", "import-linter", "--editable", " -e "):
        assert tool not in commands, tool
    assert "npm" not in commands, "Node packages belong to the deploy image only"


def test_deploy_image_carries_node_and_the_lint_tools() -> None:
    """The deploy target adds Node, the npm packages of package-lock.json, .bpmnlintrc and scripts/."""
    stages = dockerfile_stages()
    own = next(stage for stage in stages if stage.name == "deploy").instructions
    copied = " ".join(rest for keyword, rest in own if keyword == "COPY")
    for needed in ("/usr/local/bin/node", "node_modules", ".bpmnlintrc", "scripts"):
        assert needed in copied, needed
    node_stage = next(stage for stage in stages if "/usr/local/bin/node" in copied and stage.name in copied)
    assert any("npm ci" in rest for keyword, rest in node_stage.instructions if keyword == "RUN")
    assert last("HEALTHCHECK", own) == "NONE"
    assert last("CMD", own) == '["deploy"]'
    for needed in (".bpmnlintrc", "package-lock.json", "scripts/lint-models.mjs"):
        assert (ROOT / needed).is_file(), f"the deploy image copies {needed}, which is missing"


def test_compose_builds_existing_dockerfile_targets(stack: dict[str, Any]) -> None:
    """The services built from our Dockerfile name stages that exist."""
    names = {stage.name for stage in dockerfile_stages()}
    built = {name: service["build"] for name, service in services(stack).items() if "build" in service}
    assert set(built) == {"workers", "portal", "deploy"}
    for name, build in built.items():
        assert build.get("target") in names, f"{name}: {build}"


def test_dockerignore_keeps_local_state_and_secrets_out() -> None:
    """The build context never carries the venv, node_modules, data, secrets, git or caches."""
    patterns = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    for excluded in (
        ".venv",
        "node_modules",
        "data",
        "secrets",
        ".git",
        ".env",
        ".mypy_cache",
        ".pytest_cache",
    ):
        assert excluded in patterns, excluded
    for needed in ("pyproject.toml", "README.md", "package-lock.json", ".bpmnlintrc", "scripts", "config"):
        assert needed not in patterns, f"{needed} is needed by the build"


# ---------------------------------------------------------------------------------------------------
# scripts/make-secrets.sh


def test_container_user_is_the_one_make_secrets_gives_the_files_to() -> None:
    """make-secrets.sh chowns to the uid and gid the worker image runs as, the portal secret included."""
    script = (ROOT / "scripts" / "make-secrets.sh").read_text(encoding="utf-8")
    assert f"container_uid={CONTAINER_UID}" in script
    assert f"container_gid={CONTAINER_UID}" in script
    [chown] = [line for line in script.splitlines() if line.startswith("chown ")]
    assert "$password_file" in chown
    assert "$portal_secret_file" in chown


def test_make_secrets_writes_a_password_and_seal_keys_once(tmp_path: Path) -> None:
    """The script writes the ledger password (0400, 40 characters, no newline), the portal secret (0400,
    64 URL-safe characters) and 15 key pairs (.key 0400, .pub 0444); a second run keeps every file."""
    target = tmp_path / "secrets"
    shuangshi = str(Path(sys.executable).parent / "shuangshi")
    command = [str(ROOT / "scripts" / "make-secrets.sh"), "--dir", str(target), "--no-chown"]
    command += ["--shuangshi", shuangshi]
    first = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert first.returncode == 0, first.stderr
    password = target / "shuangshi_ledger_password"
    assert stat.S_IMODE(password.stat().st_mode) == 0o400
    assert re.fullmatch(r"[A-Za-z0-9]{40}", password.read_text(encoding="utf-8"))
    portal_secret = target / "shuangshi_portal_secret"
    assert stat.S_IMODE(portal_secret.stat().st_mode) == 0o400
    value = portal_secret.read_text(encoding="utf-8")
    assert re.fullmatch(r"[A-Za-z0-9_-]{64}", value)
    assert PortalSettings(secret=SecretStr(value)).secret is not None  # long enough for the portal
    keys = sorted((target / "seals").glob("*.key"))
    assert len(keys) == 15
    assert {stat.S_IMODE(path.stat().st_mode) for path in keys} == {0o400}
    publics = sorted((target / "seals").glob("*.pub"))
    assert {stat.S_IMODE(path.stat().st_mode) for path in publics} == {0o444}
    before = {path: path.read_bytes() for path in [password, portal_secret, *keys, *publics]}
    second = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert second.returncode == 0, second.stderr
    assert {path: path.read_bytes() for path in before} == before
    assert len(list((target / "seals").iterdir())) == 30
    assert "kept    " + str(portal_secret) in second.stdout
