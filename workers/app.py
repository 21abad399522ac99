"""The worker process: every job type of the registry served by one pyzeebe worker.

:class:`WorkerProcess` owns everything a worker process has: the services, the gRPC channel
(:func:`workers.connection.create_channel`), the worker (:func:`workers.runtime.create_worker`), the
metrics and, when asked, the HTTP port (:mod:`workers.http_server`). Its life:

1. :meth:`~WorkerProcess.start`: services, channel, worker polling, HTTP port; logs ``workers.ready``.
2. :meth:`~WorkerProcess.run`: until ``stop`` is set (SIGTERM or SIGINT in ``shuangshi workers``) or the
   worker fails.
3. Graceful stop: ``/readyz`` answers 503 ``draining``; no more jobs are activated (polls in progress are
   cancelled); the jobs in hand finish, for at most ``SHUANGSHI_SHUTDOWN_GRACE_SECONDS`` (default 30) or
   until ``force`` is set (a second signal). Jobs still running then are cancelled and left to Zeebe,
   which hands them to another worker when their job timeout runs out.
4. Close the HTTP port, the notifier, the channel and the services; log ``workers.stopped``.

The exit code says how it ended: :data:`EXIT_OK` (0) every job in hand finished, :data:`EXIT_CRASHED` (1)
the worker failed, :data:`EXIT_GRACE_EXCEEDED` (3) jobs were abandoned when the grace period ran out
(``workers.shutdown_grace_exceeded`` names them).
"""

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, Final

import grpc
from pyzeebe import ZeebeClient, ZeebeTaskRouter
from sqlalchemy import text

from workers.application import tasks as application_tasks
from workers.case import tasks as case_tasks
from workers.connection import channel_plan, create_channel
from workers.http_server import HttpServer, create_app
from workers.ledger import tasks as ledger_tasks
from workers.ledger.database import READ_ONLY_OPTION
from workers.logging import get_logger
from workers.metrics import WorkerMetrics
from workers.notify import build_notifier
from workers.notify import tasks as notify_tasks
from workers.reconnect import ConnectionMonitor
from workers.runtime import Services, Worker, build_services, create_worker
from workers.seal import tasks as seal_tasks
from workers.settings import WorkerSettings
from workers.sla import tasks as sla_tasks

__all__ = [
    "EXIT_CRASHED",
    "EXIT_GRACE_EXCEEDED",
    "EXIT_OK",
    "READINESS_TIMEOUT_SECONDS",
    "WorkerProcess",
    "routers",
    "run_workers",
    "serve_workers",
]

log = get_logger("workers.app")

EXIT_OK: Final = 0
EXIT_CRASHED: Final = 1
EXIT_GRACE_EXCEEDED: Final = 3
#: How long ``/readyz`` waits for the gateway's Topology answer and the ledger's ``SELECT 1``.
READINESS_TIMEOUT_SECONDS: Final = 2.0


def routers(services: Services) -> list[ZeebeTaskRouter]:
    notifier = build_notifier(services.settings)
    services.extra["notifier"] = notifier
    return [
        case_tasks.create_router(services),
        application_tasks.create_router(services),
        sla_tasks.create_router(services),
        seal_tasks.create_router(services),
        ledger_tasks.create_router(services),
        notify_tasks.create_router(services, notifier),
    ]


def _ping_ledger(services: Services) -> None:
    engine = services.ledger.engine.execution_options(**{READ_ONLY_OPTION: True})
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


