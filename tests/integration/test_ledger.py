"""The work ledger on SQLite and PostgreSQL: hash chain, idempotency, case numbers, projection (reports:
test_report*.py)."""

import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from pydantic import JsonValue
from sqlalchemy import String, column, func, inspect, select, table, text

from tests.conftest import libpq_url
from workers.ledger import (
    CHINA_TZ,
    GENESIS_HASH,
    CaseEvent,
    InvalidEventError,
    Ledger,
    PersonalDataError,
    create_ledger_engine,
    default_ledger_url,
    is_personal_key,
    migrate,
)
from workers.ledger.migrations import VERSION_TABLE
from workers.ledger.models import Base, CaseEventRow

ITEM_A = "3700000117086"  # 在城市建筑物、设施上张挂、张贴宣传品审批 (direct, 区行政审批服务局)
ITEM_B = "3700000131001"  # window-forwarding, 区行政审批服务局
MODES = {ITEM_A: "direct", ITEM_B: "window-forwarding"}
DAY = date(2026, 11, 26)
T0 = datetime(2026, 11, 26, 9, 0, tzinfo=CHINA_TZ)
LEDGER_TABLES = {"case_events", "ledger_head", "cases", "case_number_counters", "case_number_assignments"}

T = TypeVar("T")


def cn(month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    """A wall-clock time in China in 2026."""
    return datetime(2026, month, day, hour, minute, tzinfo=CHINA_TZ)


def make_event(
    case_number: str,
    name: str,
    at: datetime = T0,
    *,
    town: str = "xiji",
    item: str = ITEM_A,
    counter: str = "town",
    payload: dict[str, JsonValue] | None = None,
    actor: str = "worker:ledger",
) -> CaseEvent:
    return CaseEvent.model_validate(
        {
            "caseNumber": case_number,
            "itemCode": item,
            "townCode": town,
            "departmentCode": "xzsp",
            "mode": MODES[item],
            "counter": counter,
            "event": name,
            "actor": actor,
            "occurredAt": at,
            "payload": payload or {},
        }
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: a SQLite file, or the session's PostgreSQL database with a fresh schema."""
    if request.param == "sqlite":
        return default_ledger_url(tmp_path / "data")
    url: str = request.getfixturevalue("postgres_url")
    with psycopg.connect(libpq_url(url), autocommit=True) as connection:
        connection.execute("DROP SCHEMA public CASCADE")
        connection.execute("CREATE SCHEMA public")
    return url


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[Ledger]:
    with Ledger(ledger_url) as opened:
        opened.migrate()
        yield opened


def execute(ledger: Ledger, statement: str, **params: Any) -> None:
    """Run raw SQL behind the service's back (tampering)."""
    with ledger.engine.begin() as connection:
        connection.execute(text(statement), params)


def in_threads(count: int, work: Callable[[int], T]) -> list[T]:
    """Run ``work(i)`` for ``i`` in ``range(count)`` on ``count`` threads released together."""
    barrier = threading.Barrier(count)

    def run(index: int) -> T:
        barrier.wait()
        return work(index)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def record_case(ledger: Ledger, case_number: str, count: int = 3) -> None:
    ledger.record_event(make_event(case_number, "registered"))
    for index in range(1, count):
        ledger.record_event(make_event(case_number, "validated", T0 + timedelta(minutes=index)))


# --------------------------------------------------------------------------------------------------
# Schema
# --------------------------------------------------------------------------------------------------


def test_migrations_create_the_schema(ledger_url: str) -> None:
    """migrate() creates every table, matching the ORM models, with the head at genesis; again is a no-op."""
    migrate(ledger_url)
    migrate(ledger_url)
    with Ledger(ledger_url) as ledger, ledger.engine.connect() as connection:
        assert LEDGER_TABLES | {VERSION_TABLE} <= set(inspect(connection).get_table_names())
        versions = select(column("version_num", String)).select_from(table(VERSION_TABLE))
        assert connection.execute(versions).scalars().all() == ["0002"]
        head = connection.execute(text("SELECT id, last_id, last_hash, count FROM ledger_head")).all()
        assert [tuple(row) for row in head] == [(1, 0, GENESIS_HASH, 0)]
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "version_table": VERSION_TABLE}
        )
        assert compare_metadata(context, Base.metadata) == []
        assert ledger.verify().ok


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("sqlite://", "SQLite file"),
        ("sqlite:///:memory:", "SQLite file"),
        ("mysql://user@localhost/ledger", "unsupported"),
    ],
)
def test_unsuitable_databases_are_refused(url: str, message: str) -> None:
    """In-memory SQLite (one database per pooled connection) and other databases are refused."""
    with pytest.raises(ValueError, match=message):
        create_ledger_engine(url)


