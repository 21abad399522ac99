"""FEEL built-in functions (the DMN 1.3 set plus the Camunda extensions Zeebe offers).

Each built-in receives evaluated FEEL values and returns ``None`` (null) when an argument has
the wrong type or value, as Camunda's engine does. Only a wrong *number* of arguments (checked
by the caller) and a failed ``assert`` raise :class:`FeelEvaluationError`.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import json
import math
import random
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import (
    ROUND_CEILING,
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_DOWN,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    ROUND_UP,
    Context,
    Decimal,
    Inexact,
    InvalidOperation,
)
from typing import TYPE_CHECKING, Any

from engine.feel import ops, temporal
from engine.feel.errors import FeelError, FeelEvaluationError
from engine.feel.values import FeelFunction, YearsMonthsDuration, to_feel, to_feel_string, to_json_value

if TYPE_CHECKING:
    from engine.feel.compiler import Scope

_RECOVERABLE = (
    ArithmeticError,
    ValueError,
    TypeError,
    IndexError,
    KeyError,
    OverflowError,
    re.error,
    RecursionError,
)


@dataclass(frozen=True, slots=True)
class Builtin:
    """One built-in function: its parameter names and accepted argument counts."""

    name: str
    function: Callable[..., Any]
    params: tuple[str, ...]
    arities: frozenset[int]
    varargs: bool = False
    needs_scope: bool = False
    aliases: dict[str, str] = field(default_factory=dict)

    def accepts(self, count: int) -> bool:
        if self.varargs:
            return count >= len(self.params) - 1
        return count in self.arities

    def named_positions(self, names: Sequence[str]) -> dict[str, int] | None:
        """Positions of named arguments, ``None`` if a name is unknown or the count unsupported."""
        positions: dict[str, int] = {}
        for name in names:
            canonical = self.aliases.get(name, name)
            if canonical not in self.params:
                return None
            positions[name] = self.params.index(canonical)
        size = max(positions.values(), default=-1) + 1
        if not self.varargs and not any(arity >= size for arity in self.arities):
            return None
        return positions

    def invoke(self, scope: Scope, args: tuple[Any, ...]) -> Any:
        if self.varargs:
            fixed = len(self.params) - 1
            rest = args[fixed:]
            collected = rest[0] if fixed == 0 and len(rest) == 1 and type(rest[0]) is list else list(rest)
            args = (*args[:fixed], collected)
        try:
            if self.needs_scope:
                return self.function(scope, *args)
            return self.function(*args)
        except FeelError:
            raise
        except _RECOVERABLE:
            return None


BUILTINS: dict[str, Builtin] = {}


def builtin(
    name: str,
    *params: str,
    arities: Sequence[int] | None = None,
    optional: int = 0,
    varargs: bool = False,
    needs_scope: bool = False,
    aliases: dict[str, str] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a built-in; ``optional`` trailing params may be omitted (unless ``arities``)."""
    accepted = (
        frozenset(arities)
        if arities is not None
        else frozenset(range(len(params) - optional, len(params) + 1))
    )

    def register(function: Callable[..., Any]) -> Callable[..., Any]:
        BUILTINS[name] = Builtin(name, function, params, accepted, varargs, needs_scope, aliases or {})
        return function

    return register


def _is_number(value: Any) -> bool:
    return type(value) is Decimal


def _is_string(value: Any) -> bool:
    return type(value) is str


def _whole(value: Decimal) -> int:
    """Java's ``BigDecimal.intValue`` (truncation toward zero)."""
    return int(value)


# ================================================================ boolean


@builtin("not", "negand")
def _not(negand: Any) -> Any:
    return (not negand) if type(negand) is bool else None


@builtin("is defined", "value")
def _is_defined(value: Any) -> Any:
    return value is not None


@builtin("get or else", "value", "default")
def _get_or_else(value: Any, default: Any) -> Any:
    return default if value is None else value


@builtin("assert", "value", "condition", "cause", optional=1)
def _assert(value: Any, condition: Any, cause: Any = None) -> Any:
    if condition is True:
        return value
    if type(cause) is str:
        raise FeelEvaluationError(f"Assertion failure: {cause}")
    raise FeelEvaluationError("Assertion failure: the condition is not fulfilled")


# ================================================================ strings


def _string_index(text: str, position: int) -> int:
    return position - 1 if position > 0 else len(text) + position


