"""Working-day deadlines of a case: schedule, 补正 pause and resume, and working days for reports.

The rules (all times in the office's zone, :class:`~workers.sla.models.OfficeHours`, default
09:00–17:30 Asia/Shanghai):

**Acceptance day.** A case accepted on a working day before closing time (17:30) is accepted that day.
Accepted at or after closing time, or on a non-working day (weekend, holiday, online at night), it
counts as accepted on the next working day (:func:`acceptance_day`).

**Deadline.** As in 民法典 第201条 (the first day is not counted), the N working days of a time limit are
the N working days after the acceptance day; the deadline ``due_at`` is the closing time of the N-th.
即办 (N = 0) is due at the closing time of the acceptance day itself, so a 即办 case accepted on Friday
evening is due on Monday at 17:30. A case is overdue from ``due_at`` on (that is when the red timer
fires): finished at 17:29:59 on the due day is on time, at 17:30:00 it is not.

**Warning.** ``warn_at`` is the closing time of the working day ``warn_days_before`` working days before
the due day (default 1: the evening before). It is never earlier than the closing time of the acceptance
day, so for a limit no longer than ``warn_days_before`` the warning comes at the close of the acceptance
day. When that leaves no earlier day (即办, or ``warn_days_before=0``) the warning comes half-way between
the start of the clock (the acceptance, or opening time of the due day if later) and ``due_at``, rounded
up to the minute.

**补正 pause** (day granularity). :func:`pause` stops the clock; the working days after the acceptance
day (or, after an earlier pause, the resume day) up to and including the calendar day of the pause count
as used, whatever the hour (the office had that day), capped at the limit. :func:`resume` restarts it:
the resume moment is treated like a new acceptance (same closing-time rule), and the remaining working
days are counted after that day. So a pause before the deadline moves it one working day later for each
working day after the pause day up to and including the day the resume counts as: a pause and resume on
the same working day before closing time leave it unchanged. While paused there is no deadline.

**Working days between** (:func:`working_days_between`, for reports): the working days after the
acceptance day up to the day the end moment would count as accepted on. It is the smallest time limit
under which a case finished at ``end`` would be on time: on time ⇔ ``working_days_between(accepted_at,
completed_at) <= limit_days``.
"""

from datetime import date, datetime, timedelta
from typing import Final

from workers.sla.calendar import CalendarSource, WorkingCalendar
from workers.sla.models import OfficeHours, SlaDeadlines, SlaState

__all__ = [
    "DEFAULT_OFFICE_HOURS",
    "SlaStateError",
    "acceptance_day",
    "pause",
    "resume",
    "schedule",
    "working_days_between",
]

DEFAULT_OFFICE_HOURS: Final = OfficeHours()


class SlaStateError(ValueError):
    """A pause or resume that does not fit the state (pausing twice, resuming a running clock, time going
    backwards)."""


