"""Spot checks and the scorecard on a real ledger (SQLite files, one PostgreSQL run) and through the CLI.

The ledgers are written with the real :class:`Ledger` API, as the workers write them; the commands run in
process through typer's runner on an app that mounts ``spotcheck`` and ``evaluate`` as ``shuangshi.cli``
does.
"""

import csv
import hashlib
import io
import json
import math
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import psycopg
import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from pydantic import JsonValue
from typer.testing import CliRunner, Result

from shuangshi.supervision_commands import evaluate_command, spotcheck_app
from tests.conftest import libpq_url
from workers.catalog import load_catalog
from workers.ledger import CHINA_TZ, CaseEvent, Counter, Ledger, RecordedEvent, default_ledger_url
from workers.logging import mask_text, reset_logging
from workers.supervision.export import PUBLIC_COLUMNS, SCORECARD_HEADERS
from workers.supervision.inspectors import InspectorPool, parse_inspectors_yaml
from workers.supervision.periods import parse_period
from workers.supervision.scorecard import SupervisionConfig, evaluate, load_supervision_config
from workers.supervision.spotcheck import (
    DRAWN_EVENT,
    FINDING_EVENT,
    DrawConflictError,
    DrawOutcome,
    NoEligibleInspectorError,
    SpotCheckError,
    SpotCheckInputError,
    candidates_in,
    draw,
    parse_ratio,
    record_finding,
    recorded_draw,
    verify_draw,
)

CATALOG = load_catalog()
REPO = Path(__file__).resolve().parents[2]
DIRECT = "3700000117086"  # direct, 区行政审批服务局 (xzsp)
DIRECT_YB = "3700002036017"  # direct, 区医疗保障局 (ybj)
SUBSTANTIVE = "3700002014028"  # substantive-review, 区人力资源和社会保障局 (rsj)
Q3 = parse_period("2026Q3")
AFTER_Q3 = datetime(2026, 10, 15, 9, 0, tzinfo=CHINA_TZ)
INSPECTORS_YAML = """\
inspectors:
  - {id: JC001, name: 检查员甲, affiliation: xiji}
  - {id: JC002, name: 检查员乙, affiliation: sangcun}
  - {id: JC003, name: 检查员丙, affiliation: xzsp}
  - {id: JC004, name: 检查员丁, affiliation: ybj}
  - {id: JC005, name: 检查员戊, affiliation: chengtou}
"""
SEED = "2026-10-08 福彩3D 5 1 8"

app = typer.Typer()
app.add_typer(spotcheck_app, name="spotcheck")
app.command("evaluate")(evaluate_command)


def cn(month: int, day: int, hour: int = 10) -> datetime:
    """A wall-clock time in China in 2026."""
    return datetime(2026, month, day, hour, 0, tzinfo=CHINA_TZ)


@dataclass
class Builder:
    """Writes cases into a ledger the way the processes do: registered, sla.scheduled, then what follows."""

    ledger: Ledger

    def event(
        self,
        number: str,
        name: str,
        at: datetime,
        payload: dict[str, JsonValue] | None = None,
        *,
        town: str = "xiji",
        item: str = DIRECT,
        counter: Counter = "town",
    ) -> RecordedEvent:
        entry = CATALOG.item(item)
        return self.ledger.record_event(
            CaseEvent(
                case_number=number,
                item_code=item,
                town_code=town,
                department_code=entry.department_code,
                mode=entry.mode,
                counter=counter,
                event=name,
                actor="ledger.record:test",
                occurred_at=at,
                payload=payload or {},
            )
        )

    def case(
        self,
        number: str,
        *,
        town: str = "xiji",
        item: str = DIRECT,
        counter: Counter = "town",
        accepted: datetime,
        due: datetime,
        closed: datetime | None = None,
        outcome: str = "approved",
        events: tuple[tuple[str, datetime, dict[str, JsonValue]], ...] = (),
    ) -> None:
        def record(name: str, at: datetime, payload: dict[str, JsonValue] | None = None) -> None:
            self.event(number, name, at, payload, town=town, item=item, counter=counter)

        record("registered", accepted)
        record("sla.scheduled", accepted, {"dueAt": due.isoformat()})
        for name, at, payload in events:
            record(name, at, payload)
        if closed is not None:
            if outcome in {"approved", "rejected"}:
                record("decided", closed, {"outcome": outcome, "documentNo": f"DOC-{number}"})
            else:
                record(outcome, closed)


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """The commands configure logging to the runner's stderr; put the defaults back afterwards."""
    yield
    reset_logging()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def ledger(data_dir: Path) -> Iterator[Ledger]:
    with Ledger(default_ledger_url(data_dir)) as opened:
        opened.migrate()
        yield opened


@pytest.fixture
def inspectors() -> InspectorPool:
    return parse_inspectors_yaml(INSPECTORS_YAML, CATALOG, "inspectors.yaml")


@pytest.fixture
def inspectors_file(tmp_path: Path) -> Path:
    path = tmp_path / "inspectors.yaml"
    path.write_text(INSPECTORS_YAML, encoding="utf-8")
    return path


