"""调度通报 (supervision reports) from the work ledger: figures per town × item, and their CSV, XLSX and HTML.

:func:`build_report` computes a :class:`SupervisionReport` (definitions in :mod:`workers.report.models`);
:mod:`workers.report.export` writes CSV and XLSX, :mod:`workers.report.html` the self-contained HTML page
with its charts. ``shuangshi report`` is the command line.
"""

from workers.report.models import (
    DEFINITIONS,
    Figures,
    GroupFigures,
    MonthFigures,
    OverdueCase,
    SupervisionReport,
)
from workers.report.service import build_report
from workers.report.workdays import WorkdayIndex

__all__ = [
    "DEFINITIONS",
    "Figures",
    "GroupFigures",
    "MonthFigures",
    "OverdueCase",
    "SupervisionReport",
    "WorkdayIndex",
    "build_report",
]