# --------------------------------------------------------------------------------------------------
# Hash chain
# --------------------------------------------------------------------------------------------------


def test_events_chain_and_verify(ledger: Ledger) -> None:
    """Each row links to the previous row's hash (genesis first); verify checks them all and finds none bad."""
    recorded = [
        ledger.record_event(make_event("XJ-20261126-0001", "registered")),
        ledger.record_event(make_event("XJ-20261126-0001", "validated", payload={"materials": ["a", "b"]})),
        ledger.record_event(
            make_event("XJ-20261126-0002", "registered", payload={"score": 0.1, "n": 10**20})
        ),
    ]
    assert [r.id for r in recorded] == [1, 2, 3]
    assert recorded[0].prev_hash == GENESIS_HASH
    assert [r.prev_hash for r in recorded[1:]] == [r.hash for r in recorded[:-1]]
    report = ledger.verify()
    assert report.ok, report.problems
    assert report.checked == 3
    assert report.head_hash == recorded[-1].hash


def test_hash_follows_the_documented_scheme(ledger: Ledger) -> None:
    """The hash is SHA-256 of sorted-keys compact JSON of {v, prev, row}, independent of the database."""
    recorded = ledger.record_event(
        make_event(
            "XJ-20261126-0001", "registered", datetime(2026, 11, 26, 1, tzinfo=UTC), payload={"k": "西集"}
        ),
        job_key=2251799813685249,
    )
    content = {
        "id": 1,
        "caseNumber": "XJ-20261126-0001",
        "itemCode": ITEM_A,
        "townCode": "xiji",
        "departmentCode": "xzsp",
        "mode": "direct",
        "counter": "town",
        "event": "registered",
        "actor": "worker:ledger",
        "occurredAt": "2026-11-26T01:00:00.000000Z",
        "payload": {"k": "西集"},
        "jobKey": 2251799813685249,
    }
    document = json.dumps(
        {"v": 1, "prev": GENESIS_HASH, "row": content},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    assert recorded.hash == hashlib.sha256(document.encode("utf-8")).hexdigest()


def test_edited_payload_is_named_by_row(ledger: Ledger) -> None:
    """Changing a row's payload with raw SQL makes verify report a hash mismatch on exactly that row."""
    record_case(ledger, "XJ-20261126-0001", 3)
    execute(ledger, "UPDATE case_events SET payload = :payload WHERE id = 2", payload='{"forged": true}')
    report = ledger.verify()
    assert not report.ok
    assert report.checked == 3
    assert len(report.problems) == 1
    assert report.problems[0].startswith("row 2: hash mismatch")


def test_deleted_middle_row_breaks_the_link(ledger: Ledger) -> None:
    """Deleting a row in the middle is reported as a broken link on the row after it."""
    record_case(ledger, "XJ-20261126-0001", 4)
    execute(ledger, "DELETE FROM case_events WHERE id = 2")
    report = ledger.verify()
    assert not report.ok
    assert any(p.startswith("row 3: broken link") and "row 1" in p for p in report.problems), report.problems
    assert not any(p.startswith("row 4") for p in report.problems)


def test_deleted_last_row_is_a_head_mismatch(ledger: Ledger) -> None:
    """Deleting the newest row leaves a valid-looking chain that disagrees with ledger_head."""
    record_case(ledger, "XJ-20261126-0001", 3)
    execute(ledger, "DELETE FROM case_events WHERE id = 3")
    report = ledger.verify()
    assert not report.ok
    assert report.checked == 2
    assert len(report.problems) == 1
    assert report.problems[0].startswith("head mismatch")
    assert "3 rows ending at row 3" in report.problems[0]


def test_concurrent_writers_keep_one_linear_chain(ledger: Ledger) -> None:
    """Eight threads appending at once produce gapless ids and a chain that verifies."""

    def write(worker: int) -> list[int]:
        return [
            ledger.record_event(make_event(f"XJ-20261126-{worker + 1:04d}", "validated")).id
            for _ in range(10)
        ]

    ids = sorted(i for batch in in_threads(8, write) for i in batch)
    assert ids == list(range(1, 81))
    report = ledger.verify()
    assert report.ok, report.problems
    assert report.checked == 80


# --------------------------------------------------------------------------------------------------
# Idempotency
# --------------------------------------------------------------------------------------------------


def row_count(ledger: Ledger) -> int:
    with ledger.engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(CaseEventRow)).scalar_one()


