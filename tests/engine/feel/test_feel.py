"""Unit tests of the FEEL subset in ``engine.feel`` (semantics of Zeebe's FEEL engine)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from engine.feel import (
    CompiledExpression,
    FeelError,
    FeelEvaluationError,
    FeelSyntaxError,
    YearsMonthsDuration,
    compile_expression,
    evaluate,
    names_referenced,
    to_json_value,
)

NOW = dt.datetime(2026, 11, 26, 9, 30, 15, tzinfo=dt.UTC)


def ev(text: str, context: dict[str, Any] | None = None) -> Any:
    return evaluate(text, context or {}, now=NOW)


def js(text: str, context: dict[str, Any] | None = None) -> Any:
    """Evaluate and convert to the JSON value Zeebe would store."""
    return to_json_value(ev(text, context))


# ---------------------------------------------------------------- API


def test_compile_returns_reusable_compiled_expression() -> None:
    """A compiled expression evaluates many times against different variables."""
    expression = compile_expression('amount > 100 and status = "ok"')
    assert isinstance(expression, CompiledExpression)
    assert expression.evaluate({"amount": 250, "status": "ok"}) is True
    assert expression.evaluate({"amount": 50, "status": "ok"}) is False
    assert expression.evaluate({"status": "ok"}) is None


def test_compile_is_cached() -> None:
    """Compiling the same text twice returns the same compiled object."""
    assert compile_expression("a + 1") is compile_expression("a + 1")


def test_syntax_error_carries_column_and_expression() -> None:
    """A syntax error names the expression and the 1-based column of the offending token."""
    with pytest.raises(FeelSyntaxError) as caught:
        compile_expression("1 + * 2")
    assert caught.value.column == 5
    assert "column 5" in str(caught.value)
    assert "'1 + * 2'" in str(caught.value)


def test_syntax_error_at_end_points_after_the_text() -> None:
    """An incomplete expression reports the column just after its end."""
    with pytest.raises(FeelSyntaxError) as caught:
        compile_expression("a >")
    assert caught.value.column == 4


def test_syntax_error_on_bad_character() -> None:
    """An unknown character is a syntax error at its column."""
    with pytest.raises(FeelSyntaxError) as caught:
        compile_expression('x = "a" # comment')
    assert caught.value.column == 9


def test_syntax_error_is_a_feel_error() -> None:
    """FeelSyntaxError and FeelEvaluationError share the FeelError base."""
    assert issubclass(FeelSyntaxError, FeelError)
    assert issubclass(FeelEvaluationError, FeelError)


@pytest.mark.parametrize("text", ["1e3", "x in = 5", '@"not a date"', "if a then b", "{a 1}", "[1, 2"])
def test_invalid_expressions_do_not_compile(text: str) -> None:
    """Texts outside the grammar (or with invalid literals) raise FeelSyntaxError."""
    with pytest.raises(FeelSyntaxError):
        compile_expression(text)


@pytest.mark.parametrize("text", ["true orx", "a andy", "x inx", "if a thenb else c", "x instance of dated"])
def test_keywords_do_not_split_longer_words(text: str) -> None:
    """A keyword followed by letters is one (unexpected) name, not a keyword and a name."""
    with pytest.raises(FeelSyntaxError):
        compile_expression(text)


def test_names_may_start_with_keywords() -> None:
    """Variables such as ``order``, ``iffy`` or ``nullable`` are ordinary names."""
    assert (
        ev("order + iffy + nullable + forecast", {"order": 1, "iffy": 2, "nullable": 3, "forecast": 4}) == 10
    )


def test_unknown_function_raises_naming_it() -> None:
    """Calling a function that does not exist fails (it is not null) and names the function."""
    with pytest.raises(FeelEvaluationError, match="'frobnicate'"):
        ev("frobnicate(1)")


def test_unknown_function_only_fails_when_evaluated() -> None:
    """An unknown function in a branch that is not taken does not fail."""
    assert ev("if false then nope(1) else 2") == 2


def test_wrong_argument_count_raises() -> None:
    """A built-in called with a number of arguments no overload takes fails."""
    with pytest.raises(FeelEvaluationError, match="'upper case' and 2 parameters"):
        ev('upper case("a", "b")')


def test_sort_needs_a_precedes_function() -> None:
    """sort(list) without a precedes function does not exist in Zeebe, so it fails."""
    with pytest.raises(FeelEvaluationError, match="'sort'"):
        ev("sort([3, 1, 2])")


def test_now_uses_the_injected_clock() -> None:
    """now() and today() read the engine clock passed as ``now``."""
    assert ev("now()") == NOW
    assert ev("today()") == dt.date(2026, 11, 26)
    assert js("now()") == "2026-11-26T09:30:15Z"
    assert ev('now() + duration("PT1H") > now()') is True


def test_now_defaults_to_the_real_utc_time() -> None:
    """Without an injected clock now() is the current UTC time."""
    before = dt.datetime.now(dt.UTC)
    value = evaluate("now()", {})
    after = dt.datetime.now(dt.UTC)
    assert before <= value <= after


def test_now_is_stable_within_one_evaluation() -> None:
    """now() returns the same instant everywhere in one evaluation."""
    assert evaluate("now() = now()", {}) is True


def test_names_referenced_lists_top_level_variables() -> None:
    """names_referenced returns the variables an expression reads, not its local names."""
    assert names_referenced('amount > 100 and status = "ok"') == {"amount", "status"}
    assert names_referenced("for x in items return x.price * rate") == {"items", "rate"}
    assert names_referenced("{a: 1, b: a + c}") == {"c"}
    assert names_referenced("some y in ys satisfies y > limit") == {"ys", "limit"}
    assert names_referenced("sort(xs, function(a, b) a < b)") == {"xs"}


# ---------------------------------------------------------------- values and JSON


def test_numbers_are_decimals() -> None:
    """Numbers are decimals, so 0.1 + 0.2 is exactly 0.3."""
    assert ev("0.1 + 0.2") == Decimal("0.3")
    assert ev("0.1 + 0.2 = 0.3") is True
    assert ev("a + b", {"a": 0.1, "b": 0.2}) == Decimal("0.3")


def test_large_integers_stay_exact() -> None:
    """Integer arithmetic beyond 2**53 is exact."""
    assert js("12345678901234567890 + 1") == 12345678901234567891


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.5 * 2", 3),
        ("10 / 4", 2.5),
        ('date("2026-11-26")', "2026-11-26"),
        ('date and time("2026-11-26T10:00:00Z")', "2026-11-26T10:00:00Z"),
        ('date and time("2026-11-26T10:00:00+02:00")', "2026-11-26T10:00:00+02:00"),
        ('date and time("2026-11-26T10:00:00@Europe/Berlin")', "2026-11-26T10:00:00@Europe/Berlin"),
        ('date and time("2026-11-26T10:00:00")', "2026-11-26T10:00:00"),
        ('date and time("2026-11-26T10:00:00.250Z")', "2026-11-26T10:00:00.25Z"),
        ('time("10:05")', "10:05:00"),
        ('time("10:05:00+01:00")', "10:05:00+01:00"),
        ('duration("P1D")', "P1D"),
        ('duration("PT2H")', "PT2H"),
        ('duration("PT36H")', "P1DT12H"),
        ('duration("P1Y2M")', "P1Y2M"),
        ('duration("P14M")', "P1Y2M"),
        ('duration("-PT90M")', "-PT1H30M"),
        ('duration("PT0S")', "P0D"),
        ('duration("P0M")', "P0Y"),
        ('duration("PT1.5S")', "PT1.5S"),
        ("{a: [1, {b: 2.5}]}", {"a": [1, {"b": 2.5}]}),
        ("null", None),
    ],
)
def test_to_json_value(text: str, expected: Any) -> None:
    """Results convert to the JSON values Zeebe stores (ISO temporals, int/float numbers)."""
    assert js(text) == expected


def test_to_json_value_passes_plain_json_through() -> None:
    """JSON values that are already plain stay unchanged."""
    assert to_json_value({"a": [1, 2.5, "x", True, None]}) == {"a": [1, 2.5, "x", True, None]}


def test_context_values_are_converted_from_json() -> None:
    """Variables from JSON (ints, floats, nested dicts and lists) become FEEL values."""
    assert ev("x", {"x": 5}) == Decimal(5)
    assert ev("x", {"x": 2.5}) == Decimal("2.5")
    assert ev("x.y[1]", {"x": {"y": [7]}}) == Decimal(7)
    assert ev("x", {"x": True}) is True


def test_python_temporals_in_the_context_are_accepted() -> None:
    """date/datetime objects passed as variables are FEEL temporals."""
    assert ev('d + duration("P1D")', {"d": dt.date(2026, 1, 1)}) == dt.date(2026, 1, 2)
    assert ev("t.hour", {"t": dt.datetime(2026, 1, 1, 7, tzinfo=dt.UTC)}) == 7


# ---------------------------------------------------------------- literals and names


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"a\\"b"', 'a"b'),
        ('"a\\\\b"', "a\\b"),
        ('"a\\nb"', "a\nb"),
        ('"a\\tb"', "a\tb"),
        ('"\\d+"', "\\d+"),
        ('"\\u00e4"', "\\u00e4"),
        ('"中文"', "中文"),
    ],
)
def test_string_escapes(text: str, expected: str) -> None:
    """Zeebe's escapes (\\n \\t \\" \\\\ ...) are translated; unknown escapes keep the backslash."""
    assert ev(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('@"2026-11-26"', dt.date(2026, 11, 26)),
        ('@"2026-11-26T10:00:00Z"', dt.datetime(2026, 11, 26, 10, tzinfo=dt.UTC)),
        ('@"10:30:00"', dt.time(10, 30)),
        ('@"P1D"', dt.timedelta(days=1)),
        ('@"P1Y2M"', YearsMonthsDuration(14)),
    ],
)
def test_temporal_literals(text: str, expected: Any) -> None:
    """``@"..."`` literals yield dates, date-times, times and durations."""
    assert ev(text) == expected


