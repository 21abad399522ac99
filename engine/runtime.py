"""The engine at run time: one writer task, the timer scheduler, and the waiters clients park on.

gRPC and REST handlers never touch state. They call ``Engine.execute`` with a command (a function
of the processor); the writer applies queued commands in order, persists the whole batch in one
SQLite transaction, and only then answers. Long-polling job activations, job streams and
``CreateProcessInstanceWithResult`` wait on notifications the writer sends after each commit.
"""

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from engine.clock import Clock, SystemClock
from engine.processor import ActivatedJob, Processor, Rejection, RejectionType
from engine.state import Store

T = TypeVar("T")
log = logging.getLogger("engine.runtime")

BATCH_LIMIT = 512
GROUP_COMMIT_WINDOW_S = 0.001
DEFAULT_LONG_POLL_MS = 10_000


@dataclass(frozen=True, slots=True)
class InstanceResult:
    process_instance_key: int
    state: str
    variables: dict[str, Any]


class Engine:
    """Owns the store, the processor and the asyncio tasks that drive them."""

    def __init__(self, data_dir: Path, clock: Clock | None = None) -> None:
        self.data_dir = data_dir
        self.clock = clock or SystemClock()
        self.store = Store(data_dir / "engine.sqlite3")
        self.processor = Processor(self.store.load(), self.clock)
        self._queue: asyncio.Queue[tuple[Callable[[], Any], asyncio.Future[Any]]] = asyncio.Queue()
        self._job_version: dict[str, int] = defaultdict(int)
        self._job_changed: dict[str, asyncio.Event] = {}
        self._result_waiters: dict[int, list[asyncio.Future[InstanceResult]]] = defaultdict(list)
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self.clock.on_change(self._on_clock_change)

    @property
    def state(self) -> Any:
        return self.processor.state

    # lifecycle ---------------------------------------------------------------------------------
    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._writer(), name="engine-writer"),
            asyncio.create_task(self._scheduler(), name="engine-scheduler"),
        ]

    async def stop(self) -> None:
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        for event in self._job_changed.values():
            event.set()
        self.store.close()

    def _on_clock_change(self) -> None:
        self._wake.set()

    # commands ----------------------------------------------------------------------------------
    async def execute(self, command: Callable[[], T]) -> T:
        """Run one command on the writer and return its result once it is durable."""
        if self._stopping:
            raise Rejection(RejectionType.INVALID_STATE, "The engine is shutting down")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        await self._queue.put((command, future))
        return await future

    async def _writer(self) -> None:
        queue = self._queue
        while True:
            batch = [await queue.get()]
            # Group commit: wait a millisecond for more commands so one transaction carries many of
            # them (halves the engine's CPU per job under load; see benchmarks/engine_throughput.py).
            await asyncio.sleep(GROUP_COMMIT_WINDOW_S)
            while not queue.empty() and len(batch) < BATCH_LIMIT:
                batch.append(queue.get_nowait())
            outcomes: list[tuple[asyncio.Future[Any], Any, BaseException | None]] = []
            broken: BaseException | None = None
            for command, future in batch:
                try:
                    outcomes.append((future, command(), None))
                except Rejection as rejection:
                    outcomes.append((future, None, rejection))
                except Exception as exc:
                    log.exception("engine.command_failed")
                    broken = exc
                    break
            if broken is not None:
                # An unexpected failure may have left the batch half applied in memory: drop the
                # whole batch and reload the last committed state, so nothing half written survives.
                self.processor = Processor(self.store.load(), self.clock)
                for _command, future in batch:
                    if not future.done():
                        future.set_exception(
                            Rejection(RejectionType.INVALID_STATE, f"internal engine error, retry: {broken}")
                        )
                continue
            try:
                self.store.flush(self.processor.state)
            except Exception as exc:
                log.exception("engine.flush_failed")
                self.processor = Processor(self.store.load(), self.clock)
                for _command, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for future, result, error in outcomes:
                if future.done():
                    continue
                if error is not None:
                    future.set_exception(error)
                else:
                    future.set_result(result)
            self._publish_effects()

    def _publish_effects(self) -> None:
        effects = self.processor.take_effects()
        for job_type in effects.job_types:
            self._job_version[job_type] += 1
            event = self._job_changed.pop(job_type, None)
            if event is not None:
                event.set()
        for key, state, variables in effects.ended_instances:
            for waiter in self._result_waiters.pop(key, []):
                if not waiter.done():
                    waiter.set_result(InstanceResult(key, state, variables))
        if effects.schedule_changed:
            self._wake.set()

    # timers ------------------------------------------------------------------------------------
    async def _scheduler(self) -> None:
        while True:
            self._wake.clear()
            due = self.processor.next_due_ms()
            now = self.clock.now_ms()
            if due is not None and due <= now:
                await self.execute(self.processor.tick)
                continue
            timeout: float | None = None
            if due is not None and not getattr(self.clock, "pinned", False):
                timeout = (due - now) / 1000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    # jobs --------------------------------------------------------------------------------------
    def _job_event(self, job_type: str) -> asyncio.Event:
        event = self._job_changed.get(job_type)
        if event is None:
            event = self._job_changed[job_type] = asyncio.Event()
        return event

    async def activate_jobs(
        self,
        job_type: str,
        worker: str,
        timeout_ms: int,
        max_jobs: int,
        fetch_variables: list[str],
        request_timeout_ms: int,
    ) -> list[ActivatedJob]:
        """Activate up to ``max_jobs``; with long polling, wait until some arrive or the request times out."""
        loop = asyncio.get_running_loop()
        long_poll = request_timeout_ms >= 0
        wait_ms = request_timeout_ms if request_timeout_ms > 0 else DEFAULT_LONG_POLL_MS
        deadline = loop.time() + wait_ms / 1000
        while True:
            seen = self._job_version[job_type]
            event = self._job_event(job_type)
            jobs = await self.execute(
                lambda: self.processor.activate_jobs(job_type, worker, timeout_ms, max_jobs, fetch_variables)
            )
            if jobs or not long_poll or self._stopping:
                return jobs
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            if self._job_version[job_type] != seen:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    async def stream_jobs(
        self, job_type: str, worker: str, timeout_ms: int, fetch_variables: list[str]
    ) -> AsyncIterator[ActivatedJob]:
        """Push jobs of a type as they become activatable, until the consumer goes away."""
        while not self._stopping:
            seen = self._job_version[job_type]
            event = self._job_event(job_type)
            jobs = await self.execute(
                lambda: self.processor.activate_jobs(job_type, worker, timeout_ms, 32, fetch_variables)
            )
            for job in jobs:
                yield job
            if not jobs and self._job_version[job_type] == seen:
                await event.wait()

    # instances ---------------------------------------------------------------------------------
    async def create_instance_with_result(
        self,
        bpmn_process_id: str,
        version: int,
        definition_key: int,
        variables: dict[str, Any],
        timeout_ms: int,
    ) -> tuple[Any, InstanceResult]:
        waiter: asyncio.Future[InstanceResult] = asyncio.get_running_loop().create_future()

        def command() -> Any:
            info = self.processor.create_instance(bpmn_process_id, version, definition_key, variables)
            self._result_waiters[info.key].append(waiter)
            return info

        info = await self.execute(command)
        try:
            result = await asyncio.wait_for(waiter, timeout_ms / 1000 if timeout_ms > 0 else None)
        except TimeoutError:
            self._result_waiters.pop(info.key, None)
            raise
        return info, result
