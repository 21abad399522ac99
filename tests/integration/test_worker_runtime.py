"""The worker runtime in production conditions: an engine outage, SIGTERM with a job in hand, the HTTP
port (/healthz, /readyz, /metrics), concurrency limits per job type and logs without personal data.

The outage and shutdown tests run the real ``shuangshi workers`` (and, for the outage, the real
``shuangshi engine``) as child processes and watch them through their JSON log lines and the HTTP port.
"""

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session
from camunda_orchestration_sdk import CamundaAsyncClient
from camunda_orchestration_sdk.semantic_types import ProcessInstanceKey
from prometheus_client.parser import text_string_to_metric_families
from pyzeebe import Job, ZeebeClient, ZeebeTaskRouter, create_insecure_channel
from pyzeebe.task.exception_handler import default_exception_handler

from engine.clock import ControlledClock
from engine.server import EngineServer, start_engine
from tests.engine.conftest import bpmn, chain, service_task, wait_for
from tests.engine.rest.conftest import sdk_client
from workers.app import EXIT_GRACE_EXCEEDED, WorkerProcess
from workers.application.samples import sample_application, sample_id_number
from workers.catalog.loader import load_catalog
from workers.logging import configure_logging, get_logger, reset_logging
from workers.metrics import WorkerMetrics
from workers.registry import ErrorCode, JobType
from workers.runtime import BpmnError, Services
from workers.settings import WorkerSettings

#: How long the engine stays down in the outage test.
OUTAGE_SECONDS = 60
#: Instances waiting while the engine is down.
WAITING_INSTANCES = 3
ITEM = "3700000123026"
TOWN = "xiji"
ID_NUMBER = sample_id_number(7)
PHONE = "13912345678"
NAME = "王示例"
CASE_NUMBER = "XJ-20261127-0042"

START, END = '<bpmn:startEvent id="start" />', '<bpmn:endEvent id="end" />'
PROBE = bpmn(
    "runtime-probe",
    START + service_task("register", JobType.CASE_REGISTER) + END + chain("start", "register", "end"),
)
OUTAGE = bpmn(
    "runtime-outage",
    START
    + '<bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition>'
    + '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">PT30S</bpmn:timeDuration>'
    + "</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>"
    + service_task("register", JobType.CASE_REGISTER)
    + END
    + chain("start", "wait", "register", "end"),
)
NOTIFY = bpmn(
    "runtime-notify",
    START
    + service_task(
        "notify",
        JobType.APPLICANT_NOTIFY,
        '<zeebe:taskHeaders><zeebe:header key="template" value="accepted" /></zeebe:taskHeaders>',
    )
    + END
    + chain("start", "notify", "end"),
)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _env(**overrides: str) -> dict[str, str]:
    """The test's environment without Zeebe, Camunda or project settings, plus ``overrides``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZEEBE_", "CAMUNDA_", "SHUANGSHI_"))}
    env.update(SHUANGSHI_LOG_FORMAT="json", SHUANGSHI_HTTP_PORT="0", PYTHONUNBUFFERED="1")
    env.update(overrides)
    return env


def _metric(text: str, name: str, **labels: str) -> float:
    """The sum of the samples called ``name`` whose labels include ``labels``."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    )


async def _deploy(zeebe: ZeebeClient, folder: Path, **diagrams: str) -> None:
    paths = []
    for process_id, xml in diagrams.items():
        path = folder / f"{process_id}.bpmn"
        path.write_text(xml, encoding="utf-8")
        paths.append(str(path))
    await zeebe.deploy_resource(*paths)