@builtin("substring", "string", "start position", "length", optional=1)
def _substring(string: Any, start: Any, length: Any = None) -> Any:
    if not _is_string(string) or not _is_number(start):
        return None
    begin = _string_index(string, _whole(start))
    if begin < 0 or begin > len(string):
        return None
    if length is None:
        return string[begin:]
    if not _is_number(length):
        return None
    end = min(begin + _whole(length), len(string))
    if end < begin:
        return None
    return string[begin:end]


@builtin("string length", "string")
def _string_length(string: Any) -> Any:
    return Decimal(len(string)) if _is_string(string) else None


@builtin("upper case", "string")
def _upper_case(string: Any) -> Any:
    return string.upper() if _is_string(string) else None


@builtin("lower case", "string")
def _lower_case(string: Any) -> Any:
    return string.lower() if _is_string(string) else None


@builtin("substring before", "string", "match")
def _substring_before(string: Any, match: Any) -> Any:
    if not _is_string(string) or not _is_string(match):
        return None
    index = string.find(match)
    return string[:index] if index > 0 else ""


@builtin("substring after", "string", "match")
def _substring_after(string: Any, match: Any) -> Any:
    if not _is_string(string) or not _is_string(match):
        return None
    index = string.find(match)
    return string[index + len(match) :] if index >= 0 else ""


@builtin("contains", "string", "match")
def _contains(string: Any, match: Any) -> Any:
    return match in string if _is_string(string) and _is_string(match) else None


@builtin("starts with", "string", "match")
def _starts_with(string: Any, match: Any) -> Any:
    return string.startswith(match) if _is_string(string) and _is_string(match) else None


@builtin("ends with", "string", "match")
def _ends_with(string: Any, match: Any) -> Any:
    return string.endswith(match) if _is_string(string) and _is_string(match) else None


_JAVA_NAMED_GROUP = re.compile(r"\(\?<(?=[A-Za-z])")
_FLAG_BITS = {"s": re.DOTALL, "m": re.MULTILINE, "i": re.IGNORECASE, "x": re.VERBOSE}


@functools.lru_cache(maxsize=256)
def _pattern(pattern: str, flags: str) -> re.Pattern[str]:
    bits = 0
    for flag in flags:
        bits |= _FLAG_BITS.get(flag, 0)
    return re.compile(_JAVA_NAMED_GROUP.sub("(?P<", pattern), bits)


def _regex_args(input_: Any, pattern: Any, flags: Any) -> re.Pattern[str] | None:
    if not _is_string(input_) or not _is_string(pattern) or (flags is not None and not _is_string(flags)):
        return None
    return _pattern(pattern, flags or "")


@builtin("matches", "input", "pattern", "flags", optional=1)
def _matches(input_: Any, pattern: Any, flags: Any = None) -> Any:
    compiled = _regex_args(input_, pattern, flags)
    return None if compiled is None else compiled.search(input_) is not None


_REPLACEMENT_TOKEN = re.compile(r"\\(.)|\$(\d+)|\$\{(\w+)\}|(\$|\\$)", re.DOTALL)


def _java_replacement(template: str) -> Callable[[re.Match[str]], str]:
    """A replacement function for a Java ``replaceAll`` template (``$1``, ``${name}``, ``\\$``)."""
    parts: list[str | int] = []
    last = 0
    for token in _REPLACEMENT_TOKEN.finditer(template):
        parts.append(template[last : token.start()])
        if token[4] is not None:
            raise ValueError("illegal '$' group reference or trailing '\\' in the replacement")
        if token[1] is not None:
            parts.append(token[1])
        elif token[2] is not None:
            parts.append(int(token[2]))
        else:
            parts.append(f"\x00{token[3]}")
        last = token.end()
    parts.append(template[last:])

    def replace(match: re.Match[str]) -> str:
        out: list[str] = []
        for part in parts:
            if isinstance(part, int):
                out.append(match.group(part) or "")
            elif part.startswith("\x00"):
                out.append(match.group(part[1:]) or "")
            else:
                out.append(part)
        return "".join(out)

    return replace


@builtin("replace", "input", "pattern", "replacement", "flags", optional=1)
def _replace(input_: Any, pattern: Any, replacement: Any, flags: Any = None) -> Any:
    compiled = _regex_args(input_, pattern, flags)
    if compiled is None or not _is_string(replacement):
        return None
    return compiled.sub(_java_replacement(replacement), input_)


