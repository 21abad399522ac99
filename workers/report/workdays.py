"""Working days between moments, fast: a working-day ordinal per calendar day, looked up per moment.

:func:`workers.sla.working_days_between` walks the calendar day by day, which is right for one deadline and
too slow for a report over a hundred thousand cases. :class:`WorkdayIndex` asks the
:class:`~workers.sla.calendar.WorkingCalendar` once per calendar day of a range and keeps, per day, the
number of working days from the start of the range up to and including that day. Counting is then two list
look-ups per case, with the same rule as the SLA code:

* a moment counts as the day it would be accepted on (:func:`workers.sla.acceptance_day`): its own day if
  that is a working day and the moment is before closing time (17:30), else the next working day;
* the working days between two moments are the working days after the first such day up to and including
  the second: a case accepted and closed on the same working day took 0 days, one closed the next working
  day 1. It is the smallest time limit under which the case would have been on time.

Moments are Unix seconds (what the report's query returns). The office's zone must keep one UTC offset
over the range (Asia/Shanghai has had no daylight saving time since 1991).
"""

from datetime import UTC, date, datetime, time, timedelta
from typing import Final

from workers.sla.calendar import WorkingCalendar
from workers.sla.models import OfficeHours
from workers.sla.service import DEFAULT_OFFICE_HOURS

__all__ = ["SECONDS_PER_DAY", "WorkdayIndex"]

SECONDS_PER_DAY: Final = 86_400
_EPOCH: Final = date(1970, 1, 1)


class WorkdayIndex:
    """Working-day ordinals of the calendar days ``first`` … ``last`` (office time), for moments in them.

    ``before_close[i]`` / ``after_close[i]`` are the ordinals of the acceptance day of a moment on day
    ``first_day_number + i`` (days since 1970-01-01, office time) before / at or after closing time. The
    lists are public so that a hot loop can index them directly; :meth:`ordinal` does the same.
    """

    def __init__(
        self,
        calendar: WorkingCalendar,
        first: date,
        last: date,
        *,
        office_hours: OfficeHours = DEFAULT_OFFICE_HOURS,
    ) -> None:
        if last < first:
            raise ValueError(f"the range ends ({last}) before it starts ({first})")
        zone = office_hours.zone
        offset = datetime.combine(first, time(12), tzinfo=zone).utcoffset()
        if offset is None or offset != datetime.combine(last, time(12), tzinfo=zone).utcoffset():
            raise ValueError(f"the office zone {office_hours.timezone} changes its UTC offset in the range")
        self.offset_seconds: Final = int(offset.total_seconds())
        closes = office_hours.closes
        self.close_seconds: Final = closes.hour * 3600 + closes.minute * 60 + closes.second
        self.first: Final = first
        self.last: Final = last
        self.first_day_number: Final = (first - _EPOCH).days
        self.cumulative: list[int] = []
        self.working: list[bool] = []
        count = 0
        day = first
        while day <= last:
            working = calendar.is_working_day(day)
            count += working
            self.working.append(working)
            self.cumulative.append(count)
            day += timedelta(days=1)
        self.after_close: list[int] = [total + 1 for total in self.cumulative]
        self.before_close: list[int] = [
            total if working else total + 1
            for total, working in zip(self.cumulative, self.working, strict=True)
        ]

    @classmethod
    def spanning(
        cls,
        calendar: WorkingCalendar,
        earliest: int,
        latest: int,
        *,
        office_hours: OfficeHours = DEFAULT_OFFICE_HOURS,
    ) -> "WorkdayIndex":
        """An index over the office-time days from Unix time ``earliest`` to ``latest``."""
        zone = office_hours.zone
        first = datetime.fromtimestamp(earliest, zone).date()
        last = datetime.fromtimestamp(max(earliest, latest), zone).date()
        return cls(calendar, first, last, office_hours=office_hours)

    def _position(self, day_number: int) -> int:
        position = day_number - self.first_day_number
        if not 0 <= position < len(self.cumulative):
            shown = _EPOCH + timedelta(days=day_number)
            raise ValueError(f"{shown} is outside the working-day index {self.first} … {self.last}")
        return position

    def local_day_number(self, seconds: int) -> int:
        """Days since 1970-01-01 of the office-time calendar day of a Unix time."""
        return (seconds + self.offset_seconds) // SECONDS_PER_DAY

    def ordinal(self, seconds: int) -> int:
        """The working-day ordinal of the day a moment (Unix seconds) counts as accepted on."""
        local = seconds + self.offset_seconds
        position = self._position(local // SECONDS_PER_DAY)
        if local % SECONDS_PER_DAY < self.close_seconds:
            return self.before_close[position]
        return self.after_close[position]

    def working_days_between(self, start: int, end: int) -> int:
        """Working days from ``start`` to ``end`` (Unix seconds), counted as the SLA code counts them."""
        if end < start:
            raise ValueError(f"end {end} is before start {start}")
        return self.ordinal(end) - self.ordinal(start)

    def day_ordinal(self, day: date) -> int:
        """How many working days lie from the start of the range up to and including ``day``."""
        return self.cumulative[self._position((day - _EPOCH).days)]

    @staticmethod
    def seconds(moment: datetime) -> int:
        """Unix seconds (floor) of an aware datetime."""
        if moment.tzinfo is None:
            raise ValueError(f"{moment.isoformat()} has no time zone")
        return int((moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(seconds=1))