@dataclass
class Child:
    """A ``python -m shuangshi …`` child process; its stderr (JSON log lines) goes to ``log``."""

    process: asyncio.subprocess.Process
    log: Path

    @classmethod
    async def start(cls, args: list[str], env: dict[str, str], log: Path) -> "Child":
        with log.open("wb") as stderr:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "shuangshi",
                *args,
                env=env,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=stderr,
            )
        return cls(process, log)

    def events(self) -> list[dict[str, Any]]:
        lines = self.log.read_text(encoding="utf-8", errors="replace").splitlines()
        return [json.loads(line) for line in lines if line.startswith("{") and line.endswith("}")]

    async def event(self, name: str, within: float = 60) -> dict[str, Any]:
        """The first log event called ``name`` (waits for it; fails early if the process ends without it)."""

        def find() -> dict[str, Any] | None:
            found = next((e for e in self.events() if e.get("event") == name), None)
            if found is None and self.process.returncode is not None:
                pytest.fail(f"exit {self.process.returncode} before {name}:\n{self.log.read_text()[-3000:]}")
            return found

        event: dict[str, Any] = await wait_for(find, within=within, message=f"log event {name}")
        return event

    async def exit_code(self, within: float = 30) -> int:
        return await asyncio.wait_for(self.process.wait(), within)

    async def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()


@contextlib.asynccontextmanager
async def _children() -> AsyncIterator[list[Child]]:
    started: list[Child] = []
    try:
        yield started
    finally:
        for child in started:
            await child.kill()


async def _instance_state(sdk: CamundaAsyncClient, key: int) -> str | None:
    try:
        instance = await sdk.get_process_instance(ProcessInstanceKey(str(key)))
    except Exception:  # noqa: BLE001 - the REST API may still be starting; the caller waits
        return None
    return str(instance.state.value)


# --- the engine away for a minute ------------------------------------------------------------------------


async def test_workers_wait_out_a_60_second_engine_outage(tmp_path: Path) -> None:
    """Engine SIGKILLed for 60 s: /readyz 503, polls back off; restarted, waiting instances complete alone."""
    grpc_address, rest_port = f"127.0.0.1:{_free_port()}", _free_port()
    engine_args = [
        "engine",
        "--grpc-address",
        grpc_address,
        "--rest-address",
        f"127.0.0.1:{rest_port}",
        "--data-dir",
        str(tmp_path / "engine"),
    ]
    worker_env = _env(ZEEBE_ADDRESS=grpc_address, SHUANGSHI_RECONNECT_MAX_SECONDS="5")
    async with _children() as children:
        engine = await Child.start(engine_args, _env(), tmp_path / "engine-1.log")
        children.append(engine)
        await engine.event("engine.ready")
        workers = await Child.start(
            ["workers", "--data-dir", str(tmp_path / "data")], worker_env, tmp_path / "w.log"
        )
        children.append(workers)
        ready = await workers.event("workers.ready")
        job_types = int(ready["job_types"])
        channel = create_insecure_channel(grpc_address=grpc_address)
        zeebe = ZeebeClient(channel, max_connection_retries=-1)
        variables = {"itemCode": ITEM, "townCode": TOWN, "counter": "town"}
        async with httpx.AsyncClient(base_url=f"http://{ready['http_address']}", timeout=10) as http:
            try:
                await _deploy(zeebe, tmp_path, **{"runtime-probe": PROBE, "runtime-outage": OUTAGE})
                await zeebe.run_process_with_result("runtime-probe", variables, timeout=30_000)
                assert (await http.get("/readyz")).status_code == 200
                waiting = [
                    (await zeebe.run_process("runtime-outage", variables)).process_instance_key
                    for _ in range(WAITING_INSTANCES)
                ]
            finally:
                await channel.close()
            await engine.kill()  # SIGKILL: no clean shutdown, as when the machine dies
            down_since = time.monotonic()

            async def readyz_names_zeebe() -> bool:
                response = await http.get("/readyz")
                checks = response.json()["checks"]
                return response.status_code == 503 and not checks["zeebe"]["ok"] and checks["ledger"]["ok"]

            await wait_for(readyz_names_zeebe, within=20, message="/readyz 503 naming zeebe")
            assert (await http.get("/healthz")).status_code == 200

            async def outage_over() -> bool:
                if time.monotonic() - down_since < OUTAGE_SECONDS:
                    return False
                text = (await http.get("/metrics")).text
                return (
                    _metric(text, "shuangshi_worker_reconnect_attempts_total", outcome="failed") >= job_types
                )

            await wait_for(
                outage_over, within=OUTAGE_SECONDS + 30, message="the outage and failed reconnects"
            )
            text = (await http.get("/metrics")).text
            failed = _metric(text, "shuangshi_worker_reconnect_attempts_total", outcome="failed")
            # Backed off: far fewer than one attempt per second per job type.
            assert failed < job_types * OUTAGE_SECONDS
            assert _metric(text, "shuangshi_worker_gateway_connected") == 0
            assert (await http.get("/healthz")).status_code == 200
            assert workers.process.returncode is None

            engine = await Child.start(engine_args, _env(), tmp_path / "engine-2.log")
            children.append(engine)
            await engine.event("engine.ready")

            async def ready_again() -> bool:
                return (await http.get("/readyz")).status_code == 200

            await wait_for(ready_again, within=30, message="/readyz 200 after the restart")
            sdk = sdk_client(f"http://127.0.0.1:{rest_port}")
            try:
                for key in waiting:

                    async def completed(key: int = key) -> bool:
                        return await _instance_state(sdk, key) == "COMPLETED"

                    await wait_for(completed, within=60, message=f"instance {key} to complete")
            finally:
                await sdk.aclose()

            async def all_counted() -> bool:
                text = (await http.get("/metrics")).text
                done = _metric(
                    text, "shuangshi_worker_jobs_total", task_type="case.register", outcome="completed"
                )
                return done == 1 + WAITING_INSTANCES

            await wait_for(all_counted, within=10, message="case.register completed 4 times in /metrics")
            text = (await http.get("/metrics")).text
            assert _metric(text, "shuangshi_worker_gateway_connected") == 1
        names = [e["event"] for e in workers.events()]
        assert names.index("zeebe.unavailable") < names.index("zeebe.reconnected")
        workers.process.send_signal(signal.SIGTERM)
        assert await workers.exit_code() == 0
        engine.process.send_signal(signal.SIGTERM)
        assert await engine.exit_code() == 0