def test_same_job_key_records_one_row(ledger: Ledger) -> None:
    """A redelivered job (same key) gets the first recording back and writes nothing."""
    first = ledger.record_event(make_event("XJ-20261126-0001", "registered"), job_key=42)
    again = ledger.record_event(
        make_event("XJ-20261126-0001", "registered", T0 + timedelta(seconds=5)), job_key=42
    )
    assert not first.duplicate
    assert again.duplicate
    assert (again.id, again.hash, again.occurred_at) == (first.id, first.hash, first.occurred_at)
    assert row_count(ledger) == 1
    assert ledger.verify().ok


def test_racing_deliveries_of_one_job_record_one_row(ledger: Ledger) -> None:
    """Eight threads recording the same job key at once leave one row, and all get its id."""
    results = in_threads(
        8, lambda _: ledger.record_event(make_event("XJ-20261126-0001", "validated"), job_key=7)
    )
    assert {r.id for r in results} == {1}
    assert sum(not r.duplicate for r in results) == 1
    assert row_count(ledger) == 1


# --------------------------------------------------------------------------------------------------
# Case numbers
# --------------------------------------------------------------------------------------------------


def test_case_numbers_are_sequential_per_prefix_and_day(ledger: Ledger) -> None:
    """Numbers count up per prefix and day, restart at 0001 the next day, and prefixes are independent."""
    assert [ledger.next_case_number("XJ", DAY) for _ in range(3)] == [
        "XJ-20261126-0001",
        "XJ-20261126-0002",
        "XJ-20261126-0003",
    ]
    assert ledger.next_case_number("SC", DAY) == "SC-20261126-0001"
    assert ledger.next_case_number("XJ", DAY + timedelta(days=1)) == "XJ-20261127-0001"
    assert ledger.next_case_number("XJ", DAY) == "XJ-20261126-0004"


def test_redelivered_job_gets_the_same_case_number(ledger: Ledger) -> None:
    """The same job key returns the number it got the first time, without using up another."""
    first = ledger.next_case_number("XJ", DAY, job_key=1001)
    assert ledger.next_case_number("XJ", DAY, job_key=1001) == first == "XJ-20261126-0001"
    assert ledger.next_case_number("XJ", DAY, job_key=1002) == "XJ-20261126-0002"


def test_case_numbers_are_unique_under_concurrency(ledger: Ledger) -> None:
    """8 threads × 25 numbers give 200 distinct numbers 0001..0200 with no gaps."""
    batches = in_threads(8, lambda _: [ledger.next_case_number("XJ", DAY) for _ in range(25)])
    numbers = [n for batch in batches for n in batch]
    assert sorted(numbers) == [f"XJ-20261126-{i:04d}" for i in range(1, 201)]


