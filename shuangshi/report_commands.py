"""``shuangshi report``: the 调度通报 from the work ledger, as a terminal table, CSV, XLSX or an HTML page.

The figures and their definitions are in :mod:`workers.report`; the ledger is found as ``case show`` and
``ledger verify`` find it (``--data-dir`` / ``--ledger-url``, read only, exit 2 when there is none).
``shuangshi ledger report`` is the same command under its earlier name.

Files are written to a temporary name beside ``--output`` and renamed when complete, so a failed run leaves
no half-written report. Exit codes: 0 written (also when the period has no cases: a note on stderr), 2 bad
options, no ledger, a ledger whose schema predates reports, or a file that cannot be written.
"""

import os
import sys
import tempfile
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Final

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from shuangshi.case_commands import (
    DataDirOption,
    LedgerUrlOption,
    _catalog,
    _open_ledger,
    _quiet_logging,
    _settings,
    _town_code,
)
from shuangshi.output import err, fail, out

if TYPE_CHECKING:
    from workers.ledger import Ledger
    from workers.report import SupervisionReport
    from workers.report.columns import View
    from workers.sla import WorkingCalendar

__all__ = ["ReportFormat", "print_tables", "report_command", "working_calendar"]

#: Open overdue cases listed on the terminal; the files list them all (HTML: the first 100).
TERMINAL_OVERDUE_LIMIT: Final = 20


class ReportFormat(StrEnum):
    table = "table"
    csv = "csv"
    xlsx = "xlsx"
    html = "html"


def _check_schema(ledger: "Ledger") -> None:
    from sqlalchemy import inspect  # noqa: PLC0415 - SQLAlchemy loads only when a command reads the ledger

    columns = {column["name"] for column in inspect(ledger.engine).get_columns("cases")}
    if "supplement_requests" not in columns:
        fail(
            "the ledger's schema predates reports (migration 0002 adds cases.supplement_requests): start "
            "the workers once ('shuangshi up' or 'shuangshi workers'), which migrate it, then report again",
            2,
        )


def working_calendar() -> "WorkingCalendar":
    """The working calendar the report counts days with; exit 2 naming the problems of a bad holiday table."""
    from workers.sla import HolidaysFileError, load_working_calendar  # noqa: PLC0415 - see report_command

    try:
        return load_working_calendar()
    except HolidaysFileError as exc:
        fail(f"holiday table error\n{exc}", 2)


def _write_atomically(output: Path, write: Callable[[Path], None]) -> None:
    """Write through a temporary file in the same folder, renamed over ``output`` when complete."""
    folder = output.parent
    if not folder.is_dir():
        fail(f"--output: the folder {folder} does not exist", 2)
    handle, temporary = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".tmp", dir=folder)
    os.close(handle)
    umask = os.umask(0)
    os.umask(umask)
    try:
        Path(temporary).chmod(0o666 & ~umask)  # as an ordinary new file; mkstemp makes it private
        write(Path(temporary))
        Path(temporary).replace(output)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        fail(f"cannot write {output}: {exc.strerror or exc}", 2)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _rich_table(view: "View", limit: int | None = None) -> Table:
    from workers.report.columns import format_cell  # noqa: PLC0415 - see report_command

    table = Table(title=view.title, title_justify="left", show_lines=False)
    for index, header in enumerate(view.short_headers):
        # Only the item name wraps; codes, dates and numbers stay on one line.
        table.add_column(
            header,
            justify="left" if view.kinds[index] == "text" else "right",
            no_wrap=header != "事项名称",
            overflow="fold",
        )
    rows = view.rows if limit is None else view.rows[:limit]
    for position, row in enumerate(rows):
        table.add_row(
            *(Text(format_cell(cell, kind)) for cell, kind in zip(row, view.kinds, strict=True)),
            end_section=view.total is not None and position == len(rows) - 1,
        )
    if view.total is not None:
        table.add_row(
            *(Text(format_cell(cell, kind)) for cell, kind in zip(view.total, view.kinds, strict=True)),
            style="bold",
        )
    return table


def print_tables(report: "SupervisionReport", console: Console = out) -> None:
    """The report's views as rich tables (the open overdue list cut at :data:`TERMINAL_OVERDUE_LIMIT`)."""
    from workers.report.columns import views  # noqa: PLC0415 - see report_command
    from workers.report.export import REPORT_TITLE  # noqa: PLC0415

    console.print(Text(f"{REPORT_TITLE}（{report.period_label}）", style="bold"))
    console.print(
        Text(
            f"生成时间 {report.generated_label()}；工作台账 {report.ledger_events} 条事件，"
            f"链头哈希 {report.ledger_head_hash}；办理时长、逾期天数以工作日计"
        )
    )
    for view in views(report):
        if view.name == "逾期在办":
            console.print(_rich_table(view, TERMINAL_OVERDUE_LIMIT))
            if len(view.rows) > TERMINAL_OVERDUE_LIMIT:
                console.print(
                    f"逾期在办共 {len(view.rows)} 件，此处列出逾期最久的 {TERMINAL_OVERDUE_LIMIT} 件；"
                    "全部见 --format xlsx。",
                    highlight=False,
                )
        else:
            console.print(_rich_table(view))


def report_command(
    since: Annotated[
        datetime | None,
        typer.Option("--from", formats=["%Y-%m-%d"], help="First day (China time), e.g. 2025-01-01."),
    ] = None,
    until: Annotated[
        datetime | None,
        typer.Option("--to", formats=["%Y-%m-%d"], help="Last day, inclusive (China time)."),
    ] = None,
    town: Annotated[str | None, typer.Option("--town", help="Only this town (code or name).")] = None,
    item: Annotated[str | None, typer.Option("--item", help="Only this item (事项编码).")] = None,
    output_format: Annotated[
        ReportFormat,
        typer.Option(
            "--format", help="Tables on the terminal, CSV, an XLSX workbook, or a self-contained HTML page."
        ),
    ] = ReportFormat.table,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            help="Write the CSV, XLSX or HTML to this file (CSV and HTML: else stdout).",
            dir_okay=False,
        ),
    ] = None,
    data_dir: DataDirOption = Path("data"),
    ledger_url: LedgerUrlOption = None,
) -> None:
    """调度通报: per town × item, accepted, decided, on time, handling time, open overdue, 补正 rate.

    Per town × item, per town, per item, per month and overall: cases accepted at the town / district
    counter, decided (准予, 不予许可), 不予受理, on time and overdue, mean and P90 handling time in working
    days, in progress and open overdue (now), and the share of accepted cases that had to supplement
    materials; plus the list of open overdue cases (no personal data).
    """
    _quiet_logging()
    first = since.date() if since is not None else None
    last = until.date() if until is not None else None
    if first is not None and last is not None and first > last:
        fail(f"--from {first} is after --to {last}", 2)
    if output_format is ReportFormat.xlsx and output is None:
        fail("--format xlsx writes a workbook: give --output FILE.xlsx", 2)
    if output_format is ReportFormat.table and output is not None:
        fail("--output is for --format csv, xlsx or html", 2)
    catalog = _catalog()
    town_code = _town_code(catalog, town) if town is not None else None
    if item is not None and item not in {i.code for i in catalog.items}:
        fail(f"--item: unknown item code {item!r} (see 'shuangshi catalog')", 2)

    # SQLAlchemy, openpyxl and matplotlib take a while to import: only a report being made pays for them.
    from workers.report import build_report  # noqa: PLC0415

    calendar = working_calendar()
    with _open_ledger(_settings(data_dir, ledger_url)) as ledger:
        _check_schema(ledger)
        report = build_report(
            ledger, catalog=catalog, calendar=calendar, since=first, until=last, town=town_code, item=item
        )
    if report.total.empty:
        err.print("no cases in this period", highlight=False)
    if output_format is ReportFormat.table:
        print_tables(report)
        return
    _write(report, output_format, output)


def _render(report: "SupervisionReport", output_format: ReportFormat) -> Callable[[Path], None]:
    """The writer of one format (only its library is imported: matplotlib for HTML, openpyxl for XLSX)."""
    # Imported here, not at the top: see report_command.
    if output_format is ReportFormat.csv:
        from workers.report.export import write_csv  # noqa: PLC0415

        return lambda path: write_csv(report, path)
    if output_format is ReportFormat.xlsx:
        from workers.report.workbook import write_xlsx  # noqa: PLC0415

        return lambda path: write_xlsx(report, path)
    from workers.report.html import write_html  # noqa: PLC0415

    return lambda path: write_html(report, path)


def _write(report: "SupervisionReport", output_format: ReportFormat, output: Path | None) -> None:
    if output is None:  # CSV or HTML on stdout
        if output_format is ReportFormat.csv:
            from workers.report.export import write_csv  # noqa: PLC0415 - see report_command

            write_csv(report, sys.stdout)
        else:
            from workers.report.html import render_html  # noqa: PLC0415

            sys.stdout.write(render_html(report))
        return
    _write_atomically(output, _render(report, output_format))
    err.print(f"[green]wrote[/] {output}", highlight=False)