@builtin("split", "string", "delimiter")
def _split(string: Any, delimiter: Any) -> Any:
    if not _is_string(string) or not _is_string(delimiter):
        return None
    compiled = _pattern(delimiter, "")
    if not string:
        return [""]
    parts: list[str] = []
    last = 0
    for match in compiled.finditer(string):
        if match.end() == 0:
            continue  # a zero-width match at the start yields no leading empty string (Java)
        parts.append(string[last : match.start()])
        last = match.end()
    parts.append(string[last:])
    return parts


@builtin("extract", "input", "pattern")
def _extract(input_: Any, pattern: Any) -> Any:
    compiled = _regex_args(input_, pattern, None)
    return None if compiled is None else [match.group(0) for match in compiled.finditer(input_)]


_JAVA_TRIM = "".join(chr(code) for code in range(33))


@builtin("trim", "string")
def _trim(string: Any) -> Any:
    return string.strip(_JAVA_TRIM) if _is_string(string) else None


@builtin("is blank", "string")
def _is_blank(string: Any) -> Any:
    return not string.strip() if _is_string(string) else None


@builtin("uuid")
def _uuid() -> Any:
    return str(uuid.uuid4())


@builtin("to base64", "value")
def _to_base64(value: Any) -> Any:
    return base64.b64encode(value.encode()).decode("ascii") if _is_string(value) else None


