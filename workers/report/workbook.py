"""The report as an XLSX workbook (openpyxl): one sheet per view, and the definitions.

Sheets 汇总 (by town), 明细 (town × item), 按事项, 月度趋势, 逾期在办 (no personal data: case number, town,
item, counter, dates, working days overdue) and 说明 (period, generation time, the ledger's size and head
hash, the definitions). Every table sheet has a title row, a bold header row, both frozen (with the naming
columns), an autofilter, column widths, A4 landscape printing with the header rows repeated, and number
formats: counts ``0``, rates ``0.0%``, days ``0.0``; the 合计 row is bold.
"""

from pathlib import Path
from typing import Final

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, NamedStyle, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from workers.report.columns import Kind, View, views
from workers.report.export import REPORT_TITLE
from workers.report.models import DEFINITIONS, SupervisionReport

__all__ = ["NOTES_SHEET", "write_xlsx"]

NOTES_SHEET: Final = "说明"
_NUMBER_FORMATS: Final[dict[Kind, str]] = {"count": "0", "percent": "0.0%", "days": "0.0", "text": "@"}
_HEADER_FILL: Final = PatternFill("solid", fgColor="DCE6F1")
_TOTAL_FILL: Final = PatternFill("solid", fgColor="F2F2F2")
_THIN: Final = Side(style="thin", color="BFBFBF")
_BORDER: Final = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_HEADER_STYLE: Final = "report-header"


def _register_styles(workbook: Workbook) -> None:
    """Named styles for the cells (one style per kind, and for header and total rows), registered once:
    assigning a named style is much cheaper than assigning font, border and alignment to every cell."""
    for kind, number_format in _NUMBER_FORMATS.items():
        for total in (False, True):
            workbook.add_named_style(
                NamedStyle(
                    name=_style_name(kind, total=total),
                    number_format=number_format,
                    border=_BORDER,
                    alignment=Alignment(horizontal="left" if kind == "text" else "right", vertical="center"),
                    font=Font(bold=total),
                    fill=_TOTAL_FILL if total else PatternFill(),
                )
            )
    workbook.add_named_style(
        NamedStyle(
            name=_HEADER_STYLE,
            font=Font(bold=True),
            fill=_HEADER_FILL,
            border=_BORDER,
            alignment=Alignment(horizontal="center", vertical="center", wrap_text=True),
        )
    )


def _style_name(kind: Kind, *, total: bool) -> str:
    return f"report-{kind}{'-total' if total else ''}"


def _sheet(workbook: Workbook, view: View, subtitle: str) -> Worksheet:
    sheet = workbook.create_sheet(view.name)
    width = len(view.headers)
    sheet.append([f"{REPORT_TITLE}——{view.title}（{subtitle}）"])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    title = sheet.cell(row=1, column=1)
    title.font = Font(bold=True, size=13)
    title.alignment = Alignment(horizontal="left", vertical="center")
    sheet.row_dimensions[1].height = 22
    sheet.append(list(view.headers))
    for cell in sheet[2]:
        cell.style = _HEADER_STYLE
    sheet.row_dimensions[2].height = 32
    styles = [_style_name(kind, total=False) for kind in view.kinds]
    total_styles = [_style_name(kind, total=True) for kind in view.kinds]
    body = [(row, styles) for row in view.rows]
    if view.total is not None:
        body.append((view.total, total_styles))
    for number, (cells, row_styles) in enumerate(body, start=3):
        for column, (value, style) in enumerate(zip(cells, row_styles, strict=True), start=1):
            sheet.cell(row=number, column=column, value=value).style = style
    for index, column_width in enumerate(view.widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = column_width
    sheet.freeze_panes = sheet.cell(row=3, column=view.key_columns + 1).coordinate
    last_row = max(2, 2 + len(view.rows))
    sheet.auto_filter.ref = f"A2:{get_column_letter(width)}{last_row}"
    sheet.print_title_rows = "1:2"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    return sheet


def _notes(workbook: Workbook, report: SupervisionReport) -> None:
    sheet = workbook.create_sheet(NOTES_SHEET)
    sheet.append([REPORT_TITLE])
    sheet.cell(row=1, column=1).font = Font(bold=True, size=13)
    facts = [
        ("统计期间", report.period_label),
        ("镇", report.towns[0].town_name if report.town_code and report.towns else "全部"),
        ("事项", report.items[0].item_name if report.item_code and report.items else "全部"),
        ("生成时间", report.generated_label()),
        ("工作台账事件数", str(report.ledger_events)),
        ("工作台账链头哈希", report.ledger_head_hash),
    ]
    if report.calendar_unknown_years:
        years = "、".join(str(year) for year in report.calendar_unknown_years)
        facts.append(("节假日未配置年份", f"{years}（按周一至周五计算工作日）"))
    for label, value in facts:
        sheet.append([label, value])
    sheet.append([])
    sheet.append(["口径说明"])
    sheet.cell(row=sheet.max_row, column=1).font = Font(bold=True)
    for label, text in DEFINITIONS:
        sheet.append([label, text])
    for row in sheet.iter_rows(min_row=2):
        row[0].font = Font(bold=True)
        if len(row) > 1:
            row[1].alignment = Alignment(wrap_text=True, vertical="top")
    sheet.column_dimensions["A"].width = 18
    sheet.column_dimensions["B"].width = 100


def write_xlsx(report: SupervisionReport, path: Path | str) -> None:
    """Write the workbook: one sheet per view, then 说明."""
    workbook = Workbook()
    default = workbook.active
    if default is not None:
        workbook.remove(default)
    _register_styles(workbook)
    subtitle = f"{report.period_label}，生成于{report.generated_label()}"
    for view in views(report):
        _sheet(workbook, view, subtitle)
    _notes(workbook, report)
    workbook.save(Path(path))