# --- SIGTERM with a job in hand --------------------------------------------------------------------------


class HeldSmtpHandler:
    """aiosmtpd handler that holds each message until ``release`` is set, then accepts it."""

    def __init__(self) -> None:
        self.arrived = threading.Event()
        self.release = threading.Event()
        self.recipients: list[list[str]] = []

    async def handle_DATA(self, _server: Any, _session: Session, envelope: Envelope) -> str:  # noqa: N802 -- aiosmtpd hook name
        self.arrived.set()
        await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 120)
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


@dataclass
class NotifySetup:
    server: EngineServer
    zeebe: ZeebeClient
    smtp: HeldSmtpHandler
    smtp_port: int
    variables: dict[str, Any] = field(default_factory=dict)


@pytest.fixture
def held_smtp() -> Iterator[tuple[HeldSmtpHandler, int]]:
    handler = HeldSmtpHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port(), ready_timeout=10)
    controller.start()
    try:
        yield handler, controller.port
    finally:
        handler.release.set()
        controller.stop()


@pytest.fixture
async def notify_setup(tmp_path: Path, held_smtp: tuple[HeldSmtpHandler, int]) -> AsyncIterator[NotifySetup]:
    """The engine in this process with a one-step ``applicant.notify`` process; SMTP held by the test."""
    server = await start_engine(tmp_path / "engine", "127.0.0.1:0", ControlledClock())
    channel = create_insecure_channel(grpc_address=server.grpc_address)
    zeebe = ZeebeClient(channel, max_connection_retries=-1)
    await _deploy(zeebe, tmp_path, **{"runtime-notify": NOTIFY})
    application = sample_application(load_catalog(), ITEM, TOWN, "town")
    application["applicant"]["email"] = "applicant@example.com"
    variables = {
        "application": application,
        "itemCode": ITEM,
        "townCode": TOWN,
        "counter": "town",
        "caseNumber": CASE_NUMBER,
        "slaDueAt": "2026-12-04T17:00:00+08:00",
    }
    try:
        yield NotifySetup(server, zeebe, held_smtp[0], held_smtp[1], variables)
    finally:
        await channel.close()
        await server.stop(0)


