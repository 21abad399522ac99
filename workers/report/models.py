"""The figures of a 调度通报 (supervision report), as :func:`workers.report.build_report` returns them.

Definitions (the 口径 the report prints in its notes, :data:`DEFINITIONS`):

* **受理** (accepted): cases registered at a counter in the period (the projection's ``accepted_at``, when
  the time limit starts), by counter: 镇窗口 (``town``) / 区窗口 (``district``). A case later refused
  (不予受理) or withdrawn was still received and counts here.
* **办结** (decided): cases closed in the period with a decision: 准予 (``approved``) or 不予许可
  (``rejected``). **不予受理** (not accepted) cases closed in the period are counted apart and are not 办结.
* **按期 / 超期办结** (on time / overdue): of the 办结 cases, closed by their due time or after it
  (``closed_at <= due_at``, the due time after any 补正 pause). A case without a due time is in neither.
* **办理时长** (handling time): working days from acceptance to closing of the 办结 cases, counted as the SLA
  counts them (:mod:`workers.report.workdays`): whole working days, a case closed the day it was accepted
  took 0, and 补正 time (the applicant's) is included. The mean has one decimal; P90 is the nearest rank: 90 %
  of the cases were decided within that many working days.
* **在办 / 逾期在办** (in progress / open overdue): cases still in progress, and of those the ones past their
  due time, at the report's generation time, whatever the period.
* **补正率** (supplement rate): share of the accepted cases that received a request to supplement
  materials (一次性告知补正, ledger event ``materials-requested``).
* Periods are calendar days in China time, both ends included.
"""

from datetime import date, datetime
from typing import Final

from pydantic import AwareDatetime, BaseModel, ConfigDict, computed_field

from workers.ledger import CHINA_TZ

__all__ = [
    "DEFINITIONS",
    "Figures",
    "GroupFigures",
    "MonthFigures",
    "OverdueCase",
    "SupervisionReport",
]

#: The definitions printed with every report (Chinese, for the readers).
DEFINITIONS: Final[tuple[tuple[str, str], ...]] = (
    ("统计期间", "按北京时间自然日计算，起止日均包含在内。"),
    (
        "受理",
        (
            "统计期内在窗口登记受理（开始计时）的办件，分镇便民服务中心窗口（镇窗口）和区政务服务大厅窗口"
            "（区窗口）；其后不予受理或撤回的办件仍计入受理数。"
        ),
    ),
    ("办结", "统计期内作出决定（准予或不予许可）的办件。不予受理的办件单独统计，不计入办结。"),
    (
        "按期办结／超期办结",
        (
            "办结件中，在办理时限（含补正暂停后顺延）届满前／后办结的件数；"
            "按期办结率＝按期办结÷（按期办结＋超期办结）。"
        ),
    ),
    (
        "办理时长",
        (
            "办结件自受理至办结所用的工作日数（扣除周末和法定节假日，计入调休上班日）：当日受理当日办结为0个"
            "工作日，17:30以后或非工作日的时间按下一个工作日计；补正期间计入时长。平均值保留一位小数；P90为"
            "最近秩法的90%分位数，即90%的办结件在该工作日数内办结。"
        ),
    ),
    ("在办／逾期在办", "截至报表生成时仍在办理的办件，及其中已超过办理时限的办件，不受统计期间限制。"),
    ("补正率", "统计期内受理的办件中，曾被一次性告知补正材料的件数所占比例。"),
    ("逾期天数", "办理时限届满日之后至报表生成日（含）的工作日数。"),
)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


class Figures(_Model):
    """The counts and times of one group of cases (a town × item, a town, an item, a month, or all)."""

    accepted_town: int = 0
    accepted_district: int = 0
    #: Accepted cases (of the two above) that received a materials request.
    supplement_requested: int = 0
    #: 办结: approved + rejected, closed in the period.
    decided: int = 0
    approved: int = 0
    rejected: int = 0
    not_accepted: int = 0
    on_time: int = 0
    overdue: int = 0
    #: Handling time of the decided cases in working days: mean, and P90 (nearest rank).
    mean_days: float | None = None
    p90_days: int | None = None
    #: At the report's generation time, whatever the period.
    in_progress: int = 0
    open_overdue: int = 0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def accepted(self) -> int:
        """Accepted at either counter."""
        return self.accepted_town + self.accepted_district

    @computed_field  # type: ignore[prop-decorator]
    @property
    def on_time_rate(self) -> float | None:
        """按期办结率: on time ÷ (on time + overdue); ``None`` without any."""
        return _ratio(self.on_time, self.on_time + self.overdue)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def supplement_rate(self) -> float | None:
        """补正率: accepted cases with a materials request ÷ accepted cases; ``None`` without any."""
        return _ratio(self.supplement_requested, self.accepted)

    @property
    def empty(self) -> bool:
        """Nothing to show: no case counted in any figure."""
        return not (self.accepted or self.decided or self.not_accepted or self.in_progress)


class GroupFigures(_Model):
    """A row of the report: the figures of a town × item, of a town (``item_code`` empty), of an item
    (``town_code`` empty)."""

    town_code: str = ""
    town_name: str = ""
    item_code: str = ""
    item_name: str = ""
    figures: Figures


class MonthFigures(_Model):
    """One calendar month (China time) of the trend: accepted by acceptance month, the rest by closing month.

    ``in_progress`` and ``open_overdue`` are not kept per month (they are a snapshot at generation time).
    """

    month: date
    figures: Figures

    @property
    def label(self) -> str:
        """``2025-09``."""
        return f"{self.month:%Y-%m}"


class OverdueCase(_Model):
    """An open case past its due time: no applicant data, only the case number and the process facts."""

    case_number: str
    town_code: str
    town_name: str
    item_code: str
    item_name: str
    counter: str
    accepted_at: AwareDatetime
    due_at: AwareDatetime
    #: Working days after the due day up to and including the day of the report (0: due earlier today).
    days_overdue: int


class SupervisionReport(_Model):
    """A whole 调度通报: filters, generation time, rows per town × item, per town, per item, the total, the
    monthly trend and the open overdue cases."""

    since: date | None
    until: date | None
    town_code: str | None
    item_code: str | None
    generated_at: AwareDatetime
    #: Town × item rows that have any figure, in catalog order.
    detail: tuple[GroupFigures, ...]
    #: One row per town of the catalog (or the one asked for), in catalog order, empty ones too.
    towns: tuple[GroupFigures, ...]
    #: One row per item of the catalog (or the one asked for), in catalog order, empty ones too.
    items: tuple[GroupFigures, ...]
    total: Figures
    months: tuple[MonthFigures, ...]
    #: Most overdue first.
    overdue_cases: tuple[OverdueCase, ...]
    #: The ledger's size and head hash at the time of the report (the chain is not re-verified here).
    ledger_events: int
    ledger_head_hash: str
    #: Years of the report's range whose holidays the calendar does not know (Monday–Friday assumed).
    calendar_unknown_years: tuple[int, ...] = ()

    @property
    def period_label(self) -> str:
        """``2025-09-22 至 2025-10-19``, ``2025-09-22 起``, ``至 2025-10-19`` or ``全部``."""
        if self.since and self.until:
            return f"{self.since} 至 {self.until}"
        if self.since:
            return f"{self.since} 起"
        if self.until:
            return f"至 {self.until}"
        return "全部"

    def generated_label(self, zone_name: str = "北京时间") -> str:
        """The generation time in China time, to the minute."""
        return f"{_china(self.generated_at):%Y-%m-%d %H:%M}（{zone_name}）"


def _china(moment: datetime) -> datetime:
    return moment.astimezone(CHINA_TZ)
