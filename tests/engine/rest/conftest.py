"""Fixtures for the REST v2 suite: the engine with gRPC and REST, the official Camunda SDK, pyzeebe.

By default the engine runs in-process with a controlled clock and REST on an ephemeral port. With
``CAMUNDA_REST_ADDRESS`` (and ``ZEEBE_ADDRESS``) set, the same tests talk to that cluster instead;
tests that need engine internals or a users file skip with the reason.
"""

import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from camunda_orchestration_sdk import CamundaAsyncClient
from camunda_orchestration_sdk.errors import ApiError
from camunda_orchestration_sdk.models.problem_detail import ProblemDetail
from pyzeebe import ZeebeClient, create_insecure_channel

from engine.clock import ControlledClock
from engine.rest.auth import BasicAuthenticator
from engine.server import EngineServer, start_engine
from tests.engine.conftest import Target


def sdk_client(
    rest_url: str, *, username: str | None = None, password: str | None = None
) -> CamundaAsyncClient:
    """A Camunda SDK client configured the way an application would, with no engine-specific code."""
    configuration: Any = {"CAMUNDA_REST_ADDRESS": rest_url}
    if username is None:
        configuration["CAMUNDA_AUTH_STRATEGY"] = "NONE"
    else:
        configuration.update(
            CAMUNDA_AUTH_STRATEGY="BASIC",
            CAMUNDA_BASIC_AUTH_USERNAME=username,
            CAMUNDA_BASIC_AUTH_PASSWORD=password or "",
        )
    return CamundaAsyncClient(configuration=configuration)


def problem(error: ApiError) -> ProblemDetail:
    """The problem document (RFC 9457) an SDK error carries."""
    assert isinstance(error.parsed, ProblemDetail), error
    return error.parsed


@dataclass
class Cluster(Target):
    """A gateway target plus the REST side: the SDK client and its base URL."""

    rest_url: str = ""
    camunda: CamundaAsyncClient | None = None
    authenticator: BasicAuthenticator | None = None

    @property
    def sdk(self) -> CamundaAsyncClient:
        assert self.camunda is not None
        return self.camunda

    async def restart(self) -> None:
        """Stop the embedded engine like a crash and start it on the same data, gRPC and REST ports.

        Workers stop (start new ones afterwards); the SDK client is re-created so no pooled
        connection to the old REST server is reused.
        """
        server = self.require_embedded("restart")
        await self.stop_workers()
        if server.rest_server is not None and server.rest_task is not None:
            server.rest_server.should_exit = True
            await server.rest_task
        await server.grpc_server.stop(0)
        await server.engine.stop()
        self.server = await start_engine(
            server.engine.data_dir,
            server.grpc_address,
            self.clock,
            rest_address=server.rest_address,
            authenticator=self.authenticator,
        )
        if self.camunda is not None:
            await self.camunda.aclose()
            self.camunda = sdk_client(self.rest_url)


async def _cluster(
    tmp_path: Path, authenticator: BasicAuthenticator | None = None
) -> tuple[Cluster, Callable[[], Any]]:
    external_rest = os.environ.get("CAMUNDA_REST_ADDRESS")
    server: EngineServer | None = None
    clock: ControlledClock | None = None
    if external_rest:
        rest_url = external_rest
        grpc_address = os.environ.get("ZEEBE_ADDRESS", "127.0.0.1:26500")
    else:
        clock = ControlledClock()
        server = await start_engine(
            tmp_path / "engine", "127.0.0.1:0", clock, rest_address="127.0.0.1:0", authenticator=authenticator
        )
        assert server.rest_address is not None
        rest_url = f"http://{server.rest_address}"
        grpc_address = server.grpc_address
    channel = create_insecure_channel(grpc_address=grpc_address)
    cluster = Cluster(
        grpc_address,
        channel,
        ZeebeClient(channel, max_connection_retries=-1),
        tmp_path,
        server,
        clock,
        rest_url=rest_url,
        camunda=sdk_client(rest_url) if authenticator is None else None,
        authenticator=authenticator,
    )

    async def close() -> None:
        if cluster.camunda is not None:
            await cluster.camunda.aclose()
        await cluster.stop_workers()
        await channel.close()
        if cluster.server is not None:
            await cluster.server.stop(0)

    return cluster, close


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    """The engine with REST, auth off, a controlled clock, an SDK client and a pyzeebe client."""
    target, close = await _cluster(tmp_path)
    try:
        yield target
    finally:
        await close()


@pytest.fixture
async def secured_cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    """The engine with ``--auth basic`` and a users file: xiji (town:xiji), rsj (district:rsj), boss (admin)."""
    if os.environ.get("CAMUNDA_REST_ADDRESS"):
        pytest.skip("needs the embedded engine's users file; a real cluster has its own identity setup")
    from engine.rest.auth import hash_password  # noqa: PLC0415 - only this fixture hashes passwords

    users = tmp_path / "users.yaml"
    users.write_text(
        "users:\n"
        f'  - {{username: xiji, passwordHash: "{hash_password("xiji-pass", iterations=1000)}", groups: ["town:xiji"]}}\n'
        f'  - {{username: rsj, passwordHash: "{hash_password("rsj-pass", iterations=1000)}", groups: ["district:rsj"]}}\n'
        f'  - {{username: boss, passwordHash: "{hash_password("boss-pass", iterations=1000)}", groups: ["admin"]}}\n',
        encoding="utf-8",
    )
    target, close = await _cluster(tmp_path, BasicAuthenticator.from_file(users))
    try:
        yield target
    finally:
        await close()
