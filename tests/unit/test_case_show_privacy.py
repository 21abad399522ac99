"""``shuangshi case show A`` is the applicant's 进度查询: it shows case A only, and nothing of the ledger that
could identify a person (actors, payload texts such as a rating's comment or the 整改 measures)."""

import json
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from shuangshi.case_commands import case_app
from workers.catalog.loader import load_catalog
from workers.ledger import CaseEvent, Counter, Ledger, default_ledger_url
from workers.logging import mask_text, reset_logging

app = typer.Typer()
app.add_typer(case_app, name="case")

CASE_A = "XJ-20260302-0001"
CASE_B = "FC-20260302-0007"
A_COMMENT = "窗口人员态度差 138****5678"
A_MEASURES = "已约谈窗口人员王某某，整改到位"
B_ACTOR = "clerk:fucheng-zhang"
_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    yield
    reset_logging()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """Case A of 西集镇 (town counter, decided, rated 1 and rectified); case B of 凫城镇 (district counter)."""
    catalog = load_catalog()
    direct = catalog.items_by_mode()["direct"][0]
    forwarded = catalog.items_by_mode()["window-forwarding"][-1]
    assert direct.code != forwarded.code
    folder = tmp_path / "data"
    start = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)

    def record(
        number: str,
        item: str,
        town: str,
        counter: Counter,
        name: str,
        minutes: int,
        actor: str,
        **payload: object,
    ) -> None:
        entry = catalog.item(item)
        ledger.record_event(
            CaseEvent.model_validate(
                {
                    "caseNumber": number,
                    "itemCode": item,
                    "townCode": town,
                    "departmentCode": entry.department_code,
                    "mode": entry.mode,
                    "counter": counter,
                    "event": name,
                    "actor": actor,
                    "occurredAt": start + timedelta(minutes=minutes),
                    "payload": payload,
                }
            )
        )

    with Ledger(default_ledger_url(folder)) as ledger:
        ledger.migrate()
        a: tuple[str, str, str, Counter] = (CASE_A, direct.code, "xiji", "town")
        b: tuple[str, str, str, Counter] = (CASE_B, forwarded.code, "fucheng", "district")
        record(*a, "registered", 0, "case.register", prefix="XJ")
        record(*b, "registered", 1, B_ACTOR, prefix="FC")
        record(*a, "sla.scheduled", 2, "sla.schedule", dueAt="2026-03-05T17:30:00+08:00", limitDays=3)
        record(*b, "forwarded", 3, B_ACTOR)
        record(
            *a, "decided", 4, "ledger.record:town_ledger_decided", outcome="approved", documentNo="XJ-JD-1"
        )
        record(*a, "rated", 5, "ledger.record:ledger_rated", score=1, comment=A_COMMENT, followUp=True)
        record(*a, "followup.scheduled", 6, "sla.schedule", dueAt="2026-03-23T17:30:00+08:00", limitDays=15)
        record(*b, "decided", 7, B_ACTOR, outcome="rejected", documentNo="FC-BY-7")
        record(
            *a, "rectified", 8, "ledger.record:ledger_rectified", measures=A_MEASURES, applicantContacted=True
        )
    return folder


def show(data_dir: Path, *args: str) -> Result:
    environment: dict[str, str | None] = {k: None for k in os.environ if k.startswith("SHUANGSHI_")}
    result = CliRunner().invoke(
        app, ["case", "show", CASE_A, "--data-dir", str(data_dir), *args], env=environment
    )
    assert result.exit_code == 0, result.output
    return result


@pytest.mark.parametrize("args", [(), ("--json",)])
def test_case_show_of_a_holds_nothing_of_case_b_and_nothing_personal(
    data_dir: Path, args: tuple[str, ...]
) -> None:
    """Table and JSON of case A: no number, town, item, document or actor of case B; no comment, measures,
    actor, phone number, ID number or e-mail address of anyone."""
    output = show(data_dir, *args).stdout
    catalog = load_catalog()
    b_item = catalog.items_by_mode()["window-forwarding"][-1]
    assert CASE_A in output
    for foreign in (CASE_B, "FC-BY-7", "fucheng", "凫城镇", b_item.code, b_item.name, B_ACTOR):
        assert foreign not in output, foreign
    for private in (A_COMMENT, "王某某", A_MEASURES, "ledger.record", "case.register", "138****5678"):
        assert private not in output, private
    assert mask_text(output) == output
    assert not _EMAIL_RE.search(output)


def test_case_show_names_the_rating_events_in_chinese(data_dir: Path) -> None:
    """The rating, the 整改 deadline and its completion appear in the events under their Chinese names."""
    table = show(data_dir).stdout
    for name in ("申请人评价（好差评）", "计算整改期限", "差评整改完成"):
        assert name in table
    events = [entry["event"] for entry in json.loads(show(data_dir, "--json").stdout)["events"]]
    assert events == ["registered", "sla.scheduled", "decided", "rated", "followup.scheduled", "rectified"]
