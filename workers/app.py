"""The worker process: every job type of the registry served by one pyzeebe worker."""

import asyncio
import contextlib

import structlog
from pyzeebe import ZeebeTaskRouter, create_insecure_channel

from workers.application import tasks as application_tasks
from workers.case import tasks as case_tasks
from workers.ledger import tasks as ledger_tasks
from workers.notify import build_notifier
from workers.notify import tasks as notify_tasks
from workers.runtime import Services, build_services, create_worker
from workers.seal import tasks as seal_tasks
from workers.settings import WorkerSettings
from workers.sla import tasks as sla_tasks

log = structlog.get_logger("workers.app")


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


async def run_workers(settings: WorkerSettings, stop: asyncio.Event) -> None:
    """Serve jobs until ``stop`` is set, then finish the jobs in hand and close everything."""
    services = await asyncio.to_thread(build_services, settings)
    channel = create_insecure_channel(grpc_address=settings.zeebe_address)
    worker = create_worker(channel, routers(services))
    task = asyncio.create_task(worker.work(), name="zeebe-worker")
    log.info("workers.started", zeebe_address=settings.zeebe_address, job_types=len(worker.tasks))
    try:
        await stop.wait()
    finally:
        await worker.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        notifier = services.extra.get("notifier")
        if notifier is not None:
            await notifier.aclose()
        await channel.close()
        services.close()
        log.info("workers.stopped")
