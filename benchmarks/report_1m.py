"""调度通报 on a year of ledger data: ~1,000,000 events, ~150,000 cases, on SQLite and PostgreSQL.

Generates 2025 for the 9 towns × 13 items of the catalog, as the processes would have recorded it: every
case ``registered`` and ``sla.scheduled``; ``accepted``; ``forwarded`` / the town's sealed opinion and
``seal-verified`` by delegation mode; 补正 for some (``sla.paused``, ``materials-requested``, then
``sla.scheduled`` + ``supplemented``, or ``not-accepted`` when the 补正 deadline passes); applications refused
at once (``not-accepted``); yellow and red alerts for late cases; ``sealed`` and ``decided`` (5 % 不予许可).
Volumes follow town and item weights, a seasonal curve (Spring Festival dip) and working days (a few online
submissions at night and on holidays); handling times follow each item's limit with some 6 % late; cases
decided after the report's ``now`` (2025-12-31 18:00) are still open, and 0.4 % are stuck, open and overdue.
The rows carry real hash-chain values (``chain_hash`` of ``row_content``), the ``cases`` projection is
written as the ledger would have left it, and the head row is set: ``--verify`` runs the ledger's chain check.

Rows go in with executemany (SQLite, in one transaction) and COPY (PostgreSQL, into a scratch database
``shuangshi_bench`` that is created and dropped; skipped with a message when the server is unreachable).
Then, over ``--rounds`` rounds, it times the report's data part (``build_report``: whole year, all towns;
and one month of one town) and each format on top of it (table, csv, xlsx, html), and prints the medians
and the ratio to the 1 s target. The first round (cold: imports, font lookup) is shown apart.

    .venv/bin/python -m benchmarks.report_1m [--events 1000000] [--rounds 5] [--skip-postgres] [--verify]
"""

import argparse
import bisect
import gc
import io
import json
import random
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import psycopg
from psycopg import sql
from rich.console import Console
from sqlalchemy import Engine, insert, update
from sqlalchemy.engine import make_url

from shuangshi.report_commands import print_tables
from workers.catalog.loader import load_catalog
from workers.catalog.models import Catalog
from workers.ledger import CHINA_TZ, GENESIS_HASH, Ledger, chain_hash, default_ledger_url
from workers.ledger.models import CaseEventRow, CaseRow, LedgerHead
from workers.ledger.service import row_content
from workers.logging import configure_logging
from workers.report import SupervisionReport, build_report
from workers.report.export import write_csv
from workers.report.html import render_html
from workers.report.workbook import write_xlsx
from workers.sla import WorkingCalendar, load_working_calendar

YEAR: Final = 2025
NOW: Final = datetime(YEAR, 12, 31, 18, 0, tzinfo=CHINA_TZ)
TARGET_SECONDS: Final = 1.0
OPENS: Final = 9 * 3600
CLOSES: Final = 17 * 3600 + 1800
DAY: Final = 86_400
BENCH_DATABASE: Final = "shuangshi_bench"
DEFAULT_ADMIN_URL: Final = "postgresql://postgres@127.0.0.1:5432/postgres"
BATCH: Final = 50_000

TOWN_WEIGHTS: Final = (1.4, 1.0, 1.2, 0.8, 1.1, 0.9, 0.7, 1.0, 0.9)
#: Relative yearly volume per item, in catalog order (the 即办 insurance and records items are the busiest).
ITEM_WEIGHTS: Final = (0.4, 1.6, 3.0, 0.6, 3.5, 1.0, 0.5, 0.3, 0.8, 0.9, 0.6, 0.3, 0.2)
MONTH_WEIGHTS: Final = (0.9, 0.6, 1.25, 1.1, 1.0, 1.0, 1.05, 1.0, 1.1, 0.8, 1.1, 1.15)


# --------------------------------------------------------------------------------------------------
# The calendar of the year, as day indexes