def test_racing_deliveries_of_one_job_share_a_case_number(ledger: Ledger) -> None:
    """Eight threads asking for a number with one job key all get the same one, and only one is used."""
    numbers = in_threads(8, lambda _: ledger.next_case_number("XJ", DAY, job_key=77))
    assert set(numbers) == {"XJ-20261126-0001"}
    assert ledger.next_case_number("XJ", DAY) == "XJ-20261126-0002"


def test_case_number_prefix_is_checked(ledger: Ledger) -> None:
    """A prefix must be 2 to 4 capital letters, as in the catalog."""
    with pytest.raises(ValueError, match="prefix"):
        ledger.next_case_number("xj-1", DAY)


# --------------------------------------------------------------------------------------------------
# Projection
# --------------------------------------------------------------------------------------------------


def test_registered_case_is_in_progress(ledger: Ledger) -> None:
    """registered creates the case, in progress, accepted at the event's time, with its events listed."""
    ledger.record_event(make_event("XJ-20261126-0001", "registered", counter="district"))
    ledger.record_event(make_event("XJ-20261126-0001", "validated", T0 + timedelta(minutes=1)))
    view = ledger.case("XJ-20261126-0001")
    assert view is not None
    assert (view.status, view.counter, view.accepted_at) == ("in-progress", "district", T0)
    assert (view.due_at, view.closed_at, view.outcome, view.on_time) == (None, None, None, None)
    assert [e.event for e in view.events] == ["registered", "validated"]
    assert ledger.case("XJ-20261126-9999") is None


@pytest.mark.parametrize(
    ("decided_at", "outcome", "status", "on_time"),
    [
        (cn(11, 30), "approved", "completed", True),
        (cn(12, 1, 9, 1), "approved", "completed", False),
        (cn(11, 27), "rejected", "rejected", True),
    ],
)
def test_decided_closes_the_case(
    ledger: Ledger, decided_at: datetime, outcome: str, status: str, on_time: bool
) -> None:
    """decided closes the case with its outcome; on_time says whether it closed by the due time."""
    ledger.record_event(make_event("XJ-20261126-0001", "registered"))
    ledger.record_event(
        make_event("XJ-20261126-0001", "sla.scheduled", payload={"dueAt": cn(12, 1).isoformat()})
    )
    ledger.record_event(make_event("XJ-20261126-0001", "decided", decided_at, payload={"outcome": outcome}))
    view = ledger.case("XJ-20261126-0001")
    assert view is not None
    assert (view.status, view.outcome, view.on_time) == (status, outcome, on_time)
    assert view.due_at == cn(12, 1)
    assert view.closed_at == decided_at


def test_not_accepted_and_withdrawn_close_the_case(ledger: Ledger) -> None:
    """not-accepted closes with outcome not-accepted; withdrawn closes without an outcome."""
    ledger.record_event(make_event("XJ-20261126-0001", "registered"))
    ledger.record_event(make_event("XJ-20261126-0001", "not-accepted", T0 + timedelta(hours=1)))
    ledger.record_event(make_event("XJ-20261126-0002", "registered"))
    ledger.record_event(make_event("XJ-20261126-0002", "withdrawn", T0 + timedelta(hours=2)))
    refused, withdrawn = ledger.case("XJ-20261126-0001"), ledger.case("XJ-20261126-0002")
    assert refused is not None
    assert withdrawn is not None
    assert (refused.status, refused.outcome, refused.closed_at) == (
        "not-accepted",
        "not-accepted",
        T0 + timedelta(hours=1),
    )
    assert refused.on_time is None  # no due time was scheduled
    assert (withdrawn.status, withdrawn.outcome, withdrawn.closed_at) == (
        "withdrawn",
        None,
        T0 + timedelta(hours=2),
    )


