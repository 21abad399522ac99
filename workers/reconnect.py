"""Polling that never gives up on the gateway: exponential back-off with jitter, and a way to stop polling.

pyzeebe's poller (``JobPoller.poll_once``) catches a failed ``ActivateJobs`` call and sleeps a fixed 5 s
before the next one, whatever ``poll_retry_delay`` says (that one is only the pause when a job type has
its maximum of jobs running). :class:`ReconnectingAdapter` replaces the worker's ``zeebe_adapter`` (a
public attribute the pollers and job controllers share) and handles the failure itself, so pyzeebe's
poller never sees it:

* a poll that cannot reach the gateway (``UNAVAILABLE``, ``INTERNAL``, ``DEADLINE_EXCEEDED`` or an
  unexpected status such as ``UNAUTHENTICATED``) marks the connection down in the shared
  :class:`ConnectionMonitor`, waits the next delay of that job type's :class:`Backoff` (full jitter:
  uniformly random between 0 and ``min(cap, initial * 2**n)``), and returns no jobs, so the poller polls
  again at once. The wait ends early when another job type's poll gets through;
* a poll that gets through resets its back-off and marks the connection up;
* ``RESOURCE_EXHAUSTED`` (back-pressure) backs off the same way without marking the connection down.

:meth:`ReconnectingAdapter.drain` is the first step of a graceful stop: polls in progress are cancelled
and pollers wait, without polling, until the worker stops them, while the jobs already activated finish
(completing them goes through the same adapter, untouched). A job the gateway activated for a cancelled
poll never reaches a handler; Zeebe hands it out again after its timeout.

Only ``ActivateJobs`` is wrapped: the rest of pyzeebe's adapter is used as it is.
"""

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncGenerator, Iterable
from enum import StrEnum

import grpc
from pyzeebe import Job
from pyzeebe.errors import (
    UnknownGrpcStatusCodeError,
    ZeebeBackPressureError,
    ZeebeDeadlineExceeded,
    ZeebeError,
    ZeebeGatewayUnavailableError,
    ZeebeInternalError,
)
from pyzeebe.grpc_internals.zeebe_adapter import ZeebeAdapter

from workers.logging import get_logger
from workers.metrics import WorkerMetrics

__all__ = ["Backoff", "ConnectionMonitor", "ConnectionState", "ReconnectingAdapter"]

_log = get_logger(__name__)

_UNREACHABLE = (
    ZeebeGatewayUnavailableError,
    ZeebeInternalError,
    ZeebeDeadlineExceeded,
    UnknownGrpcStatusCodeError,
)


class Backoff:
    """Exponential back-off with full jitter; :meth:`reset` after a success."""

    def __init__(self, initial: float = 0.5, cap: float = 30.0, rng: random.Random | None = None) -> None:
        if initial <= 0 or cap < initial:
            raise ValueError("need 0 < initial <= cap")
        self.initial = initial
        self.cap = cap
        self.failures = 0
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography

    def ceiling(self) -> float:
        """The upper bound of the next delay: ``min(cap, initial * 2**failures)``."""
        growth: float = 2.0 ** min(self.failures, 64)
        return min(self.cap, self.initial * growth)

    def next_delay(self) -> float:
        """Count a failure and return the seconds to wait before the next attempt."""
        delay = self._rng.uniform(0, self.ceiling())
        self.failures += 1
        return delay

    def reset(self) -> None:
        self.failures = 0


class ConnectionState(StrEnum):
    CONNECTING = "connecting"  # no poll has reached the gateway yet
    CONNECTED = "connected"  # the last poll reached it
    RECONNECTING = "reconnecting"  # the last poll failed; polls go on with back-off


class ConnectionMonitor:
    """The connection state all pollers of a worker share, for ``/readyz``, metrics and logs."""

    def __init__(self, metrics: WorkerMetrics | None = None) -> None:
        self.state = ConnectionState.CONNECTING
        self.failed_polls = 0  # since the connection was last up
        self.last_error: str | None = None
        self._since = time.monotonic()
        self._up = asyncio.Event()
        self._metrics = metrics
        if metrics is not None:
            metrics.connected.set(0)

    @property
    def connected(self) -> bool:
        return self.state is ConnectionState.CONNECTED

    def seconds_in_state(self) -> float:
        return time.monotonic() - self._since

    def describe(self) -> dict[str, object]:
        """The state as ``/readyz`` shows it."""
        return {
            "state": self.state.value,
            "seconds": round(self.seconds_in_state(), 1),
            "failed_polls": self.failed_polls,
            "last_error": self.last_error,
        }

    @property
    def up(self) -> asyncio.Event:
        """Set while the connection is up; pollers waiting out a back-off also wake on it."""
        return self._up

    async def watch(self, channel: grpc.aio.Channel) -> None:
        """Follow the channel's connectivity until cancelled: READY counts as up (pollers waiting out a
        back-off poll at once), TRANSIENT_FAILURE as down. Polls report their own outcome as well."""
        state = channel.get_state(try_to_connect=True)
        while True:
            if state is grpc.ChannelConnectivity.READY:
                self._up_now()
            elif state is grpc.ChannelConnectivity.TRANSIENT_FAILURE:
                self._down_now("TRANSIENT_FAILURE: the channel lost its connection to the gateway")
            await channel.wait_for_state_change(state)
            state = channel.get_state()

    def poll_succeeded(self, *, retry: bool) -> None:
        if retry and self._metrics is not None:
            self._metrics.reconnect_attempts.labels("succeeded").inc()
        self._up_now()

    def poll_failed(self, error: str, *, retry: bool) -> None:
        if retry and self._metrics is not None:
            self._metrics.reconnect_attempts.labels("failed").inc()
        self.failed_polls += 1
        self._down_now(error)

    def _up_now(self) -> None:
        if self.state is ConnectionState.CONNECTED:
            return
        if self.state is ConnectionState.RECONNECTING:
            _log.info(
                "zeebe.reconnected",
                down_seconds=round(self.seconds_in_state(), 1),
                failed_polls=self.failed_polls,
            )
        else:
            _log.info("zeebe.connected")
        self._enter(ConnectionState.CONNECTED)
        self.failed_polls = 0
        self.last_error = None
        self._up.set()

    def _down_now(self, error: str) -> None:
        self.last_error = error
        if self.state is not ConnectionState.RECONNECTING:
            _log.warning("zeebe.unavailable", error=error, hint="polling again with back-off")
            self._enter(ConnectionState.RECONNECTING)
            self._up.clear()

    def _enter(self, state: ConnectionState) -> None:
        self.state = state
        self._since = time.monotonic()
        if self._metrics is not None:
            self._metrics.connected.set(1 if state is ConnectionState.CONNECTED else 0)


