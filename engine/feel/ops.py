"""FEEL operators: arithmetic, comparison, equality and value properties.

Every function returns ``None`` (FEEL null) when the operands do not fit the operator, as
Camunda's FEEL engine does; none of them raises.
"""

from __future__ import annotations

import datetime as dt
from decimal import (
    ROUND_HALF_EVEN as _HALF_EVEN,
)
from decimal import (
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
)
from typing import Any

from engine.feel import temporal
from engine.feel.values import FeelFunction, FeelRange, YearsMonthsDuration

#: Arithmetic context: 34 significant digits (IEEE decimal128, as Java's MathContext.DECIMAL128).
NUMBER_CONTEXT = Context(prec=34, rounding=_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow])

_DATE = dt.date
_DATETIME = dt.datetime
_TIME = dt.time
_TIMEDELTA = dt.timedelta
_YM = YearsMonthsDuration
_ZERO = Decimal(0)


# ---------------------------------------------------------------- type names


def type_name(value: Any) -> str:
    """The FEEL type name of a value (as ``instance of`` spells it)."""
    if value is None:
        return "null"
    kind = type(value)
    name = _TYPE_NAMES.get(kind)
    if name is not None:
        return name
    if isinstance(value, FeelFunction):
        return "function"
    return "Any"


_TYPE_NAMES: dict[type, str] = {
    bool: "boolean",
    Decimal: "number",
    str: "string",
    dt.date: "date",
    dt.datetime: "date and time",
    dt.time: "time",
    dt.timedelta: "days and time duration",
    YearsMonthsDuration: "years and months duration",
    list: "list",
    dict: "context",
    FeelRange: "range",
    FeelFunction: "function",
}


# ---------------------------------------------------------------- arithmetic


def add(a: Any, b: Any) -> Any:
    ta = type(a)
    tb = type(b)
    try:
        if ta is Decimal and tb is Decimal:
            return NUMBER_CONTEXT.add(a, b)
        if ta is str and tb is str:
            return a + b
        if tb is _TIMEDELTA or tb is _YM:
            return _plus_duration(a, b, negate=False)
        if ta is _TIMEDELTA or ta is _YM:
            if tb is _TIMEDELTA or tb is _YM:
                return None
            return _plus_duration(b, a, negate=False)
    except (ArithmeticError, ValueError, OverflowError):
        return None
    return None


def subtract(a: Any, b: Any) -> Any:
    ta = type(a)
    tb = type(b)
    try:
        if ta is Decimal and tb is Decimal:
            return NUMBER_CONTEXT.subtract(a, b)
        if tb is _TIMEDELTA or tb is _YM:
            return _plus_duration(a, b, negate=True)
        if ta is not tb:
            return None
        if ta is _DATE:
            return dt.timedelta(days=(a - b).days)
        if ta is _DATETIME:
            if (a.tzinfo is None) != (b.tzinfo is None):
                return None
            return temporal.between(b, a)
        if ta is _TIME:
            if (a.tzinfo is None) != (b.tzinfo is None):
                return None
            return temporal.time_between(b, a)
    except (ArithmeticError, ValueError, OverflowError):
        return None
    return None


def _plus_duration(value: Any, duration: Any, *, negate: bool) -> Any:
    """``value ± duration`` for a temporal or duration ``value``."""
    kind = type(value)
    if type(duration) is _YM:
        months = -duration.months if negate else duration.months
        if kind is _YM:
            return YearsMonthsDuration(value.months + months)
        if kind is _DATE or kind is _DATETIME:
            return temporal.add_months(value, months)
        return None
    delta: dt.timedelta = -duration if negate else duration
    if kind is _TIMEDELTA:
        return value + delta
    if kind is _DATETIME:
        return temporal.add_exact(value, delta)
    if kind is _DATE:
        return (dt.datetime.combine(value, dt.time()) + delta).date()
    if kind is _TIME:
        return temporal.shift_time(value, delta)
    return None


