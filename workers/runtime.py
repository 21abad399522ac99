"""What every job handler shares: the services it calls, BPMN errors, the broker's time, the worker.

Handlers are thin: they read the variables they need into a pydantic model, call a service function
(blocking work through ``asyncio.to_thread``) and return only the variables they change. A business
outcome is raised as ``BpmnError`` and becomes a BPMN error the diagram catches; any other exception
fails the job with an exponential back-off, and Zeebe turns the last failure into an incident.

:func:`create_worker` builds the pyzeebe worker (:class:`Worker`): polls that back off with jitter and
never give up (:mod:`workers.reconnect`), at most ``SHUANGSHI_MAX_JOBS_PER_TYPE`` (or the type's entry in
``SHUANGSHI_MAX_JOBS_OVERRIDES``) jobs of a type activated and running at once, job context bound for the
logs, and every job followed to its outcome for the metrics (:class:`JobTracker`). When a type has its
maximum running, pyzeebe polls for it again after a second.
"""

import asyncio
import contextlib
import functools
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import grpc
import structlog
from pyzeebe import Job, JobController, ZeebeTaskRouter, ZeebeWorker
from pyzeebe.job.job_status import JobStatus

from workers.catalog.loader import load_catalog
from workers.catalog.models import Catalog
from workers.ledger import Ledger
from workers.metrics import WorkerMetrics
from workers.reconnect import ConnectionMonitor, ReconnectingAdapter
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


class JobTracker:
    """The jobs this process is handling: their asyncio tasks, and their metrics.

    :meth:`before` is a pyzeebe ``before`` decorator. It runs in the job's own task (pyzeebe runs each job
    in a task of its own that ends once the outcome has been sent to the gateway) and follows that task to
    its end: in-flight gauge, outcome, duration, retries.
    """

    def __init__(self, metrics: WorkerMetrics | None = None) -> None:
        self.metrics = metrics
        self._running: dict[asyncio.Task[Any], Job] = {}
        self._reported: dict[asyncio.Task[Any], str] = {}  # failed / bpmn_error, once the gateway has it

    @property
    def running(self) -> list[Job]:
        """The jobs being handled now."""
        return list(self._running.values())

    async def before(self, job: Job) -> Job:
        task = asyncio.current_task()
        if task is None:  # pyzeebe always runs a job in a task; nothing to follow otherwise
            return job
        self._running[task] = job
        if self.metrics is not None:
            self.metrics.in_flight.labels(job.type).inc()
        task.add_done_callback(functools.partial(self._finished, job, time.perf_counter()))
        return job

    def _outcome(self, job: Job, task: asyncio.Task[Any]) -> str:
        reported = self._reported.pop(task, None)
        if task.cancelled():
            return "abandoned"
        if task.exception() is not None:
            return "unreported"
        if reported is not None:
            return reported
        # pyzeebe marks the job Completed just before it sends the completion, which raised if it failed.
        return "completed" if job.status is JobStatus.Completed else "unreported"

    def _report(self, outcome: str) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._reported[task] = outcome

    def _finished(self, job: Job, started: float, task: asyncio.Task[Any]) -> None:
        self._running.pop(task, None)
        outcome = self._outcome(job, task)
        if self.metrics is None:
            return
        self.metrics.in_flight.labels(job.type).dec()
        self.metrics.jobs.labels(job.type, outcome).inc()
        if outcome in {"completed", "failed", "bpmn_error"}:
            self.metrics.duration.labels(job.type).observe(time.perf_counter() - started)
        if outcome == "failed" and job.retries > 1:
            self.metrics.retries.labels(job.type).inc()

    async def wait_idle(self) -> None:
        """Return once no job is running."""
        while self._running:
            await asyncio.wait(list(self._running))

    async def cancel_all(self, wait_seconds: float = 3.0) -> list[Job]:
        """Cancel every job still running (after the grace period); the jobs that were cancelled.

        A job whose clean-up awaits again (a client saying goodbye to a server that does not answer) is
        cancelled again every half second, for at most ``wait_seconds`` in all.
        """
        jobs = dict(self._running)
        pending = set(jobs)
        deadline = time.monotonic() + wait_seconds
        while pending and time.monotonic() < deadline:
            for task in pending:
                task.cancel()
            _done, pending = await asyncio.wait(pending, timeout=min(0.5, deadline - time.monotonic()))
        return list(jobs.values())

    async def exception_handler(self, exc: Exception, job: Job, controller: JobController) -> None:
        """BPMN errors go to the diagram with their variables; other failures retry with back-off.

        Variables are never logged (they hold applicants' personal data).
        """
        if isinstance(exc, BpmnError):
            log.info("job.bpmn_error", error_code=exc.code.value)
            await controller.set_error_status(exc.message, error_code=exc.code.value, variables=exc.variables)
            self._report("bpmn_error")
            if self.metrics is not None:
                self.metrics.bpmn_errors.labels(job.type, exc.code.value).inc()
            return
        message = f"{type(exc).__name__}: {exc}"[:1000]
        log.warning("job.failed", error=type(exc).__name__, retries_left=job.retries - 1)
        await controller.set_failure_status(message, retry_back_off_ms=_backoff_ms(job))
        self._report("failed")