def _describe(error: ZeebeError) -> str:
    """The gRPC status and its details (addresses and reasons, never request content)."""
    cause = error.grpc_error
    return f"{cause.code().name}: {cause.details() or ''}"[:300]


async def _wait_any(seconds: float, *events: asyncio.Event) -> None:
    """Wait until one of ``events`` is set, or ``seconds``."""
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


class ReconnectingAdapter(ZeebeAdapter):
    """pyzeebe's adapter with polls that back off with jitter and never give up, and can be drained."""

    def __init__(
        self,
        grpc_channel: grpc.aio.Channel,
        monitor: ConnectionMonitor,
        *,
        initial_backoff: float = 0.5,
        max_backoff: float = 30.0,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(grpc_channel, max_connection_retries=-1)
        self.monitor = monitor
        self._initial = initial_backoff
        self._cap = max_backoff
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._backoffs: dict[str, Backoff] = {}
        self._draining = asyncio.Event()
        self._polls: set[asyncio.Task[list[Job]]] = set()

    @property
    def draining(self) -> bool:
        return self._draining.is_set()

    def drain(self) -> None:
        """Activate no more jobs: cancel the polls in progress; pollers then wait until cancelled."""
        self._draining.set()
        for poll in list(self._polls):
            poll.cancel()

    def backoff(self, task_type: str) -> Backoff:
        """The back-off of one job type's poller."""
        if task_type not in self._backoffs:
            self._backoffs[task_type] = Backoff(self._initial, self._cap, self._rng)
        return self._backoffs[task_type]

    async def _collect(
        self,
        task_type: str,
        worker: str,
        job_timeout_ms: int,
        max_jobs_to_activate: int,
        variables_to_fetch: Iterable[str],
        request_timeout: int,
        tenant_ids: Iterable[str] | None,
    ) -> list[Job]:
        jobs = super().activate_jobs(
            task_type=task_type,
            worker=worker,
            timeout=job_timeout_ms,
            max_jobs_to_activate=max_jobs_to_activate,
            variables_to_fetch=variables_to_fetch,
            request_timeout=request_timeout,
            tenant_ids=tenant_ids,
        )
        return [job async for job in jobs]

    async def activate_jobs(
        self,
        task_type: str,
        worker: str,
        timeout: int,  # noqa: ASYNC109 - pyzeebe's parameter name (the job timeout), passed by keyword
        max_jobs_to_activate: int,
        variables_to_fetch: Iterable[str],
        request_timeout: int,
        tenant_ids: Iterable[str] | None = None,
    ) -> AsyncGenerator[Job, None]:
        if self.draining:
            await asyncio.get_running_loop().create_future()  # parked until the worker cancels its pollers
        backoff = self.backoff(task_type)
        retry = backoff.failures > 0
        poll = asyncio.ensure_future(
            self._collect(
                task_type,
                worker,
                timeout,
                max_jobs_to_activate,
                variables_to_fetch,
                request_timeout,
                tenant_ids,
            )
        )
        self._polls.add(poll)
        try:
            await asyncio.wait({poll})
        finally:
            self._polls.discard(poll)
            if not poll.done():
                poll.cancel()
            # Wait for the poll to end and take its outcome, also when this poller is being cancelled.
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.shield(poll)
        if poll.cancelled():  # drained
            return
        error = poll.exception()
        if error is None:
            backoff.reset()
            self.monitor.poll_succeeded(retry=retry)
            for job in poll.result():
                yield job
            return
        if isinstance(error, ZeebeBackPressureError):
            delay = backoff.next_delay()
            _log.debug("zeebe.backpressure", task_type=task_type, retry_in_seconds=round(delay, 2))
            await _wait_any(delay, self._draining)
            return
        if not isinstance(error, _UNREACHABLE):
            raise error
        self.monitor.poll_failed(_describe(error), retry=retry)
        delay = backoff.next_delay()
        _log.debug("zeebe.poll_failed", task_type=task_type, retry_in_seconds=round(delay, 2))
        await _wait_any(delay, self._draining, self.monitor.up)
