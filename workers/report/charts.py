"""The report's charts: matplotlib figures rendered as SVG text, to be inlined in the HTML page.

Text stays text (``svg.fonttype = none``): the browser draws the Chinese labels with its own fonts, so no font
file is needed to build the page and none is embedded; the page names a list of common Chinese fonts and
falls back to the browser's sans-serif. matplotlib measures the labels with the first of those fonts it
finds on the build machine (or DejaVu Sans, then the layout is a little off for Chinese).

Each chart's root ``<svg>`` gets an ``id`` and a distinct hash salt, so that the ids matplotlib gives clip
paths and markers do not collide between charts in one page. The metadata block (creator, date) is left out.
"""

import io
import logging
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final

import matplotlib as mpl
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from matplotlib.typing import RcKeyType

from workers.report.models import SupervisionReport

__all__ = ["CHART_FONTS", "Chart", "charts"]

#: Fonts the SVG text asks for, in order; the browser takes the first it has.
CHART_FONTS: Final = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "Microsoft YaHei",
    "PingFang SC",
    "WenQuanYi Zen Hei",
    "SimHei",
    "DejaVu Sans",
)
_COLORS: Final = {
    "accepted": "#2f6db5",
    "decided": "#3a9a5b",
    "overdue": "#d9822b",
    "open_overdue": "#c0392b",
}
_NO_METADATA: Final[dict[str, Any]] = {"Creator": None, "Date": None, "Format": None, "Type": None}


class Chart:
    """A rendered chart: its id in the page, its title and the ``<svg>`` element as text."""

    __slots__ = ("chart_id", "svg", "title")

    def __init__(self, chart_id: str, title: str, svg: str) -> None:
        self.chart_id = chart_id
        self.title = title
        self.svg = svg


def _style(chart_id: str) -> dict[RcKeyType, Any]:
    return {
        "svg.fonttype": "none",
        "svg.hashsalt": chart_id,
        "svg.id": chart_id,
        "font.family": "sans-serif",
        "font.sans-serif": list(CHART_FONTS),
        "font.size": 10,
        "axes.unicode_minus": False,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "axes.grid.axis": "y",
        "grid.color": "#e0e0e0",
        "axes.axisbelow": True,
    }


def _render(chart_id: str, title: str, draw: Callable[[Axes], None], size: tuple[float, float]) -> Chart:
    fonts_log = logging.getLogger("matplotlib.font_manager")
    level = fonts_log.level
    # "Failed to find font weight normal for WenQuanYi Zen Hei": matplotlib only measures with that font.
    fonts_log.setLevel(logging.ERROR)
    try:
        return _draw(chart_id, title, draw, size)
    finally:
        fonts_log.setLevel(level)


def _draw(chart_id: str, title: str, draw: Callable[[Axes], None], size: tuple[float, float]) -> Chart:
    with mpl.rc_context(_style(chart_id)), warnings.catch_warnings():
        # Without a Chinese font on the build machine matplotlib warns that it cannot measure the glyphs;
        # the browser draws them (fonttype none), so only the layout is approximate.
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font", category=UserWarning)
        # Fixed margins rather than a layout engine: the labels are short and known, and constrained layout
        # would draw every chart twice.
        figure = Figure(figsize=size)
        figure.subplots_adjust(left=0.075, right=0.99, bottom=0.1, top=0.86)
        draw(figure.subplots())
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata=_NO_METADATA)
    text = buffer.getvalue()
    return Chart(chart_id, title, text[text.index("<svg") :])


def _top(values: Iterable[int]) -> float:
    """The top of a count axis: room above the highest value for its label; 1 when everything is 0."""
    return max(1, max(values, default=0)) * 1.15


def _grouped_bars(
    axes: Axes, labels: Sequence[str], series: Sequence[tuple[str, str, Sequence[int]]], ylabel: str
) -> None:
    count = len(series)
    width = 0.8 / count
    positions = list(range(len(labels)))
    for index, (name, color, values) in enumerate(series):
        offset = (index - (count - 1) / 2) * width
        bars = axes.bar([p + offset for p in positions], values, width, label=name, color=color)
        axes.bar_label(bars, fontsize=8, padding=2)
    axes.set_xticks(positions, labels)
    axes.set_ylabel(ylabel)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylim(0, _top(value for _, _, values in series for value in values))
    axes.legend(loc="lower right", bbox_to_anchor=(1, 1), frameon=False, ncols=count)


def charts(report: SupervisionReport) -> list[Chart]:
    """Per-town volumes (受理, 办结), per-town overdue (超期办结, 逾期在办), and the monthly trend."""
    towns = [row.town_name for row in report.towns]
    figures = [row.figures for row in report.towns]
    rendered = [
        _render(
            "chart-town-volume",
            "各镇受理与办结件数",
            lambda axes: _grouped_bars(
                axes,
                towns,
                [
                    ("受理", _COLORS["accepted"], [f.accepted for f in figures]),
                    ("办结", _COLORS["decided"], [f.decided for f in figures]),
                ],
                "件数",
            ),
            (10, 3.6),
        ),
        _render(
            "chart-town-overdue",
            "各镇超期办结与逾期在办件数",
            lambda axes: _grouped_bars(
                axes,
                towns,
                [
                    ("超期办结", _COLORS["overdue"], [f.overdue for f in figures]),
                    ("逾期在办", _COLORS["open_overdue"], [f.open_overdue for f in figures]),
                ],
                "件数",
            ),
            (10, 3.6),
        ),
    ]
    if report.months:
        rendered.append(
            _render("chart-monthly-trend", "月度趋势", lambda axes: _trend(axes, report), (10, 3.6))
        )
    return rendered


def _trend(axes: Axes, report: SupervisionReport) -> None:
    labels = [month.label for month in report.months]
    positions = list(range(len(labels)))
    for name, color, values in (
        ("受理", _COLORS["accepted"], [m.figures.accepted for m in report.months]),
        ("办结", _COLORS["decided"], [m.figures.decided for m in report.months]),
        ("超期办结", _COLORS["overdue"], [m.figures.overdue for m in report.months]),
    ):
        axes.plot(positions, values, marker="o", markersize=4, linewidth=2, label=name, color=color)
    step = max(1, len(labels) // 12)
    axes.set_xticks(positions[::step], labels[::step])
    axes.set_ylabel("件数")
    axes.set_ylim(0, _top(m.figures.accepted for m in report.months))
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.margins(x=0.05)
    axes.legend(loc="lower right", bbox_to_anchor=(1, 1), frameon=False, ncols=3)