def test_missing_variable_is_null() -> None:
    """A variable missing from the context is null, not an error."""
    assert ev("missing") is None
    assert ev("missing.field.deeper") is None
    assert ev("missing + 1") is None


def test_backtick_and_unicode_names() -> None:
    """Backtick names may contain spaces; names may use non-ASCII letters."""
    assert ev("`first name`", {"first name": "San"}) == "San"
    assert ev("金额 > 10", {"金额": 20}) is True


def test_comments_are_ignored() -> None:
    """Line and block comments are whitespace."""
    assert ev("1 + /* two */ 2 // three") == 3


# ---------------------------------------------------------------- arithmetic


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("10 - 2 - 3", 5),
        ("2 ** 3 ** 2", 64),
        ("-2 ** 2", 4),
        ("2 ** -1", 0.5),
        ("7 / 2", 3.5),
        ("- -3", 3),
        ("1 / 0", None),
        ("0 ** 0", 1),
        ('"a" + "b"', "ab"),
        ('"a" + 1', None),
        ("1 + null", None),
        ("null * 2", None),
        ("-null", None),
        ("true + 1", None),
    ],
)
def test_arithmetic(text: str, expected: Any) -> None:
    """Arithmetic follows FEEL precedence; mismatched or null operands give null."""
    assert js(text) == expected


