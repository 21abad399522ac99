"""The report as one self-contained HTML page: tables, inline SVG charts, print styles; no external resource.

The page is rendered from ``templates/report.html.j2`` (Jinja2, autoescaped) with the charts of
:mod:`workers.report.charts` inlined as ``<svg>`` elements. It needs no network and no script to show: a
supervisor can open it offline or print it (A4 landscape, each section on a new page, table headers
repeated on every page). The open overdue list shows the :data:`OVERDUE_LIMIT` most overdue cases; the XLSX
workbook has all of them.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from workers.report.charts import CHART_FONTS, charts
from workers.report.columns import Cell, View, format_cell, views
from workers.report.export import REPORT_TITLE
from workers.report.models import DEFINITIONS, SupervisionReport

__all__ = ["OVERDUE_LIMIT", "render_html", "write_html"]

#: Open overdue cases listed in the page (most overdue first).
OVERDUE_LIMIT: Final = 100
#: Columns whose non-zero values are shown as warnings.
_ALERT_HEADERS: Final = frozenset({"超期办结", "逾期在办", "逾期（工作日）"})


@dataclass(frozen=True, slots=True)
class _HtmlCell:
    text: str
    css: str


@dataclass(frozen=True, slots=True)
class _HtmlTable:
    title: str
    headers: tuple[str, ...]
    rows: list[list[_HtmlCell]]
    total: list[_HtmlCell] | None
    #: Rows left out of a long list.
    omitted: int = 0


def _cells(view: View, cells: list[Cell]) -> list[_HtmlCell]:
    out = []
    for cell, kind, header in zip(cells, view.kinds, view.headers, strict=True):
        css = "text" if kind == "text" else "num"
        if header in _ALERT_HEADERS and isinstance(cell, int) and cell > 0:
            css += " alert"
        out.append(_HtmlCell(format_cell(cell, kind), css))
    return out


def _table(view: View, limit: int | None = None) -> _HtmlTable:
    rows = view.rows if limit is None else view.rows[:limit]
    return _HtmlTable(
        title=view.title,
        headers=view.headers,
        rows=[_cells(view, row) for row in rows],
        total=_cells(view, view.total) if view.total is not None else None,
        omitted=len(view.rows) - len(rows),
    )


def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("workers.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(report: SupervisionReport) -> str:
    """The page as text."""
    tables = {view.name: view for view in views(report)}
    total = report.total
    kpis = [
        (
            "受理",
            format_cell(total.accepted, "count"),
            f"镇窗口 {total.accepted_town}，区窗口 {total.accepted_district}",
        ),
        ("办结", format_cell(total.decided, "count"), f"准予 {total.approved}，不予许可 {total.rejected}"),
        ("按期办结率", format_cell(total.on_time_rate, "percent"), f"超期办结 {total.overdue} 件"),
        (
            "平均办理时长",
            format_cell(total.mean_days, "days"),
            f"工作日；P90 {format_cell(total.p90_days, 'count')} 个工作日",
        ),
        ("逾期在办", format_cell(total.open_overdue, "count"), f"在办 {total.in_progress} 件"),
        ("补正率", format_cell(total.supplement_rate, "percent"), f"不予受理 {total.not_accepted} 件"),
    ]
    town_name = report.towns[0].town_name if report.town_code and report.towns else "全部"
    item_name = report.items[0].item_name if report.item_code and report.items else "全部"
    template = _environment().get_template("report.html.j2")
    page = template.render(
        title=REPORT_TITLE,
        period=report.period_label,
        generated=report.generated_label(),
        town_name=town_name,
        item_name=item_name,
        ledger_events=report.ledger_events,
        ledger_head_hash=report.ledger_head_hash,
        unknown_years="、".join(str(year) for year in report.calendar_unknown_years),
        kpis=kpis,
        charts=[(chart.chart_id, chart.title, Markup(chart.svg)) for chart in charts(report)],  # noqa: S704 - SVG written by matplotlib, which escapes its text
        towns=_table(tables["汇总"]),
        months=_table(tables["月度趋势"]),
        detail=_table(tables["明细"]),
        items=_table(tables["按事项"]),
        overdue=_table(tables["逾期在办"], OVERDUE_LIMIT),
        overdue_count=len(report.overdue_cases),
        definitions=DEFINITIONS,
        fonts=", ".join(f"'{font}'" for font in CHART_FONTS),
    )
    return page.lstrip()


def write_html(report: SupervisionReport, path: Path | str) -> None:
    """Write the page (UTF-8)."""
    Path(path).write_text(render_html(report), encoding="utf-8")