def _notify_workers_env(setup: NotifySetup, grace: str) -> dict[str, str]:
    return _env(
        ZEEBE_ADDRESS=setup.server.grpc_address,
        SHUANGSHI_SMTP_HOST="127.0.0.1",
        SHUANGSHI_SMTP_PORT=str(setup.smtp_port),
        SHUANGSHI_SHUTDOWN_GRACE_SECONDS=grace,
    )


async def test_sigterm_waits_for_the_job_in_hand_then_exits_0(
    tmp_path: Path, notify_setup: NotifySetup
) -> None:
    """SIGTERM with applicant.notify held at SMTP: draining, still up; once released the job completes, exit 0."""
    setup = notify_setup
    async with _children() as children:
        workers = await Child.start(
            ["workers", "--data-dir", str(tmp_path / "data")],
            _notify_workers_env(setup, "30"),
            tmp_path / "w.log",
        )
        children.append(workers)
        ready = await workers.event("workers.ready")
        result = asyncio.create_task(
            setup.zeebe.run_process_with_result("runtime-notify", setup.variables, timeout=60_000)
        )
        try:
            await wait_for(setup.smtp.arrived.is_set, within=30, message="the mail at the SMTP server")
            workers.process.send_signal(signal.SIGTERM)
            stopping = await workers.event("workers.stopping")
            assert stopping["jobs_in_hand"] == 1
            async with httpx.AsyncClient(base_url=f"http://{ready['http_address']}", timeout=10) as http:
                response = await http.get("/readyz")
                assert response.status_code == 503
                assert "draining" in response.json()["checks"]["shutdown"]["error"]
                assert (await http.get("/healthz")).status_code == 200
                # It answered while the job is held: the process has not gone.
                assert workers.process.returncode is None
            setup.smtp.release.set()
            assert await workers.exit_code() == 0
            outcome = await asyncio.wait_for(result, 30)
        finally:
            result.cancel()
    assert outcome.bpmn_process_id == "runtime-notify"
    assert setup.smtp.recipients == [["applicant@example.com"]]
    stopped = await workers.event("workers.stopped")
    assert stopped["exit_code"] == 0


async def test_grace_period_running_out_abandons_the_job_and_exits_3(
    tmp_path: Path, notify_setup: NotifySetup
) -> None:
    """With a 1 s grace period and the job still held, the process logs the abandoned job and exits 3."""
    setup = notify_setup
    async with _children() as children:
        workers = await Child.start(
            ["workers", "--data-dir", str(tmp_path / "data")],
            _notify_workers_env(setup, "1"),
            tmp_path / "w.log",
        )
        children.append(workers)
        await workers.event("workers.ready")
        key = (await setup.zeebe.run_process("runtime-notify", setup.variables)).process_instance_key
        await wait_for(setup.smtp.arrived.is_set, within=30, message="the mail at the SMTP server")
        workers.process.send_signal(signal.SIGTERM)
        assert await workers.exit_code() == EXIT_GRACE_EXCEEDED
    exceeded = await workers.event("workers.shutdown_grace_exceeded")
    assert exceeded["abandoned"] == 1
    assert exceeded["jobs"][0]["task_type"] == "applicant.notify"
    assert key > 0