def test_string_concatenation_for_candidate_groups() -> None:
    """``"town:" + townCode`` builds a candidate group; a number needs string()."""
    assert ev('"town:" + townCode', {"townCode": "SS01"}) == "town:SS01"
    assert ev('"town:" + townCode', {"townCode": 12}) is None
    assert ev('"town:" + string(townCode)', {"townCode": 12}) == "town:12"


# ---------------------------------------------------------------- comparison and logic


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 < 2", True),
        ("2 <= 1", False),
        ('"a" < "b"', True),
        ("null = null", True),
        ("1 = null", False),
        ("null != 1", True),
        ("1 < null", None),
        ('1 = "1"', None),
        ('1 < "a"', None),
        ("true < false", None),
        ("[1, 2] = [1, 2]", True),
        ("{a: 1} = {a: 1}", True),
        ("[1] < [2]", None),
        ('date("2026-11-26") < "2026-11-27"', None),
    ],
)
def test_comparison(text: str, expected: bool | None) -> None:
    """Comparisons are null for incompatible types; null equals only null."""
    assert ev(text) is expected


@pytest.mark.parametrize(
    ("left", "right", "conjunction", "disjunction"),
    [
        ("true", "true", True, True),
        ("true", "false", False, True),
        ("false", "null", False, None),
        ("null", "false", False, None),
        ("true", "null", None, True),
        ("null", "true", None, True),
        ("null", "null", None, None),
        ('"x"', "true", None, True),
        ("1", "false", False, None),
    ],
)
def test_three_valued_logic(
    left: str, right: str, conjunction: bool | None, disjunction: bool | None
) -> None:
    """and/or use FEEL's three-valued logic; non-boolean operands count as null."""
    assert ev(f"{left} and {right}") is conjunction
    assert ev(f"{left} or {right}") is disjunction


