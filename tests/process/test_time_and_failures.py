"""Time and failure: working-day alerts on the engine clock, a tampered seal, redelivered jobs, PostgreSQL.

Time moves only through the controlled engine clock; waits are on conditions (``wait_for``), never sleeps.
"""

import json
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar
import psycopg
import pytest
from camunda_orchestration_sdk.models.element_instance_search_query import ElementInstanceSearchQuery
from camunda_orchestration_sdk.models.user_task_search_query import UserTaskSearchQuery
from pyzeebe import Job, JobController, ZeebeWorker
from pyzeebe.task.types import JobHandler
from pyzeebe.types import Variables

from engine.clock import datetime_to_ms
from tests.conftest import libpq_url
from tests.engine.conftest import wait_for
from tests.process.conftest import System, _start_workers, close_system, make_system
from tests.process.test_delegation import APPROVE, human_steps
from workers.ledger import CaseView
from workers.runtime import JOB_TIMEOUT_MS
from workers.seal import verify
from workers.sla import schedule

SHANGHAI = ZoneInfo("Asia/Shanghai")
DIRECT_ITEM = "3700000117086"  # 直接下放, 3 working days
REVIEW_ITEM = "3700000123026"  # 下放实质性审核权
FORWARDING_ITEM = "3700000131002"  # 服务窗口前移
OPINION = {"opinionDecision": "approve", "opinionText": "经实质性审核，申请材料真实有效。"}
DIE_FIRST = frozenset({"seal.stamp", "applicant.notify"})

pytestmark = pytest.mark.zeebe  # scenario tests: also run on a real cluster with ``pytest -m zeebe``


# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------


StartSystem = Callable[..., Awaitable[System]]


@pytest.fixture
async def start_system(tmp_path: Path) -> AsyncIterator[StartSystem]:
    """``make_system`` with the test's arguments; the system is closed after the test."""
    started: list[System] = []

    async def start(**kwargs: Any) -> System:
        system = await make_system(tmp_path, **kwargs)
        started.append(system)
        return system

    try:
        yield start
    finally:
        for system in started:
            await close_system(system)


def last_working_day_before_national_day(year: int) -> date:
    """The last working day before the first National Day holiday of ``year`` (chinese_calendar)."""
    day = date(year, 10, 1)
    while chinese_calendar.get_holiday_detail(day) != (True, chinese_calendar.Holiday.national_day.value):
        day += timedelta(days=1)
    day -= timedelta(days=1)
    while not chinese_calendar.is_workday(day):
        day -= timedelta(days=1)
    return day


async def engine_barrier(system: System) -> None:
    """Send a no-op command (a message nobody waits for, not buffered) through the engine's one writer.

    Moving the clock wakes the timer scheduler, which queues its "timer due" command before this one can
    reach the engine; when this returns, every timer that was due has fired and its effects are committed.
    """
    await system.zeebe.publish_message("test-barrier", "none", time_to_live_in_milliseconds=0)


async def elements(system: System, key: int, element_id: str) -> list[Any]:
    """The element instances (active or ended) of ``element_id`` in the instance."""
    query = ElementInstanceSearchQuery.from_dict(
        {"filter": {"processInstanceKey": str(key), "elementId": element_id}}
    )
    result = await system.sdk.search_element_instances(data=query)
    return list(result.items)


async def user_tasks(system: System, key: int, element_id: str) -> list[Any]:
    """Every user task (any state) of the instance at ``element_id``."""
    query = UserTaskSearchQuery.from_dict(
        {"filter": {"processInstanceKey": str(key), "elementId": element_id}}
    )
    result = await system.sdk.search_user_tasks(data=query)
    return list(result.items)


def case_view(system: System, case_number: str) -> CaseView:
    view = system.ledger.case(case_number)
    assert view is not None, case_number
    return view


def events(system: System, case_number: str) -> list[str]:
    return [event.event for event in case_view(system, case_number).events]


def outbox(system: System, pattern: str) -> list[Path]:
    return sorted((system.data_dir / "outbox").glob(pattern))


def stored_documents(system: System) -> dict[int, dict[str, Any]]:
    """Sealed documents in the store by the job key that stamped them."""
    directory = system.services.documents.directory
    return {int(path.stem): json.loads(path.read_text("utf-8")) for path in sorted(directory.glob("*.json"))}


# --------------------------------------------------------------------------------------------------
# 1. yellow and red alerts across a weekend and a public holiday
# --------------------------------------------------------------------------------------------------


