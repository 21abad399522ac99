"""The 调度通报 table of a ledger report: rows for a rich table, a CSV file and an XLSX workbook.

All three share :data:`REPORT_HEADERS` (Chinese) and end with a 合计 (total) row unless ``total=False``.
The town column shows the town's name when the report was made with a catalog, else its code.
"""

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Final, TextIO

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

from workers.ledger.models import ReportRow
from workers.ledger.service import report_totals

__all__ = [
    "REPORT_HEADERS",
    "REPORT_SHEET_TITLE",
    "report_table_rows",
    "write_report_csv",
    "write_report_xlsx",
]

REPORT_HEADERS: Final[tuple[str, ...]] = (
    "镇",
    "事项编码",
    "事项名称",
    "受理合计",
    "镇受理",
    "区受理",
    "办结",
    "按期办结",
    "超期未办结",
    "不予批准",
    "不予受理",
)
REPORT_SHEET_TITLE: Final = "工作台账统计"
TOTAL_LABEL: Final = "合计"
_TEXT_COLUMNS: Final = 3  # 镇, 事项编码, 事项名称; the rest are counts


def _cells(row: ReportRow, *, label: str | None = None) -> list[str | int]:
    return [
        label if label is not None else (row.town_name or row.town_code),
        row.item_code,
        row.item_name,
        row.accepted,
        row.accepted_town,
        row.accepted_district,
        row.closed,
        row.on_time,
        row.overdue_open,
        row.rejected,
        row.not_accepted,
    ]


def _table(rows: Sequence[ReportRow], *, total: bool) -> list[list[str | int]]:
    table = [_cells(row) for row in rows]
    if total:
        table.append(_cells(report_totals(rows), label=TOTAL_LABEL))
    return table


def report_table_rows(rows: Sequence[ReportRow], *, total: bool = True) -> list[list[str]]:
    """Data rows as text, in :data:`REPORT_HEADERS` order, for ``rich.table.Table.add_row``."""
    return [[str(cell) for cell in cells] for cells in _table(rows, total=total)]


def write_report_csv(rows: Sequence[ReportRow], target: Path | str | TextIO, *, total: bool = True) -> None:
    """Write the header and the rows as CSV.

    A path is written as UTF-8 with a byte-order mark, so that Excel shows the Chinese text; a text stream
    is written as it is (its encoding is the caller's).
    """
    if isinstance(target, str | Path):
        with Path(target).open("w", encoding="utf-8-sig", newline="") as stream:
            _write_csv(rows, stream, total=total)
    else:
        _write_csv(rows, target, total=total)


def _write_csv(rows: Sequence[ReportRow], stream: TextIO, *, total: bool) -> None:
    writer = csv.writer(stream)
    writer.writerow(REPORT_HEADERS)
    writer.writerows(_table(rows, total=total))


def write_report_xlsx(rows: Sequence[ReportRow], path: Path | str, *, total: bool = True) -> None:
    """Write one sheet: a bold, frozen header row, then the rows (counts as numbers)."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = REPORT_SHEET_TITLE
    sheet.append(list(REPORT_HEADERS))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(horizontal="center")
    for cells in _table(rows, total=total):
        sheet.append(cells)
    if total:
        for cell in sheet[sheet.max_row]:
            cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    widths = [10, 16, 40] + [10] * (len(REPORT_HEADERS) - _TEXT_COLUMNS)
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[sheet.cell(row=1, column=index).column_letter].width = width
    workbook.save(Path(path))