def test_logic_short_circuits() -> None:
    """``false and x`` and ``true or x`` do not evaluate x."""
    assert ev("false and nope()") is False
    assert ev("true or nope()") is True


def test_not() -> None:
    """not() negates booleans and is null for anything else."""
    assert ev("not(true)") is False
    assert ev("not(null)") is None
    assert ev("not(1)") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("if true then 1 else 2", 1),
        ("if null then 1 else 2", 2),
        ("if 1 then 1 else 2", 2),
        ('if "yes" then 1 else 2', 2),
        ("if false then 1 else if true then 2 else 3", 2),
    ],
)
def test_if_uses_else_for_non_boolean_conditions(text: str, expected: int) -> None:
    """A condition that is not ``true`` (null, numbers, strings) takes the else branch."""
    assert js(text) == expected


def test_datetime_equality_needs_same_offset() -> None:
    """Date-times are equal only with the same local time and offset (Java's equals)."""
    assert ev('@"2026-11-26T10:00:00Z" = @"2026-11-26T12:00:00+02:00"') is False
    assert ev('@"2026-11-26T10:00:00Z" < @"2026-11-26T12:00:01+02:00"') is True


def test_local_and_zoned_datetimes_do_not_compare() -> None:
    """Comparing a local with a zoned date-time is null."""
    assert ev('@"2026-11-26T10:00:00" < @"2026-11-26T11:00:00Z"') is None
    assert ev('@"2026-11-26T10:00:00" - @"2026-11-26T11:00:00Z"') is None


# ---------------------------------------------------------------- unary tests


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5 in [1, 5]", True),
        ("5 in (1..10]", True),
        ("10 in [1..10)", False),
        ("5 in >= 5", True),
        ('"a" in ("a", "b")', True),
        ("5 in (< 3, > 4)", True),
        ("2 in (< 3, > 4)", True),
        ("3.5 in (< 3, > 4)", False),
        ("5 in ([1..2], [4..6])", True),
        ("5 in 5", True),
        ('5 in "5"', None),
        ("null in [1, 2]", False),
        ("5 between 1 and 10", True),
        ("11 between 1 and 10", False),
        ("null between 1 and 10", None),
    ],
)
def test_in_and_between(text: str, expected: bool | None) -> None:
    """``in`` accepts lists, intervals, comparisons and test lists; ``between`` is inclusive."""
    assert ev(text) is expected


def test_in_with_a_range_variable() -> None:
    """A range value can be built and used with ``in``; a missing one never matches."""
    assert ev("5 in r", {}) is False
    assert ev("{r: [1..10], t: 5 in r}.t") is True