class WorkerProcess:
    """One worker process; see the module documentation for its life."""

    def __init__(
        self,
        settings: WorkerSettings,
        *,
        make_routers: Callable[[Services], list[ZeebeTaskRouter]] = routers,
        serve_http: bool = False,
    ) -> None:
        self.settings = settings
        self.metrics = WorkerMetrics()
        self.monitor = ConnectionMonitor(self.metrics)
        self._make_routers = make_routers
        self._serve_http = serve_http
        self._services: Services | None = None
        self._channel: grpc.aio.Channel | None = None
        self._worker: Worker | None = None
        self._work: asyncio.Task[None] | None = None
        self._http: HttpServer | None = None
        self.draining = False

    @property
    def http_address(self) -> str | None:
        """``host:port`` of the HTTP port (the bound port when 0 was asked for)."""
        return self._http.address if self._http is not None else None

    @property
    def worker(self) -> Worker:
        if self._worker is None:
            raise RuntimeError("the worker process has not started")
        return self._worker

    async def start(self) -> None:
        """Open everything and start polling; a failure closes what was opened and is raised."""
        plan = channel_plan(self.settings)  # a settings error surfaces before anything is opened
        try:
            if self._serve_http:
                app = create_app(self.readiness, self.metrics)
                self._http = HttpServer(app, self.settings.http_host, self.settings.http_port)
            self._services = await asyncio.to_thread(build_services, self.settings)
            self._channel = create_channel(self.settings)
            self._worker = create_worker(
                self._channel,
                self._make_routers(self._services),
                settings=self.settings,
                metrics=self.metrics,
                monitor=self.monitor,
            )
            self._work = asyncio.create_task(self._worker.work(), name="zeebe-worker")
            if self._http is not None:
                await self._http.start()
        except BaseException:
            await self._close()
            raise
        log.info(
            "workers.ready",
            zeebe_address=plan.address,
            channel=plan.kind,
            job_types=len(self.worker.tasks),
            http_address=self.http_address,
        )

    async def readiness(self) -> tuple[bool, dict[str, Any]]:
        """Ready when not draining, the gateway answers Topology and the ledger answers ``SELECT 1``."""
        checks: dict[str, Any] = {}
        if self.draining:
            checks["shutdown"] = {"ok": False, "error": "draining: finishing the jobs in hand"}
        zeebe, ledger = await asyncio.gather(self._check_zeebe(), self._check_ledger())
        checks["zeebe"] = zeebe
        checks["ledger"] = ledger
        return all(check["ok"] for check in checks.values()), checks

    async def _check_zeebe(self) -> dict[str, Any]:
        result: dict[str, Any] = {"connection": self.monitor.describe()}
        if self._channel is None:
            return {**result, "ok": False, "error": "not started"}
        try:
            async with asyncio.timeout(READINESS_TIMEOUT_SECONDS):
                topology = await ZeebeClient(self._channel).topology()
        except TimeoutError:
            return {**result, "ok": False, "error": f"no Topology answer within {READINESS_TIMEOUT_SECONDS}s"}
        except Exception as exc:  # noqa: BLE001 - any failure means not ready; the body names it
            grpc_error = getattr(exc, "grpc_error", None)
            code = grpc_error.code().name if grpc_error is not None else type(exc).__name__
            return {**result, "ok": False, "error": code}
        return {**result, "ok": True, "brokers": len(topology.brokers), "gateway": topology.gateway_version}

    async def _check_ledger(self) -> dict[str, Any]:
        if self._services is None:
            return {"ok": False, "error": "not started"}
        try:
            async with asyncio.timeout(READINESS_TIMEOUT_SECONDS):
                await asyncio.to_thread(_ping_ledger, self._services)
        except TimeoutError:
            return {"ok": False, "error": f"no answer within {READINESS_TIMEOUT_SECONDS}s"}
        except Exception as exc:  # noqa: BLE001 - any failure means not ready; the body names its type only
            return {"ok": False, "error": type(exc).__name__}
        return {"ok": True}

    async def run(self, stop: asyncio.Event, force: asyncio.Event | None = None) -> int:
        """Serve until ``stop`` is set or the worker fails; then stop gracefully. The exit code."""
        if self._work is None:
            raise RuntimeError("start() first")
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({stopping, self._work}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
        crashed = self._work.done()
        if crashed:
            error = None if self._work.cancelled() else self._work.exception()
            detail = self.settings.redact(str(error))[:500]
            log.error("workers.crashed", error=type(error).__name__, detail=detail)
        code = await self.shutdown(force, crashed=crashed)
        return EXIT_CRASHED if crashed else code

    async def shutdown(self, force: asyncio.Event | None = None, *, crashed: bool = False) -> int:
        """Drain, wait for the jobs in hand (grace period), close everything. The exit code."""
        worker = self.worker
        grace = self.settings.shutdown_grace_seconds
        self.draining = True
        log.info("workers.stopping", jobs_in_hand=len(worker.tracker.running), grace_seconds=grace)
        worker.drain()
        # pyzeebe's stop() waits until every activated job has finished; after a crash its job executors
        # are gone, so only the jobs already running are waited for.
        stopped = asyncio.ensure_future(worker.tracker.wait_idle() if crashed else worker.stop())
        forced = asyncio.ensure_future((force or asyncio.Event()).wait())
        try:
            await asyncio.wait({stopped, forced}, timeout=grace, return_when=asyncio.FIRST_COMPLETED)
        finally:
            forced.cancel()
        code = EXIT_OK
        abandoned = []
        if not stopped.done():
            stopped.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await stopped
            abandoned = await worker.tracker.cancel_all()
        if abandoned:
            log.warning(
                "workers.shutdown_grace_exceeded",
                grace_seconds=grace,
                forced=force is not None and force.is_set(),
                abandoned=len(abandoned),
                jobs=[{"job_key": job.key, "task_type": job.type} for job in abandoned],
                hint="Zeebe hands these jobs to a worker again when their job timeout runs out",
            )
            code = EXIT_GRACE_EXCEEDED
        await self._close()
        log.info("workers.stopped", exit_code=code)
        return code

    async def _close(self) -> None:
        if self._work is not None and not self._work.done():
            self._work.cancel()
        if self._work is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._work
        if self._http is not None:
            await self._http.stop()
        if self._services is not None:
            notifier = self._services.extra.get("notifier")
            if notifier is not None:
                await notifier.aclose()
        if self._channel is not None:
            await self._channel.close()
        if self._services is not None:
            self._services.close()


async def serve_workers(
    settings: WorkerSettings,
    stop: asyncio.Event,
    *,
    force: asyncio.Event | None = None,
    serve_http: bool = True,
) -> int:
    """Run a worker process until ``stop``; the exit code (see the module documentation)."""
    process = WorkerProcess(settings, serve_http=serve_http)
    await process.start()
    return await process.run(stop, force)


async def run_workers(settings: WorkerSettings, stop: asyncio.Event) -> None:
    """Serve jobs until ``stop`` is set, then finish the jobs in hand and close everything (no HTTP port:
    ``shuangshi up`` and ``demo`` run the workers beside the engine in one process)."""
    await serve_workers(settings, stop, serve_http=False)