async def test_second_signal_cuts_the_grace_period_short(tmp_path: Path, notify_setup: NotifySetup) -> None:
    """A second SIGTERM during a 30 s grace period abandons the held job at once (exit 3, forced)."""
    setup = notify_setup
    async with _children() as children:
        workers = await Child.start(
            ["workers", "--data-dir", str(tmp_path / "data")],
            _notify_workers_env(setup, "30"),
            tmp_path / "w.log",
        )
        children.append(workers)
        await workers.event("workers.ready")
        await setup.zeebe.run_process("runtime-notify", setup.variables)
        await wait_for(setup.smtp.arrived.is_set, within=30, message="the mail at the SMTP server")
        workers.process.send_signal(signal.SIGTERM)
        await workers.event("workers.stopping")
        workers.process.send_signal(signal.SIGTERM)
        assert await workers.exit_code(within=10) == EXIT_GRACE_EXCEEDED
    exceeded = await workers.event("workers.shutdown_grace_exceeded")
    assert exceeded["forced"] is True


async def test_invalid_settings_exit_2_without_echoing_values(tmp_path: Path) -> None:
    """A bad SHUANGSHI_MAX_JOBS_OVERRIDES ends `shuangshi workers` with exit code 2 naming the setting."""
    env = _env(SHUANGSHI_MAX_JOBS_OVERRIDES='{"seal.stamp": 0}', SHUANGSHI_SMTP_PASSWORD="do-not-print")  # noqa: S106 - test value
    child = await Child.start(["workers", "--data-dir", str(tmp_path)], env, tmp_path / "w.log")
    assert await child.exit_code() == 2
    output = child.log.read_text(encoding="utf-8")
    assert "max_jobs_overrides" in output
    assert "do-not-print" not in output


# --- in this process: limits, metrics, logs ---------------------------------------------------------------


@dataclass
class Running:
    server: EngineServer
    zeebe: ZeebeClient
    process: WorkerProcess
    stop: asyncio.Event
    runner: "asyncio.Task[int]"

    @property
    def metrics(self) -> WorkerMetrics:
        return self.process.metrics

    def sample(self, name: str, **labels: str) -> float:
        return _metric(self.metrics.render().decode(), name, **labels)


@contextlib.asynccontextmanager
async def _running(
    tmp_path: Path, router: ZeebeTaskRouter, diagrams: dict[str, str], **settings: Any
) -> AsyncIterator[Running]:
    """The engine and a WorkerProcess serving ``router`` (no HTTP port), with ``diagrams`` deployed."""
    server = await start_engine(tmp_path / "engine", "127.0.0.1:0", ControlledClock())
    channel = create_insecure_channel(grpc_address=server.grpc_address)
    zeebe = ZeebeClient(channel, max_connection_retries=-1)

    def make_routers(_services: Services) -> list[ZeebeTaskRouter]:
        return [router]

    process = WorkerProcess(
        WorkerSettings(zeebe_address=server.grpc_address, data_dir=tmp_path / "data", **settings),
        make_routers=make_routers,
    )
    stop = asyncio.Event()
    try:
        await _deploy(zeebe, tmp_path, **diagrams)
        await process.start()
        running = Running(server, zeebe, process, stop, asyncio.create_task(process.run(stop)))
        try:
            yield running
        finally:
            stop.set()
            assert await asyncio.wait_for(running.runner, 30) == 0
    finally:
        await channel.close()
        await server.stop(0)


def _register(router: ZeebeTaskRouter, job_type: str, handler: Any, **options: Any) -> None:
    """``router.task`` for a handler taking ``job: Job`` (pyzeebe's decorator is typed for its ParamSpec)."""
    decorate: Any = router.task(job_type, **options)
    decorate(handler)


def _one_task_process(process_id: str, job_type: str, retries: int = 3) -> str:
    return bpmn(
        process_id, START + service_task("t", job_type, retries=retries) + END + chain("start", "t", "end")
    )