async def test_alerts_count_working_days_across_a_holiday_and_a_weekend(system: System) -> None:
    """Warning and deadline skip National Day and its weekend; yellow then red alerts fire without ending the task."""
    accept_day = last_working_day_before_national_day(2025)
    accepted_at = datetime.combine(accept_day, time(10, 0), tzinfo=SHANGHAI)
    await system.clock.pin(datetime_to_ms(accepted_at))
    limit = system.catalog.item(DIRECT_ITEM).time_limit_days
    assert limit > 0

    key = await system.start_case(DIRECT_ITEM, "xiji", "town")
    decision_task = await system.task(key, "town_decision")
    case_number = await system.variable(key, "caseNumber")
    warn_at = datetime.fromisoformat(await system.variable(key, "slaWarnAt"))
    due_at = datetime.fromisoformat(await system.variable(key, "slaDueAt"))

    expected = schedule(accepted_at, limit, calendar=system.services.calendar)
    assert (warn_at, due_at) == (expected.warn_at, expected.due_at)
    assert due_at.astimezone(SHANGHAI).time() == time(17, 30)
    # Independently of workers.sla: the limit counts chinese_calendar's working days after the acceptance
    # day, and the span it covers holds holiday weekdays and weekend days that were skipped.
    due_day = due_at.astimezone(SHANGHAI).date()
    span = [accept_day + timedelta(days=n) for n in range(1, (due_day - accept_day).days + 1)]
    assert sum(chinese_calendar.is_workday(day) for day in span) == limit
    assert chinese_calendar.is_workday(due_day)
    assert any(chinese_calendar.is_holiday(day) and day.weekday() < 5 for day in span)
    assert any(chinese_calendar.is_holiday(day) and day.weekday() >= 5 for day in span)
    assert len(span) > limit + 5
    assert accept_day < warn_at.astimezone(SHANGHAI).date() < due_day

    # Just before the warning: nothing yet.
    await system.clock.pin(datetime_to_ms(warn_at) - 60_000)
    await engine_barrier(system)
    assert await elements(system, key, "town_decision_yellow") == []
    assert outbox(system, "*-alert-*.json") == []
    assert not any(name.startswith("alert-") for name in events(system, case_number))

    # Past the warning: a yellow alert (outbox and ledger), no red one.
    await system.clock.pin(datetime_to_ms(warn_at) + 60_000)
    yellow = await wait_for(lambda: outbox(system, "*-alert-yellow.json"), message="the yellow alert")
    await wait_for(
        lambda: "alert-yellow" in events(system, case_number), message="alert-yellow in the ledger"
    )
    await wait_for(lambda: elements(system, key, "town_decision_alert_yellow_end"), message="the alert done")
    assert len(yellow) == 1
    await engine_barrier(system)
    assert await elements(system, key, "town_decision_red") == []
    assert outbox(system, "*-alert-red.json") == []

    # Past the deadline: a red alert.
    await system.clock.pin(datetime_to_ms(due_at) + 60_000)
    red = await wait_for(lambda: outbox(system, "*-alert-red.json"), message="the red alert")
    await wait_for(lambda: "alert-red" in events(system, case_number), message="alert-red in the ledger")
    await wait_for(lambda: elements(system, key, "town_decision_alert_red_end"), message="the alert done")
    assert len(red) == 1
    alerts = [e for e in case_view(system, case_number).events if e.event.startswith("alert-")]
    assert [(e.event, e.payload) for e in alerts] == [
        ("alert-yellow", {"level": "yellow"}),
        ("alert-red", {"level": "red"}),
    ]
    assert alerts[0].occurred_at >= warn_at
    assert alerts[1].occurred_at >= due_at

    # The timers do not interrupt: the same task is still open, and completing it ends the case late.
    still_open = await system.task(key, "town_decision")
    assert still_open.user_task_key == decision_task.user_task_key
    await system.complete(still_open, APPROVE)
    assert await system.finished(key) == "COMPLETED"
    view = case_view(system, case_number)
    assert view.status == "completed"
    assert view.due_at == due_at
    assert view.on_time is False
    assert system.ledger.verify().ok


# --------------------------------------------------------------------------------------------------
# 2. a tampered town seal
# --------------------------------------------------------------------------------------------------