@dataclass(frozen=True)
class Days:
    """Days from 2025-01-01 to 2026-06-30 by index, with the working days' positions."""

    first: date
    working: list[bool]
    workdays: list[int]  # day indexes of the working days, ascending
    #: Position in ``workdays`` of the first working day on or after each day.
    next_position: list[int]

    @classmethod
    def build(cls, calendar: WorkingCalendar) -> "Days":
        first = date(YEAR, 1, 1)
        count = (date(YEAR + 1, 6, 30) - first).days + 1
        working = [calendar.is_working_day(first + timedelta(days=i)) for i in range(count)]
        workdays = [i for i, flag in enumerate(working) if flag]
        next_position = [bisect.bisect_left(workdays, i) for i in range(count)]
        return cls(first, working, workdays, next_position)

    def epoch(self, day: int, seconds: int) -> int:
        """Unix time of a China-time moment: day index and seconds into that day."""
        start = datetime.combine(self.first, datetime.min.time(), tzinfo=CHINA_TZ).timestamp()
        return int(start) + day * DAY + seconds

    def acceptance_position(self, day: int, seconds: int) -> int:
        """Working-day position a moment counts as accepted on (its day before closing, else the next)."""
        if self.working[day] and seconds < CLOSES:
            return self.next_position[day]
        return self.next_position[day + 1]


# --------------------------------------------------------------------------------------------------
# Generation


@dataclass
class Case:
    number: str
    town: str
    item: str
    department: str
    mode: str
    counter: str
    accepted: int
    due: int
    events: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)
    closed: int | None = None
    outcome: str | None = None
    supplements: int = 0


def _day_time(rng: random.Random, day: int, days: Days) -> int:
    """Seconds into the day of a submission: office hours on working days, evenings and holidays online."""
    if days.working[day] and rng.random() > 0.04:
        return OPENS + int(rng.triangular(0, CLOSES - OPENS, (CLOSES - OPENS) * 0.3))
    return 18 * 3600 + rng.randrange(4 * 3600)


def _work_time(rng: random.Random, days: Days, position: int, after: int) -> int:
    """A moment on the working day at ``position``, in office hours and after ``after``."""
    day = days.workdays[position]
    start = max(days.epoch(day, OPENS), after + 300)
    end = days.epoch(day, CLOSES)
    if start >= end:
        return start + rng.randrange(600)
    return start + rng.randrange(end - start)


def generate(catalog: Catalog, days: Days, target_events: int, seed: int) -> list[Case]:
    """Cases until their events reach ``target_events``."""
    rng = random.Random(seed)
    towns = catalog.towns
    items = catalog.items
    year_days = (date(YEAR + 1, 1, 1) - date(YEAR, 1, 1)).days
    day_weights = [
        MONTH_WEIGHTS[(days.first + timedelta(days=i)).month - 1] * (1.0 if days.working[i] else 0.03)
        for i in range(year_days)
    ]
    now = int(NOW.timestamp())
    sequences: Counter[tuple[str, int]] = Counter()
    cases: list[Case] = []
    total = 0
    chunk = 10_000
    while total < target_events:
        town_picks = rng.choices(range(len(towns)), TOWN_WEIGHTS, k=chunk)
        item_picks = rng.choices(range(len(items)), ITEM_WEIGHTS, k=chunk)
        day_picks = rng.choices(range(year_days), day_weights, k=chunk)
        for town_index, item_index, day in zip(town_picks, item_picks, day_picks, strict=True):
            town, item = towns[town_index], items[item_index]
            department = catalog.department(item.department_code)
            counter = "town" if rng.random() < 0.7 else "district"
            prefix = town.case_prefix if counter == "town" else department.case_prefix
            seconds = _day_time(rng, day, days)
            registered = days.epoch(day, seconds)
            sequences[prefix, day] += 1
            stamp = (days.first + timedelta(days=day)).strftime("%Y%m%d")
            case = Case(
                number=f"{prefix}-{stamp}-{sequences[prefix, day]:04d}",
                town=town.code,
                item=item.code,
                department=department.code,
                mode=item.mode,
                counter=counter,
                accepted=registered,
                due=0,
            )
            _lifecycle(case, rng, days, item.time_limit_days, seconds, day, now)
            cases.append(case)
            total += len(case.events)
            if total >= target_events:
                break
    return cases


def _iso(moment: int) -> str:
    return datetime.fromtimestamp(moment, CHINA_TZ).isoformat()


