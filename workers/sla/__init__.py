"""Working-day time limits (办理时限): deadlines, warnings, 补正 pauses and working days for reports.

``load_working_calendar()`` builds the :class:`WorkingCalendar` (chinese_calendar, then
``config/holidays.yaml``, then Monday–Friday with a loud warning); :func:`schedule`, :func:`pause` and
:func:`resume` compute the timer dates a process carries in :class:`SlaState`. The rules are documented in
:mod:`workers.sla.service`.
"""

from workers.sla.calendar import (
    HOLIDAYS_FILE_NAME,
    CalendarError,
    CalendarSource,
    HolidayProblem,
    HolidaysFileError,
    WorkingCalendar,
    YearTable,
    default_holidays_path,
    library_years,
    load_working_calendar,
    parse_holiday_tables,
)
from workers.sla.models import OfficeHours, SlaDeadlines, SlaState
from workers.sla.service import (
    DEFAULT_OFFICE_HOURS,
    SlaStateError,
    acceptance_day,
    pause,
    resume,
    schedule,
    working_days_between,
)

__all__ = [
    "DEFAULT_OFFICE_HOURS",
    "HOLIDAYS_FILE_NAME",
    "CalendarError",
    "CalendarSource",
    "HolidayProblem",
    "HolidaysFileError",
    "OfficeHours",
    "SlaDeadlines",
    "SlaState",
    "SlaStateError",
    "WorkingCalendar",
    "YearTable",
    "acceptance_day",
    "default_holidays_path",
    "library_years",
    "load_working_calendar",
    "parse_holiday_tables",
    "pause",
    "resume",
    "schedule",
    "working_days_between",
]