def test_first_close_wins(ledger: Ledger) -> None:
    """A second closing event is recorded in the ledger but does not change a closed case."""
    ledger.record_event(make_event("XJ-20261126-0001", "registered"))
    ledger.record_event(
        make_event("XJ-20261126-0001", "decided", T0 + timedelta(hours=1), payload={"outcome": "approved"})
    )
    ledger.record_event(make_event("XJ-20261126-0001", "withdrawn", T0 + timedelta(hours=2)))
    view = ledger.case("XJ-20261126-0001")
    assert view is not None
    assert (view.status, view.closed_at) == ("completed", T0 + timedelta(hours=1))
    assert [e.event for e in view.events] == ["registered", "decided", "withdrawn"]


@pytest.mark.parametrize(
    ("name", "payload", "message"),
    [
        ("decided", {}, "outcome"),
        ("decided", {"outcome": "maybe"}, "outcome"),
        ("sla.scheduled", {"dueAt": "2026-12-01T09:00:00"}, "dueAt"),
        ("sla.scheduled", {}, "dueAt"),
    ],
)
def test_events_the_projection_cannot_apply_are_refused(
    ledger: Ledger, name: str, payload: dict[str, JsonValue], message: str
) -> None:
    """decided needs an outcome and sla.scheduled an aware dueAt; otherwise nothing is written."""
    ledger.record_event(make_event("XJ-20261126-0001", "registered"))
    with pytest.raises(InvalidEventError, match=message):
        ledger.record_event(make_event("XJ-20261126-0001", name, payload=payload))
    assert row_count(ledger) == 1


# --------------------------------------------------------------------------------------------------
# Personal data
# --------------------------------------------------------------------------------------------------


def test_personal_data_keys_are_stripped(ledger: Ledger) -> None:
    """Keys naming personal data are removed at any depth and listed; the stored payload lacks them."""
    payload: dict[str, JsonValue] = {
        "applicant": {"kind": "person", "name": "张三"},
        "idNumber": "masked",
        "fields": {"contactMobile": "x", "area": 12, "itemName": "宣传品审批"},
        "parties": [{"name": "李四", "role": "agent"}],
        "materials": ["application_form"],
    }
    recorded = ledger.record_event(make_event("XJ-20261126-0001", "registered", payload=payload))
    assert recorded.stripped_keys == ("applicant", "idNumber", "fields.contactMobile", "parties[0].name")
    expected = {
        "fields": {"area": 12, "itemName": "宣传品审批"},
        "parties": [{"role": "agent"}],
        "materials": ["application_form"],
    }
    assert recorded.payload == expected
    view = ledger.case("XJ-20261126-0001")
    assert view is not None
    assert view.events[0].payload == expected
    assert ledger.verify().ok


@pytest.mark.parametrize(
    "payload",
    [
        {"note": "申请人身份证 370406198503120011"},
        {"contact": {"value": "13800001234"}},
        {"numbers": [13800001234]},
        {"reply": "mail zhang@example.com"},
    ],
)
def test_personal_data_values_are_refused(ledger: Ledger, payload: dict[str, JsonValue]) -> None:
    """An ID number, mobile number or email under any key refuses the event; the error shows no value."""
    with pytest.raises(PersonalDataError) as caught:
        ledger.record_event(make_event("XJ-20261126-0001", "registered", payload=payload))
    assert "138" not in str(caught.value)
    assert "3704" not in str(caught.value)
    assert row_count(ledger) == 0


def test_actor_with_a_phone_number_is_refused(ledger: Ledger) -> None:
    """The actor is checked like payload values."""
    with pytest.raises(PersonalDataError, match="actor"):
        ledger.record_event(make_event("XJ-20261126-0001", "registered", actor="clerk 13800001234"))


@pytest.mark.parametrize(
    ("key", "personal"),
    [
        ("name", True),
        ("id_number", True),
        ("applicantIdNumber", True),
        ("Mobile", True),
        ("agentName", True),
        ("legalRepresentative", True),
        ("itemName", False),
        ("townName", False),
        ("outcome", False),
        ("dueAt", False),
    ],
)
def test_personal_key_rule(key: str, personal: bool) -> None:
    """Keys are personal by exact normalized name or by a personal ending; names of things are not."""
    assert is_personal_key(key) is personal
