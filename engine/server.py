"""Wiring: the engine, its gRPC gateway and the standard health service in one process."""

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

import grpc
import uvicorn
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from pyzeebe.proto.gateway_pb2_grpc import add_GatewayServicer_to_server

from engine.clock import Clock, SystemClock
from engine.gateway import GatewayService
from engine.rest.app import create_app
from engine.rest.auth import BasicAuthenticator
from engine.runtime import Engine

log = logging.getLogger("engine.server")
GATEWAY_SERVICE_NAME = "gateway_protocol.Gateway"


@dataclass
class EngineServer:
    """A running engine: ``grpc_address`` is where pyzeebe clients connect, ``rest_address`` the REST API."""

    engine: Engine
    grpc_server: grpc.aio.Server
    grpc_address: str
    rest_server: uvicorn.Server | None = None
    rest_task: asyncio.Task[None] | None = None
    rest_address: str | None = None

    async def stop(self, grace: float = 2.0) -> None:
        if self.rest_server is not None and self.rest_task is not None:
            self.rest_server.should_exit = True
            await self.rest_task
        await self.grpc_server.stop(grace)
        await self.engine.stop()


def split_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"address '{address}' must look like HOST:PORT (e.g. 127.0.0.1:26500)")
    return host, int(port)


async def start_engine(
    data_dir: Path,
    grpc_address: str = "127.0.0.1:26500",
    clock: Clock | None = None,
    *,
    rest_address: str | None = None,
    authenticator: BasicAuthenticator | None = None,
) -> EngineServer:
    """Start the engine; serve gRPC on ``grpc_address`` and, if given, REST on ``rest_address``.

    Port 0 picks a free port; the returned addresses carry the bound ports.
    """
    engine = Engine(data_dir, clock or SystemClock())
    await engine.start()
    host, port = split_address(grpc_address)
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", 4 * 1024 * 1024),
            ("grpc.max_send_message_length", 4 * 1024 * 1024),
        ]
    )
    bound = server.add_insecure_port(f"{host}:{port}")
    gateway = GatewayService(engine, host, bound)
    add_GatewayServicer_to_server(gateway, server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    await server.start()
    await health_servicer.set(GATEWAY_SERVICE_NAME, health_pb2.HealthCheckResponse.SERVING)
    await health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    result = EngineServer(engine, server, f"{host}:{bound}")
    if rest_address is not None:
        rest_host, rest_port = split_address(rest_address)
        config = uvicorn.Config(
            create_app(engine, authenticator),
            host=rest_host,
            port=rest_port,
            loop="none",
            lifespan="off",
            log_config=None,
            access_log=False,
        )
        rest = uvicorn.Server(config)
        result.rest_server = rest
        result.rest_task = asyncio.create_task(rest.serve(), name="engine-rest")
        while not rest.started:
            if result.rest_task.done():
                await result.rest_task  # raises the startup error (e.g. port in use)
                raise OSError(f"REST server on {rest_address} stopped during start-up")
            await asyncio.sleep(0.01)
        port = rest.servers[0].sockets[0].getsockname()[1]
        result.rest_address = f"{rest_host}:{port}"
    return result


async def serve_forever(server: EngineServer, stop: asyncio.Event) -> None:
    await stop.wait()
    await server.stop()