@builtin("from base64", "value")
def _from_base64(value: Any) -> Any:
    if not _is_string(value):
        return None
    try:
        return base64.b64decode(value, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None


@builtin("string join", "list", "delimiter", "prefix", "suffix", arities=(1, 2, 4))
def _string_join(items: Any, delimiter: Any = None, prefix: Any = None, suffix: Any = None) -> Any:
    if type(items) is not list:
        return None
    for part in (delimiter, prefix, suffix):
        if part is not None and not _is_string(part):
            return None
    if (prefix is None) != (suffix is None):
        return None
    if any(item is not None and not _is_string(item) for item in items):
        return None
    body = (delimiter or "").join(item for item in items if item is not None)
    return (prefix or "") + body + (suffix or "")


# ================================================================ lists


def _list_index(items: list[Any], position: int) -> int:
    return position - 1 if position > 0 else len(items) + position


@builtin("list contains", "list", "element")
def _list_contains(items: Any, element: Any) -> Any:
    if type(items) is not list:
        return None
    return any(ops.equals(item, element) is True for item in items)


@builtin("count", "list")
def _count(items: Any) -> Any:
    return Decimal(len(items)) if type(items) is list else None


def _comparable(items: list[Any]) -> bool:
    first = items[0]
    kind = type(first)
    if kind is bool or kind is list or kind is dict or first is None:
        return False
    if kind is dt.datetime or kind is dt.time:
        zoned = first.tzinfo is not None
        return all(type(item) is kind and (item.tzinfo is not None) == zoned for item in items)
    return all(type(item) is kind for item in items) and ops.compare(first, first) is not None


def _extreme(items: Any, *, largest: bool) -> Any:
    if type(items) is not list or not items:
        return None
    if not _comparable(items):
        return None
    best = items[0]
    for item in items[1:]:
        order = ops.compare(item, best)
        if order is None:
            return None
        if (order > 0) if largest else (order < 0):
            best = item
    return best


@builtin("min", "list", varargs=True)
def _min(items: Any) -> Any:
    return _extreme(items, largest=False)


@builtin("max", "list", varargs=True)
def _max(items: Any) -> Any:
    return _extreme(items, largest=True)


def _numbers(items: Any) -> list[Decimal] | None:
    if type(items) is not list or not items or not all(type(item) is Decimal for item in items):
        return None
    return items


@builtin("sum", "list", varargs=True)
def _sum(items: Any) -> Any:
    numbers = _numbers(items)
    if numbers is None:
        return None
    total = Decimal(0)
    for number in numbers:
        total = ops.NUMBER_CONTEXT.add(total, number)
    return total


@builtin("product", "list", varargs=True)
def _product(items: Any) -> Any:
    numbers = _numbers(items)
    if numbers is None:
        return None
    total = Decimal(1)
    for number in numbers:
        total = ops.NUMBER_CONTEXT.multiply(total, number)
    return total


@builtin("mean", "list", varargs=True)
def _mean(items: Any) -> Any:
    total = _sum(items)
    return None if total is None else ops.NUMBER_CONTEXT.divide(total, Decimal(len(items)))


@builtin("median", "list", varargs=True)
def _median(items: Any) -> Any:
    numbers = _numbers(items)
    if numbers is None:
        return None
    ordered = sorted(numbers)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return ops.NUMBER_CONTEXT.divide(ops.NUMBER_CONTEXT.add(ordered[middle - 1], ordered[middle]), Decimal(2))


@builtin("stddev", "list", varargs=True)
def _stddev(items: Any) -> Any:
    numbers = _numbers(items)
    if numbers is None or len(numbers) < 2:
        return None
    context = ops.NUMBER_CONTEXT
    mean = context.divide(_sum(numbers), Decimal(len(numbers)))
    deviation = Decimal(0)
    for number in numbers:
        difference = context.subtract(number, mean)
        deviation = context.add(deviation, context.multiply(difference, difference))
    variance = context.divide(deviation, Decimal(len(numbers) - 1))
    return Decimal(repr(math.sqrt(float(variance))))


@builtin("mode", "list", varargs=True)
def _mode(items: Any) -> Any:
    if type(items) is list and not items:
        return []
    numbers = _numbers(items)
    if numbers is None:
        return None
    counts: dict[Decimal, int] = {}
    for number in numbers:
        counts[number] = counts.get(number, 0) + 1
    top = max(counts.values())
    return sorted(number for number, count in counts.items() if count == top)


def _all(items: Any) -> Any:
    if type(items) is not list:
        return None
    if any(item is False for item in items):
        return False
    return True if all(item is True for item in items) else None


def _any(items: Any) -> Any:
    if type(items) is not list:
        return None
    if any(item is True for item in items):
        return True
    return False if all(item is False for item in items) else None


builtin("all", "list", varargs=True)(_all)
builtin("any", "list", varargs=True)(_any)


@builtin("sublist", "list", "start position", "length", optional=1, aliases={"start": "start position"})
def _sublist(items: Any, start: Any, length: Any = None) -> Any:
    if type(items) is not list or not _is_number(start) or not start:
        return None
    begin = max(_list_index(items, _whole(start)), 0)
    if length is None:
        return items[begin:]
    if not _is_number(length):
        return None
    return items[begin : max(begin + _whole(length), begin)]


@builtin("append", "list", "items", varargs=True)
def _append(items: Any, extra: Any) -> Any:
    if type(items) is not list:
        return None
    return [*items, *extra]


@builtin("concatenate", "lists", varargs=True)
def _concatenate(lists: Any) -> Any:
    result: list[Any] = []
    for part in lists:
        if type(part) is list:
            result.extend(part)
        else:
            result.append(part)
    return result


@builtin("insert before", "list", "position", "newItem")
def _insert_before(items: Any, position: Any, new_item: Any) -> Any:
    if type(items) is not list or not _is_number(position) or not position:
        return None
    index = max(_list_index(items, _whole(position)), 0)
    return [*items[:index], new_item, *items[index:]]


@builtin("remove", "list", "position")
def _remove(items: Any, position: Any) -> Any:
    if type(items) is not list or not _is_number(position) or not position:
        return None
    index = max(_list_index(items, _whole(position)), 0)
    after = max(_list_index(items, _whole(position) + 1), 0)
    return [*items[:index], *items[after:]]


@builtin("reverse", "list")
def _reverse(items: Any) -> Any:
    return items[::-1] if type(items) is list else None


@builtin("index of", "list", "match")
def _index_of(items: Any, match: Any) -> Any:
    if type(items) is not list:
        return None
    return [Decimal(index) for index, item in enumerate(items, start=1) if ops.equals(item, match) is True]


def _distinct(items: list[Any]) -> list[Any]:
    result: list[Any] = []
    for item in items:
        if not any(ops.equals(item, seen) is True for seen in result):
            result.append(item)
    return result


@builtin("union", "lists", varargs=True)
def _union(lists: Any) -> Any:
    return _distinct(_concatenate(lists))


@builtin("distinct values", "list")
def _distinct_values(items: Any) -> Any:
    return _distinct(items) if type(items) is list else None


@builtin("duplicate values", "list")
def _duplicate_values(items: Any) -> Any:
    if type(items) is not list:
        return None
    return [
        item for item in _distinct(items) if sum(1 for other in items if ops.equals(other, item) is True) > 1
    ]


def _flatten_into(items: list[Any], result: list[Any]) -> list[Any]:
    for item in items:
        if type(item) is list:
            _flatten_into(item, result)
        else:
            result.append(item)
    return result


@builtin("flatten", "list")
def _flatten(items: Any) -> Any:
    return _flatten_into(items, []) if type(items) is list else None


class _SortKey:
    """Adapts a FEEL ``precedes`` function to Python's ``<``-only sort (stable, like Scala's)."""

    __slots__ = ("precedes", "value")

    def __init__(self, value: Any, precedes: FeelFunction) -> None:
        self.value = value
        self.precedes = precedes

    def __lt__(self, other: _SortKey) -> bool:
        outcome = self.precedes.call([self.value, other.value])
        if type(outcome) is not bool:
            raise TypeError("the precedes function must return a boolean")
        return outcome


@builtin("sort", "list", "precedes")
def _sort(items: Any, precedes: Any) -> Any:
    if type(items) is not list or not isinstance(precedes, FeelFunction) or len(precedes.params) != 2:
        return None
    return [key.value for key in sorted(_SortKey(item, precedes) for item in items)]


@builtin("is empty", "list")
def _is_empty(items: Any) -> Any:
    return not items if type(items) is list else None


@builtin("partition", "list", "size")
def _partition(items: Any, size: Any) -> Any:
    if type(items) is not list or not _is_number(size) or _whole(size) <= 0:
        return None
    step = _whole(size)
    return [items[index : index + step] for index in range(0, len(items), step)]


# ================================================================ numbers

_ROUNDING_MODES = {
    "UP": ROUND_UP,
    "DOWN": ROUND_DOWN,
    "CEILING": ROUND_CEILING,
    "FLOOR": ROUND_FLOOR,
    "HALF_UP": ROUND_HALF_UP,
    "HALF_DOWN": ROUND_HALF_DOWN,
    "HALF_EVEN": ROUND_HALF_EVEN,
    "UNNECESSARY": "UNNECESSARY",
}


def _round(number: Any, scale: Any, mode: str) -> Any:
    """``BigDecimal.setScale(scale, mode)``: the number with exactly ``scale`` fraction digits."""
    if not _is_number(number) or not _is_number(scale):
        return None
    exponent = Decimal(1).scaleb(-_whole(scale))
    context = Context(prec=max(len(number.as_tuple().digits) + abs(_whole(scale)) + 2, 34))
    if mode == "UNNECESSARY":
        context.traps[Inexact] = True
        return number.quantize(exponent, rounding=ROUND_HALF_EVEN, context=context)
    return number.quantize(exponent, rounding=mode, context=context)


@builtin("decimal", "n", "scale", "mode", optional=1)
def _decimal(number: Any, scale: Any, mode: Any = None) -> Any:
    if mode is None:
        return _round(number, scale, ROUND_HALF_EVEN)
    if not _is_string(mode) or mode.upper() not in _ROUNDING_MODES:
        return None
    return _round(number, scale, _ROUNDING_MODES[mode.upper()])


@builtin("floor", "n", "scale", optional=1)
def _floor(number: Any, scale: Any = None) -> Any:
    return _round(number, Decimal(0) if scale is None else scale, ROUND_FLOOR)


@builtin("ceiling", "n", "scale", optional=1)
def _ceiling(number: Any, scale: Any = None) -> Any:
    return _round(number, Decimal(0) if scale is None else scale, ROUND_CEILING)


@builtin("round up", "n", "scale")
def _round_up(number: Any, scale: Any) -> Any:
    return _round(number, scale, ROUND_UP)


@builtin("round down", "n", "scale")
def _round_down(number: Any, scale: Any) -> Any:
    return _round(number, scale, ROUND_DOWN)


@builtin("round half up", "n", "scale")
def _round_half_up(number: Any, scale: Any) -> Any:
    return _round(number, scale, ROUND_HALF_UP)


@builtin("round half down", "n", "scale")
def _round_half_down(number: Any, scale: Any) -> Any:
    return _round(number, scale, ROUND_HALF_DOWN)


@builtin("abs", "n", aliases={"number": "n"})
def _abs(value: Any) -> Any:
    kind = type(value)
    if kind is Decimal:
        return value.copy_abs()
    if kind is dt.timedelta:
        return abs(value)
    if kind is YearsMonthsDuration:
        return YearsMonthsDuration(abs(value.months))
    return None


@builtin("modulo", "dividend", "divisor")
def _modulo(dividend: Any, divisor: Any) -> Any:
    if not _is_number(dividend) or not _is_number(divisor) or not divisor:
        return None
    context = ops.NUMBER_CONTEXT
    return context.remainder(context.add(context.remainder(dividend, divisor), divisor), divisor)


def _from_float(value: float) -> Decimal | None:
    return Decimal(repr(value)) if math.isfinite(value) else None


@builtin("sqrt", "number")
def _sqrt(number: Any) -> Any:
    if not _is_number(number) or number < 0:
        return None
    return _from_float(math.sqrt(float(number)))


@builtin("log", "number")
def _log(number: Any) -> Any:
    if not _is_number(number) or number <= 0:
        return None
    return _from_float(math.log(float(number)))


@builtin("exp", "number")
def _exp(number: Any) -> Any:
    return _from_float(math.exp(float(number))) if _is_number(number) else None


@builtin("odd", "number")
def _odd(number: Any) -> Any:
    return abs(number) % 2 == 1 if _is_number(number) else None


@builtin("even", "number")
def _even(number: Any) -> Any:
    return number % 2 == 0 if _is_number(number) else None


@builtin("random number")
def _random_number() -> Any:
    return _from_float(random.random())  # noqa: S311 - FEEL's random number() is not for cryptography


# ================================================================ contexts


@builtin("get value", "context", "key", aliases={"m": "context", "keys": "key"})
def _get_value(context: Any, key: Any) -> Any:
    if type(context) is not dict:
        return None
    if _is_string(key):
        return context.get(key)
    if type(key) is list:
        if not all(_is_string(part) for part in key):
            return None
        current: Any = context
        for part in key:
            if type(current) is not dict:
                return None
            current = current.get(part)
        return current
    return None


@builtin("get entries", "context", aliases={"m": "context"})
def _get_entries(context: Any) -> Any:
    if type(context) is not dict:
        return None
    return [{"key": key, "value": value} for key, value in context.items()]


def _put(context: dict[str, Any], keys: list[str], value: Any) -> dict[str, Any]:
    head, *rest = keys
    result = dict(context)
    if not rest:
        result[head] = value
        return result
    nested = result.get(head)
    result[head] = _put(nested if type(nested) is dict else {}, rest, value)
    return result


@builtin("context put", "context", "key", "value", aliases={"keys": "key"})
def _context_put(context: Any, key: Any, value: Any) -> Any:
    if type(context) is not dict:
        return None
    if _is_string(key):
        return _put(context, [key], value)
    if type(key) is list and key and all(_is_string(part) for part in key):
        return _put(context, key, value)
    return None


@builtin("context merge", "contexts", varargs=True)
def _context_merge(contexts: Any) -> Any:
    result: dict[str, Any] = {}
    for context in contexts:
        if type(context) is not dict:
            return None
        result.update(context)
    return result


@builtin("context", "entries")
def _context(entries: Any) -> Any:
    if type(entries) is not list:
        return None
    result: dict[str, Any] = {}
    for entry in entries:
        if type(entry) is not dict or not _is_string(entry.get("key")) or "value" not in entry:
            return None
        result[entry["key"]] = entry["value"]
    return result


# ================================================================ conversion

_JAVA_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


@builtin("string", "from")
def _string(value: Any) -> Any:
    return None if value is None else to_feel_string(value)


def _parse_number(text: str) -> Decimal | None:
    if _JAVA_NUMBER.fullmatch(text) is None:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


@builtin("number", "from", "grouping separator", "decimal separator", optional=2)
def _number(text: Any, grouping: Any = None, decimal_sep: Any = None) -> Any:
    if not _is_string(text):
        return None
    if grouping is not None and (not _is_string(grouping) or grouping not in {" ", ",", "."}):
        return None
    if decimal_sep is not None and (not _is_string(decimal_sep) or decimal_sep not in {",", "."}):
        return None
    if grouping is not None and grouping == decimal_sep:
        return None
    if grouping is not None:
        text = text.replace(grouping, "")
    if decimal_sep is not None:
        text = text.replace(decimal_sep, ".")
    return _parse_number(text)


@builtin("date", "from", "month", "day", arities=(1, 3), aliases={"year": "from"})
def _date(value: Any, month: Any = None, day: Any = None) -> Any:
    if month is not None or day is not None:
        if not (_is_number(value) and _is_number(month) and _is_number(day)):
            return None
        return dt.date(_whole(value), _whole(month), _whole(day))
    kind = type(value)
    if kind is str:
        return temporal.parse_date(value)
    if kind is dt.datetime:
        return value.date()
    if kind is dt.date:
        return value
    return None


@builtin("date and time", "from", "time", arities=(1, 2), aliases={"date": "from"})
def _date_and_time(value: Any, time: Any = None) -> Any:
    if time is None:
        return temporal.parse_date_time(value) if _is_string(value) else None
    kind = type(value)
    if kind is not dt.date and kind is not dt.datetime:
        return None
    day = value.date() if kind is dt.datetime else value
    if type(time) is dt.time:
        return dt.datetime.combine(day, time)
    if _is_string(time) and kind is dt.datetime:
        zone = temporal.zone_from_text(time)
        if zone is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=zone)
        return value.astimezone(zone)
    return None