def _lifecycle(
    case: Case, rng: random.Random, days: Days, limit: int, seconds: int, day: int, now: int
) -> None:
    """The case's events from registration to its decision (or to now), and its projection fields."""
    start = days.acceptance_position(day, seconds)
    due = days.epoch(days.workdays[start + limit], CLOSES)
    t = case.accepted
    case.events += [
        (t, "registered", {"prefix": case.number[:2]}),
        (t + 1, "sla.scheduled", {"dueAt": _iso(due)}),
    ]
    case.due = due
    roll = rng.random()
    if roll < 0.02:  # refused at once: not a valid application
        case.events.append((t + 5, "not-accepted", {"reason": "application-invalid", "problems": 1}))
        case.closed, case.outcome = t + 5, "not-accepted"
        return
    position = start
    if roll < 0.12:  # 补正
        case.supplements = 1
        case.events += [(t + 2, "sla.paused", {}), (t + 3, "materials-requested", {"missing": ["material"]})]
        wait = rng.choice((1, 1, 2, 2, 3, 4, 5, 7))
        supplement_deadline = days.epoch(days.workdays[start + 5], CLOSES)
        if wait > 5:
            if supplement_deadline <= now:
                case.events.append(
                    (supplement_deadline, "not-accepted", {"reason": "supplement-deadline-passed"})
                )
                case.closed, case.outcome = supplement_deadline, "not-accepted"
            return
        resumed = _work_time(rng, days, start + wait, t)
        if resumed > now:
            return
        position = start + wait
        due = days.epoch(days.workdays[position + limit], CLOSES)
        case.due = due
        case.events += [(resumed, "sla.scheduled", {"dueAt": _iso(due)}), (resumed, "supplemented", {})]
        t = resumed
    case.events.append((t + 30, "accepted", {}))
    if case.mode == "window-forwarding":
        case.events.append((t + 60, "forwarded", {"to": "district"}))
    late = rng.random() < 0.06
    stuck = rng.random() < 0.004
    took = limit + rng.randint(1, 5) if late else min(limit, int(rng.triangular(0, limit + 1, 0)))
    decided_at = _work_time(rng, days, position + took, t + 60)
    if case.mode == "substantive-review":
        opinion = min(decided_at - 120, t + 3600)
        case.events += [
            (opinion, "sealed", {"kind": "opinion"}),
            (opinion + 10, "forwarded", {"to": "district"}),
            (opinion + 20, "seal-verified", {}),
        ]
    warn = days.epoch(days.workdays[max(position, position + limit - 1)], CLOSES)
    end = now if stuck else min(decided_at, now)
    if limit > 0 and warn < end and warn < due:
        case.events.append((warn, "alert-yellow", {}))
    if due < end:
        case.events.append((due, "alert-red", {}))
    if stuck or decided_at > now:
        return
    outcome = "rejected" if rng.random() < 0.05 else "approved"
    case.events += [
        (decided_at - 5, "sealed", {"kind": "decision" if outcome == "approved" else "rejection"}),
        (decided_at, "decided", {"outcome": outcome}),
    ]
    case.closed, case.outcome = decided_at, outcome


# --------------------------------------------------------------------------------------------------
# Loading


