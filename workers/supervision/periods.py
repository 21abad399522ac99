"""Reporting periods of supervision (抽查期间, 评估期间): a year, a quarter or a month, in China time.

One parser for ``spotcheck draw --period`` and ``evaluate --period``:

* ``2026`` — the calendar year;
* ``2026Q3`` (also ``2026-Q3``, ``2026q3``) — the quarter, here July to September;
* ``2026-09`` — the month.

A period covers whole calendar days in China Standard Time (like the ledger's reports): from the first
day's midnight (inclusive) to the midnight after the last day (exclusive).
"""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Final

from workers.ledger.service import CHINA_TZ

__all__ = ["Period", "PeriodError", "parse_period"]

_YEAR_RE: Final = re.compile(r"^(?P<year>[0-9]{4})$")
_QUARTER_RE: Final = re.compile(r"^(?P<year>[0-9]{4})-?[Qq](?P<quarter>[1-4])$")
_MONTH_RE: Final = re.compile(r"^(?P<year>[0-9]{4})-(?P<month>[0-9]{2})$")
_MIN_YEAR: Final = 2000
_MAX_YEAR: Final = 2999
_MONTHS_PER_QUARTER: Final = 3
_LAST_MONTH: Final = 12


class PeriodError(ValueError):
    """A period text that is not a year, a quarter or a month."""


@dataclass(frozen=True, slots=True)
class Period:
    """A period: its canonical label (``2026Q3``, ``2026-09``, ``2026``) and its first and last day."""

    label: str
    first: date
    last: date

    @property
    def start(self) -> datetime:
        """The first instant of the period (UTC), midnight China time of the first day."""
        return datetime.combine(self.first, time(), tzinfo=CHINA_TZ).astimezone(UTC)

    @property
    def end(self) -> datetime:
        """The first instant after the period (UTC): midnight China time after the last day."""
        following = date.fromordinal(self.last.toordinal() + 1)
        return datetime.combine(following, time(), tzinfo=CHINA_TZ).astimezone(UTC)

    def contains(self, instant: datetime) -> bool:
        """Whether an aware instant falls inside the period."""
        return self.start <= instant < self.end

    @property
    def title(self) -> str:
        """The Chinese name of the period: ``2026年第3季度``, ``2026年9月``, ``2026年``."""
        if "Q" in self.label:
            year, quarter = self.label.split("Q")
            return f"{year}年第{quarter}季度"
        if "-" in self.label:
            year, month = self.label.split("-")
            return f"{year}年{int(month)}月"
        return f"{self.label}年"

    @classmethod
    def quarter_of(cls, day: date) -> "Period":
        """The quarter ``day`` falls in."""
        return parse_period(f"{day.year}Q{(day.month - 1) // _MONTHS_PER_QUARTER + 1}")


def _month_end(year: int, month: int) -> date:
    if month == _LAST_MONTH:
        return date(year, 12, 31)
    return date.fromordinal(date(year, month + 1, 1).toordinal() - 1)


def parse_period(text: str) -> Period:
    """``2026``, ``2026Q3`` or ``2026-09`` as a :class:`Period`; :class:`PeriodError` says what is wrong."""
    value = text.strip()
    expected = "expected a year (2026), a quarter (2026Q3) or a month (2026-09)"
    if match := _YEAR_RE.fullmatch(value):
        year = int(match["year"])
        label, first, last = f"{year}", date(year, 1, 1), date(year, 12, 31)
    elif match := _QUARTER_RE.fullmatch(value):
        year, quarter = int(match["year"]), int(match["quarter"])
        first_month = (quarter - 1) * _MONTHS_PER_QUARTER + 1
        label = f"{year}Q{quarter}"
        first = date(year, first_month, 1)
        last = _month_end(year, first_month + _MONTHS_PER_QUARTER - 1)
    elif match := _MONTH_RE.fullmatch(value):
        year, month = int(match["year"]), int(match["month"])
        if not 1 <= month <= _LAST_MONTH:
            raise PeriodError(f"period {text!r}: month {month} is not 01..12")
        label, first, last = f"{year}-{month:02d}", date(year, month, 1), _month_end(year, month)
    else:
        raise PeriodError(f"period {text!r}: {expected}")
    if not _MIN_YEAR <= year <= _MAX_YEAR:
        raise PeriodError(f"period {text!r}: year {year} is outside {_MIN_YEAR}..{_MAX_YEAR}")
    return Period(label, first, last)