def _local(moment: datetime, office_hours: OfficeHours, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {moment.isoformat()}")
    return moment.astimezone(office_hours.zone)


def _closing(day: date, office_hours: OfficeHours) -> datetime:
    return datetime.combine(day, office_hours.closes, tzinfo=office_hours.zone)


def _opening(day: date, office_hours: OfficeHours) -> datetime:
    return datetime.combine(day, office_hours.opens, tzinfo=office_hours.zone)


def acceptance_day(
    at: datetime, *, calendar: WorkingCalendar, office_hours: OfficeHours = DEFAULT_OFFICE_HOURS
) -> date:
    """The working day a moment counts as: its own day if a working day before closing, else the next."""
    local = _local(at, office_hours, "at")
    day = local.date()
    if calendar.is_working_day(day) and local.time() < office_hours.closes:
        return day
    return calendar.next_working_day(day)


def schedule(
    accepted_at: datetime,
    limit_days: int,
    *,
    warn_days_before: int = 1,
    calendar: WorkingCalendar,
    office_hours: OfficeHours = DEFAULT_OFFICE_HOURS,
) -> SlaDeadlines:
    """The deadlines of a case accepted at ``accepted_at`` with a limit of ``limit_days`` working days."""
    accepted = _local(accepted_at, office_hours, "accepted_at")
    if limit_days < 0:
        raise ValueError("limit_days must not be negative")
    if warn_days_before < 0:
        raise ValueError("warn_days_before must not be negative")
    return _deadlines(
        accepted_at=accepted,
        limit_days=limit_days,
        warn_days_before=warn_days_before,
        consumed=0,
        resumed_at=None,
        calendar=calendar,
        office_hours=office_hours,
    )


def pause(
    state: SlaState,
    at: datetime,
    *,
    calendar: WorkingCalendar,
    office_hours: OfficeHours = DEFAULT_OFFICE_HOURS,
) -> SlaState:
    """Stop the clock at ``at`` (补正 requested): the used working days are kept, the deadline is cleared."""
    paused = _local(at, office_hours, "at")
    if state.is_paused:
        raise SlaStateError(f"the clock is already paused (since {state.paused_at})")
    if paused < state.running_since:
        raise SlaStateError(f"cannot pause at {paused.isoformat()}, before the clock started")
    start_day = acceptance_day(state.running_since, calendar=calendar, office_hours=office_hours)
    used = calendar.working_days_after(start_day, paused.date())
    consumed = min(state.limit_days, state.consumed_working_days + used)
    return SlaState(
        accepted_at=state.accepted_at,
        limit_days=state.limit_days,
        warn_days_before=state.warn_days_before,
        consumed_working_days=consumed,
        paused_at=paused,
        resumed_at=state.resumed_at,
    )


def resume(
    state: SlaState,
    at: datetime,
    *,
    calendar: WorkingCalendar,
    office_hours: OfficeHours = DEFAULT_OFFICE_HOURS,
) -> SlaDeadlines:
    """Restart the clock at ``at`` (materials supplemented): the remaining days count after that day."""
    resumed = _local(at, office_hours, "at")
    if state.paused_at is None:
        raise SlaStateError("the clock is not paused")
    if resumed < state.paused_at:
        raise SlaStateError(f"cannot resume at {resumed.isoformat()}, before the pause at {state.paused_at}")
    return _deadlines(
        accepted_at=state.accepted_at,
        limit_days=state.limit_days,
        warn_days_before=state.warn_days_before,
        consumed=state.consumed_working_days,
        resumed_at=resumed,
        calendar=calendar,
        office_hours=office_hours,
    )


def working_days_between(
    start: datetime,
    end: datetime,
    *,
    calendar: WorkingCalendar,
    office_hours: OfficeHours = DEFAULT_OFFICE_HOURS,
) -> int:
    """Working days from ``start`` (an acceptance) to ``end``: the least limit under which ``end`` is in time.

    Both moments are taken to the day they would count as accepted on; the result counts the working days
    after the first day up to and including the second.
    """
    first = _local(start, office_hours, "start")
    last = _local(end, office_hours, "end")
    if last < first:
        raise ValueError(f"end {last.isoformat()} is before start {first.isoformat()}")
    return calendar.working_days_after(
        acceptance_day(first, calendar=calendar, office_hours=office_hours),
        acceptance_day(last, calendar=calendar, office_hours=office_hours),
    )


def _deadlines(
    *,
    accepted_at: datetime,
    limit_days: int,
    warn_days_before: int,
    consumed: int,
    resumed_at: datetime | None,
    calendar: WorkingCalendar,
    office_hours: OfficeHours,
) -> SlaDeadlines:
    """The running state and its timer dates when the clock starts at acceptance or at ``resumed_at``."""
    started = resumed_at if resumed_at is not None else accepted_at
    remaining = limit_days - consumed
    start_day = acceptance_day(started, calendar=calendar, office_hours=office_hours)
    due_day = calendar.add_working_days(start_day, remaining)
    due_at = _closing(due_day, office_hours)

    warn_day = due_day
    for _ in range(warn_days_before):
        if warn_day <= start_day:
            break
        warn_day = calendar.previous_working_day(warn_day)  # never before start_day, a working day
    if warn_day < due_day:
        warn_at = _closing(warn_day, office_hours)
    else:
        clock_start = max(started, _opening(due_day, office_hours))
        warn_at = _ceil_to_minute(clock_start + (due_at - clock_start) / 2)

    unknown = tuple(
        year
        for year in range(started.year, due_day.year + 1)
        if calendar.year_source(year) is CalendarSource.WEEKDAYS
    )
    return SlaDeadlines(
        accepted_at=accepted_at,
        limit_days=limit_days,
        warn_days_before=warn_days_before,
        counting_from=start_day,
        consumed_working_days=consumed,
        working_days_remaining=remaining,
        due_at=due_at,
        warn_at=warn_at,
        unknown_years=unknown,
        state=SlaState(
            accepted_at=accepted_at,
            limit_days=limit_days,
            warn_days_before=warn_days_before,
            consumed_working_days=consumed,
            resumed_at=resumed_at,
            due_at=due_at,
            warn_at=warn_at,
        ),
    )


def _ceil_to_minute(moment: datetime) -> datetime:
    """``moment`` rounded up to a whole minute (timer dates read better without seconds)."""
    floor = moment.replace(second=0, microsecond=0)
    return moment if floor == moment else floor + timedelta(minutes=1)
