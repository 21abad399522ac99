"""好差评 end to end: a closed case rated through the rating process, the 整改 follow-up and its deadline,
the one-rating rule, and the refusals of ``shuangshi rate`` (run as a subprocess against the gateway)."""

import asyncio
import json
import os
import sys
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest

from engine.clock import datetime_to_ms
from tests.engine.conftest import wait_for
from tests.process.conftest import System
from tests.process.test_delegation import human_steps
from tests.process.test_time_and_failures import (
    case_view,
    elements,
    events,
    last_working_day_before_national_day,
    outbox,
    user_tasks,
)
from workers.ledger import CaseEvent
from workers.rating import PROCESS_ID, parse_rating, process_variables
from workers.rating.process import submit_rating

pytestmark = pytest.mark.zeebe  # scenario tests: also run on a real cluster with ``pytest -m zeebe``

SHANGHAI = ZoneInfo("Asia/Shanghai")
DIRECT_ITEM = "3700000117086"  # 直接下放
SHUANGSHI = str(Path(sys.executable).parent / "shuangshi")


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str


async def shuangshi(system: System, *args: str) -> Outcome:
    """Run the console script against the system's gateway and data dir, off the event loop."""
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("ZEEBE_", "CAMUNDA_", "SHUANGSHI_"))
    }
    environment.update(ZEEBE_ADDRESS=system.grpc_address, SHUANGSHI_DATA_DIR=str(system.data_dir))
    process = await asyncio.create_subprocess_exec(
        SHUANGSHI,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=environment,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 90)
    assert process.returncode is not None
    return Outcome(process.returncode, stdout.decode(), stderr.decode())


async def closed_case(system: System, town: str = "xiji") -> str:
    """A 直接下放 case accepted at the town's counter and approved; its case number."""
    key = await system.start_case(DIRECT_ITEM, town, "town")
    await human_steps(system, key, "direct", "town")
    assert await system.finished(key) == "COMPLETED"
    number: str = await system.variable(key, "caseNumber")
    return number


def open_case(system: System, case_number: str) -> None:
    """An accepted case still in progress, written to the ledger as the intake would."""
    item = system.catalog.item(DIRECT_ITEM)
    system.ledger.record_event(
        CaseEvent(
            case_number=case_number,
            item_code=item.code,
            town_code="xiji",
            department_code=item.department_code,
            mode=item.mode,
            counter="town",
            event="registered",
            actor="case.register",
        )
    )


def working_day_after(day: date, count: int) -> date:
    """The ``count``-th chinese_calendar working day after ``day`` (counted here, not by workers.sla)."""
    found = 0
    while found < count:
        day += timedelta(days=1)
        found += chinese_calendar.is_workday(day)
    return day


async def rating_instances(system: System) -> list[Any]:
    """The rating instances of this test (a shared cluster also holds earlier tests' instances)."""
    return await system.instances(PROCESS_ID)


async def len_is(items: Any, count: int) -> bool:
    """Whether the awaited list has ``count`` items (for ``wait_for`` on eventually consistent searches)."""
    return len(await items) == count


def rated_events(system: System, case_number: str) -> list[Any]:
    return [event for event in case_view(system, case_number).events if event.event == "rated"]


