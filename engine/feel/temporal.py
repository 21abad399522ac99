"""Parsing, formatting and calendar arithmetic of FEEL temporal values.

The accepted text formats follow Camunda's FEEL engine (what Zeebe runs): dates
``YYYY-MM-DD``; times ``HH:MM[:SS[.fffffffff]]`` with an optional ``Z``/``+HH:MM`` offset,
``[Region/Zone]`` or ``@Region/Zone``; date-times are a date, ``T`` and a time; durations are
either years-and-months (``P1Y2M``) or days-and-time (``P1DT2H3M4.5S``), never mixed.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC = dt.UTC
_EPOCH_DATE = dt.date(2000, 1, 1)

_DATE_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_TIME_BODY = r"(\d{2}):(\d{2})(?::(\d{2}))?(?:\.(\d{1,9}))?"
_ZONE_PART = r"(?:(Z|[+-]\d{2}:\d{2})(?:\[([^\]]+)\])?|@(.+))"
_TIME_RE = re.compile(r"T?" + _TIME_BODY + _ZONE_PART + "?")
_DATE_TIME_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})T" + _TIME_BODY + _ZONE_PART + "?")
_YM_RE = re.compile(r"(-)?P(?=\d)(?:(\d+)Y)?(?:(\d+)M)?")
_DT_RE = re.compile(r"(-)?P(?=\d|T\d)(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)(?:\.(\d*))?S)?)?")


def zone_from_text(text: str) -> dt.tzinfo | None:
    """``Z``, ``+02:00`` or a region id (``Europe/Berlin``) as a tzinfo; ``None`` if unknown."""
    if text in {"Z", "z"}:
        return UTC
    if text[:1] in {"+", "-"} and len(text) == 6 and text[3] == ":":
        try:
            hours, minutes = int(text[1:3]), int(text[4:6])
        except ValueError:
            return None
        if hours > 18 or minutes > 59:
            return None
        offset = dt.timedelta(hours=hours, minutes=minutes)
        if not offset:
            return UTC
        return dt.timezone(offset if text[0] == "+" else -offset)
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def _micros(fraction: str | None) -> int:
    return int((fraction or "").ljust(6, "0")[:6])


def _tz_from_match(
    offset: str | None, bracket_zone: str | None, at_zone: str | None
) -> tuple[bool, dt.tzinfo | None]:
    """(ok, tzinfo) for the zone groups of a time or date-time match."""
    zone_text = bracket_zone or at_zone
    if zone_text is not None:
        zone = zone_from_text(zone_text)
        return zone is not None, zone
    if offset is not None:
        zone = zone_from_text(offset)
        return zone is not None, zone
    return True, None


def parse_date(text: str) -> dt.date | None:
    match = _DATE_RE.fullmatch(text)
    if match is None:
        return None
    try:
        return dt.date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def parse_time(text: str) -> dt.time | None:
    match = _TIME_RE.fullmatch(text)
    if match is None:
        return None
    ok, zone = _tz_from_match(match[5], match[6], match[7])
    if not ok:
        return None
    try:
        return dt.time(int(match[1]), int(match[2]), int(match[3] or 0), _micros(match[4]), tzinfo=zone)
    except ValueError:
        return None


def parse_date_time(text: str) -> dt.datetime | None:
    """A date-time string; a plain date string means its midnight (local)."""
    date = parse_date(text)
    if date is not None:
        return dt.datetime.combine(date, dt.time())
    match = _DATE_TIME_RE.fullmatch(text)
    if match is None:
        return None
    ok, zone = _tz_from_match(match[8], match[9], match[10])
    if not ok:
        return None
    try:
        return dt.datetime(
            int(match[1]),
            int(match[2]),
            int(match[3]),
            int(match[4]),
            int(match[5]),
            int(match[6] or 0),
            _micros(match[7]),
            tzinfo=zone,
        )
    except ValueError:
        return None


def parse_years_months(text: str) -> int | None:
    """Total months of a ``P1Y2M`` duration, or ``None``."""
    match = _YM_RE.fullmatch(text)
    if match is None:
        return None
    months = int(match[2] or 0) * 12 + int(match[3] or 0)
    return -months if match[1] else months


def parse_days_time(text: str) -> dt.timedelta | None:
    match = _DT_RE.fullmatch(text)
    if match is None:
        return None
    try:
        value = dt.timedelta(
            days=int(match[2] or 0),
            hours=int(match[3] or 0),
            minutes=int(match[4] or 0),
            seconds=int(match[5] or 0),
            microseconds=_micros(match[6]),
        )
    except OverflowError:
        return None
    return -value if match[1] else value


def zone_id(value: dt.datetime | dt.time) -> str | None:
    """The region id of a zoned value (``Europe/Berlin``), ``None`` for offsets and local values."""
    zone = value.tzinfo
    if isinstance(zone, ZoneInfo):
        return zone.key
    return None


def _format_offset(offset: dt.timedelta | None) -> str:
    if offset is None:
        return ""
    if not offset:
        return "Z"
    sign = "-" if offset < dt.timedelta(0) else "+"
    total = abs(int(offset.total_seconds()))
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    text = f"{sign}{hours:02d}:{minutes:02d}"
    return f"{text}:{seconds:02d}" if seconds else text


def _format_clock(hour: int, minute: int, second: int, micro: int) -> str:
    text = f"{hour:02d}:{minute:02d}:{second:02d}"
    if micro:
        text += "." + f"{micro:06d}".rstrip("0")
    return text


def format_time(value: dt.time) -> str:
    text = _format_clock(value.hour, value.minute, value.second, value.microsecond)
    if value.tzinfo is None:
        return text
    region = zone_id(value)
    if region is not None:
        return f"{text}@{region}"
    return text + _format_offset(value.utcoffset())


def format_date_time(value: dt.datetime) -> str:
    text = (
        value.date().isoformat()
        + "T"
        + _format_clock(value.hour, value.minute, value.second, value.microsecond)
    )
    if value.tzinfo is None:
        return text
    region = zone_id(value)
    if region is not None:
        return f"{text}@{region}"
    return text + _format_offset(value.utcoffset())


def format_years_months(months: int) -> str:
    if months == 0:
        return "P0Y"
    sign = "-" if months < 0 else ""
    years, rest = divmod(abs(months), 12)
    return sign + "P" + (f"{years}Y" if years else "") + (f"{rest}M" if rest else "")


def format_days_time(value: dt.timedelta) -> str:
    micros_total = (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds
    if micros_total == 0:
        return "P0D"
    sign = "-" if micros_total < 0 else ""
    seconds_total, micros = divmod(abs(micros_total), 1_000_000)
    days, rest = divmod(seconds_total, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    text = sign + "P" + (f"{days}D" if days else "")
    if hours or minutes or seconds or micros:
        text += "T" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
        if seconds or micros:
            second_text = str(seconds)
            if micros:
                second_text += "." + f"{micros:06d}".rstrip("0")
            text += second_text + "S"
    return text


def duration_parts(value: dt.timedelta) -> tuple[int, int, int, int]:
    """(days, hours, minutes, seconds) of a duration, each carrying the duration's sign."""
    total = value.days * 86_400 + value.seconds
    if value.microseconds and total < 0:
        total += 1  # truncate toward zero like java.time.Duration.getSeconds on negatives
    sign = -1 if total < 0 else 1
    days, rest = divmod(abs(total), 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    return sign * days, sign * hours, sign * minutes, sign * seconds


def add_months(value: dt.date, months: int) -> dt.date:
    """``value`` plus ``months`` calendar months, clamping the day to the month's last day.

    Works for ``date`` and ``datetime`` (time and zone are kept). Raises ``ValueError`` or
    ``OverflowError`` when the result is out of the supported year range.
    """
    month_index = value.year * 12 + (value.month - 1) + months
    year, month0 = divmod(month_index, 12)
    day = min(value.day, calendar.monthrange(year, month0 + 1)[1])
    return value.replace(year=year, month=month0 + 1, day=day)


def add_exact(value: dt.datetime, delta: dt.timedelta) -> dt.datetime:
    """Add an exact duration to a date-time (instant arithmetic for region zones)."""
    zone = value.tzinfo
    if isinstance(zone, ZoneInfo):
        return (value.astimezone(UTC) + delta).astimezone(zone)
    return value + delta


def between(start: dt.datetime, end: dt.datetime) -> dt.timedelta:
    """``end - start`` as an exact duration; both must be local or both zoned."""
    if start.tzinfo is not None:
        return end.astimezone(UTC) - start.astimezone(UTC)
    return end - start


def time_on_epoch(value: dt.time) -> dt.datetime:
    """A time placed on a fixed date (for arithmetic and comparisons of zoned times)."""
    return dt.datetime.combine(_EPOCH_DATE, value)


def shift_time(value: dt.time, delta: dt.timedelta) -> dt.time:
    """A time plus a duration, wrapping around midnight; the zone is kept."""
    shifted = dt.datetime.combine(_EPOCH_DATE, value.replace(tzinfo=None)) + delta
    return shifted.time().replace(tzinfo=value.tzinfo)


def time_between(start: dt.time, end: dt.time) -> dt.timedelta:
    if start.tzinfo is None:
        return time_on_epoch(end) - time_on_epoch(start)
    return time_on_epoch(end).astimezone(UTC) - time_on_epoch(start).astimezone(UTC)


def months_between(start: dt.date, end: dt.date) -> int:
    """Whole months from ``start`` to ``end`` (``java.time.Period.between`` without the days)."""
    total = (end.year * 12 + end.month) - (start.year * 12 + start.month)
    days = end.day - start.day
    if total > 0 and days < 0:
        total -= 1
    elif total < 0 and days > 0:
        total += 1
    return total


def timedelta_from_seconds(seconds: Decimal) -> dt.timedelta:
    """A duration from a (possibly fractional) number of seconds, rounded to microseconds."""
    micros = int((seconds * 1_000_000).to_integral_value())
    return dt.timedelta(microseconds=micros)


def timedelta_micros(value: dt.timedelta) -> int:
    return (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds
