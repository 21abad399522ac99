"""Prometheus metrics of one worker process, in a registry of its own (never the global one).

* ``shuangshi_worker_jobs_total{task_type, outcome}``: jobs handled. ``completed``, ``failed``,
  ``bpmn_error``; ``unreported`` when the outcome did not reach the gateway and ``abandoned`` when a
  shutdown cut the job off (Zeebe's job timeout hands both to a worker again).
* ``shuangshi_worker_job_duration_seconds{task_type}`` (histogram): from the start of the handler until
  its outcome reached the gateway.
* ``shuangshi_worker_job_retries_total{task_type}``: failed jobs that Zeebe will retry (retries left).
* ``shuangshi_worker_bpmn_errors_total{task_type, error_code}``: BPMN errors thrown.
* ``shuangshi_worker_jobs_in_flight{task_type}`` (gauge): jobs being handled now.
* ``shuangshi_worker_reconnect_attempts_total{outcome}``: polls made after a poll failed to reach the
  gateway, ``failed`` or ``succeeded``.
* ``shuangshi_worker_gateway_connected`` (gauge): 1 while the last poll reached the gateway, else 0.
"""

from collections.abc import Iterable
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["OUTCOMES", "WorkerMetrics"]

#: Outcomes of a job, as the ``outcome`` label of ``shuangshi_worker_jobs_total``.
OUTCOMES: Final = ("completed", "failed", "bpmn_error", "unreported", "abandoned")
_DURATION_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class WorkerMetrics:
    """The metrics of one worker process; :meth:`render` gives the Prometheus text format."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.jobs = Counter(
            "shuangshi_worker_jobs",
            "Jobs handled, by job type and outcome.",
            ["task_type", "outcome"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "shuangshi_worker_job_duration_seconds",
            "Time from the start of the handler until the job's outcome reached the gateway.",
            ["task_type"],
            buckets=_DURATION_BUCKETS,
            registry=self.registry,
        )
        self.retries = Counter(
            "shuangshi_worker_job_retries",
            "Failed jobs that Zeebe will retry.",
            ["task_type"],
            registry=self.registry,
        )
        self.bpmn_errors = Counter(
            "shuangshi_worker_bpmn_errors",
            "BPMN errors thrown, by job type and error code.",
            ["task_type", "error_code"],
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "shuangshi_worker_jobs_in_flight",
            "Jobs being handled now.",
            ["task_type"],
            registry=self.registry,
        )
        self.reconnect_attempts = Counter(
            "shuangshi_worker_reconnect_attempts",
            "Polls made after a poll failed to reach the gateway, by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        self.connected = Gauge(
            "shuangshi_worker_gateway_connected",
            "1 while the last poll reached the Zeebe gateway, else 0.",
            registry=self.registry,
        )
        for outcome in ("failed", "succeeded"):
            self.reconnect_attempts.labels(outcome)

    def declare(self, task_types: Iterable[str]) -> None:
        """Start every series of these job types at zero, so that they are scraped before the first job."""
        for task_type in task_types:
            for outcome in OUTCOMES:
                self.jobs.labels(task_type, outcome)
            self.duration.labels(task_type)
            self.retries.labels(task_type)
            self.in_flight.labels(task_type)

    def render(self) -> bytes:
        """The Prometheus text exposition of this registry."""
        return generate_latest(self.registry)