async def test_tampered_town_opinion_is_returned_not_issued(start_system: StartSystem) -> None:
    """An opinion edited after the town sealed it fails 见章发证: back to the town, never to district_issue."""
    system = await start_system(keep=lambda t: t != "seal.verify")
    key = await system.start_case(REVIEW_ITEM, "xiji", "town")
    review = await system.task(key, "town_review")
    case_number = await system.variable(key, "caseNumber")
    await system.complete(review, OPINION)
    await wait_for(lambda: "forwarded" in events(system, case_number), message="the case forwarded")

    opinions = {k: d for k, d in stored_documents(system).items() if d["document"]["kind"] == "opinion"}
    assert len(opinions) == 1
    [(first_stamp, sealed)] = opinions.items()
    sealed["document"]["text"] = "经实质性审核，同意。（事后改写）"
    path = system.services.documents.directory / f"{first_stamp}.json"
    path.write_text(json.dumps(sealed, ensure_ascii=False, indent=2) + "\n", "utf-8")

    system.stops.append(
        await _start_workers(system.services, system.grpc_address, lambda t: t == "seal.verify")
    )
    returned = await system.task(key, "town_review")
    assert "seal-rejected" in events(system, case_number)
    assert "alert-returned" in events(system, case_number)
    assert "seal-verified" not in events(system, case_number)
    rejected = next(e for e in case_view(system, case_number).events if e.event == "seal-rejected")
    assert rejected.payload["problem"]
    assert len(outbox(system, "*-returned.json")) == 1
    assert await elements(system, key, "district_issue") == []
    assert await user_tasks(system, key, "district_issue") == []
    assert len(await user_tasks(system, key, "town_review")) == 2

    # The town reviews again: a freshly sealed opinion passes and the district issues on it.
    await system.complete(returned, OPINION)
    issue = await system.task(key, "district_issue")
    assert "seal-verified" in events(system, case_number)
    await system.complete(issue, {"issueRemark": "见章发证"})
    assert await system.finished(key) == "COMPLETED"
    opinion = await system.variable(key, "opinion")
    assert opinion["text"] == OPINION["opinionText"]
    fresh = system.services.documents.load(opinion["documentNo"])
    assert verify(fresh, system.services.keys, expected_owner="xiji").valid
    decision = await system.variable(key, "decision")
    assert decision["outcome"] == "approved"
    assert case_view(system, case_number).status == "completed"
    assert system.ledger.verify().ok


# --------------------------------------------------------------------------------------------------
# 3. redelivered jobs
# --------------------------------------------------------------------------------------------------


class _WorkerDied(JobController):
    """What a job's answer meets when the worker process dies after the handler ran: nothing reaches the
    broker, so the job stays activated until its deadline and is then delivered again (same key)."""

    def __init__(self, job: Job) -> None:  # no broker connection: nothing is ever sent
        self._job = job

    # The arguments are the answer the dead worker never sends.
    async def set_success_status(self, variables: Variables | None = None) -> None:  # noqa: ARG002 -- never sent
        return None

    async def set_failure_status(
        self,
        message: str,  # noqa: ARG002 -- never sent
        retry_back_off_ms: int = 0,  # noqa: ARG002 -- never sent
        variables: Variables | None = None,  # noqa: ARG002 -- never sent
    ) -> None:
        return None

    async def set_error_status(
        self,
        message: str,  # noqa: ARG002 -- never sent
        error_code: str = "",  # noqa: ARG002 -- never sent
        variables: Variables | None = None,  # noqa: ARG002 -- never sent
    ) -> None:
        return None


def dies_on_first_delivery(deliveries: Counter[int]) -> Callable[[ZeebeWorker], None]:
    """Make a worker run the real handler of each job and die before answering the first delivery."""

    def wrap(handler: JobHandler) -> JobHandler:
        async def handle(job: Job, controller: JobController) -> Job:
            first = deliveries[job.key] == 0
            result = await handler(job, _WorkerDied(job) if first else controller)
            deliveries[job.key] += 1
            return result

        return handle

    def adapt(worker: ZeebeWorker) -> None:
        for task in worker.tasks:
            task.job_handler = wrap(task.job_handler)

    return adapt


