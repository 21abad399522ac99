"""Pydantic models of the time-limit (办理时限) variables a process carries.

Attribute names are snake_case; process variables are their camelCase aliases. Datetimes are timezone-aware
and serialise as ISO 8601 with an offset (``2026-11-30T17:30:00+08:00``), the form BPMN timer ``timeDate``
expressions take::

    deadlines.model_dump(mode="json", by_alias=True)["dueAt"]  # '2026-11-30T17:30:00+08:00'
"""

from datetime import date, time
from typing import Annotated, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

__all__ = ["LimitDays", "OfficeHours", "SlaDeadlines", "SlaState"]

#: A time limit in working days, as in the catalog (0 is 即办: done on the acceptance day).
LimitDays = Annotated[int, Field(ge=0, le=365)]
WarnDays = Annotated[int, Field(ge=0, le=365)]


class _Model(BaseModel):
    """Immutable, camelCase aliases, unknown keys rejected."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
    )


class OfficeHours(_Model):
    """When the counter is open, in the office's time zone (default 09:00–17:30 Asia/Shanghai).

    ``closes`` is the end of a working day: deadlines fall on it, and an acceptance at or after it counts
    as made on the next working day. ``opens`` only matters for the warning of a same-day (即办) limit.
    """

    opens: time = time(9, 0)
    closes: time = time(17, 30)
    timezone: str = "Asia/Shanghai"

    @field_validator("opens", "closes")
    @classmethod
    def _local_time(cls, value: time) -> time:
        if value.tzinfo is not None:
            raise ValueError("give a local time without an offset; the zone is `timezone`")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _opens_before_closing(self) -> Self:
        if self.opens >= self.closes:
            raise ValueError("opens must be earlier than closes")
        return self

    @property
    def zone(self) -> ZoneInfo:
        """The office's time zone."""
        return ZoneInfo(self.timezone)


class SlaState(_Model):
    """The running state of a case's time limit, carried by the process in one variable.

    ``consumed_working_days`` are the working days used before the current run of the clock (0 until the
    first 补正 pause). While paused (``paused_at`` set) there is no deadline: ``due_at`` and ``warn_at``
    are null. ``resumed_at`` is the last resume, from which the current run counts (``accepted_at`` before
    any pause).
    """

    accepted_at: AwareDatetime
    limit_days: LimitDays
    warn_days_before: WarnDays = 1
    consumed_working_days: Annotated[int, Field(ge=0)] = 0
    paused_at: AwareDatetime | None = None
    resumed_at: AwareDatetime | None = None
    due_at: AwareDatetime | None = None
    warn_at: AwareDatetime | None = None

    @property
    def is_paused(self) -> bool:
        """Whether the clock is stopped (waiting for the applicant's 补正)."""
        return self.paused_at is not None

    @property
    def running_since(self) -> AwareDatetime:
        """The moment the current run of the clock started: the last resume, else the acceptance."""
        return self.resumed_at if self.resumed_at is not None else self.accepted_at

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.consumed_working_days > self.limit_days:
            raise ValueError("consumedWorkingDays cannot exceed limitDays")
        if (self.due_at is None) != (self.warn_at is None):
            raise ValueError("dueAt and warnAt are set together")
        if self.is_paused == (self.due_at is not None):
            raise ValueError("a paused state has no dueAt / warnAt; a running one has both")
        if self.resumed_at is not None and self.resumed_at < self.accepted_at:
            raise ValueError("resumedAt cannot be earlier than acceptedAt")
        if self.paused_at is not None and self.paused_at < self.running_since:
            raise ValueError("pausedAt cannot be earlier than acceptedAt or resumedAt")
        return self


class SlaDeadlines(_Model):
    """Deadlines computed by ``schedule`` or ``resume``: the timer dates and the state to carry on.

    ``counting_from`` is the day the remaining working days are counted after (the effective acceptance
    or resume day). ``unknown_years`` lists the years between that moment and ``due_at`` that are in
    neither chinese_calendar nor ``holidays.yaml`` (counted Monday–Friday): show them to the clerk.
    """

    accepted_at: AwareDatetime
    limit_days: LimitDays
    warn_days_before: WarnDays
    counting_from: date
    consumed_working_days: Annotated[int, Field(ge=0)]
    working_days_remaining: Annotated[int, Field(ge=0)]
    due_at: AwareDatetime
    warn_at: AwareDatetime
    unknown_years: tuple[int, ...] = ()
    state: SlaState