async def test_poor_rating_opens_the_towns_rectification_due_in_15_working_days(system: System) -> None:
    """Score 1: 整改 for town:xiji due 15 working days later (National Day skipped); red alert; rectified."""
    rated_day = last_working_day_before_national_day(2025)
    rated_at = datetime.combine(rated_day, time(10), tzinfo=SHANGHAI)
    await system.clock.pin(datetime_to_ms(rated_at))
    case_number = await closed_case(system)
    before = case_view(system, case_number)

    rating = parse_rating(1, "窗口推诿，我的电话 13812345678，邮箱 wang@example.com")
    outcome = await submit_rating(system.zeebe, system.ledger, system.catalog, case_number, rating)

    due_day = working_day_after(rated_day, 15)
    expected_due = datetime.combine(due_day, time(17, 30), tzinfo=SHANGHAI)
    span = [rated_day + timedelta(days=n) for n in range(1, (due_day - rated_day).days + 1)]
    assert any(chinese_calendar.is_holiday(day) and day.weekday() < 5 for day in span)
    assert len(span) > 15 + 5
    assert (outcome.state, outcome.follow_up, outcome.due_at) == ("recorded", True, expected_due)
    key = outcome.process_instance_key
    task = await system.task(key, "rectification")
    assert task.candidate_groups == ["town:xiji"]
    assert task.due_date == expected_due
    masked = "窗口推诿，我的电话 138****5678，邮箱 [邮箱]"
    assert await system.variable(key, "comment") == masked
    [rated] = rated_events(system, case_number)
    assert {k: v for k, v in rated.payload.items() if k != "ratingId"} == {
        "score": 1,
        "comment": masked,
        "followUp": True,
    }
    scheduled = [e for e in case_view(system, case_number).events if e.event == "followup.scheduled"]
    assert [e.payload for e in scheduled] == [{"dueAt": expected_due.isoformat(), "limitDays": 15}]
    after = case_view(system, case_number)
    assert (after.status, after.due_at, after.closed_at, after.on_time) == (
        before.status,
        before.due_at,
        before.closed_at,
        before.on_time,
    )

    # Past the deadline: the yellow and the red alert fire; the task stays open.
    await system.clock.pin(datetime_to_ms(expected_due) + 60_000)
    await wait_for(
        lambda: "rectification-alert-red" in events(system, case_number),
        message="the 整改 alert in the ledger",
    )
    await wait_for(lambda: elements(system, key, "rectification_alert_red_end"), message="the red alert done")
    assert "rectification-alert-yellow" in events(system, case_number)
    assert "alert-red" not in events(system, case_number)  # the case's own deadline alerts stay apart
    [red] = outbox(system, "*-alert-red.json")
    assert case_number in json.loads(red.read_text("utf-8"))["text"]
    still_open = await system.task(key, "rectification")
    assert still_open.user_task_key == task.user_task_key

    await system.complete(
        still_open,
        {
            "rectificationMeasures": "已约谈窗口人员，改进首问负责，回访电话13912345678",
            "applicantContacted": True,
        },
    )
    assert await system.finished(key) == "COMPLETED"
    [rectified] = [e for e in case_view(system, case_number).events if e.event == "rectified"]
    assert rectified.payload == {
        "measures": "已约谈窗口人员，改进首问负责，回访电话139****5678",
        "applicantContacted": True,
    }
    assert case_view(system, case_number).status == "completed"
    assert system.ledger.verify().ok


async def test_good_rating_ends_without_a_task_and_the_case_takes_no_second(system: System) -> None:
    """`shuangshi rate` with 4: recorded, no 整改; a second `rate` is refused; a second process records nothing."""
    case_number = await closed_case(system, town="sangcun")

    result = await shuangshi(system, "rate", case_number, "--score", "4", "--comment", "办事效率高", "--json")
    assert result.code == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["caseNumber"], data["score"], data["state"]) == (case_number, 4, "recorded")
    assert (data["followUp"], data["rectification"]) == (False, None)
    key = int(data["processInstanceKey"])
    assert await system.finished(key) == "COMPLETED"
    await wait_for(lambda: elements(system, key, "no_follow_up_end"), message="the end without 整改")
    assert await user_tasks(system, key, "rectification") == []
    [rated] = rated_events(system, case_number)
    assert (rated.payload["score"], rated.payload["followUp"]) == (4, False)
    assert "followup.scheduled" not in events(system, case_number)

    again = await shuangshi(system, "rate", case_number, "--score", "1")
    assert again.code == 1
    assert f"case {case_number} was already rated" in again.stderr
    assert "one rating per case" in again.stderr

    # A rating that slipped past the check (submitted at the same moment): the ledger keeps the first.
    view = case_view(system, case_number)
    late = await system.zeebe.run_process(
        PROCESS_ID, process_variables(view, system.catalog, parse_rating(1), "late-submission")
    )
    late_key = int(late.process_instance_key)
    assert await system.finished(late_key) == "COMPLETED"
    await wait_for(lambda: elements(system, late_key, "already_rated_end"), message="the 重复评价 end")
    assert await user_tasks(system, late_key, "rectification") == []
    assert len(rated_events(system, case_number)) == 1
    assert "followup.scheduled" not in events(system, case_number)
    await wait_for(lambda: len_is(rating_instances(system), 2), message="both rating instances")


async def test_unknown_open_and_out_of_range_ratings_are_refused_and_record_nothing(system: System) -> None:
    """No such case, a case in progress, score 0 or 6, a 501-character comment: refused, nothing started."""
    closed = await closed_case(system)
    open_case(system, "XJ-20250101-0099")
    rows = system.ledger.verify().checked

    refusals = [
        (("XJ-20990101-0001", "--score", "3"), 1, "no such case: XJ-20990101-0001"),
        (("XJ-20250101-0099", "--score", "3"), 1, "is in-progress (办理中)"),
        ((closed, "--score", "0"), 2, "--score: 0 is out of range"),
        ((closed, "--score", "6"), 2, "--score: 6 is out of range"),
        ((closed, "--score", "3", "--comment", "慢" * 501), 2, "--comment: 501 characters"),
    ]
    results = await asyncio.gather(*(shuangshi(system, "rate", *args) for args, _, _ in refusals))
    for (args, code, message), result in zip(refusals, results, strict=True):
        assert (result.code, result.stdout) == (code, ""), (args, result.stderr)
        assert message in " ".join(result.stderr.split()), (args, result.stderr)
    assert system.ledger.verify().checked == rows
    assert rated_events(system, closed) == []
    assert await rating_instances(system) == []