async def test_redelivered_jobs_create_no_duplicates(start_system: StartSystem) -> None:
    """Seal and notify jobs whose worker died after the side effect are redelivered with the same key: one document, one event, one message each."""
    system = await start_system(keep=lambda t: t not in DIE_FIRST)
    deliveries: Counter[int] = Counter()
    system.stops.append(
        await _start_workers(
            system.services,
            system.grpc_address,
            lambda t: t in DIE_FIRST,
            dies_on_first_delivery(deliveries),
        )
    )
    crashed: list[int] = []
    first_outbox: dict[str, str] = {}
    first_documents: dict[int, dict[str, Any]] = {}

    async def crash_then_redeliver() -> None:
        """Wait for the next job the worker died on, move the clock past its timeout, wait for the retry."""
        job_key = await wait_for(
            lambda: next((k for k, n in deliveries.items() if n == 1 and k not in crashed), None),
            message="a job whose worker died",
        )
        crashed.append(job_key)
        first_outbox.update({p.name: p.read_text("utf-8") for p in outbox(system, f"{job_key}-*.json")})
        first_documents.update(stored_documents(system))
        await system.clock.add(JOB_TIMEOUT_MS + 1_000)
        await wait_for(lambda: deliveries[job_key] == 2, message=f"job {job_key} delivered again")

    key = await system.start_case(DIRECT_ITEM, "xiji", "town")
    await crash_then_redeliver()  # applicant.notify: accepted
    await system.complete(await system.task(key, "town_decision"), APPROVE)
    await crash_then_redeliver()  # seal.stamp: the decision
    await crash_then_redeliver()  # applicant.notify: the decision
    assert await system.finished(key) == "COMPLETED"
    assert dict(deliveries) == dict.fromkeys(crashed, 2)

    case_number = await system.variable(key, "caseNumber")
    names = Counter(events(system, case_number))
    assert names["sealed"] == 1
    assert names["decided"] == 1
    view = case_view(system, case_number)
    assert view.status == "completed"

    # One document, written by the delivery that died: the redelivery returned the stored one.
    stamp_key = crashed[1]
    assert stored_documents(system) == first_documents
    assert list(first_documents) == [stamp_key]
    decision = await system.variable(key, "decision")
    assert decision["seal"]["signedAt"] == first_documents[stamp_key]["seal"]["signedAt"]
    number_dir = system.services.documents.directory / "by-number" / decision["documentNo"]
    assert [p.name for p in number_dir.iterdir()] == [str(stamp_key)]
    sealed_event = next(e for e in view.events if e.event == "sealed")
    assert sealed_event.job_key == stamp_key
    assert sealed_event.payload["fingerprint"] == decision["seal"]["fingerprint"]

    notify_keys = [crashed[0], crashed[2]]
    files = outbox(system, "*.json")
    assert sorted(p.name for p in files) == sorted(
        f"{k}-{t}" for k, t in zip(notify_keys, ("accepted.json", "decision-approved.json"), strict=True)
    )
    # Written once, by the delivery that died: the redelivery found the send in the sent log.
    assert {p.name: p.read_text("utf-8") for p in files} == first_outbox
    notifier = system.services.extra["notifier"]
    for job_key in notify_keys:
        receipts = await notifier.sent_log.receipts(job_key)
        assert list(receipts) == ["outbox"]
    assert system.ledger.verify().ok


# --------------------------------------------------------------------------------------------------
# 4. the ledger on PostgreSQL
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def postgres_ledger_url(postgres_url: str) -> str:
    """The session's PostgreSQL database with an empty schema (other tests share and tamper with it)."""
    with psycopg.connect(libpq_url(postgres_url), autocommit=True) as connection:
        connection.execute("DROP SCHEMA public CASCADE")
        connection.execute("CREATE SCHEMA public")
    return postgres_url


async def test_ledger_on_postgresql_verifies_after_one_case_per_mode(
    start_system: StartSystem, postgres_ledger_url: str
) -> None:
    """With the ledger in PostgreSQL a case of each mode completes and the hash chain verifies."""
    system = await start_system(ledger_url=postgres_ledger_url)
    assert system.ledger.engine.dialect.name == "postgresql"
    numbers = []
    for item_code in (DIRECT_ITEM, REVIEW_ITEM, FORWARDING_ITEM):
        mode = system.catalog.item(item_code).mode
        key = await system.start_case(item_code, "sangcun", "town")
        await human_steps(system, key, mode, "town")
        assert await system.finished(key) == "COMPLETED"
        case_number = await system.variable(key, "caseNumber")
        view = case_view(system, case_number)
        assert (view.mode, view.status) == (mode, "completed")
        numbers.append(case_number)
    assert len(set(numbers)) == 3
    report = system.ledger.verify()
    assert report.ok, report.problems
    assert report.checked == sum(len(case_view(system, n).events) for n in numbers)
    with psycopg.connect(libpq_url(postgres_ledger_url)) as connection:
        row = connection.execute("SELECT count(*) FROM case_events").fetchone()
    assert row is not None
    assert row[0] == report.checked