@builtin("time", "from", "minute", "second", "offset", arities=(1, 3, 4), aliases={"hour": "from"})
def _time(value: Any, minute: Any = None, second: Any = None, offset: Any = None) -> Any:
    if minute is None and second is None:
        kind = type(value)
        if kind is str:
            return temporal.parse_time(value)
        if kind is dt.datetime:
            return value.timetz()
        if kind is dt.date:
            return dt.time(0, 0, tzinfo=dt.UTC)
        if kind is dt.time:
            return value
        return None
    if not (_is_number(value) and _is_number(minute) and _is_number(second)):
        return None
    fraction = second - int(second)
    micros = int((fraction * 1_000_000).to_integral_value(rounding=ROUND_DOWN))
    zone: dt.tzinfo | None = None
    if offset is not None:
        if type(offset) is not dt.timedelta:
            return None
        zone = dt.UTC if not offset else dt.timezone(dt.timedelta(seconds=int(offset.total_seconds())))
    return dt.time(_whole(value), _whole(minute), _whole(second), micros, tzinfo=zone)


@builtin("duration", "from")
def _duration(text: Any) -> Any:
    if not _is_string(text):
        return None
    months = temporal.parse_years_months(text)
    if months is not None:
        return YearsMonthsDuration(months)
    return temporal.parse_days_time(text)