def _instant(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def event_rows(cases: Sequence[Case]) -> tuple[list[dict[str, Any]], str]:
    """Every event in time order as ``case_events`` rows with their chain hashes; and the last hash."""
    ordered = sorted(
        (
            (moment, index, name, payload)
            for index, case in enumerate(cases)
            for moment, name, payload in case.events
        ),
        key=lambda entry: (entry[0], entry[1]),
    )
    rows: list[dict[str, Any]] = []
    previous = GENESIS_HASH
    for row_id, (moment, index, name, payload) in enumerate(ordered, start=1):
        case = cases[index]
        row = CaseEventRow(
            id=row_id,
            case_number=case.number,
            item_code=case.item,
            town_code=case.town,
            department_code=case.department,
            mode=case.mode,
            counter=case.counter,
            event=name,
            actor="benchmark",
            occurred_at=_instant(moment),
            payload=payload,
            job_key=None,
            prev_hash=previous,
        )
        previous = chain_hash(row_content(row), previous)
        rows.append(
            {
                "id": row_id,
                "case_number": case.number,
                "item_code": case.item,
                "town_code": case.town,
                "department_code": case.department,
                "mode": case.mode,
                "counter": case.counter,
                "event": name,
                "actor": "benchmark",
                "occurred_at": row.occurred_at,
                "payload": payload,
                "job_key": None,
                "prev_hash": row.prev_hash,
                "hash": previous,
            }
        )
    return rows, previous


def case_rows(cases: Sequence[Case]) -> list[dict[str, Any]]:
    """The ``cases`` projection as the ledger would have left it."""
    status = {
        None: "in-progress",
        "approved": "completed",
        "rejected": "rejected",
        "not-accepted": "not-accepted",
    }
    return [
        {
            "case_number": case.number,
            "item_code": case.item,
            "town_code": case.town,
            "department_code": case.department,
            "mode": case.mode,
            "counter": case.counter,
            "status": status[case.outcome],
            "accepted_at": _instant(case.accepted),
            "due_at": _instant(case.due),
            "closed_at": None if case.closed is None else _instant(case.closed),
            "outcome": case.outcome,
            "on_time": None if case.closed is None else case.closed <= case.due,
            "supplement_requests": case.supplements,
        }
        for case in cases
    ]


def _batches(rows: Sequence[dict[str, Any]]) -> Iterator[Sequence[dict[str, Any]]]:
    for start in range(0, len(rows), BATCH):
        yield rows[start : start + BATCH]


def load_sqlite(
    engine: Engine, events: Sequence[dict[str, Any]], cases: Sequence[dict[str, Any]], head: str
) -> None:
    """executemany in one transaction."""
    with engine.begin() as connection:
        for batch in _batches(events):
            connection.execute(insert(CaseEventRow), batch)
        for batch in _batches(cases):
            connection.execute(insert(CaseRow), batch)
        connection.execute(update(LedgerHead).values(last_id=len(events), last_hash=head, count=len(events)))
        connection.exec_driver_sql("ANALYZE")


EVENT_COLUMNS: Final = (
    "id", "case_number", "item_code", "town_code", "department_code", "mode", "counter", "event", "actor",
    "occurred_at", "payload", "job_key", "prev_hash", "hash",
)  # fmt: skip
CASE_COLUMNS: Final = (
    "case_number", "item_code", "town_code", "department_code", "mode", "counter", "status", "accepted_at",
    "due_at", "closed_at", "outcome", "on_time", "supplement_requests",
)  # fmt: skip


def load_postgres(
    url: str, events: Sequence[dict[str, Any]], cases: Sequence[dict[str, Any]], head: str
) -> None:
    """COPY into both tables, then the head row and ANALYZE."""
    with psycopg.connect(_libpq(url)) as connection, connection.cursor() as cursor:
        for table, columns, rows in (("case_events", EVENT_COLUMNS, events), ("cases", CASE_COLUMNS, cases)):
            statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
                sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
            )
            with cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row(
                        [
                            json.dumps(row[c], ensure_ascii=False) if c == "payload" else row[c]
                            for c in columns
                        ]
                    )
        cursor.execute(
            "UPDATE ledger_head SET last_id = %s, last_hash = %s, count = %s",
            (len(events), head, len(events)),
        )
        connection.commit()
    with psycopg.connect(_libpq(url), autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def scratch_postgres(admin_url: str) -> Iterator[str | None]:
    """A fresh database ``shuangshi_bench`` on the server (dropped afterwards); None if unreachable."""
    try:
        admin = psycopg.connect(_libpq(admin_url), autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        print(f"PostgreSQL skipped: cannot connect to {make_url(admin_url)!r}: {str(error).strip()}")
        yield None
        return
    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(BENCH_DATABASE))
    with admin:
        admin.execute(drop)
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(BENCH_DATABASE)))
        try:
            yield (
                make_url(admin_url)
                .set(drivername="postgresql+psycopg", database=BENCH_DATABASE)
                .render_as_string(hide_password=False)
            )
        finally:
            admin.execute(drop)


# --------------------------------------------------------------------------------------------------
# Measuring


@dataclass
class Scenario:
    name: str
    filters: dict[str, Any]


def scenarios(catalog: Catalog) -> list[Scenario]:
    return [
        Scenario("全年·全部镇", {}),
        Scenario(
            "6月·西集镇",
            {"since": date(YEAR, 6, 1), "until": date(YEAR, 6, 30), "town": catalog.towns[0].code},
        ),
    ]


def _formats(folder: Path) -> dict[str, Callable[[SupervisionReport], object]]:
    def table(report: SupervisionReport) -> None:
        print_tables(report, Console(file=io.StringIO(), width=240))

    def as_csv(report: SupervisionReport) -> None:
        write_csv(report, io.StringIO())

    def as_xlsx(report: SupervisionReport) -> None:
        write_xlsx(report, folder / "report.xlsx")

    def as_html(report: SupervisionReport) -> None:
        render_html(report)

    return {"table": table, "csv": as_csv, "xlsx": as_xlsx, "html": as_html}