# ---------------------------------------------------------------- paths, contexts, filters


def test_paths() -> None:
    """Paths read context entries, are null-safe and map over lists."""
    context = {"order": {"customer": {"name": "Li"}, "items": [{"price": 3}, {"price": 4}]}}
    assert ev("order.customer.name", context) == "Li"
    assert ev("order.items.price", context) == [3, 4]
    assert ev("order.nothing.name", context) is None
    assert ev("a.b", {"a": "text"}) is None


def test_context_literals_see_previous_entries() -> None:
    """Entries of a context literal can use the entries before them."""
    assert js('{a: 1, b: a + 1, "c d": b * 2}') == {"a": 1, "b": 2, "c d": 4}
    assert js("{a: 1, b: {c: a}}.b.c") == 1


def test_filters() -> None:
    """Filters keep items whose condition is true; ``item`` and entry names are visible."""
    items = {"items": [{"price": 5, "name": "a"}, {"price": 20, "name": "b"}, {"price": 15, "name": "c"}]}
    assert js("items[price > 10].name", items) == ["b", "c"]
    assert js("items[item.price < 10].name", items) == ["a"]
    assert js("[1, 2, 3][item >= 2]") == [2, 3]
    assert js("[1, null, 3][item > 1]") == [3]
    assert js("[][item > 1]") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[1, 2, 3][1]", 1),
        ("[1, 2, 3][-1]", 3),
        ("[1, 2, 3][0]", None),
        ("[1, 2, 3][4]", None),
        ("[1, 2, 3][-4]", None),
        ("xs[i]", 20),
        ("null[1]", None),
        ("5[1]", None),
        ("{a: 1}[a = 1]", None),
    ],
)
def test_filter_index(text: str, expected: Any) -> None:
    """A numeric filter is a 1-based index (negative from the end); a non-list is null."""
    assert js(text, {"xs": [10, 20, 30], "i": 2}) == expected


# ---------------------------------------------------------------- iteration


def test_for_expressions() -> None:
    """for iterates lists and ranges (also descending), nesting contexts as a cartesian product."""
    assert js("for x in [1, 2, 3] return x * 2") == [2, 4, 6]
    assert js("for x in 3..1 return x") == [3, 2, 1]
    assert js("for x in [1, 2], y in [10, 20] return x + y") == [11, 21, 12, 22]
    assert js("for x in xs return x", {"xs": None}) is None
    assert js("for x in 1..4 return if x = 1 then 1 else x * partial[-1]") == [1, 2, 6, 24]


def test_for_domains_are_evaluated_in_the_outer_scope() -> None:
    """As in Zeebe, a later iteration domain cannot use an earlier iteration variable."""
    assert ev("for i in 1..3, j in i..3 return [i, j]") is None


def test_quantified_expressions() -> None:
    """some/every return booleans for boolean conditions."""
    assert ev("some x in [1, 2, 3] satisfies x > 2") is True
    assert ev("every x in [1, 2, 3] satisfies x > 1") is False
    assert ev("every x in [] satisfies x > 1") is True
    assert ev("some x in [] satisfies x > 1") is False


def test_quantified_expressions_with_null_conditions() -> None:
    """A null condition makes some/every null unless a decisive true/false is found (Zeebe)."""
    assert ev("some x in [1, null] satisfies x > 1") is None
    assert ev("some x in [2, null] satisfies x > 1") is True
    assert ev("every x in [2, null] satisfies x > 1") is None
    assert ev("every x in [0, null] satisfies x > 1") is False


