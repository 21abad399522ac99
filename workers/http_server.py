"""The worker process's one HTTP port: ``/healthz``, ``/readyz`` and ``/metrics``.

* ``GET /healthz``: 200 ``{"status": "ok"}`` while the process runs (liveness).
* ``GET /readyz``: 200 when every readiness check passes, else 503; the JSON body names each check
  (``{"status": "not ready", "checks": {"zeebe": {"ok": false, ...}, "ledger": {"ok": true}}}``).
* ``GET /metrics``: the Prometheus text format of the worker's own registry.

A Starlette app served by uvicorn in the worker's event loop, on a socket bound before the server starts
(port 0 picks a free port; :attr:`HttpServer.address` has the bound one). uvicorn's own signal handling
is switched off: the worker process handles SIGTERM and SIGINT itself and keeps this port open while it
drains, so ``/readyz`` can say so.
"""

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from workers.metrics import WorkerMetrics

__all__ = ["HttpServer", "Readiness", "create_app"]

#: Answers whether the process is ready, and the body's ``checks``.
Readiness = Callable[[], Awaitable[tuple[bool, dict[str, Any]]]]


def create_app(readiness: Readiness, metrics: WorkerMetrics) -> Starlette:
    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_request: Request) -> Response:
        ready, checks = await readiness()
        body = {"status": "ready" if ready else "not ready", "checks": checks}
        return JSONResponse(body, status_code=200 if ready else 503)

    async def metrics_page(_request: Request) -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    return Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics_page, methods=["GET"]),
        ]
    )


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the worker process owns SIGTERM and SIGINT


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host.strip("[]"), port), family=family)
    except OSError as exc:
        raise OSError(
            f"SHUANGSHI_HTTP_HOST/PORT {host}:{port}: cannot listen: {exc.strerror or exc}"
        ) from exc


class HttpServer:
    """uvicorn serving ``app`` on ``host:port`` inside the running event loop."""

    def __init__(self, app: Starlette, host: str, port: int) -> None:
        self._socket = _bind(host, port)
        bound_host, bound_port = self._socket.getsockname()[:2]
        self.address = f"[{bound_host}]:{bound_port}" if ":" in bound_host else f"{bound_host}:{bound_port}"
        config = uvicorn.Config(
            app,
            loop="none",
            lifespan="off",
            log_config=None,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=2,
        )
        self._server = _Server(config)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve(sockets=[self._socket]), name="workers-http")

    async def stop(self) -> None:
        if self._task is None:
            self._socket.close()
            return
        self._server.should_exit = True
        await self._task
        self._socket.close()
