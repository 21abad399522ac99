"""Wiring: the engine, its gRPC gateway and the standard health service in one process."""

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from pyzeebe.proto.gateway_pb2_grpc import add_GatewayServicer_to_server

from engine.clock import Clock, SystemClock
from engine.gateway import GatewayService
from engine.runtime import Engine

log = logging.getLogger("engine.server")
GATEWAY_SERVICE_NAME = "gateway_protocol.Gateway"


@dataclass
class EngineServer:
    """A running engine: ``grpc_address`` is where pyzeebe clients connect."""

    engine: Engine
    grpc_server: grpc.aio.Server
    grpc_address: str

    async def stop(self, grace: float = 2.0) -> None:
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
) -> EngineServer:
    """Start the engine and serve gRPC on ``grpc_address`` (port 0 picks a free port)."""
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
    return EngineServer(engine, server, f"{host}:{bound}")


async def serve_forever(server: EngineServer, stop: asyncio.Event) -> None:
    await stop.wait()
    await server.stop()
