"""``shuangshi report`` (and its earlier name ``ledger report``) on the fixed report ledger, in-process.

The figures themselves are checked in test_report.py; here: the formats, the files, the options and the
errors of the command line. Open cases are counted at the real current time, after every fixture due date.
"""

import csv
import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner, Result

from shuangshi.cli import app
from tests.integration.report_ledger import build_fixture_ledger
from workers.ledger import Ledger, create_ledger_engine, default_ledger_url
from workers.ledger.migrations import upgrade
from workers.logging import reset_logging

PERIOD = ("--from", "2025-09-22", "--to", "2025-10-19")
_OUR_VARIABLES = ("SHUANGSHI_",)


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """The command configures logging to the runner's stderr; put the defaults back afterwards."""
    yield
    reset_logging()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir whose ledger holds the fixture cases."""
    folder = tmp_path_factory.mktemp("report-cli") / "data"
    with Ledger(default_ledger_url(folder)) as ledger:
        ledger.migrate()
        build_fixture_ledger(ledger)
    reset_logging()
    return folder


def run(*args: str) -> Result:
    """Invoke ``shuangshi`` in-process with this project's environment variables cleared."""
    environment: dict[str, str | None] = {k: None for k in os.environ if k.startswith(_OUR_VARIABLES)}
    return CliRunner().invoke(app, list(args), env=environment)


def csv_of(result: Result) -> list[list[str]]:
    assert result.exit_code == 0, result.output
    return list(csv.reader(io.StringIO(result.stdout)))


def test_csv_on_stdout_ends_with_the_hand_counted_total(data_dir: Path) -> None:
    """--format csv: the header, the town × item rows with 小计, and the 合计 of the period."""
    rows = csv_of(run("report", "--format", "csv", *PERIOD, "--data-dir", str(data_dir)))
    assert rows[0][:4] == ["镇", "事项编码", "事项名称", "受理合计"]
    assert [row[2] for row in rows[1:]] == [
        "在城市建筑物、设施上张挂、张贴宣传品审批", "医疗保险参保和变更登记", "小计",
        "在城市建筑物、设施上张挂、张贴宣传品审批", "医疗保险参保和变更登记", "小计", "",
    ]  # fmt: skip
    # Every open case of the fixture is past its due time by now: 4 in progress, 4 overdue.
    assert rows[-1] == [
        "合计", "", "", "12", "9", "3", "10", "8", "2", "1", "8", "2", "80.0%", "2.1", "4", "2", "16.7%", "4", "4",
    ]  # fmt: skip


def test_ledger_report_is_the_same_command(data_dir: Path) -> None:
    """``ledger report`` takes the same options and prints the same CSV as ``report``."""
    new = run("report", "--format", "csv", *PERIOD, "--data-dir", str(data_dir))
    old = run("ledger", "report", "--format", "csv", *PERIOD, "--data-dir", str(data_dir))
    assert csv_of(old) == csv_of(new)


def test_town_by_name_keeps_that_town(data_dir: Path) -> None:
    """--town 桑村镇: only its rows, its 小计 and the 合计 (equal to it)."""
    rows = csv_of(run("report", "--format", "csv", *PERIOD, "--town", "桑村镇", "--data-dir", str(data_dir)))
    assert [row[0] for row in rows[1:]] == ["桑村镇", "桑村镇", "桑村镇", "合计"]
    assert rows[-2][3:] == rows[-1][3:]


def test_xlsx_and_html_are_written_to_the_output_file(data_dir: Path, tmp_path: Path) -> None:
    """--output FILE: the workbook and the page are written whole, and no temporary file is left."""
    workbook = tmp_path / "通报.xlsx"
    result = run(
        "report", "--format", "xlsx", "--output", str(workbook), *PERIOD, "--data-dir", str(data_dir)
    )
    assert result.exit_code == 0, result.output
    assert load_workbook(workbook).sheetnames == ["汇总", "明细", "按事项", "月度趋势", "逾期在办", "说明"]
    page = tmp_path / "通报.html"
    result = run("report", "--format", "html", "--output", str(page), "--data-dir", str(data_dir))
    assert result.exit_code == 0, result.output
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert text.count("<svg ") == 3
    assert sorted(path.name for path in tmp_path.iterdir()) == ["通报.html", "通报.xlsx"]
    umask = os.umask(0)
    os.umask(umask)
    assert page.stat().st_mode & 0o777 == 0o666 & ~umask  # an ordinary file, not the temporary's 0600


def test_html_without_output_goes_to_stdout(data_dir: Path) -> None:
    """--format html without --output prints the page."""
    result = run("report", "--format", "html", *PERIOD, "--data-dir", str(data_dir))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("<!DOCTYPE html>")


def test_the_table_is_the_default(data_dir: Path) -> None:
    """Without --format: the terminal tables with their Chinese titles, the towns and the 合计."""
    result = run("report", *PERIOD, "--data-dir", str(data_dir))
    assert result.exit_code == 0, result.output
    for text in (
        "调度通报",
        "各镇汇总",
        "镇×事项明细",
        "各事项汇总",
        "月度趋势",
        "逾期在办办件",
        "西集镇",
        "YB-20250915-0001",
    ):
        assert text in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--format", "xlsx"), "--output"),
        (("--output", "x.csv"), "--output is for"),
        (("--from", "2025-10-31", "--to", "2025-10-01"), "after"),
        (("--town", "nowhere"), "unknown town"),
        (("--item", "0000000000000"), "unknown item"),
        (("--from", "October"), "--from"),
        (("--format", "pdf"), "--format"),
    ],
)
def test_bad_options_exit_2(data_dir: Path, args: tuple[str, ...], message: str) -> None:
    """xlsx without --output, --output with the table, a reversed period, unknown codes, bad values: exit 2."""
    result = run("report", *args, "--data-dir", str(data_dir))
    assert result.exit_code == 2
    assert message in result.stderr


def test_a_missing_output_folder_exits_2(data_dir: Path, tmp_path: Path) -> None:
    """An --output in a folder that does not exist: exit 2 naming it, nothing written."""
    target = tmp_path / "missing" / "r.csv"
    result = run("report", "--format", "csv", "--output", str(target), "--data-dir", str(data_dir))
    assert result.exit_code == 2
    assert "does not exist" in result.stderr
    assert not target.parent.exists()


def test_no_ledger_exits_2_and_creates_nothing(tmp_path: Path) -> None:
    """A data dir without a ledger: exit 2, "no ledger", and no database file left behind."""
    empty = tmp_path / "empty"
    result = run("report", "--data-dir", str(empty))
    assert result.exit_code == 2
    assert "no ledger" in result.stderr
    assert not empty.exists()


def test_a_ledger_before_migration_0002_exits_2_with_the_remedy(tmp_path: Path) -> None:
    """A ledger still at schema 0001 (no supplement_requests): exit 2 saying how to migrate it."""
    folder = tmp_path / "old"
    engine = create_ledger_engine(default_ledger_url(folder))
    try:
        upgrade(engine, "0001")
    finally:
        engine.dispose()
    result = run("report", "--data-dir", str(folder))
    assert result.exit_code == 2
    assert "predates reports" in result.stderr