def twelve_cases(builder: Builder) -> None:
    """Ten cases of 西集镇 (xzsp) and two of 桑村镇 (ybj), all closed in 2026Q3."""
    for n in range(1, 11):
        builder.case(f"XJ-20260701-{n:04d}", accepted=cn(7, 1), due=cn(7, 20), closed=cn(7, 10))
    for n in range(1, 3):
        builder.case(
            f"SC-20260801-{n:04d}",
            town="sangcun",
            item=DIRECT_YB,
            accepted=cn(8, 1),
            due=cn(8, 20),
            closed=cn(8, 5),
        )


def draw_q3(ledger: Ledger, inspectors: InspectorPool) -> DrawOutcome:
    """The standard test draw: SC-2026Q3, 20 %, the test seed, made after the quarter."""
    return draw(
        ledger,
        draw_id="SC-2026Q3",
        period=Q3,
        ratio=parse_ratio("20%"),
        seed=SEED,
        pool=inspectors,
        actor="supervisor:xzsp",
        now=AFTER_Q3,
    )


def head(ledger: Ledger) -> int:
    return ledger.verify().checked


def run(*args: str) -> Result:
    """Invoke the commands in-process with this project's environment variables cleared."""
    environment: dict[str, str | None] = {k: None for k in os.environ if k.startswith("SHUANGSHI_")}
    return CliRunner().invoke(app, list(args), env=environment)


# --------------------------------------------------------------------------------------------------
# Candidates and the draw


def test_candidates_are_cases_closed_in_the_period_with_a_decision_or_refusal(ledger: Ledger) -> None:
    """Only approved, rejected and not-accepted cases closed inside the period (China days) are candidates."""
    builder = Builder(ledger)
    builder.case("XJ-1", accepted=cn(7, 1), due=cn(7, 20), closed=cn(7, 10))
    builder.case("XJ-2", accepted=cn(7, 1), due=cn(7, 20), closed=cn(9, 30, 23), outcome="rejected")
    builder.case("XJ-3", accepted=cn(7, 1), due=cn(7, 20), closed=cn(8, 2), outcome="not-accepted")
    builder.case("XJ-4", accepted=cn(7, 1), due=cn(7, 20), closed=cn(8, 2), outcome="withdrawn")
    builder.case("XJ-5", accepted=cn(6, 1), due=cn(6, 20), closed=cn(6, 30, 23))
    builder.case(
        "XJ-6", accepted=cn(9, 1), due=cn(9, 20), closed=datetime(2026, 10, 1, 0, 0, tzinfo=CHINA_TZ)
    )
    builder.case("XJ-7", accepted=cn(9, 1), due=cn(9, 20))
    candidates, bound = candidates_in(ledger, Q3)
    assert [(c.case_number, c.status) for c in candidates] == [
        ("XJ-1", "completed"),
        ("XJ-2", "rejected"),
        ("XJ-3", "not-accepted"),
    ]
    assert bound == head(ledger)


