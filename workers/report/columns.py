"""The columns of the report's tables, shared by the terminal table, CSV, XLSX and HTML.

Every view (汇总 by town, 明细 town × item, 按事项, 月度趋势, 逾期在办) is a list of :class:`Column`: a
Chinese header, a kind (how the value is formatted) and how the value is read from a row. Renderers format
by kind: counts as whole numbers, rates as percentages with one decimal, days with one decimal; a value that
does not exist (a rate without cases) is empty.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Final, Generic, Literal, TypeVar

from workers.ledger import CHINA_TZ
from workers.report.models import Figures, GroupFigures, MonthFigures, OverdueCase, SupervisionReport

__all__ = [
    "COUNTER_NAMES",
    "DETAIL_COLUMNS",
    "FIGURE_COLUMNS",
    "ITEM_COLUMNS",
    "MONTH_COLUMNS",
    "OVERDUE_COLUMNS",
    "SUBTOTAL_LABEL",
    "TOTAL_LABEL",
    "TOWN_COLUMNS",
    "Cell",
    "Column",
    "View",
    "format_cell",
    "views",
]

Kind = Literal["text", "count", "percent", "days"]
Cell = str | int | float | None
Row = TypeVar("Row")

TOTAL_LABEL: Final = "合计"
SUBTOTAL_LABEL: Final = "小计"
COUNTER_NAMES: Final = {"town": "镇窗口", "district": "区窗口"}
_TENTH: Final = Decimal("0.1")


@dataclass(frozen=True, slots=True)
class Column(Generic[Row]):
    """One column: its header, how its values are formatted, and how a row's value is read."""

    header: str
    kind: Kind
    value: Callable[[Row], Cell]
    #: Width in characters for XLSX (Chinese characters count about two).
    width: float = 10
    #: A shorter header for the terminal; the full one when empty.
    short: str = ""


def _figure(name: str) -> Callable[[Figures], Cell]:
    def read(figures: Figures) -> Cell:
        value: Cell = getattr(figures, name)
        return value

    return read


#: The figures of a group, in the order every view shows them.
FIGURE_COLUMNS: Final[tuple[Column[Figures], ...]] = (
    Column("受理合计", "count", _figure("accepted"), short="受理"),
    Column("镇窗口受理", "count", _figure("accepted_town"), short="镇窗口"),
    Column("区窗口受理", "count", _figure("accepted_district"), short="区窗口"),
    Column("办结", "count", _figure("decided")),
    Column("准予", "count", _figure("approved")),
    Column("不予许可", "count", _figure("rejected")),
    Column("不予受理", "count", _figure("not_accepted")),
    Column("按期办结", "count", _figure("on_time"), short="按期"),
    Column("超期办结", "count", _figure("overdue"), short="超期"),
    Column("按期办结率", "percent", _figure("on_time_rate"), 11, "按期率"),
    Column("平均办理时长（工作日）", "days", _figure("mean_days"), 12, "平均时长"),
    Column("P90办理时长（工作日）", "count", _figure("p90_days"), 12, "P90时长"),
    Column("补正件数", "count", _figure("supplement_requested"), short="补正"),
    Column("补正率", "percent", _figure("supplement_rate")),
    Column("在办", "count", _figure("in_progress"), 8),
    Column("逾期在办", "count", _figure("open_overdue")),
)
_NOT_PER_MONTH: Final = frozenset({"在办", "逾期在办"})


def _of_group(column: Column[Figures]) -> Column[GroupFigures]:
    return Column(
        column.header, column.kind, lambda row: column.value(row.figures), column.width, column.short
    )


def _of_month(column: Column[Figures]) -> Column[MonthFigures]:
    return Column(
        column.header, column.kind, lambda row: column.value(row.figures), column.width, column.short
    )


TOWN_COLUMNS: Final[tuple[Column[GroupFigures], ...]] = (
    Column("镇", "text", lambda row: row.town_name, 10),
    *(_of_group(column) for column in FIGURE_COLUMNS),
)
DETAIL_COLUMNS: Final[tuple[Column[GroupFigures], ...]] = (
    Column("镇", "text", lambda row: row.town_name, 10),
    Column("事项编码", "text", lambda row: row.item_code, 15),
    Column("事项名称", "text", lambda row: row.item_name, 36),
    *(_of_group(column) for column in FIGURE_COLUMNS),
)
ITEM_COLUMNS: Final[tuple[Column[GroupFigures], ...]] = (
    Column("事项编码", "text", lambda row: row.item_code, 15),
    Column("事项名称", "text", lambda row: row.item_name, 36),
    *(_of_group(column) for column in FIGURE_COLUMNS),
)
MONTH_COLUMNS: Final[tuple[Column[MonthFigures], ...]] = (
    Column("月份", "text", lambda row: row.label, 10),
    *(_of_month(column) for column in FIGURE_COLUMNS if column.header not in _NOT_PER_MONTH),
)