# ---------------------------------------------------------------- temporal


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('date("2026-11-26") + duration("P1D")', "2026-11-27"),
        ('date("2026-01-31") + duration("P1M")', "2026-02-28"),
        ('date("2026-11-26") + duration("PT36H")', "2026-11-27"),
        ('date("2026-11-26") - date("2026-11-20")', "P6D"),
        ('@"2026-11-26T10:00:00Z" - @"2026-11-25T08:00:00Z"', "P1DT2H"),
        ('@"2026-11-26T10:00:00+02:00" - @"2026-11-26T10:00:00Z"', "-PT2H"),
        ('@"2026-11-26T10:00:00Z" + duration("PT1H")', "2026-11-26T11:00:00Z"),
        ('@"2026-03-28T12:00:00@Europe/Berlin" + duration("PT24H")', "2026-03-29T13:00:00@Europe/Berlin"),
        ('@"2026-03-28T12:00:00@Europe/Berlin" + duration("P1D")', "2026-03-29T13:00:00@Europe/Berlin"),
        ('time("23:00:00") + duration("PT3H")', "02:00:00"),
        ('time("10:00:00") - time("08:30:00")', "PT1H30M"),
        ('duration("PT1H") * 2', "PT2H"),
        ('3 * duration("P1M")', "P3M"),
        ('duration("P1D") / 2', "PT12H"),
        ('duration("P1D") / duration("PT6H")', 4),
        ('duration("P1Y") / duration("P6M")', 2),
        ('duration("P1Y") / 4', "P3M"),
        ('duration("P1D") + duration("PT12H")', "P1DT12H"),
        ('duration("P1Y") + duration("P1D")', None),
        ('-duration("PT1H")', None),
        ('years and months duration(date("2020-01-15"), date("2026-11-26"))', "P6Y10M"),
        ('years and months duration(date("2026-11-26"), date("2020-01-15"))', "-P6Y10M"),
    ],
)
def test_temporal_arithmetic(text: str, expected: Any) -> None:
    """Dates, date-times, times and durations add and subtract as in Zeebe."""
    assert js(text) == expected


def test_timer_style_expressions() -> None:
    """Typical timer expressions evaluate to ISO strings."""
    assert js('now() + duration("P3D")') == "2026-11-29T09:30:15Z"
    assert js('date and time(today(), time("17:00:00Z"))') == "2026-11-26T17:00:00Z"
    assert js("date(deadline) - today()", {"deadline": "2026-12-01"}) == "P5D"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('date("2026-11-26").weekday', 4),
        ('date("2026-11-26").year', 2026),
        ('@"2026-11-26T10:11:12Z".hour', 10),
        ('@"2026-11-26T10:11:12+02:00".time offset', "PT2H"),
        ('@"2026-11-26T10:11:12@Asia/Shanghai".timezone', "Asia/Shanghai"),
        ('duration("P1DT2H").days', 1),
        ('duration("PT90M").hours', 1),
        ('duration("-PT90M").minutes', -30),
        ('duration("P14M").years', 1),
        ('duration("P14M").months', 2),
        ('date("2026-11-26").hour', None),
        ('day of week(date("2026-11-26"))', "Thursday"),
        ('month of year(date("2026-11-26"))', "November"),
        ('week of year(date("2026-11-26"))', 48),
        ('day of year(date("2026-11-26"))', 330),
        ('last day of month(date("2024-02-10"))', "2024-02-29"),
    ],
)
def test_temporal_properties_and_functions(text: str, expected: Any) -> None:
    """Temporal values expose properties and calendar functions."""
    assert js(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('date("2026-02-30")', None),
        ('time("24:00:00")', None),
        ('duration("P1Y2D")', None),
        ('duration("P1W")', None),
        ('date and time("2026-11-26T10:00:00@Mars/Base")', None),
        ('date and time("2026-11-26T10:00:00+01:00[Europe/Paris]")', "2026-11-26T10:00:00@Europe/Paris"),
        ('date and time(@"2026-11-26T10:00:00", "Asia/Shanghai")', "2026-11-26T10:00:00@Asia/Shanghai"),
        ("date(2026, 2, 29)", None),
        ("time(10, 30, 15.5)", "10:30:15.5"),
    ],
)
def test_temporal_constructors(text: str, expected: Any) -> None:
    """Invalid temporal text gives null; zone ids and bracketed zones are understood."""
    assert js(text) == expected