def measure(
    label: str, ledger: Ledger, catalog: Catalog, calendar: WorkingCalendar, rounds: int, folder: Path
) -> list[tuple[str, str, float, float, list[float]]]:
    """(backend, what, cold seconds, median of the warm rounds, warm rounds) per scenario and format."""
    results = []
    formats = _formats(folder)
    for scenario in scenarios(catalog):
        timings: dict[str, list[float]] = {"data": [], **{name: [] for name in formats}}
        for _ in range(rounds + 1):
            started = time.perf_counter()
            report = build_report(ledger, catalog=catalog, calendar=calendar, now=NOW, **scenario.filters)
            data = time.perf_counter() - started
            timings["data"].append(data)
            for name, render in formats.items():
                started = time.perf_counter()
                render(report)
                timings[name].append(data + time.perf_counter() - started)
        if scenario.name == "全年·全部镇":
            total = report.total
            print(
                f"  {label} {scenario.name}: 受理 {total.accepted}，办结 {total.decided}，"
                f"不予受理 {total.not_accepted}，按期率 {total.on_time_rate or 0:.1%}，"
                f"平均 {total.mean_days or 0:.2f} 工作日，P90 {total.p90_days}，在办 {total.in_progress}，"
                f"逾期在办 {total.open_overdue}，补正率 {total.supplement_rate or 0:.1%}"
            )
        for name, values in timings.items():
            results.append(
                (label, f"{scenario.name} {name}", values[0], statistics.median(values[1:]), values[1:])
            )
    return results


def print_results(results: Sequence[tuple[str, str, float, float, list[float]]]) -> None:
    print()
    columns = f"{'cold':>9}{'median':>9}{'min':>9}{'max':>9}{'÷ 1 s':>8}"
    print(f"{'backend':<11}{'report (data + format)':<24}{columns}")
    for backend, what, cold, median, warm in results:
        print(
            f"{backend:<11}{what:<24}{cold * 1000:>7.0f}ms{median * 1000:>7.0f}ms{min(warm) * 1000:>7.0f}ms"
            f"{max(warm) * 1000:>7.0f}ms{median / TARGET_SECONDS:>8.2f}"
        )


def load_all(
    args: argparse.Namespace, catalog: Catalog, calendar: WorkingCalendar, backends: Sequence[tuple[str, str]]
) -> None:
    """Generate the year and load it into every backend; the generated data is freed on return."""
    started = time.perf_counter()
    days = Days.build(calendar)
    cases = generate(catalog, days, args.events, args.seed)
    events, head = event_rows(cases)
    projection = case_rows(cases)
    kinds = Counter(row["event"] for row in events)
    elapsed = time.perf_counter() - started
    print(f"generated {len(events):,} events of {len(cases):,} cases in {elapsed:.1f} s")
    print("  " + ", ".join(f"{name} {count:,}" for name, count in kinds.most_common()))
    for label, url in backends:
        with Ledger(url) as ledger:
            ledger.migrate()
            started = time.perf_counter()
            if ledger.engine.dialect.name == "sqlite":
                load_sqlite(ledger.engine, events, projection, head)
            else:
                load_postgres(url, events, projection, head)
            print(f"  {label}: loaded in {time.perf_counter() - started:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000, help="ledger events to generate")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds after the cold one")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument(
        "--postgres-admin-url", default=DEFAULT_ADMIN_URL, help="server where to create the db"
    )
    parser.add_argument("--verify", action="store_true", help="also run the ledger's hash-chain check")
    args = parser.parse_args()
    configure_logging("ERROR")
    catalog = load_catalog()
    calendar = load_working_calendar()
    results = []
    with tempfile.TemporaryDirectory(prefix="report-bench-") as folder, ExitStack() as stack:
        backends = [("SQLite", default_ledger_url(Path(folder)))]
        if not args.skip_postgres:
            url = stack.enter_context(scratch_postgres(args.postgres_admin_url))
            if url is not None:
                backends.append(("PostgreSQL", url))
        load_all(args, catalog, calendar, backends)
        gc.collect()  # the generated rows are gone: measure in a heap like the command's
        for label, url in backends:
            with Ledger(url) as ledger:
                if args.verify:
                    started = time.perf_counter()
                    verification = ledger.verify()
                    elapsed = time.perf_counter() - started
                    checked = f"{verification.checked:,} rows"
                    print(f"  {label}: chain verified={verification.ok} ({checked}) in {elapsed:.1f} s")
                results += measure(label, ledger, catalog, calendar, args.rounds, Path(folder))
    print_results(results)


if __name__ == "__main__":
    main()