def _china(moment: datetime, pattern: str) -> str:
    return moment.astimezone(CHINA_TZ).strftime(pattern)


OVERDUE_COLUMNS: Final[tuple[Column[OverdueCase], ...]] = (
    Column("办件编号", "text", lambda case: case.case_number, 20),
    Column("镇", "text", lambda case: case.town_name, 10),
    Column("事项编码", "text", lambda case: case.item_code, 15),
    Column("事项名称", "text", lambda case: case.item_name, 36),
    Column("受理窗口", "text", lambda case: COUNTER_NAMES.get(case.counter, case.counter), 10),
    Column("受理日期", "text", lambda case: _china(case.accepted_at, "%Y-%m-%d"), 12),
    Column("办理时限届满", "text", lambda case: _china(case.due_at, "%Y-%m-%d %H:%M"), 17, "时限届满"),
    Column("逾期（工作日）", "count", lambda case: case.days_overdue, 12, "逾期天数"),
)


@dataclass(frozen=True, slots=True)
class View:
    """A table of the report, its values already read: a name (the sheet name), a title, the columns'
    headers, kinds and widths, the rows' cells, and a 合计 row if the view has one."""

    name: str
    title: str
    headers: tuple[str, ...]
    #: The headers for the terminal (shorter where the full one is long).
    short_headers: tuple[str, ...]
    kinds: tuple[Kind, ...]
    widths: tuple[float, ...]
    rows: list[list[Cell]]
    total: list[Cell] | None = None
    #: How many leading columns name the row (frozen in XLSX, left-aligned).
    key_columns: int = 1

    @classmethod
    def of(
        cls,
        name: str,
        title: str,
        columns: Sequence[Column[Row]],
        rows: Sequence[Row],
        total: Row | None = None,
        *,
        key_columns: int = 1,
    ) -> "View":
        """Read every column of every row (and of the total row, whose key cells become 合计)."""
        total_cells: list[Cell] | None = None
        if total is not None:
            labels: list[Cell] = [TOTAL_LABEL, *([""] * (key_columns - 1))]
            total_cells = labels + [column.value(total) for column in columns[key_columns:]]
        return cls(
            name=name,
            title=title,
            headers=tuple(column.header for column in columns),
            short_headers=tuple(column.short or column.header for column in columns),
            kinds=tuple(column.kind for column in columns),
            widths=tuple(column.width for column in columns),
            rows=[[column.value(row) for column in columns] for row in rows],
            total=total_cells,
            key_columns=key_columns,
        )


def views(report: SupervisionReport) -> list[View]:
    """The report's tables in the order they are shown: 汇总, 明细, 按事项, 月度趋势, 逾期在办."""
    group_total = GroupFigures(figures=report.total)
    month_total = MonthFigures(month=report.generated_at.date(), figures=report.total)
    return [
        View.of("汇总", "各镇汇总", TOWN_COLUMNS, report.towns, group_total),
        View.of("明细", "镇×事项明细", DETAIL_COLUMNS, report.detail, group_total, key_columns=3),
        View.of("按事项", "各事项汇总", ITEM_COLUMNS, report.items, group_total, key_columns=2),
        View.of(
            "月度趋势",
            "月度趋势（受理按受理月份，办结按办结月份）",
            MONTH_COLUMNS,
            report.months,
            month_total,
        ),
        View.of("逾期在办", "逾期在办办件", OVERDUE_COLUMNS, report.overdue_cases),
    ]


def format_cell(value: Cell, kind: Kind, *, missing: str = "—") -> str:
    """A value as text: ``83.3%``, ``2.2``, ``12``; ``missing`` for a value that does not exist."""
    if value is None:
        return missing
    if kind == "percent" and isinstance(value, int | float):
        return f"{_one_decimal(value * 100)}%"
    if kind == "days" and isinstance(value, int | float):
        return _one_decimal(value)
    return str(value)


def _one_decimal(value: float) -> str:
    """Rounded half up to one decimal, as people and Excel's ``0.0`` round (3.25 → 3.3)."""
    return str(Decimal(repr(value)).quantize(_TENTH, ROUND_HALF_UP))