def test_zoned_datetime_keeps_its_zone() -> None:
    """A date-time with a region id keeps the zone for arithmetic and output."""
    value = ev('@"2026-11-26T10:00:00@Europe/Berlin"')
    assert value.tzinfo == ZoneInfo("Europe/Berlin")


# ---------------------------------------------------------------- built-ins


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('substring("foobar", 3)', "obar"),
        ('substring("foobar", 3, 2)', "ob"),
        ('substring("foobar", -2)', "ar"),
        ('substring("foobar", 0)', ""),
        ('substring("abc", 5)', None),
        ('substring(string: "foobar", start position: 2, length: 3)', "oob"),
        ('string length("中文")', 2),
        ("upper case(1)", None),
        ('substring before("foobar", "bar")', "foo"),
        ('substring after("foobar", "x")', ""),
        ('matches("ABC", "b", "i")', True),
        ('matches("abc", "[")', None),
        ('replace("abc", "(b)", "[$1]")', "a[b]c"),
        ('replace("2026-11-26", "(?<y>\\\\d+)-.*", "${y}")', "2026"),
        ('split("a,b,", ",")', ["a", "b", ""]),
        ('split("a1b22c", "[0-9]+")', ["a", "b", "c"]),
        ('string join(["a", "b"], "-", "[", "]")', "[a-b]"),
        ('string join(["a", null, "b"])', "ab"),
        ('string join(["a", 1])', None),
        ('trim("  a  ")', "a"),
        ('extract("a1b22", "[0-9]+")', ["1", "22"]),
        ('is blank("  ")', True),
        ('to base64("FEEL")', "RkVFTA=="),
        ('from base64("RkVFTA==")', "FEEL"),
    ],
)
def test_string_builtins(text: str, expected: Any) -> None:
    """String built-ins follow Zeebe (Java) semantics; wrong types give null."""
    assert js(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("string(1.0)", "1.0"),
        ("string(1.5 * 2)", "3.0"),
        ("string(1 / 3)", "0.3333333333333333333333333333333333"),
        ("string(null)", None),
        ('string(["a", 1])', '["a", 1]'),
        ("string({a: 1})", "{a:1}"),
        ('string(duration("PT25H"))', "P1DT1H"),
        ('number("1e2")', 100),
        ('number(" 1 ")', None),
        ('number("1 000,5", " ", ",")', 1000.5),
    ],
)
def test_conversion_builtins(text: str, expected: Any) -> None:
    """string() renders numbers like Java's BigDecimal; number() parses strictly."""
    assert js(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('min(["b", "a"])', "a"),
        ('max([date("2026-01-01"), date("2026-06-01")])', "2026-06-01"),
        ("min([1, null])", None),
        ('max([1, "a"])', None),
        ("sum([1, 2, 3])", 6),
        ("sum([])", None),
        ("mean([1, 2])", 1.5),
        ("median([3, 1, 2, 4])", 2.5),
        ("mode([1, 2, 2, 3, 3])", [2, 3]),
        ("all([true, 1])", None),
        ("all([1, false])", False),
        ("any([null, true])", True),
        ("remove([1, 2, 3], -1)", [1, 2]),
        ("insert before([1, 2], -1, 9)", [1, 9, 2]),
        ("sublist([1, 2, 3], 0)", None),
        ("append([1], [2])", [1, [2]]),
        ("union([1, [2]], [2])", [1, [2], 2]),
        ("distinct values([[1], [1], 1])", [[1], 1]),
        ("duplicate values([1, 2, 2, 3, 3, 3])", [2, 3]),
        ("is empty([])", True),
        ("partition([1, 2, 3, 4, 5], 2)", [[1, 2], [3, 4], [5]]),
        ("sort([3, 1, 2], function(a, b) a < b)", [1, 2, 3]),
        ("sort([{n: 2}, {n: 1}], function(x, y) x.n < y.n).n", [1, 2]),
        ("sort([3, 1], function(a, b) null)", None),
        ("count([1, [2, 3]])", 2),
        ("list contains([[1]], [1])", True),
        ("index of([1, 2, 1], 1)", [1, 3]),
    ],
)
def test_list_builtins(text: str, expected: Any) -> None:
    """List built-ins follow Zeebe; mixed or non-numeric input gives null."""
    assert js(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("decimal(2.5, 0)", 2),
        ("decimal(1.005, 2)", 1),
        ('decimal(2.5, 0, "half_up")', 3),
        ("floor(-1.5)", -2),
        ("ceiling(1.123, 1)", 1.2),
        ("round half up(-2.5, 0)", -3),
        ("round half down(2.5, 0)", 2),
        ("round up(2.1, 0)", 3),
        ("round down(-2.9, 0)", -2),
        ("abs(-1.5)", 1.5),
        ('abs(duration("-P1D"))', "P1D"),
        ("modulo(-10, 3)", 2),
        ("modulo(10, -3)", -2),
        ("modulo(10, 0)", None),
        ("sqrt(16)", 4),
        ("sqrt(-1)", None),
        ("log(0)", None),
        ("odd(3)", True),
        ("even(3)", False),
    ],
)
def test_numeric_builtins(text: str, expected: Any) -> None:
    """Rounding uses BigDecimal semantics (half-even by default)."""
    assert js(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("is defined(x)", False),
        ("is defined(null)", False),
        ("is defined(1)", True),
        ("is defined(y)", True),
        ("get or else(x, 5)", 5),
        ("get or else(y, 5)", 0),
        ('get value({a: {b: 1}}, ["a", "b"])', 1),
        ('get value({a: 1}, "b")', None),
        ('context put({a: 1}, ["b", "c"], 2)', {"a": 1, "b": {"c": 2}}),
        ("context merge([{a: 1}, {a: 2, b: 3}])", {"a": 2, "b": 3}),
        ("get entries({a: 1})", [{"key": "a", "value": 1}]),
        ('context([{key: "a", value: 1}])', {"a": 1}),
        ('from json("{\\"a\\": [1, 2.5]}")', {"a": [1, 2.5]}),
        ('to json({a: [1, date("2026-11-26")]})', '{"a":[1,"2026-11-26"]}'),
    ],
)
def test_boolean_and_context_builtins(text: str, expected: Any) -> None:
    """is defined() is false for null (Zeebe 8.4+); context functions build new contexts."""
    assert js(text, {"y": 0}) == expected