async def bind_job_context(job: Job) -> Job:
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(
        process_instance_key=job.process_instance_key,
        job_key=job.key,
        task_type=job.type,
        case_number=job.variables.get("caseNumber"),
    )
    return job


class Worker(ZeebeWorker):
    """pyzeebe's worker with polls that back off and never give up (:class:`ReconnectingAdapter`), job
    tracking and metrics (:class:`JobTracker`), and a way to stop taking jobs (:meth:`drain`)."""

    def __init__(
        self,
        channel: grpc.aio.Channel,
        *,
        name: str,
        monitor: ConnectionMonitor,
        tracker: JobTracker,
        initial_backoff: float,
        max_backoff: float,
    ) -> None:
        super().__init__(
            channel,
            name=name,
            max_connection_retries=-1,
            exception_handler=tracker.exception_handler,
            before=[bind_job_context, tracker.before],
            poll_retry_delay=1,
        )
        self.adapter = ReconnectingAdapter(
            channel, monitor, initial_backoff=initial_backoff, max_backoff=max_backoff
        )
        self.zeebe_adapter = self.adapter  # what pyzeebe's pollers and job controllers use
        self.monitor = monitor
        self.tracker = tracker
        self._channel = channel

    async def work(self) -> None:
        """pyzeebe's ``work``, with the channel's connectivity followed by the connection monitor."""
        watcher = asyncio.create_task(self.monitor.watch(self._channel), name="zeebe-connectivity")
        try:
            await super().work()
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    def drain(self) -> None:
        """Activate no more jobs; the jobs in hand go on (then :meth:`stop` waits for them)."""
        self.adapter.drain()

    def apply_limits(self, limit: Callable[[str], int]) -> None:
        """At most ``limit(task_type)`` jobs of each type at once: activated per request and running."""
        for job_task in self.tasks:
            job_task.config.max_jobs_to_activate = limit(job_task.type)
            job_task.config.max_running_jobs = limit(job_task.type)


def create_worker(
    channel: grpc.aio.Channel,
    routers: Iterable[ZeebeTaskRouter],
    *,
    name: str = "shuangshi-workers",
    settings: WorkerSettings | None = None,
    metrics: WorkerMetrics | None = None,
    monitor: ConnectionMonitor | None = None,
) -> Worker:
    """A worker serving every task of ``routers``: reconnects forever with back-off, our exception handler,
    job context in logs, and the concurrency limits of ``settings`` (``SHUANGSHI_MAX_JOBS_PER_TYPE`` and
    ``SHUANGSHI_MAX_JOBS_OVERRIDES``; default settings when none are given)."""
    settings = settings or WorkerSettings()
    worker = Worker(
        channel,
        name=name,
        monitor=monitor or ConnectionMonitor(metrics),
        tracker=JobTracker(metrics),
        initial_backoff=settings.reconnect_initial_seconds,
        max_backoff=settings.reconnect_max_seconds,
    )
    for router in routers:
        worker.include_router(router)
    served = {job_task.type for job_task in worker.tasks}
    unknown = sorted(set(settings.max_jobs_overrides) - served)
    if unknown:
        raise ValueError(
            f"SHUANGSHI_MAX_JOBS_OVERRIDES names job types no worker serves: {', '.join(unknown)} "
            f"(served: {', '.join(sorted(served))})"
        )
    worker.apply_limits(settings.max_jobs)
    if metrics is not None:
        metrics.declare(sorted(served))
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
