"""What every job handler shares: the services it calls, BPMN errors, the broker's time, the worker.

Handlers are thin: they read the variables they need into a pydantic model, call a service function
(blocking work through ``asyncio.to_thread``) and return only the variables they change. A business
outcome is raised as ``BpmnError`` and becomes a BPMN error the diagram catches; any other exception
fails the job with an exponential back-off, and Zeebe turns the last failure into an incident.
"""

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import grpc
import structlog
from pyzeebe import Job, JobController, ZeebeTaskRouter, ZeebeWorker

from workers.catalog.loader import load_catalog
from workers.catalog.models import Catalog
from workers.ledger import Ledger
from workers.registry import ErrorCode, JobType
from workers.seal import DocumentStore, KeyStore
from workers.settings import WorkerSettings
from workers.sla import WorkingCalendar, load_working_calendar

log = structlog.get_logger("workers.runtime")

#: How long a worker holds a job before Zeebe hands it to another worker.
JOB_TIMEOUT_MS = 60_000
#: Back-off of the first retry; doubled per failed attempt, capped at ``MAX_BACKOFF_MS``.
FIRST_BACKOFF_MS = 1_000
MAX_BACKOFF_MS = 60_000


class BpmnError(Exception):
    """A business outcome the process models as an error event (e.g. materials incomplete)."""

    def __init__(self, code: ErrorCode, message: str, variables: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.variables = variables or {}


@dataclass
class Services:
    """The long-lived collaborators of the handlers, built once per worker process."""

    settings: WorkerSettings
    catalog: Catalog
    ledger: Ledger
    keys: KeyStore
    documents: DocumentStore
    calendar: WorkingCalendar
    extra: dict[str, Any]

    def close(self) -> None:
        self.ledger.close()


def build_services(settings: WorkerSettings) -> Services:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    ledger = Ledger(settings.resolved_ledger_url)
    ledger.migrate()
    return Services(
        settings=settings,
        catalog=load_catalog(),
        ledger=ledger,
        keys=KeyStore(settings.resolved_seal_key_dir, generate_missing=settings.seal_generate_keys),
        documents=DocumentStore(settings.data_dir / "documents"),
        calendar=load_working_calendar(),
        extra={},
    )


def broker_now(job: Job, timeout_ms: int = JOB_TIMEOUT_MS) -> datetime:
    """The broker's time at activation: the job's deadline minus its timeout.

    Deadlines and timers run on the broker's clock, which tests move; using it (rather than this
    machine's clock) keeps a case's dates consistent with the timers that watch them.
    """
    return datetime.fromtimestamp((job.deadline - timeout_ms) / 1000, tz=UTC)


def header(job: Job, name: str, allowed: Iterable[str] | None = None) -> str:
    """A task header the diagram must set; a missing or unknown value fails the job naming the element."""
    value = job.custom_headers.get(name)
    if not isinstance(value, str) or not value:
        raise ValueError(f"element '{job.element_id}' of '{job.bpmn_process_id}' has no task header '{name}'")
    if allowed is not None and value not in set(allowed):
        raise ValueError(
            f"element '{job.element_id}': task header {name}='{value}' "
            f"is not one of {', '.join(sorted(allowed))}"
        )
    return value


async def run_blocking(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Blocking work (database, files, signing) off the event loop."""
    return await asyncio.to_thread(function, *args, **kwargs)


def _backoff_ms(job: Job) -> int:
    attempt = max(0, 3 - int(job.retries))
    backoff: int = min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * (2**attempt))
    return backoff


async def exception_handler(exc: Exception, job: Job, controller: JobController) -> None:
    """BPMN errors go to the diagram with their variables; other failures retry with back-off.

    Variables are never logged (they hold applicants' personal data).
    """
    if isinstance(exc, BpmnError):
        log.info("job.bpmn_error", error_code=exc.code.value)
        await controller.set_error_status(exc.message, error_code=exc.code.value, variables=exc.variables)
        return
    message = f"{type(exc).__name__}: {exc}"[:1000]
    log.warning("job.failed", error=type(exc).__name__, retries_left=job.retries - 1)
    await controller.set_failure_status(message, retry_back_off_ms=_backoff_ms(job))


async def bind_job_context(job: Job) -> Job:
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(
        process_instance_key=job.process_instance_key,
        job_key=job.key,
        task_type=job.type,
        case_number=job.variables.get("caseNumber"),
    )
    return job


def create_worker(
    channel: grpc.aio.Channel,
    routers: Iterable[ZeebeTaskRouter],
    *,
    name: str = "shuangshi-workers",
) -> ZeebeWorker:
    """A pyzeebe worker that never gives up reconnecting and uses our exception handler."""
    worker = ZeebeWorker(
        channel,
        name=name,
        max_connection_retries=-1,
        exception_handler=exception_handler,
        before=[bind_job_context],
        poll_retry_delay=1,
    )
    for router in routers:
        worker.include_router(router)
    return worker


Handler = Callable[[Job], Awaitable[dict[str, Any]]]


def task(
    router: ZeebeTaskRouter,
    task_type: JobType,
    variables_to_fetch: list[str],
    *,
    timeout_ms: int = JOB_TIMEOUT_MS,
) -> Callable[[Handler], Handler]:
    """Register ``handler`` for ``task_type``, fetching only ``variables_to_fetch`` (pyzeebe, typed)."""

    def decorate(handler: Handler) -> Handler:
        # pyzeebe passes the fetched variables as keyword arguments; handlers read them from the job.
        async def function(job: Job, **_variables: Any) -> dict[str, Any]:
            return await handler(job)

        function.__name__ = getattr(handler, "__name__", task_type.value)
        untyped: Any = function  # pyzeebe's decorator is typed for its own ParamSpec machinery
        router.task(task_type=task_type.value, variables_to_fetch=variables_to_fetch, timeout_ms=timeout_ms)(
            untyped
        )
        return handler

    return decorate