def test_assert_fails_the_evaluation() -> None:
    """assert() returns the value when the condition holds and fails otherwise."""
    assert ev("assert(x, x > 0)", {"x": 1}) == 1
    with pytest.raises(FeelEvaluationError, match="x must be positive"):
        ev('assert(x, x > 0, "x must be positive")', {"x": -1})


def test_user_functions_in_contexts() -> None:
    """A function defined in a context entry can be called by name."""
    assert js("{double: function(x) x * 2, r: double(21)}.r") == 42
    assert js("{f: function(a, b) a - b, r: f(b: 1, a: 5)}.r") == 4
    with pytest.raises(FeelEvaluationError):
        ev("{f: function(a) a, r: f(1, 2)}.r")


def test_named_arguments() -> None:
    """Built-ins accept named arguments; unknown parameter names fail."""
    assert ev('substring(string: "abc", start position: 2)') == "bc"
    assert ev("date(year: 2026, month: 11, day: 26)") == dt.date(2026, 11, 26)
    with pytest.raises(FeelEvaluationError):
        ev('upper case(text: "a")')


def test_instance_of() -> None:
    """``instance of`` checks FEEL type names."""
    assert ev("1 instance of number") is True
    assert ev('@"2026-11-26T10:00:00Z" instance of date and time') is True
    assert ev('duration("P1Y") instance of years and months duration') is True
    assert ev("null instance of Any") is False