def multiply(a: Any, b: Any) -> Any:
    ta = type(a)
    tb = type(b)
    try:
        if ta is Decimal and tb is Decimal:
            return NUMBER_CONTEXT.multiply(a, b)
        if ta is Decimal and (tb is _TIMEDELTA or tb is _YM):
            return _scale_duration(b, int(a))
        if tb is Decimal and (ta is _TIMEDELTA or ta is _YM):
            return _scale_duration(a, int(b))
    except (ArithmeticError, ValueError, OverflowError):
        return None
    return None


def _scale_duration(duration: Any, factor: int) -> Any:
    if type(duration) is _YM:
        return YearsMonthsDuration(duration.months * factor)
    return duration * factor


def divide(a: Any, b: Any) -> Any:
    ta = type(a)
    tb = type(b)
    try:
        if ta is Decimal and tb is Decimal:
            if not b:
                return None
            return NUMBER_CONTEXT.divide(a, b)
        if tb is Decimal:
            if not b:
                return None
            if ta is _YM:
                return YearsMonthsDuration(int(NUMBER_CONTEXT.divide(Decimal(a.months), b)))
            if ta is _TIMEDELTA:
                millis = Decimal(temporal.timedelta_micros(a) // 1000)
                return dt.timedelta(milliseconds=int(NUMBER_CONTEXT.divide(millis, b)))
            return None
        if ta is _YM and tb is _YM:
            if not b.months:
                return None
            return NUMBER_CONTEXT.divide(Decimal(a.months), Decimal(b.months))
        if ta is _TIMEDELTA and tb is _TIMEDELTA:
            divisor = temporal.timedelta_micros(b) // 1000
            if not divisor:
                return None
            return NUMBER_CONTEXT.divide(Decimal(temporal.timedelta_micros(a) // 1000), Decimal(divisor))
    except (ArithmeticError, ValueError, OverflowError):
        return None
    return None


def power(a: Any, b: Any) -> Any:
    if type(a) is not Decimal or type(b) is not Decimal:
        return None
    try:
        if b == b.to_integral_value():
            exponent = int(b)
            if exponent == 0:
                return Decimal(1)  # BigDecimal.pow(0) is 1, also for 0 ** 0
            if abs(exponent) > 999_999_999:
                return None
            return NUMBER_CONTEXT.power(a, exponent)
        result = float(a) ** float(b)
        if isinstance(result, complex):
            return None
        return Decimal(repr(result))
    except (ArithmeticError, ValueError, OverflowError, ZeroDivisionError):
        return None


def negate(a: Any) -> Any:
    """Unary minus: numbers only (Zeebe's engine gives null for ``-duration(...)`` too)."""
    if type(a) is Decimal:
        return a.copy_negate()
    return None


# ---------------------------------------------------------------- comparison


def _zone_key(value: dt.datetime | dt.time) -> object:
    region = temporal.zone_id(value)
    return region if region is not None else value.utcoffset()


def equals(a: Any, b: Any) -> bool | None:
    """FEEL ``=``: ``None`` when the values are of different types (except null)."""
    if a is None or b is None:
        return a is b
    ta = type(a)
    if ta is not type(b):
        return None
    if ta is Decimal or ta is str or ta is bool or ta is _DATE or ta is _TIMEDELTA or ta is _YM:
        return bool(a == b)
    if ta is _DATETIME or ta is _TIME:
        if (a.tzinfo is None) != (b.tzinfo is None):
            return None
        if a.tzinfo is None:
            return bool(a == b)
        return a.replace(tzinfo=None) == b.replace(tzinfo=None) and _zone_key(a) == _zone_key(b)
    if ta is list:
        return len(a) == len(b) and all(equals(x, y) is True for x, y in zip(a, b, strict=True))
    if ta is dict:
        return a.keys() == b.keys() and all(equals(a[key], b[key]) is True for key in a)
    if ta is FeelRange:
        return bool(a == b)
    return a is b


def not_equals(a: Any, b: Any) -> bool | None:
    result = equals(a, b)
    return None if result is None else not result


def _order(a: Any, b: Any) -> int:
    return int(a > b) - int(a < b)


def compare(a: Any, b: Any) -> int | None:
    """-1/0/1 for ordered values of the same FEEL type, ``None`` otherwise."""
    ta = type(a)
    if ta is not type(b) or a is None:
        return None
    try:
        if ta is Decimal or ta is str or ta is _DATE or ta is _TIMEDELTA:
            return _order(a, b)
        if ta is _YM:
            return _order(a.months, b.months)
        if ta is _DATETIME:
            if (a.tzinfo is None) != (b.tzinfo is None):
                return None
            return _order(a, b)
        if ta is _TIME:
            if (a.tzinfo is None) != (b.tzinfo is None):
                return None
            if a.tzinfo is None:
                return _order(a, b)
            x = temporal.time_on_epoch(a)
            y = temporal.time_on_epoch(b)
            return _order(x, y)
    except TypeError:
        return None
    return None


def less(a: Any, b: Any) -> bool | None:
    if type(a) is Decimal and type(b) is Decimal:
        return bool(a < b)
    order = compare(a, b)
    return None if order is None else order < 0


def less_or_equal(a: Any, b: Any) -> bool | None:
    if type(a) is Decimal and type(b) is Decimal:
        return bool(a <= b)
    order = compare(a, b)
    return None if order is None else order <= 0


def greater(a: Any, b: Any) -> bool | None:
    if type(a) is Decimal and type(b) is Decimal:
        return bool(a > b)
    order = compare(a, b)
    return None if order is None else order > 0


def greater_or_equal(a: Any, b: Any) -> bool | None:
    if type(a) is Decimal and type(b) is Decimal:
        return bool(a >= b)
    order = compare(a, b)
    return None if order is None else order >= 0


def in_range(value: Any, start: Any, end: Any, start_included: bool, end_included: bool) -> bool | None:
    """Whether ``value`` lies in the interval; ``None`` if the three are not of one ordered type."""
    low = compare(value, start)
    high = compare(value, end)
    if low is None or high is None or compare(start, end) is None:
        return None
    return (low >= 0 if start_included else low > 0) and (high <= 0 if end_included else high < 0)


# ---------------------------------------------------------------- properties


def _duration_from_offset(value: dt.datetime | dt.time) -> Any:
    offset = value.utcoffset()
    return offset if offset is not None else None


def get_property(value: Any, name: str) -> Any:
    """A temporal or duration property (``.year``, ``.hours`` ...), ``None`` if it has none."""
    kind = type(value)
    if kind is _DATE or kind is _DATETIME:
        if name == "year":
            return Decimal(value.year)
        if name == "month":
            return Decimal(value.month)
        if name == "day":
            return Decimal(value.day)
        if name == "weekday":
            return Decimal(value.isoweekday())
        if kind is _DATE:
            return None
    if kind is _DATETIME or kind is _TIME:
        if name == "hour":
            return Decimal(value.hour)
        if name == "minute":
            return Decimal(value.minute)
        if name == "second":
            return Decimal(value.second)
        if name == "time offset":
            return None if value.tzinfo is None else _duration_from_offset(value)
        if name == "timezone":
            return temporal.zone_id(value)
        return None
    if kind is _TIMEDELTA:
        days, hours, minutes, seconds = temporal.duration_parts(value)
        part = {"days": days, "hours": hours, "minutes": minutes, "seconds": seconds}.get(name)
        return None if part is None else Decimal(part)
    if kind is _YM:
        sign = -1 if value.months < 0 else 1
        years, months = divmod(abs(value.months), 12)
        if name == "years":
            return Decimal(sign * years)
        if name == "months":
            return Decimal(sign * months)
    if kind is FeelRange:
        return {
            "start": value.start,
            "end": value.end,
            "start included": value.start_included,
            "end included": value.end_included,
        }.get(name)
    return None


def path(value: Any, name: str) -> Any:
    """``value.name``: a context entry, a property, or mapped over a list."""
    kind = type(value)
    if kind is dict:
        return value.get(name)
    if kind is list:
        return [path(item, name) for item in value]
    if value is None:
        return None
    return get_property(value, name)
