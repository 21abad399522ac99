"""ISO 8601 durations, dates and repeating intervals as BPMN timers use them (epoch milliseconds)."""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine.clock import datetime_to_ms, ms_to_datetime

_DURATION = re.compile(
    r"^(?P<sign>-)?P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)
_ZONE_SUFFIX = re.compile(r"^(?P<base>.+?)\[(?P<zone>[^\]]+)\]$")


class TimerFormatError(ValueError):
    """A timer value that is not ISO 8601 (the message says which part)."""


@dataclass(frozen=True, slots=True)
class IsoDuration:
    months: int
    delta: timedelta
    negative: bool = False

    def add_to(self, start_ms: int) -> int:
        """The instant ``start + self`` in epoch ms (months move on the calendar, days are 24 h)."""
        start = ms_to_datetime(start_ms)
        sign = -1 if self.negative else 1
        if self.months:
            total = start.year * 12 + (start.month - 1) + sign * self.months
            year, month = divmod(total, 12)
            month += 1
            day = min(start.day, _days_in_month(year, month))
            start = start.replace(year=year, month=month, day=day)
        return datetime_to_ms(start + sign * self.delta)


def _days_in_month(year: int, month: int) -> int:
    nxt = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
    return (nxt - timedelta(days=1)).day


def parse_duration(text: str) -> IsoDuration:
    match = _DURATION.match(text.strip())
    if not match or text.strip() in {"P", "PT", "-P"} or text.strip().endswith("T"):
        raise TimerFormatError(f"'{text}' is not an ISO 8601 duration (e.g. PT15M, P1D, P1Y2M)")
    parts = {k: v for k, v in match.groupdict().items() if v is not None and k != "sign"}
    months = int(parts.get("years", 0)) * 12 + int(parts.get("months", 0))
    delta = timedelta(
        weeks=int(parts.get("weeks", 0)),
        days=int(parts.get("days", 0)),
        hours=int(parts.get("hours", 0)),
        minutes=int(parts.get("minutes", 0)),
        seconds=float(parts.get("seconds", 0)),
    )
    return IsoDuration(months=months, delta=delta, negative=match.group("sign") == "-")


def parse_datetime(text: str) -> int:
    """An ISO 8601 date-time with an offset (``Z``, ``+08:00``) or a zone id in brackets."""
    raw = text.strip()
    zone = None
    bracket = _ZONE_SUFFIX.match(raw)
    if bracket:
        raw = bracket.group("base")
        try:
            zone = ZoneInfo(bracket.group("zone"))
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise TimerFormatError(f"'{text}': unknown time zone '{bracket.group('zone')}'") from exc
    try:
        value = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise TimerFormatError(f"'{text}' is not an ISO 8601 date-time") from exc
    if value.tzinfo is None:
        if zone is None:
            raise TimerFormatError(f"'{text}' has no time zone: add an offset such as Z or +08:00")
        value = value.replace(tzinfo=zone)
    return datetime_to_ms(value)


@dataclass(frozen=True, slots=True)
class Cycle:
    """``R[n]/[start/]duration``: ``repetitions`` is -1 for unbounded."""

    repetitions: int
    interval: IsoDuration
    start_ms: int | None = None

    def first_due(self, now_ms: int) -> int:
        if self.start_ms is not None and self.start_ms > now_ms:
            return self.start_ms
        return self.interval.add_to(now_ms)


def parse_cycle(text: str) -> Cycle:
    parts = text.strip().split("/")
    if len(parts) not in (2, 3) or not parts[0].startswith("R"):
        raise TimerFormatError(f"'{text}' is not an ISO 8601 repeating interval (e.g. R3/PT10S)")
    count = parts[0][1:]
    if count and not count.isdigit():
        raise TimerFormatError(f"'{text}': the repetition count '{count}' is not a number")
    repetitions = int(count) if count else -1
    start = parse_datetime(parts[1]) if len(parts) == 3 else None
    return Cycle(repetitions=repetitions, interval=parse_duration(parts[-1]), start_ms=start)