OUTCOMES = ("approved", "rejected", "not-accepted", "withdrawn", None)
CHECKABLE_OUTCOMES = ("approved", "rejected", "not-accepted")
ledger_cases = st.lists(
    st.tuples(
        st.sampled_from(("xiji", "sangcun", "chengtou")),
        st.sampled_from((DIRECT, DIRECT_YB, SUBSTANTIVE)),
        st.sampled_from(OUTCOMES),
        st.integers(min_value=-40, max_value=130),  # days after 2026-07-01 the case closes
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=40, deadline=None)
@given(ledger_cases, st.integers(min_value=1, max_value=100))
def test_every_drawn_case_was_closed_in_the_period_with_a_decision(
    cases: list[tuple[str, str, str | None, int]], percent: int
) -> None:
    """Random ledgers: every drawn case is checkable and closed in the period; each town draws ceil(ratio × N)."""
    start = datetime(2026, 7, 1, 9, 0, tzinfo=CHINA_TZ)
    pool = parse_inspectors_yaml("inspectors:\n  - {id: A, name: 检查员甲, affiliation: fucheng}\n", CATALOG)
    ratio = parse_ratio(f"{percent}%")
    with tempfile.TemporaryDirectory() as folder, Ledger(default_ledger_url(Path(folder))) as opened:
        opened.migrate()
        builder = Builder(opened)
        for n, (town, item, outcome, offset) in enumerate(cases):
            closed = start + timedelta(days=offset) if outcome is not None else None
            accepted = min(start, closed) if closed is not None else start
            builder.case(
                f"C-{n:04d}", town=town, item=item, accepted=accepted, due=accepted + timedelta(days=20),
                closed=closed, outcome=outcome or "approved",
            )  # fmt: skip
        expected: dict[str, int] = {}
        for town, _, outcome, offset in cases:
            if outcome in CHECKABLE_OUTCOMES and Q3.contains(start + timedelta(days=offset)):
                expected[town] = expected.get(town, 0) + 1
        try:
            outcome_of_draw = draw(
                opened, draw_id="SC-P", period=Q3, ratio=ratio, seed="s", pool=pool, actor="supervisor:xzsp"
            )
        except SpotCheckError:
            assert not expected
            return
        drawn = outcome_of_draw.recorded.assignments
        for number in drawn:
            case = opened.case(number)
            assert case is not None
            assert case.status in {"completed", "rejected", "not-accepted"}
            assert case.closed_at is not None
            assert Q3.contains(case.closed_at)
        for town, count in expected.items():
            assert sum(1 for a in drawn.values() if a.event.town_code == town) == math.ceil(
                ratio.value * count
            )
        assert {a.event.town_code for a in drawn.values()} == set(expected)


def test_draw_is_recorded_once_and_rerunning_it_writes_nothing(
    ledger: Ledger, inspectors: InspectorPool
) -> None:
    """One spotcheck-drawn event per drawn case with its inputs; the same draw again writes nothing."""
    twelve_cases(Builder(ledger))
    before = head(ledger)
    outcome = draw_q3(ledger, inspectors)
    assert outcome.new
    assert outcome.written == 3 == head(ledger) - before  # ceil(20% × 10) + ceil(20% × 2)
    assert [(s.town_code, s.candidates, s.drawn) for s in outcome.plan.strata] == [
        ("sangcun", 2, 1),
        ("xiji", 10, 2),
    ]
    recorded = outcome.recorded
    assert sorted(recorded.assignments) == sorted(a.candidate.case_number for a in outcome.plan.assignments)
    first = recorded.assignments[min(recorded.assignments)]
    assert first.event.event == DRAWN_EVENT
    assert first.event.actor == "supervisor:xzsp"
    assert first.event.occurred_at == AFTER_Q3
    payload = first.event.payload
    assert payload["drawId"] == "SC-2026Q3"
    assert (payload["period"], payload["ratio"], payload["seed"]) == ("2026Q3", "20%", SEED)
    assert payload["inputsDigest"] == outcome.plan.inputs_digest
    assert payload["inspectorsDigest"] == inspectors.digest
    assert payload["ledgerHead"] == before
    assert payload["drawnAt"] == "2026-10-15T09:00:00+08:00"
    for number, entry in recorded.assignments.items():
        case = ledger.case(number)
        assert case is not None
        assert entry.payload.inspector_affiliation not in {case.town_code, case.department_code}

    again = draw(
        ledger,
        draw_id="SC-2026Q3",
        period=Q3,
        ratio=parse_ratio("0.2"),
        seed=SEED,
        pool=inspectors,
        actor="supervisor:xzsp",
        now=datetime(2026, 11, 1, tzinfo=UTC),
    )
    assert (again.new, again.written) == (False, 0)
    assert head(ledger) == before + 3
    assert {n: a.payload for n, a in again.recorded.assignments.items()} == {
        n: a.payload for n, a in recorded.assignments.items()
    }


def test_draw_id_used_with_other_inputs_is_refused_and_nothing_written(
    ledger: Ledger, inspectors: InspectorPool
) -> None:
    """Another seed or ratio under a recorded draw id, or another inspectors list, is refused."""
    twelve_cases(Builder(ledger))
    common: dict[str, Any] = {
        "draw_id": "SC-2026Q3",
        "period": Q3,
        "actor": "supervisor:xzsp",
        "now": AFTER_Q3,
    }
    draw(ledger, ratio=parse_ratio("20%"), seed=SEED, pool=inspectors, **common)
    before = head(ledger)
    with pytest.raises(DrawConflictError, match=r"made on 2026-10-15 09:00 for period 2026Q3, ratio 20%"):
        draw(ledger, ratio=parse_ratio("20%"), seed="another seed", pool=inspectors, **common)
    with pytest.raises(DrawConflictError, match="a draw is never redone"):
        draw(ledger, ratio=parse_ratio("30%"), seed=SEED, pool=inspectors, **common)
    fewer = InspectorPool(inspectors.inspectors[1:])
    with pytest.raises(DrawConflictError, match="the inspectors file differs from the one the draw used"):
        draw(ledger, ratio=parse_ratio("20%"), seed=SEED, pool=fewer, **common)
    assert head(ledger) == before


def test_interrupted_draw_is_completed_by_running_it_again(
    ledger: Ledger, inspectors: InspectorPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When a draw stops after some events, the same draw again writes exactly the missing ones."""
    twelve_cases(Builder(ledger))
    record = ledger.record_event
    calls = 0

    def fail_after_one(event: CaseEvent, job_key: int | None = None) -> RecordedEvent:
        nonlocal calls
        calls += 1
        if calls > 1:
            raise ConnectionError("the database went away")
        return record(event, job_key)

    monkeypatch.setattr(ledger, "record_event", fail_after_one)
    arguments: dict[str, Any] = {
        "draw_id": "SC-2026Q3",
        "period": Q3,
        "ratio": parse_ratio("20%"),
        "seed": SEED,
        "pool": inspectors,
        "actor": "supervisor:xzsp",
    }
    with pytest.raises(ConnectionError):
        draw(ledger, now=AFTER_Q3, **arguments)
    monkeypatch.setattr(ledger, "record_event", record)
    partial = recorded_draw(ledger, "SC-2026Q3")
    assert partial is not None
    assert len(partial.assignments) == 1
    completed = draw(ledger, now=datetime(2026, 10, 16, tzinfo=UTC), **arguments)
    assert (completed.new, completed.written) == (False, 2)
    assert len(completed.recorded.assignments) == 3
    assert {a.payload.drawn_at for a in completed.recorded.assignments.values()} == {AFTER_Q3}
    assert verify_draw(ledger, "SC-2026Q3", inspectors).ok


def test_no_eligible_inspector_stops_the_draw_before_writing(ledger: Ledger) -> None:
    """A drawn case only own-unit inspectors could check fails the draw, named, with nothing written."""
    Builder(ledger).case("XJ-20260701-0001", accepted=cn(7, 1), due=cn(7, 20), closed=cn(7, 10))
    own = parse_inspectors_yaml(
        "inspectors:\n  - {id: A, name: 检查员甲, affiliation: xiji}\n  - {id: B, name: 检查员乙, affiliation: xzsp}\n",
        CATALOG,
    )
    before = head(ledger)
    with pytest.raises(NoEligibleInspectorError, match=r"XJ-20260701-0001（town xiji, department xzsp）"):
        draw(
            ledger,
            draw_id="SC-2026Q3",
            period=Q3,
            ratio=parse_ratio("5%"),
            seed=SEED,
            pool=own,
            actor="supervisor:xzsp",
            now=AFTER_Q3,
        )
    assert head(ledger) == before
    assert recorded_draw(ledger, "SC-2026Q3") is None


def test_draw_of_an_empty_period_is_refused(ledger: Ledger, inspectors: InspectorPool) -> None:
    """A period without checkable cases has nothing to draw."""
    with pytest.raises(SpotCheckError, match="nothing to draw"):
        draw(
            ledger,
            draw_id="SC-2026Q3",
            period=Q3,
            ratio=parse_ratio("5%"),
            seed=SEED,
            pool=inspectors,
            actor="supervisor:xzsp",
            now=AFTER_Q3,
        )


def test_cases_closed_after_a_draw_do_not_change_it(ledger: Ledger, inspectors: InspectorPool) -> None:
    """A draw made before the period ended stays reproducible: later closings are not its candidates."""
    builder = Builder(ledger)
    twelve_cases(builder)
    common: dict[str, Any] = {
        "draw_id": "SC-2026Q3",
        "period": Q3,
        "ratio": parse_ratio("20%"),
        "seed": SEED,
        "pool": inspectors,
        "actor": "supervisor:xzsp",
    }
    first = draw(ledger, now=cn(9, 1), **common)
    builder.case("XJ-20260902-0001", accepted=cn(9, 2), due=cn(9, 20), closed=cn(9, 3))
    assert verify_draw(ledger, "SC-2026Q3", inspectors).ok
    again = draw(ledger, now=cn(9, 5), **common)
    assert (again.written, len(again.plan.candidates)) == (0, len(first.plan.candidates))


# --------------------------------------------------------------------------------------------------
# Verify, publish, findings


def test_verify_confirms_a_draw_and_detects_tampered_inputs(
    ledger: Ledger, inspectors: InspectorPool, data_dir: Path
) -> None:
    """verify redoes the draw: a changed inspectors list or an edited drawn event is reported."""
    twelve_cases(Builder(ledger))
    outcome = draw_q3(ledger, inspectors)
    report = verify_draw(ledger, "SC-2026Q3", inspectors)
    assert report.ok, report.problems
    assert report.notes == (
        "period 2026Q3, ratio 20%, seed '2026-10-08 福彩3D 5 1 8', ledger rows up to 36: 12 candidates, 3 drawn",
    )

    renamed = parse_inspectors_yaml(INSPECTORS_YAML.replace("检查员丙", "检查员丙丙"), CATALOG)
    tampered = verify_draw(ledger, "SC-2026Q3", renamed)
    assert not tampered.ok
    assert tampered.problems == (
        (
            f"the inspectors file differs from the one the draw used (recorded digest {inspectors.digest}, "
            f"this file {renamed.digest})"
        ),
    )

    victim = min(outcome.recorded.assignments)
    with sqlite3.connect(data_dir / "ledger.sqlite3") as connection:
        connection.execute(
            "UPDATE case_events SET payload = json_set(payload, '$.inspectorId', 'JC005') "
            "WHERE event = ? AND case_number = ?",
            (DRAWN_EVENT, victim),
        )
    edited = verify_draw(ledger, "SC-2026Q3", inspectors)
    assigned = outcome.recorded.assignments[victim].payload.inspector_id
    assert edited.problems == (f"{victim}: recorded inspector JC005, the draw assigns {assigned}",)
    with pytest.raises(SpotCheckError, match="no draw 'SC-2026Q2'"):
        verify_draw(ledger, "SC-2026Q2", inspectors)


def test_findings_only_by_the_assigned_inspector_once_per_case(
    ledger: Ledger, inspectors: InspectorPool
) -> None:
    """Only the assigned inspector records one finding per drawn case; other attempts write nothing."""
    twelve_cases(Builder(ledger))
    outcome = draw_q3(ledger, inspectors)
    number = min(outcome.recorded.assignments)
    assigned = outcome.recorded.assignments[number].payload.inspector_id
    other = next(i.id for i in inspectors.inspectors if i.id != assigned)
    not_drawn = next(
        f"XJ-20260701-{n:04d}"
        for n in range(1, 11)
        if f"XJ-20260701-{n:04d}" not in outcome.recorded.assignments
    )
    before = head(ledger)
    finding: dict[str, Any] = {"draw_id": "SC-2026Q3", "result": "issue", "note": "告知书缺少经办人签字"}
    with pytest.raises(SpotCheckError, match=f"inspector {other} is not assigned to {number} in SC-2026Q3"):
        record_finding(ledger, case_number=number, inspector_id=other, **finding)
    with pytest.raises(SpotCheckError, match=f"case {not_drawn} was not drawn in SC-2026Q3"):
        record_finding(ledger, case_number=not_drawn, inspector_id=assigned, **finding)
    with pytest.raises(SpotCheckError, match="no draw 'SC-2026Q4'"):
        record_finding(
            ledger, case_number=number, inspector_id=assigned, **{**finding, "draw_id": "SC-2026Q4"}
        )
    with pytest.raises(SpotCheckInputError, match="note: contains an ID number, a mobile number"):
        record_finding(
            ledger, case_number=number, inspector_id=assigned, **{**finding, "note": "申请人电话 13812345678"}
        )
    with pytest.raises(SpotCheckInputError, match="note: 1 to 500 characters"):
        record_finding(ledger, case_number=number, inspector_id=assigned, **{**finding, "note": "  "})
    assert head(ledger) == before

    recorded = record_finding(
        ledger,
        case_number=number,
        inspector_id=assigned,
        now=datetime(2026, 10, 20, 2, tzinfo=UTC),
        **finding,
    )
    assert (recorded.event, recorded.actor) == (FINDING_EVENT, f"inspector:{assigned}")
    assert recorded.payload == {
        "drawId": "SC-2026Q3",
        "result": "issue",
        "note": "告知书缺少经办人签字",
        "inspectorId": assigned,
    }
    with pytest.raises(
        SpotCheckError,
        match=rf"{number} already has a finding in SC-2026Q3 \(issue, recorded 2026-10-20 10:00\)",
    ):
        record_finding(ledger, case_number=number, inspector_id=assigned, **{**finding, "result": "pass"})


def drawn_ledger(data_dir: Path, inspectors_file: Path) -> Result:
    with Ledger(default_ledger_url(data_dir)) as opened:
        opened.migrate()
        builder = Builder(opened)
        twelve_cases(builder)
        # Something personal-looking the ledger keeps out, and a payload the public list must not show.
        builder.event(
            "XJ-20260701-0001", "sealed", cn(7, 10), {"documentNo": "DOC-SECRET", "applicant": {"x": 1}}
        )
    return run(
        "spotcheck", "draw", "--period", "2026Q3", "--ratio", "20%", "--inspectors", str(inspectors_file),
        "--seed", SEED, "--data-dir", str(data_dir),
    )  # fmt: skip


def test_cli_draw_twice_prints_the_recorded_draw(data_dir: Path, inspectors_file: Path) -> None:
    """spotcheck draw records the draw; the same command again says nothing was written."""
    first = drawn_ledger(data_dir, inspectors_file)
    assert first.exit_code == 0, first.output
    assert "recorded draw SC-2026Q3: 3 ledger event(s)" in first.stdout
    assert "候选 12 件，抽中 3 件（桑村镇 1/2、西集镇 2/10）" in first.stdout
    second = run(
        "spotcheck", "draw", "--period", "2026Q3", "--ratio", "20%", "--inspectors", str(inspectors_file),
        "--seed", SEED, "--data-dir", str(data_dir), "--json",
    )  # fmt: skip
    assert second.exit_code == 0, second.output
    summary = json.loads(second.stdout)
    assert (summary["new"], summary["written"], summary["drawn"]) == (False, 0, 3)
    refused = run(
        "spotcheck", "draw", "--period", "2026Q3", "--inspectors", str(inspectors_file), "--seed", "x",
        "--data-dir", str(data_dir),
    )  # fmt: skip
    assert refused.exit_code == 1
    assert "a draw is never redone" in refused.stderr
    bad = run(
        "spotcheck", "draw", "--period", "2026Q5", "--inspectors", str(inspectors_file), "--seed", "x",
        "--data-dir", str(data_dir),
    )  # fmt: skip
    assert bad.exit_code == 2
    assert "--period: period '2026Q5'" in bad.stderr


def test_cli_verify_detects_a_tampered_inspectors_file(data_dir: Path, inspectors_file: Path) -> None:
    """spotcheck verify exits 0 with the file the draw used and 1 after the file was edited."""
    assert drawn_ledger(data_dir, inspectors_file).exit_code == 0
    ok = run(
        "spotcheck", "verify", "SC-2026Q3", "--inspectors", str(inspectors_file), "--data-dir", str(data_dir)
    )
    assert ok.exit_code == 0, ok.output
    assert "OK draw SC-2026Q3 verified" in ok.stdout
    inspectors_file.write_text(INSPECTORS_YAML.replace("chengtou", "fengmao"), encoding="utf-8")
    tampered = run(
        "spotcheck", "verify", "SC-2026Q3", "--inspectors", str(inspectors_file), "--data-dir", str(data_dir)
    )
    assert tampered.exit_code == 1
    assert "the inspectors file differs from the one the draw used" in tampered.stdout


def test_public_list_has_the_columns_and_no_personal_data(data_dir: Path, inspectors_file: Path) -> None:
    """The public list has the expected columns and no personal data; its JSON lets anyone redo the draw."""
    assert drawn_ledger(data_dir, inspectors_file).exit_code == 0
    with Ledger(default_ledger_url(data_dir)) as opened:
        recorded = recorded_draw(opened, "SC-2026Q3")
        assert recorded is not None
        number = min(recorded.assignments)
        inspector = recorded.assignments[number].payload.inspector_id
    finding = run(
        "spotcheck", "finding", number, "--draw", "SC-2026Q3", "--result", "pass", "--note", "材料齐全，程序合规",
        "--inspector", inspector, "--data-dir", str(data_dir),
    )  # fmt: skip
    assert finding.exit_code == 0, finding.output

    published = run("spotcheck", "publish", "--draw", "SC-2026Q3", "--data-dir", str(data_dir))
    assert published.exit_code == 0, published.output
    rows = list(csv.reader(io.StringIO(published.stdout)))
    assert tuple(rows[0]) == PUBLIC_COLUMNS
    assert len(rows) == 4
    by_case = {row[2]: dict(zip(PUBLIC_COLUMNS, row, strict=True)) for row in rows[1:]}
    assert by_case[number]["检查结果"] == "未发现问题"
    assert by_case[number]["检查情况"] == "材料齐全，程序合规"
    assert by_case[number]["随机种子"] == SEED
    assert by_case[number]["输入摘要"] == recorded.parameters.inputs_digest
    assert by_case[number]["承接镇"] in {"西集镇", "桑村镇"}
    assert {row["检查结果"] for case, row in by_case.items() if case != number} == {"待检查"}

    html = run("spotcheck", "publish", "--draw", "SC-2026Q3", "--format", "html", "--data-dir", str(data_dir))
    document = run(
        "spotcheck", "publish", "--draw", "SC-2026Q3", "--format", "json", "--inspectors", str(inspectors_file),
        "--data-dir", str(data_dir),
    )  # fmt: skip
    assert html.exit_code == document.exit_code == 0
    assert "“双随机、一公开”抽查结果公示" in html.stdout
    for text in (published.stdout, html.stdout, document.stdout):
        assert mask_text(text) == text
        assert "DOC-SECRET" not in text
        assert "applicant" not in text

    public = json.loads(document.stdout)
    ratio = Fraction(public["ratio"].removesuffix("%")) / 100
    towns = sorted({c["townCode"] for c in public["candidates"]})
    redone = []
    for town in towns:
        numbers = [c["caseNumber"] for c in public["candidates"] if c["townCode"] == town]
        numbers.sort(key=lambda n: hashlib.sha256(f"{public['seed']}\n{n}".encode()).hexdigest())
        redone += numbers[: math.ceil(ratio * len(numbers))]
    assert sorted(redone) == [c["caseNumber"] for c in public["cases"]]
    affiliations = {i["id"]: i["affiliation"] for i in public["inspectors"]}
    load = dict.fromkeys(affiliations, 0)
    by_number = {c["caseNumber"]: c for c in public["candidates"]}
    for number in sorted(redone):
        own = {by_number[number]["townCode"], by_number[number]["departmentCode"]}
        eligible = [i for i in affiliations if affiliations[i] not in own]
        chosen = min(
            eligible,
            key=lambda i: (
                load[i],
                hashlib.sha256(f"{public['seed']}\n{number}\n{i}".encode()).hexdigest(),
                i,
            ),
        )
        load[chosen] += 1
        assert next(c["inspectorId"] for c in public["cases"] if c["caseNumber"] == number) == chosen
    canonical = json.dumps(public["candidates"], ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    assert hashlib.sha256(canonical.encode()).hexdigest() == public["digests"]["candidates"]
    inspectors_text = json.dumps(
        public["inspectors"], ensure_ascii=False, separators=(",", ":"), sort_keys=True
    )
    assert hashlib.sha256(inspectors_text.encode()).hexdigest() == public["digests"]["inspectors"]


# --------------------------------------------------------------------------------------------------
# The scorecard


def scorecard_ledger(ledger: Ledger) -> None:
    """Two active towns and one without cases in 2026Q3; the expected figures are worked out in the tests.

    西集镇 (town counter): XJ1 on time; XJ2 late and rejected; XJ3 returned once then verified, on time;
    XJ4 verified, on time; XJ5 open and overdue at the end of Q3; XJ6 accepted at the district counter.
    Ratings 5, 4, 2; findings: XJ1 issue, XJ2 pass, XJ3 pass. 桑村镇: SC1 refused (不予受理) on time,
    SC2 approved late; no ratings, findings or seal checks. 城头镇: one case, all in Q2.
    """
    b = Builder(ledger)

    def finding(result: str) -> dict[str, JsonValue]:
        return {"drawId": "SC-2026Q3", "result": result, "note": "x", "inspectorId": "JC005"}

    b.case(
        "XJ1", accepted=cn(7, 1), due=cn(7, 10), closed=cn(7, 5),
        events=(("rated", cn(7, 6), {"score": 5}), (FINDING_EVENT, cn(10, 8), finding("issue"))),
    )  # fmt: skip
    b.case(
        "XJ2", accepted=cn(7, 2), due=cn(7, 10), closed=cn(7, 15), outcome="rejected",
        events=((FINDING_EVENT, cn(10, 8), finding("pass")),),
    )  # fmt: skip
    b.case(
        "XJ3", item=SUBSTANTIVE, accepted=cn(7, 3), due=cn(7, 20), closed=cn(7, 14),
        events=(
            ("seal-rejected", cn(7, 8), {"problem": "镇章无效"}),
            ("seal-verified", cn(7, 12), {}),
            ("rated", cn(7, 15), {"score": 4}),
            (FINDING_EVENT, cn(10, 8), finding("pass")),
        ),
    )  # fmt: skip
    b.case(
        "XJ4", item=SUBSTANTIVE, accepted=cn(8, 1), due=cn(8, 20), closed=cn(8, 12),
        events=(("seal-verified", cn(8, 10), {}), ("rated", cn(8, 13), {"score": 2}), ("rated", cn(8, 14), {"score": 9})),
    )  # fmt: skip
    b.case("XJ5", accepted=cn(9, 1), due=cn(9, 10))
    b.case("XJ6", counter="district", accepted=cn(7, 1), due=cn(7, 3), closed=cn(7, 2))
    b.case("SC1", town="sangcun", accepted=cn(7, 5), due=cn(7, 15), closed=cn(7, 6), outcome="not-accepted")
    b.case("SC2", town="sangcun", accepted=cn(8, 5), due=cn(8, 15), closed=cn(8, 20))
    b.case("CT1", town="chengtou", accepted=cn(6, 1), due=cn(6, 10), closed=cn(6, 5))


def rules(**changes: Any) -> SupervisionConfig:
    config = load_supervision_config(REPO / "config" / "supervision.yaml")
    return SupervisionConfig.model_validate({**config.model_dump(), **changes})


def test_scorecard_figures_match_the_hand_computed_ones(ledger: Ledger) -> None:
    """Raw values, scores, the renormalised overall score and the reasons, as worked out by hand."""
    scorecard_ledger(ledger)
    card = evaluate(ledger, CATALOG, rules(), Q3, now=AFTER_Q3)
    xiji = next(t for t in card.towns if t.town_code == "xiji")
    assert (xiji.accepted, xiji.closed, xiji.overdue_open) == (5, 4, 1)
    raw = {m.name: m.raw for m in xiji.measures}
    assert raw == pytest.approx(
        {
            "timeliness": 75.0,  # XJ1, XJ3, XJ4 of 4
            "rejection": 25.0,  # XJ2
            "returns": 50.0,  # XJ3 of XJ3, XJ4
            "satisfaction": 11 / 3,  # 5, 4, 2 (9 is out of range)
            "spotcheck": 100 / 3,  # XJ1 of XJ1..XJ3
            "backlog": 20.0,  # XJ5 per 5 accepted
        }
    )
    scores = {m.name: m.score for m in xiji.measures}
    assert scores == pytest.approx(
        {
            "timeliness": 50.0,  # (75 - 50) / (100 - 50)
            "rejection": 50.0,  # (25 - 50) / (0 - 50)
            "returns": 0.0,
            "satisfaction": 200 / 3,  # (11/3 - 1) / 4
            "spotcheck": 100 / 3,
            "backlog": 0.0,
        }
    )
    # (30×50 + 10×50 + 15×0 + 20×66.67 + 15×33.33 + 10×0) / 100
    assert xiji.overall == pytest.approx(115 / 3)
    assert xiji.flagged
    assert xiji.reasons == (
        "总分 38.3 低于督导线 80",
        "按期办结率 75.0% 得分 50.0 低于下限 60",
        "退回率 50.0% 得分 0.0 低于下限 60",
        "抽查问题率 33.3% 得分 33.3 低于下限 60",
    )

    sangcun = next(t for t in card.towns if t.town_code == "sangcun")
    assert (sangcun.accepted, sangcun.closed, sangcun.overdue_open) == (2, 2, 0)
    assert {m.name: m.raw for m in sangcun.measures} == pytest.approx(
        {
            "timeliness": 50.0,
            "rejection": 50.0,
            "returns": None,
            "satisfaction": None,
            "spotcheck": None,
            "backlog": 0.0,
        }
    )
    assert {m.name: m.share for m in sangcun.measures} == pytest.approx(
        {"timeliness": 0.6, "rejection": 0.2, "returns": 0, "satisfaction": 0, "spotcheck": 0, "backlog": 0.2}
    )
    assert sangcun.overall == pytest.approx(20.0)  # (30×0 + 10×0 + 10×100) / 50
    assert sangcun.reasons == ("总分 20.0 低于督导线 80", "按期办结率 50.0% 得分 0.0 低于下限 60")

    chengtou = next(t for t in card.towns if t.town_code == "chengtou")
    assert not chengtou.has_cases
    assert (chengtou.overall, chengtou.flagged) == (None, False)
    assert [t.town_code for t in card.towns] == [t.code for t in CATALOG.towns]


def test_weights_and_counters_from_the_config_change_the_result(ledger: Ledger) -> None:
    """Weights decide the overall score; counting district-counter cases changes the measures."""
    scorecard_ledger(ledger)
    only_time = rules(
        measures={
            **rules().measures.model_dump(),
            **{
                name: {"weight": 0, "best": 0, "worst": 50}
                for name in ("rejection", "returns", "satisfaction", "spotcheck", "backlog")
            },
        },
        threshold=40,
    )
    card = evaluate(ledger, CATALOG, only_time, Q3, now=AFTER_Q3)
    xiji = next(t for t in card.towns if t.town_code == "xiji")
    assert xiji.overall == pytest.approx(50.0)
    assert xiji.reasons == ("按期办结率 75.0% 得分 50.0 低于下限 60",)

    both = evaluate(ledger, CATALOG, rules(counters=("town", "district")), Q3, now=AFTER_Q3)
    xiji_both = next(t for t in both.towns if t.town_code == "xiji")
    assert (xiji_both.accepted, xiji_both.closed) == (6, 5)
    assert xiji_both.measure("timeliness").raw == pytest.approx(80.0)

    generous = rules(
        threshold=30,
        measures={**rules().measures.model_dump(), "timeliness": {"weight": 30, "best": 100, "worst": 0}},
    )
    relaxed = evaluate(ledger, CATALOG, generous, Q3, now=AFTER_Q3)
    xiji_relaxed = next(t for t in relaxed.towns if t.town_code == "xiji")
    assert xiji_relaxed.measure("timeliness").score == pytest.approx(75.0)
    assert not any(reason.startswith("总分") for reason in xiji_relaxed.reasons)


def test_cli_evaluate_writes_every_format(data_dir: Path, ledger: Ledger, tmp_path: Path) -> None:
    """evaluate prints the table and writes CSV, JSON and XLSX with 无数据 and 本期无办件 shown."""
    scorecard_ledger(ledger)
    table = run("evaluate", "--period", "2026Q3", "--data-dir", str(data_dir))
    assert table.exit_code == 0, table.output
    assert "督导：西集镇、桑村镇" in table.stdout
    assert "本期无办件" in table.stdout

    as_csv = run("evaluate", "--period", "2026Q3", "--format", "csv", "--data-dir", str(data_dir))
    rows = list(csv.reader(io.StringIO(as_csv.stdout)))
    assert tuple(rows[0]) == SCORECARD_HEADERS
    sangcun = dict(zip(SCORECARD_HEADERS, rows[2], strict=True))
    assert (sangcun["镇"], sangcun["好差评满意度（分）"], sangcun["总分"], sangcun["督导"]) == (
        "桑村镇",
        "无数据",
        "20.0",
        "督导",
    )
    assert dict(zip(SCORECARD_HEADERS, rows[3], strict=True))["总分"] == "本期无办件"

    as_json = run("evaluate", "--period", "2026Q3", "--format", "json", "--data-dir", str(data_dir))
    document = json.loads(as_json.stdout)
    assert document["period"] == "2026Q3"
    assert document["towns"][0]["measures"]["satisfaction"]["raw"] == pytest.approx(11 / 3)

    workbook_path = tmp_path / "scorecard.xlsx"
    as_xlsx = run(
        "evaluate",
        "--period",
        "2026Q3",
        "--format",
        "xlsx",
        "--output",
        str(workbook_path),
        "--data-dir",
        str(data_dir),
    )
    assert as_xlsx.exit_code == 0, as_xlsx.output
    sheet = load_workbook(workbook_path).active
    assert sheet is not None
    assert tuple(cell.value for cell in sheet[1]) == SCORECARD_HEADERS
    assert sheet.cell(row=2, column=SCORECARD_HEADERS.index("总分") + 1).value == pytest.approx(38.3)


def test_cli_evaluate_reports_invalid_rules_by_line(data_dir: Path, ledger: Ledger, tmp_path: Path) -> None:
    """A broken --config exits 2 naming file, line and field; nothing is computed."""
    scorecard_ledger(ledger)
    broken = tmp_path / "supervision.yaml"
    broken.write_text(
        (REPO / "config" / "supervision.yaml")
        .read_text(encoding="utf-8")
        .replace("threshold: 80", "threshold: 180"),
        encoding="utf-8",
    )
    line = next(
        n
        for n, text in enumerate(broken.read_text(encoding="utf-8").splitlines(), 1)
        if text.startswith("threshold")
    )
    result = run("evaluate", "--period", "2026Q3", "--config", str(broken), "--data-dir", str(data_dir))
    assert result.exit_code == 2
    assert (
        f"supervision.yaml:{line}: threshold: Input should be less than or equal to 100, got 180"
        in result.stderr
    )


# --------------------------------------------------------------------------------------------------
# PostgreSQL


def test_draw_finding_verify_and_scorecard_on_postgresql(
    postgres_url: str, inspectors: InspectorPool
) -> None:
    """The whole round on PostgreSQL: draw, re-run, finding, verify, scorecard."""
    with psycopg.connect(libpq_url(postgres_url), autocommit=True) as connection:
        connection.execute("DROP SCHEMA public CASCADE")
        connection.execute("CREATE SCHEMA public")
    with Ledger(postgres_url) as pg:
        pg.migrate()
        twelve_cases(Builder(pg))
        arguments: dict[str, Any] = {
            "draw_id": "SC-2026Q3",
            "period": Q3,
            "ratio": parse_ratio("20%"),
            "seed": SEED,
            "pool": inspectors,
            "actor": "supervisor:xzsp",
            "now": AFTER_Q3,
        }
        outcome = draw(pg, **arguments)
        assert outcome.written == 3
        assert draw(pg, **arguments).written == 0
        number = min(outcome.recorded.assignments)
        inspector = outcome.recorded.assignments[number].payload.inspector_id
        record_finding(
            pg,
            draw_id="SC-2026Q3",
            case_number=number,
            result="issue",
            note="缺少签字",
            inspector_id=inspector,
        )
        assert verify_draw(pg, "SC-2026Q3", inspectors).ok
        assert pg.verify().ok
        card = evaluate(pg, CATALOG, rules(), Q3, now=AFTER_Q3)
        town = next(
            t for t in card.towns if t.town_code == outcome.recorded.assignments[number].event.town_code
        )
        assert town.measure("spotcheck").raw == pytest.approx(100.0)