async def test_no_more_than_the_limit_of_a_job_type_runs_at_once(tmp_path: Path) -> None:
    """SHUANGSHI_MAX_JOBS_OVERRIDES={"runtime.slow": 2}: of 5 slow jobs at most 2 run at any time; all finish."""
    running_now = 0
    most = 0
    release = asyncio.Event()
    router = ZeebeTaskRouter()

    async def slow(job: Job) -> dict[str, Any]:
        nonlocal running_now, most
        running_now += 1
        most = max(most, running_now)
        try:
            await release.wait()
        finally:
            running_now -= 1
        return {"done": job.key}

    _register(router, "runtime.slow", slow, timeout_ms=60_000)
    diagrams = {"runtime-slow": _one_task_process("runtime-slow", "runtime.slow")}
    async with _running(tmp_path, router, diagrams, max_jobs_overrides={"runtime.slow": 2}) as run:
        results = [
            asyncio.create_task(run.zeebe.run_process_with_result("runtime-slow", {}, timeout=60_000))
            for _ in range(5)
        ]
        await wait_for(lambda: running_now == 2, within=10, message="two jobs running")
        assert run.sample("shuangshi_worker_jobs_in_flight", task_type="runtime.slow") == 2
        release.set()
        await asyncio.wait_for(asyncio.gather(*results), 30)
        assert most == 2
        assert run.sample("shuangshi_worker_jobs_total", task_type="runtime.slow", outcome="completed") == 5
        assert run.sample("shuangshi_worker_jobs_in_flight", task_type="runtime.slow") == 0
        assert run.sample("shuangshi_worker_job_duration_seconds_count", task_type="runtime.slow") == 5


async def test_metrics_count_outcomes_retries_and_bpmn_error_codes(tmp_path: Path) -> None:
    """A failing job (retries left) counts as failed and retried; a BPMN error by its code; a success completed."""
    router = ZeebeTaskRouter()

    async def fails(job: Job) -> dict[str, Any]:
        raise RuntimeError(f"job {job.key} fails")

    async def refuses(job: Job) -> dict[str, Any]:
        raise BpmnError(ErrorCode.APPLICATION_INVALID, f"job {job.key} refused")

    async def works(job: Job) -> dict[str, Any]:
        return {"ok": job.key}

    _register(router, "runtime.fails", fails)
    _register(router, "runtime.refuses", refuses)
    _register(router, "runtime.works", works)
    diagrams = {
        "runtime-fails": _one_task_process("runtime-fails", "runtime.fails"),
        "runtime-refuses": _one_task_process("runtime-refuses", "runtime.refuses"),
        "runtime-works": _one_task_process("runtime-works", "runtime.works"),
    }
    async with _running(tmp_path, router, diagrams) as run:
        for process_id in diagrams:
            await run.zeebe.run_process(process_id, {})

        def counted() -> bool:
            return (
                run.sample("shuangshi_worker_jobs_total", outcome="failed") == 1
                and run.sample("shuangshi_worker_jobs_total", outcome="bpmn_error") == 1
                and run.sample("shuangshi_worker_jobs_total", outcome="completed") == 1
            )

        await wait_for(counted, within=10, message="one job of each outcome")
        assert run.sample("shuangshi_worker_jobs_total", task_type="runtime.fails", outcome="failed") == 1
        assert run.sample("shuangshi_worker_job_retries_total", task_type="runtime.fails") == 1
        assert (
            run.sample(
                "shuangshi_worker_bpmn_errors_total",
                task_type="runtime.refuses",
                error_code="APPLICATION_INVALID",
            )
            == 1
        )
        assert run.sample("shuangshi_worker_jobs_total", task_type="runtime.works", outcome="completed") == 1
        assert run.sample("shuangshi_worker_gateway_connected") == 1


@pytest.fixture
def json_logs(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[[], str]]:
    """Call it once to log JSON at DEBUG into the captured stderr; later calls return what was logged."""
    reset_logging()
    captured: list[str] = []

    def logged() -> str:
        if not captured:
            configure_logging("DEBUG", json=True)  # here, in the test: stderr is the capture of its phase
        captured.append(capsys.readouterr().err)
        return "".join(captured)

    try:
        yield logged
    finally:
        reset_logging()