@builtin("years and months duration", "from", "to")
def _years_and_months_duration(start: Any, end: Any) -> Any:
    if not isinstance(start, dt.date) or not isinstance(end, dt.date):
        return None
    start_day = start.date() if isinstance(start, dt.datetime) else start
    end_day = end.date() if isinstance(end, dt.datetime) else end
    return YearsMonthsDuration(temporal.months_between(start_day, end_day))


@builtin("from json", "json")
def _from_json(text: Any) -> Any:
    if not _is_string(text):
        return None
    try:
        return to_feel(json.loads(text, parse_float=Decimal, parse_int=Decimal))
    except (json.JSONDecodeError, RecursionError):
        return None


@builtin("to json", "value")
def _to_json(value: Any) -> Any:
    return json.dumps(to_json_value(value), separators=(",", ":"), ensure_ascii=False)


# ================================================================ temporal


@builtin("now", needs_scope=True)
def _now(scope: Scope) -> Any:
    return scope.root.now()


@builtin("today", needs_scope=True)
def _today(scope: Scope) -> Any:
    return scope.root.now().date()


def _as_date(value: Any) -> dt.date | None:
    if type(value) is dt.datetime:
        return value.date()
    if type(value) is dt.date:
        return value
    return None


_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


@builtin("day of year", "date")
def _day_of_year(value: Any) -> Any:
    day = _as_date(value)
    return None if day is None else Decimal(day.timetuple().tm_yday)


@builtin("day of week", "date")
def _day_of_week(value: Any) -> Any:
    day = _as_date(value)
    return None if day is None else _DAY_NAMES[day.weekday()]


@builtin("month of year", "date")
def _month_of_year(value: Any) -> Any:
    day = _as_date(value)
    return None if day is None else _MONTH_NAMES[day.month - 1]


@builtin("week of year", "date")
def _week_of_year(value: Any) -> Any:
    day = _as_date(value)
    return None if day is None else Decimal(day.isocalendar().week)


@builtin("last day of month", "date")
def _last_day_of_month(value: Any) -> Any:
    day = _as_date(value)
    if day is None:
        return None
    return temporal.add_months(day.replace(day=1), 1) - dt.timedelta(days=1)
