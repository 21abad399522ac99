"""The report as CSV: one table, the town × item rows with each town's 小计 and the 合计.

After each town's rows its 小计 (the town's figures: 事项名称 ``小计``, no item code), and a last 合计 row.
Rates are written as percentages (``83.3%``), mean days with one decimal, missing values empty. A file is
written as UTF-8 with a byte-order mark (Excel then reads the Chinese); a text stream as it is. The XLSX
workbook is :mod:`workers.report.workbook`.
"""

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Final, TextIO

from workers.report.columns import DETAIL_COLUMNS, SUBTOTAL_LABEL, TOTAL_LABEL, Cell, format_cell
from workers.report.models import GroupFigures, SupervisionReport

__all__ = ["REPORT_TITLE", "csv_rows", "write_csv"]

REPORT_TITLE: Final = "山亭区“双十镇”赋权事项调度通报"
_KEY_COLUMNS: Final = 3  # 镇, 事项编码, 事项名称


def csv_rows(report: SupervisionReport) -> list[list[str]]:
    """The CSV table as text: the header, each town's town × item rows and its 小计, then 合计."""
    kinds = [column.kind for column in DETAIL_COLUMNS]
    rows: list[list[str]] = [[column.header for column in DETAIL_COLUMNS]]

    def text(cells: Sequence[Cell]) -> list[str]:
        return [format_cell(cell, kind, missing="") for cell, kind in zip(cells, kinds, strict=True)]

    for town in report.towns:
        details = [row for row in report.detail if row.town_code == town.town_code]
        if not details:
            continue
        rows.extend(text([column.value(row) for column in DETAIL_COLUMNS]) for row in details)
        subtotal: list[Cell] = [town.town_name, "", SUBTOTAL_LABEL]
        rows.append(text(subtotal + [column.value(town) for column in DETAIL_COLUMNS[_KEY_COLUMNS:]]))
    total: list[Cell] = [TOTAL_LABEL, "", ""]
    overall = GroupFigures(figures=report.total)
    rows.append(text(total + [column.value(overall) for column in DETAIL_COLUMNS[_KEY_COLUMNS:]]))
    return rows


def write_csv(report: SupervisionReport, target: Path | str | TextIO) -> None:
    """Write :func:`csv_rows` to a file (UTF-8 with BOM) or to a text stream."""
    if isinstance(target, str | Path):
        with Path(target).open("w", encoding="utf-8-sig", newline="") as stream:
            csv.writer(stream).writerows(csv_rows(report))
    else:
        csv.writer(target).writerows(csv_rows(report))
