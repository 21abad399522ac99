"""Which gateway the process scenarios run on: the embedded engine (default) or a real Camunda 8 cluster.

The real-Zeebe target is selected with ``pytest -m zeebe`` (the scenario tests carry the ``zeebe``
marker) or ``SHUANGSHI_TEST_TARGET=zeebe``. The cluster is then, in this order:

1. the one ``ZEEBE_ADDRESS`` and ``CAMUNDA_REST_ADDRESS`` point at (for example the compose stack
   started with ``docker compose -f docker-compose.yml -f docker-compose.test.yml up -d``);
2. otherwise the same compose files started by testcontainers for the session, when a Docker engine
   and the ``docker compose`` plugin are available;
3. otherwise every scenario test skips, saying why.

The cluster must have its clock under control (``ZEEBE_CLOCK_CONTROLLED=true``, set by
``docker-compose.test.yml``) and its REST API unprotected, as the test override configures it.
"""

import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).parents[2]
COMPOSE_FILES = ["docker-compose.yml", "docker-compose.test.yml"]
#: The services of the compose stack the scenarios need: the orchestration cluster and its storage.
CLUSTER_SERVICES = ["elasticsearch", "camunda"]
READY_WITHIN_S = 300
TEST_PROJECT = "shuangshi-test"


@dataclass(frozen=True)
class Endpoints:
    grpc_address: str
    rest_url: str


_selected: Endpoints | None = None
_skip_reason: str | None = None


def wants_zeebe(config: pytest.Config) -> bool:
    """True when this run asked for the real-Zeebe target."""
    markexpr = str(getattr(config.option, "markexpr", "") or "").strip()
    return markexpr == "zeebe" or os.environ.get("SHUANGSHI_TEST_TARGET", "").lower() == "zeebe"


def select(endpoints: Endpoints | None, skip_reason: str | None = None) -> None:
    global _selected, _skip_reason
    _selected, _skip_reason = endpoints, skip_reason


def selected_target() -> Endpoints | None:
    """The real cluster this session runs on, or ``None`` for an embedded engine per test."""
    if _skip_reason is not None:
        pytest.skip(_skip_reason)
    return _selected


def docker_unavailable() -> str | None:
    """Why testcontainers cannot start the compose stack here, or ``None`` when it can."""
    if shutil.which("docker") is None:
        return "no docker command on this machine"
    try:
        info = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"docker info failed: {exc}"
    if info.returncode != 0:
        detail = (info.stderr or info.stdout).strip().splitlines()
        return f"no Docker engine is reachable ({detail[-1] if detail else 'docker info failed'})"
    plugin = subprocess.run(
        ["docker", "compose", "version"], capture_output=True, text=True, timeout=20, check=False
    )
    if plugin.returncode != 0:
        return "the Docker engine runs but the 'docker compose' plugin is missing"
    return None


def _wait_ready(url: str, within: float) -> None:
    deadline = time.monotonic() + within
    last = ""
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 -- a local test URL
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError) as exc:
            last = str(exc)
        time.sleep(2)  # polling a container that is starting; the condition is its readiness
    pytest.fail(f"the Camunda cluster at {url} was not ready within {within:.0f}s ({last})")


@contextmanager
def compose_cluster() -> Iterator[Endpoints]:
    """The compose stack's orchestration cluster, started by testcontainers for the session."""
    from testcontainers.compose import DockerCompose  # noqa: PLC0415 -- only with Docker

    compose = DockerCompose(
        context=str(ROOT), compose_file_name=COMPOSE_FILES, services=CLUSTER_SERVICES, wait=True
    )
    # A project of its own, so the tests never touch a production stack started from this checkout.
    previous = os.environ.get("COMPOSE_PROJECT_NAME")
    os.environ["COMPOSE_PROJECT_NAME"] = TEST_PROJECT
    try:
        with compose:
            yield from _endpoints(compose)
    finally:
        if previous is None:
            os.environ.pop("COMPOSE_PROJECT_NAME", None)
        else:
            os.environ["COMPOSE_PROJECT_NAME"] = previous


def _endpoints(compose: Any) -> Iterator[Endpoints]:
    grpc_host, grpc_port = compose.get_service_host_and_port("camunda", 26500)
    rest_host, rest_port = compose.get_service_host_and_port("camunda", 8080)
    health_host, health_port = compose.get_service_host_and_port("camunda", 9600)
    _wait_ready(f"http://{health_host}:{health_port}/actuator/health/readiness", READY_WITHIN_S)
    yield Endpoints(f"{grpc_host}:{grpc_port}", f"http://{rest_host}:{rest_port}")


@contextmanager
def real_cluster() -> Iterator[None]:
    """Select the real cluster for the session (or the reason every scenario skips)."""
    address = os.environ.get("ZEEBE_ADDRESS")
    rest = os.environ.get("CAMUNDA_REST_ADDRESS")
    if address and rest:
        select(Endpoints(address, rest.rstrip("/")))
        yield
        return
    reason = docker_unavailable()
    if reason is not None:
        select(
            None,
            f"real-Zeebe target: {reason}; start the compose stack elsewhere and set ZEEBE_ADDRESS and "
            "CAMUNDA_REST_ADDRESS, or run where Docker is available",
        )
        yield
        return
    with compose_cluster() as endpoints:
        select(endpoints)
        yield
