"""FEEL value model.

FEEL values are represented by plain Python objects so that evaluation needs no wrapping:

========================== ==========================================================
FEEL type                  Python representation
========================== ==========================================================
null                       ``None``
boolean                    ``bool``
number                     ``decimal.Decimal`` (never ``int``/``float`` inside FEEL)
string                     ``str``
date                       ``datetime.date``
time                       ``datetime.time`` (naive = local time, aware = with offset/zone)
date and time              ``datetime.datetime`` (naive = local, aware = with offset/zone)
days and time duration     ``datetime.timedelta``
years and months duration  :class:`YearsMonthsDuration`
list                       ``list``
context                    ``dict`` (``str`` keys, insertion ordered)
range                      :class:`FeelRange`
function                   :class:`FeelFunction`
========================== ==========================================================
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engine.feel import temporal


@dataclass(frozen=True, slots=True)
class YearsMonthsDuration:
    """A FEEL ``years and months duration``, normalised to a (signed) number of months."""

    months: int

    def __str__(self) -> str:
        return temporal.format_years_months(self.months)


@dataclass(frozen=True, slots=True)
class FeelRange:
    """A FEEL range value such as ``[1..10)``."""

    start: Any
    end: Any
    start_included: bool
    end_included: bool


class FeelFunction:
    """A function value created by a ``function(a, b) body`` definition."""

    __slots__ = ("_invoke", "params")

    def __init__(self, params: tuple[str, ...], invoke: Callable[[Sequence[Any]], Any]) -> None:
        self.params = params
        self._invoke = invoke

    def call(self, args: Sequence[Any]) -> Any:
        """Invoke the function with positional arguments (missing ones are null)."""
        return self._invoke(args)

    def __repr__(self) -> str:
        return f"function({', '.join(self.params)})"


_PASSTHROUGH: frozenset[type] = frozenset(
    {
        str,
        bool,
        Decimal,
        dt.date,
        dt.datetime,
        dt.time,
        dt.timedelta,
        YearsMonthsDuration,
        FeelRange,
        FeelFunction,
    }
)


def to_feel(value: Any) -> Any:
    """Convert a JSON-like Python value (from process variables) into a FEEL value."""
    kind = type(value)
    if value is None or kind in _PASSTHROUGH:
        return value
    if kind is int:
        return Decimal(value)
    if kind is float:
        return Decimal(repr(value)) if math.isfinite(value) else None
    if kind is dict:
        return {str(key): to_feel(item) for key, item in value.items()}
    if kind is list or kind is tuple:
        return [to_feel(item) for item in value]
    return _to_feel_slow(value)


def _to_feel_slow(value: Any) -> Any:
    """Subclasses and other containers: handled apart so the common path stays short."""
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return Decimal(int(value))
    if isinstance(value, float):
        return to_feel(float(value))
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, str):
        return str(value)
    if isinstance(value, dt.date | dt.time | dt.timedelta):
        return value
    if isinstance(value, Mapping):
        return {str(key): to_feel(item) for key, item in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        return [to_feel(item) for item in value]
    return None


def decimal_to_json(number: Decimal) -> int | float | None:
    """A FEEL number as Zeebe stores it in JSON: an integer when integral, else a float."""
    if not number.is_finite():
        return None
    if number == number.to_integral_value():
        return int(number)
    return float(number)


def to_json_value(value: Any) -> Any:
    """Convert an evaluation result into the JSON value Zeebe would store in a variable.

    Dates become ``"YYYY-MM-DD"``, times ``"HH:MM:SS"`` (plus offset/zone when zoned), date-times
    ISO 8601 strings (offset, or ``@Zone/Id`` for region zones), durations ISO 8601 duration
    strings (``"P1DT2H"``, ``"P1Y2M"``), numbers ``int`` when integral else ``float``, contexts
    ``dict`` and lists ``list``. Ranges and functions become their FEEL text.
    """
    kind = type(value)
    if value is None or kind is str or kind is bool:
        return value
    if kind is Decimal:
        return decimal_to_json(value)
    if kind is list:
        return [to_json_value(item) for item in value]
    if kind is dict:
        return {key: to_json_value(item) for key, item in value.items()}
    if kind is int or kind is float:
        return value
    return to_feel_string(value)


def to_feel_string(value: Any) -> str:
    """FEEL's ``string()`` rendering of a non-null value (also used for JSON of temporals)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format_number(value)
    if isinstance(value, dt.datetime):
        return temporal.format_date_time(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return temporal.format_time(value)
    if isinstance(value, dt.timedelta):
        return temporal.format_days_time(value)
    if isinstance(value, YearsMonthsDuration):
        return temporal.format_years_months(value.months)
    if isinstance(value, list):
        return "[" + ", ".join(_nested_string(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}:{_nested_string(item)}" for key, item in value.items()) + "}"
    if isinstance(value, FeelRange):
        open_ = "[" if value.start_included else "("
        close = "]" if value.end_included else ")"
        return f"{open_}{_nested_string(value.start)}..{_nested_string(value.end)}{close}"
    if isinstance(value, int | float):
        return format_number(Decimal(repr(value)))
    return repr(value)


def _nested_string(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return f'"{value}"'
    return to_feel_string(value)


def format_number(number: Decimal) -> str:
    """Render a number like Java's ``BigDecimal.toString`` (what Zeebe's FEEL engine prints)."""
    return str(number)
