"""The whole system in one process: embedded engine (gRPC + REST), diagrams and forms deployed, workers.

Used by ``shuangshi up`` (until Ctrl-C) and ``shuangshi demo`` (for one run). This module is part of the
composition root: it is the one place besides the CLI that knows both ``engine`` and ``workers``.
"""

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from engine.clock import Clock, SystemClock
from engine.processor import DeploymentResult
from engine.rest.auth import BasicAuthenticator
from engine.server import EngineServer, start_engine
from workers.app import run_workers
from workers.settings import WorkerSettings

RESOURCES_ENV = "SHUANGSHI_RESOURCES_DIR"


def resources_dir() -> Path:
    """Where ``bpmn/`` and ``forms/`` are: ``SHUANGSHI_RESOURCES_DIR`` or the project checkout."""
    configured = os.environ.get(RESOURCES_ENV)
    return Path(configured) if configured else Path(__file__).resolve().parents[1]


def project_resources(root: Path | None = None) -> list[tuple[str, bytes]]:
    """Every diagram and form of the project, as (file name, content), diagrams first."""
    base = root or resources_dir()
    files = sorted(base.joinpath("bpmn").glob("*.bpmn")) + sorted(base.joinpath("forms").glob("*.form"))
    if not files:
        raise FileNotFoundError(f"no bpmn/*.bpmn or forms/*.form under {base} (set {RESOURCES_ENV})")
    return [(path.name, path.read_bytes()) for path in files]


@dataclass
class RunningSystem:
    server: EngineServer
    deployment: DeploymentResult
    settings: WorkerSettings

    @property
    def grpc_address(self) -> str:
        return self.server.grpc_address

    @property
    def rest_address(self) -> str | None:
        return self.server.rest_address


@contextlib.asynccontextmanager
async def running_system(
    data_dir: Path,
    *,
    grpc_address: str = "127.0.0.1:26500",
    rest_address: str | None = "127.0.0.1:8080",
    clock: Clock | None = None,
    authenticator: BasicAuthenticator | None = None,
    ledger_url: str | None = None,
) -> AsyncIterator[RunningSystem]:
    """Start engine, deploy ``bpmn/`` and ``forms/``, start the workers; stop all of it on exit."""
    resources = project_resources()
    server = await start_engine(
        data_dir / "engine",
        grpc_address,
        clock or SystemClock(),
        rest_address=rest_address,
        authenticator=authenticator,
    )
    stop = asyncio.Event()
    workers: asyncio.Task[None] | None = None
    try:
        deployment = await server.engine.execute(lambda: server.engine.processor.deploy(resources))
        settings = WorkerSettings(zeebe_address=server.grpc_address, data_dir=data_dir, ledger_url=ledger_url)
        workers = asyncio.create_task(run_workers(settings, stop), name="workers")
        yield RunningSystem(server, deployment, settings)
    finally:
        stop.set()
        if workers is not None:
            await workers
        await server.stop()
