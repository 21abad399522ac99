"""Fixtures for the engine conformance suite.

Every scenario talks to a Zeebe gateway through the real pyzeebe client and workers over gRPC.
By default that gateway is the embedded engine, started in-process on an ephemeral port with a
controlled clock. With ``ZEEBE_ADDRESS`` set, the same tests run against that gateway instead
(a real Camunda 8 cluster); tests that look inside the engine are then skipped with the reason.
"""

import asyncio
import contextlib
import itertools
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from pyzeebe import ZeebeClient, ZeebeWorker, create_insecure_channel

from engine.clock import ControlledClock
from engine.server import EngineServer, start_engine

NAMESPACES = (
    'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" '
    'xmlns:modeler="http://camunda.org/schema/modeler/1.0" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'id="Definitions_test" targetNamespace="http://bpmn.io/schema/bpmn" '
    'modeler:executionPlatform="Camunda Cloud" modeler:executionPlatformVersion="8.8.0"'
)


def bpmn(process_id: str, body: str) -> str:
    """Wrap a process body (flow nodes and sequence flows) in BPMN definitions."""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions {NAMESPACES}>\n'
        f'<bpmn:process id="{process_id}" isExecutable="true">\n{body}\n</bpmn:process>\n'
        "</bpmn:definitions>\n"
    )


def service_task(task_id: str, job_type: str, extra: str = "", retries: int = 3) -> str:
    return (
        f'<bpmn:serviceTask id="{task_id}"><bpmn:extensionElements>'
        f'<zeebe:taskDefinition type="{job_type}" retries="{retries}" />{extra}'
        "</bpmn:extensionElements></bpmn:serviceTask>"
    )


def flow(flow_id: str, source: str, target: str, condition: str | None = None) -> str:
    if condition is None:
        return f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}" />'
    return (
        f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}">'
        f'<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{condition}</bpmn:conditionExpression>'
        "</bpmn:sequenceFlow>"
    )


def chain(*ids: str) -> str:
    """Sequence flows linking ``ids`` in order."""
    return "".join(flow(f"f_{a}_{b}", a, b) for a, b in itertools.pairwise(ids))


async def wait_for(condition: Callable[[], Any], within: float = 10.0, message: str = "condition") -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        value = condition()
        if asyncio.iscoroutine(value) or isinstance(value, asyncio.Future):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {within}s waiting for {message}")
        await asyncio.sleep(0.01)


@dataclass
class Target:
    """The gateway under test and the handles a scenario needs."""

    address: str
    channel: grpc.aio.Channel
    client: ZeebeClient
    workdir: Path
    server: EngineServer | None = None
    clock: ControlledClock | None = None
    workers: list[tuple[ZeebeWorker, asyncio.Task[None]]] = field(default_factory=list)

    @property
    def embedded(self) -> bool:
        return self.server is not None

    def require_embedded(self, why: str) -> EngineServer:
        if self.server is None:
            pytest.skip(f"looks inside the embedded engine ({why}); not possible against ZEEBE_ADDRESS")
        return self.server

    async def deploy(self, **resources: str) -> Any:
        """Deploy resources given as ``name=content``; the keyword becomes the file name."""
        paths = []
        for name, content in resources.items():
            path = self.workdir / name.replace("__", ".")
            path.write_text(content, encoding="utf-8")
            paths.append(str(path))
        return await self.client.deploy_resource(*paths)

    def worker(self, **handlers: Callable[..., Awaitable[dict[str, Any] | None]]) -> ZeebeWorker:
        """Start a pyzeebe worker with one task per ``job_type=handler`` (``__`` in names → ``.``)."""
        worker = ZeebeWorker(
            self.channel, name="conformance", max_connection_retries=-1, request_timeout=2000
        )
        for job_type, handler in handlers.items():
            function: Any = handler
            worker.task(task_type=job_type.replace("__", "."), timeout_ms=30_000)(function)
        task = asyncio.create_task(worker.work())
        self.workers.append((worker, task))
        return worker

    async def stop_workers(self) -> None:
        for worker, task in self.workers:
            await worker.stop()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, 10)
        self.workers.clear()

    def advance_clock(self, millis: int) -> None:
        if self.clock is None:
            pytest.skip("moving the clock of an external gateway needs the REST clock API")
        self.clock.add(millis)

    async def restart(self) -> None:
        """Stop the embedded engine without cleaning up (like a crash) and start it on the same data."""
        server = self.require_embedded("restart")
        await self.stop_workers()
        await server.grpc_server.stop(0)
        await server.engine.stop()
        host, port = server.grpc_address.rsplit(":", 1)
        self.server = await start_engine(server.engine.data_dir, f"{host}:{port}", self.clock)


@pytest.fixture
async def zeebe(tmp_path: Path) -> AsyncIterator[Target]:
    external = os.environ.get("ZEEBE_ADDRESS")
    server: EngineServer | None = None
    clock: ControlledClock | None = None
    if external:
        address = external
    else:
        clock = ControlledClock()
        server = await start_engine(tmp_path / "engine", "127.0.0.1:0", clock)
        address = server.grpc_address
    channel = create_insecure_channel(grpc_address=address)
    target = Target(
        address, channel, ZeebeClient(channel, max_connection_retries=-1), tmp_path, server, clock
    )
    try:
        yield target
    finally:
        await target.stop_workers()
        await channel.close()
        if target.server is not None:
            await target.server.stop(0)