async def test_job_logs_carry_job_context_but_no_personal_data(
    tmp_path: Path, json_logs: Callable[[], str]
) -> None:
    """A failing job with an ID number, mobile and name in its variables: logs carry job_key, never those."""
    router = ZeebeTaskRouter()
    handler_log = get_logger("tests.handler")

    async def leaky(job: Job, **_variables: Any) -> dict[str, Any]:
        applicant: Any = job.variables["applicant"]
        handler_log.info("applicant.checked", detail=f"id {applicant['idNumber']} tel {applicant['mobile']}")
        raise ValueError(f"applicant {applicant['idNumber']} / {applicant['mobile']} rejected")

    _register(router, "runtime.leaky", leaky, variables_to_fetch=["applicant"])
    diagrams = {"runtime-leaky": _one_task_process("runtime-leaky", "runtime.leaky", retries=1)}
    variables = {"applicant": {"name": NAME, "idNumber": ID_NUMBER, "mobile": PHONE}}
    json_logs()
    async with _running(tmp_path, router, diagrams) as run:
        key = (await run.zeebe.run_process("runtime-leaky", variables)).process_instance_key

        def failed() -> bool:
            return run.sample("shuangshi_worker_jobs_total", task_type="runtime.leaky", outcome="failed") == 1

        await wait_for(failed, within=10, message="the job to fail")
    text = json_logs()
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    failure = next(line for line in lines if line.get("event") == "job.failed")
    assert failure["task_type"] == "runtime.leaky"
    assert failure["process_instance_key"] == key
    assert isinstance(failure["job_key"], int)
    checked = next(line for line in lines if line.get("event") == "applicant.checked")
    assert checked["job_key"] == failure["job_key"]
    assert "********" in checked["detail"]  # the handler's own text, masked
    assert "****" in checked["detail"]
    for secret in (ID_NUMBER, PHONE, NAME):
        assert secret not in text


async def test_pyzeebe_records_show_a_job_by_key_and_type_only(json_logs: Callable[[], str]) -> None:
    """pyzeebe's records show a job as key and type, never its variables; its DEBUG job dumps stay off."""
    job = Job(
        key=2251799813685249,
        type="runtime.plain",
        process_instance_key=2251799813685111,
        bpmn_process_id="runtime-plain",
        process_definition_version=1,
        process_definition_key=2251799813685000,
        element_id="t",
        element_instance_key=2251799813685222,
        custom_headers={},
        worker="test",
        retries=3,
        deadline=0,
        variables={"applicant": {"name": NAME, "idNumber": ID_NUMBER, "mobile": PHONE}},
    )

    class Controller:
        async def set_failure_status(
            self, message: str, retry_back_off_ms: int = 0, variables: Any = None
        ) -> None:
            """Nothing to send."""

    controller: Any = Controller()
    json_logs()
    await default_exception_handler(ValueError("boom"), job, controller)
    logging.getLogger("pyzeebe.grpc_internals.zeebe_job_adapter").debug("Got job: %s from zeebe", job)
    text = json_logs()
    assert "failed job Job(key=2251799813685249, type=runtime.plain" in text
    assert "Got job" not in text
    for secret in (ID_NUMBER, PHONE, NAME, "idNumber"):
        assert secret not in text


async def test_a_worker_that_fails_exits_1(tmp_path: Path) -> None:
    """A poll the gateway refuses as invalid (job timeout 0) ends the worker: run() returns 1 by itself."""
    server = await start_engine(tmp_path / "engine", "127.0.0.1:0", ControlledClock())
    router = ZeebeTaskRouter()

    async def never(job: Job) -> dict[str, Any]:
        return {"never": job.key}

    _register(router, "runtime.invalid", never, timeout_ms=0)

    def make_routers(_services: Services) -> list[ZeebeTaskRouter]:
        return [router]

    settings = WorkerSettings(zeebe_address=server.grpc_address, data_dir=tmp_path / "data")
    process = WorkerProcess(settings, make_routers=make_routers)
    try:
        await process.start()
        assert await asyncio.wait_for(process.run(asyncio.Event()), 30) == 1
    finally:
        await server.stop(0)
