"""Compile a lark parse tree into a tree of Python closures, and the scopes they run in.

Every node becomes a function ``(scope) -> value``; evaluating an expression is one call of the
root closure, so nothing is parsed or dispatched on node types at evaluation time.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any

from lark import Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from engine.feel import ops, temporal
from engine.feel.builtins import BUILTINS, Builtin
from engine.feel.errors import FeelEvaluationError, FeelSyntaxError
from engine.feel.grammar import parser
from engine.feel.values import FeelFunction, FeelRange, YearsMonthsDuration, to_feel

Evaluator = Callable[["Scope"], Any]

_MISSING: Any = object()
_NO_BINDINGS: Mapping[str, Any] = MappingProxyType({})


class Scope:
    """Names visible to an expression: a dict of bindings in front of an enclosing scope."""

    __slots__ = ("parent", "root", "vars")

    def __init__(self, bindings: Mapping[str, Any], parent: Scope) -> None:
        self.vars = bindings
        self.parent = parent
        self.root: RootScope = parent.root

    def lookup(self, name: str) -> Any:
        bindings = self.vars
        if name in bindings:
            return bindings[name]
        return self.parent.lookup(name)


class RootScope(Scope):
    """The variables passed to ``evaluate`` (JSON values, converted to FEEL values on first read)."""

    __slots__ = ("_cache", "_now", "_raw")

    def __init__(self, variables: Mapping[str, Any], now: dt.datetime | None) -> None:
        self.vars = _NO_BINDINGS
        self.root = self
        self._raw = variables
        self._cache: dict[str, Any] = {}
        self._now = now

    def lookup(self, name: str) -> Any:
        cache = self._cache
        value = cache.get(name, _MISSING)
        if value is _MISSING:
            value = to_feel(self._raw.get(name))
            cache[name] = value
        return value

    def now(self) -> dt.datetime:
        """The engine clock (fixed for one evaluation)."""
        if self._now is None:
            self._now = dt.datetime.now(dt.UTC)
        elif self._now.tzinfo is None:
            self._now = self._now.replace(tzinfo=dt.UTC)
        return self._now


class ItemScope(Scope):
    """Scope of a filter condition: ``item`` and, for a context item, its entries."""

    __slots__ = ("item",)

    def __init__(self, item: Any, parent: Scope) -> None:
        self.item = item
        self.vars = item if type(item) is dict else {}
        self.parent = parent
        self.root = parent.root

    def lookup(self, name: str) -> Any:
        bindings = self.vars
        if name in bindings:
            return bindings[name]
        if name == "item":
            return self.item
        return self.parent.lookup(name)


# ---------------------------------------------------------------- parsing


def parse(text: str) -> Tree[Token]:
    """Parse FEEL text into a lark tree, raising :class:`FeelSyntaxError` with the column."""
    try:
        return parser().parse(text)
    except UnexpectedInput as error:
        raise FeelSyntaxError(_describe(error), expression=text, column=_column(error, text)) from None


def _column(error: UnexpectedInput, text: str) -> int:
    if isinstance(error, UnexpectedEOF) or (
        isinstance(error, UnexpectedToken) and error.token.type == "$END"
    ):
        return len(text) + 1
    column = getattr(error, "column", None)
    if isinstance(column, int) and column > 0:
        # lark counts columns within the line; make it absolute for multi-line text
        line = getattr(error, "line", 1)
        if isinstance(line, int) and line > 1:
            offset = sum(len(part) + 1 for part in text.split("\n")[: line - 1])
            return offset + column
        return column
    return len(text) + 1


def _describe(error: UnexpectedInput) -> str:
    if isinstance(error, UnexpectedCharacters):
        return f"unexpected character {error.char!r}"
    if isinstance(error, UnexpectedToken):
        if error.token.type == "$END":
            return "unexpected end of expression"
        return f"unexpected {error.token.value!r}"
    return "unexpected end of expression"


# ---------------------------------------------------------------- literals

_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}
_ESCAPE_RE = re.compile(r"\\(.)", re.DOTALL)


def _unescape(body: str) -> str:
    """Zeebe's string escapes; unknown ones (``\\d``, ``\\u00e4``) keep their backslash."""

    def replace(match: re.Match[str]) -> str:
        code = match[1]
        simple = _ESCAPES.get(code)
        return simple if simple is not None else "\\" + code

    return _ESCAPE_RE.sub(replace, body)


def string_literal(token: Token) -> str:
    return _unescape(str(token)[1:-1])


def temporal_literal(text: str) -> Any:
    """The value of ``@"..."``: a date, date-time, time or duration; ``None`` if none fits."""
    if "T" in text and not text.startswith(("P", "-P", "T")):
        return temporal.parse_date_time(text)
    date = temporal.parse_date(text)
    if date is not None:
        return date
    parsed_time = temporal.parse_time(text)
    if parsed_time is not None:
        return parsed_time
    months = temporal.parse_years_months(text)
    if months is not None:
        return YearsMonthsDuration(months)
    return temporal.parse_days_time(text)


def _tree(node: object) -> Tree[Token]:
    """``node`` as a subtree (the grammar guarantees it; this narrows the type)."""
    if not isinstance(node, Tree):
        raise TypeError(f"expected a parse subtree, got {node!r}")
    return node


def _token(node: object) -> Token:
    """``node`` as a token (the grammar guarantees it; this narrows the type)."""
    if not isinstance(node, Token):
        raise TypeError(f"expected a token, got {node!r}")
    return node


def _tree_or_token(node: object) -> Tree[Token] | Token:
    if not isinstance(node, Tree | Token):
        raise TypeError(f"expected a parse node, got {node!r}")
    return node


def _name(node: Tree[Token] | Token) -> str:
    token = _token(node.children[0]) if isinstance(node, Tree) else node
    text = str(token)
    if text.startswith("`"):
        return text[1:-1]
    if token.type == "SPACED_PROPERTY":
        return " ".join(text.split())
    return text


def _function_name(node: Tree[Token] | Token) -> str:
    if isinstance(node, Token):
        return " ".join(str(node).split())
    return _name(node)


def _first_column(node: Tree[Token] | Token) -> int:
    if isinstance(node, Token):
        return node.column or 1
    for child in node.children:
        if isinstance(child, Tree | Token):
            column = _first_column(child)
            if column:
                return column
    return 1


# ---------------------------------------------------------------- compiler


def _const(value: Any) -> Evaluator:
    def evaluate(_scope: Scope) -> Any:
        return value

    return evaluate


_COMPARATORS: dict[str, Callable[[Any, Any], bool | None]] = {
    "=": ops.equals,
    "!=": ops.not_equals,
    "<": ops.less,
    "<=": ops.less_or_equal,
    ">": ops.greater,
    ">=": ops.greater_or_equal,
}

_ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {
    "add": ops.add,
    "sub": ops.subtract,
    "mul": ops.multiply,
    "div": ops.divide,
    "pow": ops.power,
}

#: Filter conditions that always filter (never index), as Camunda's engine decides syntactically.
_PREDICATE_NODES = frozenset(
    {"compare", "between", "in_expr", "instance_of", "call", "and_expr", "or_expr", "true", "false"}
)


class Compiler:
    """Turns one parse tree into closures. ``text`` is only used for error messages."""

    def __init__(self, text: str) -> None:
        self.text = text

    def error(self, message: str, node: Tree[Token] | Token) -> FeelSyntaxError:
        return FeelSyntaxError(message, expression=self.text, column=_first_column(node))

    def compile(self, node: Tree[Token] | Token) -> Evaluator:
        if isinstance(node, Token):  # pragma: no cover - the grammar wraps every token
            raise self.error(f"unexpected token {node!r}", node)
        method = getattr(self, f"_{node.data}", None)
        if method is None:
            raise self.error(f"unsupported construct '{node.data}'", node)
        result: Evaluator = method(node)
        return result

    # ------------------------------------------------------------ literals and names

    def _number(self, node: Tree[Token]) -> Evaluator:
        return _const(Decimal(str(node.children[0])))

    def _string(self, node: Tree[Token]) -> Evaluator:
        token = node.children[0]
        token = _token(token)
        return _const(string_literal(token))

    def _true(self, _node: Tree[Token]) -> Evaluator:
        return _const(value=True)

    def _false(self, _node: Tree[Token]) -> Evaluator:
        return _const(value=False)

    def _null(self, _node: Tree[Token]) -> Evaluator:
        return _const(None)

    def _temporal(self, node: Tree[Token]) -> Evaluator:
        token = node.children[0]
        token = _token(token)
        value = temporal_literal(string_literal(token))
        if value is None:
            raise self.error(f"invalid temporal literal @{token}", token)
        return _const(value)

    def _var(self, node: Tree[Token]) -> Evaluator:
        name_node = node.children[0]
        name_node = _tree(name_node)
        name = _name(name_node)

        def evaluate(scope: Scope) -> Any:
            return scope.lookup(name)

        return evaluate

    def _list(self, node: Tree[Token]) -> Evaluator:
        items = [self.compile(child) for child in node.children if child is not None]

        def evaluate(scope: Scope) -> Any:
            return [item(scope) for item in items]

        return evaluate

    def _context(self, node: Tree[Token]) -> Evaluator:
        entries: list[tuple[str, Evaluator]] = []
        for child in node.children:
            if child is None:
                continue
            entry = _tree(child)
            key_node, value_node = entry.children
            if entry.data == "string_entry":
                key_node = _token(key_node)
                key = string_literal(key_node)
            else:
                key_node = _tree(key_node)
                key = _name(key_node)
            value_node = _tree(value_node)
            entries.append((key, self.compile(value_node)))

        def evaluate(scope: Scope) -> Any:
            result: dict[str, Any] = {}
            inner = Scope(result, scope)
            for key, value in entries:
                result[key] = value(inner)
            return result

        return evaluate

    def _interval(self, node: Tree[Token], start_included: bool, end_included: bool) -> Evaluator:
        start_node, end_node = node.children
        start_node = _tree(start_node)
        end_node = _tree(end_node)
        start = self.compile(start_node)
        end = self.compile(end_node)

        def evaluate(scope: Scope) -> Any:
            low = start(scope)
            high = end(scope)
            if ops.compare(low, high) is None:
                return None
            return FeelRange(low, high, start_included, end_included)

        return evaluate

    def _interval_cc(self, node: Tree[Token]) -> Evaluator:
        return self._interval(node, start_included=True, end_included=True)

    def _interval_co(self, node: Tree[Token]) -> Evaluator:
        return self._interval(node, start_included=True, end_included=False)

    def _interval_oc(self, node: Tree[Token]) -> Evaluator:
        return self._interval(node, start_included=False, end_included=True)

    def _interval_oo(self, node: Tree[Token]) -> Evaluator:
        return self._interval(node, start_included=False, end_included=False)

    # ------------------------------------------------------------ operators

    def _binary(self, node: Tree[Token], operation: Callable[[Any, Any], Any]) -> Evaluator:
        left_node, right_node = node.children
        left_node = _tree(left_node)
        right_node = _tree(right_node)
        left = self.compile(left_node)
        right = self.compile(right_node)

        def evaluate(scope: Scope) -> Any:
            return operation(left(scope), right(scope))

        return evaluate

    def _add(self, node: Tree[Token]) -> Evaluator:
        return self._binary(node, ops.add)

    def _sub(self, node: Tree[Token]) -> Evaluator:
        return self._binary(node, ops.subtract)

    def _mul(self, node: Tree[Token]) -> Evaluator:
        return self._binary(node, ops.multiply)

    def _div(self, node: Tree[Token]) -> Evaluator:
        return self._binary(node, ops.divide)

    def _pow(self, node: Tree[Token]) -> Evaluator:
        return self._binary(node, ops.power)

    def _neg(self, node: Tree[Token]) -> Evaluator:
        operand_node = node.children[0]
        operand_node = _tree(operand_node)
        if operand_node.data == "number":
            return _const(Decimal(str(operand_node.children[0])).copy_negate())
        operand = self.compile(operand_node)

        def evaluate(scope: Scope) -> Any:
            return ops.negate(operand(scope))

        return evaluate

    def _compare(self, node: Tree[Token]) -> Evaluator:
        left_node, operator, right_node = node.children
        left_node = _tree(left_node)
        right_node = _tree(right_node)
        left = self.compile(left_node)
        right = self.compile(right_node)
        comparator = _COMPARATORS[str(operator)]

        def evaluate(scope: Scope) -> Any:
            return comparator(left(scope), right(scope))

        return evaluate

    def _between(self, node: Tree[Token]) -> Evaluator:
        value_node, low_node, high_node = node.children
        value_node = _tree(value_node)
        low_node = _tree(low_node)
        high_node = _tree(high_node)
        value = self.compile(value_node)
        low = self.compile(low_node)
        high = self.compile(high_node)

        def evaluate(scope: Scope) -> Any:
            subject = value(scope)
            return _and_values(
                ops.greater_or_equal(subject, low(scope)), ops.less_or_equal(subject, high(scope))
            )

        return evaluate

    def _and_expr(self, node: Tree[Token]) -> Evaluator:
        left_node, right_node = node.children
        left_node = _tree(left_node)
        right_node = _tree(right_node)
        left = self.compile(left_node)
        right = self.compile(right_node)

        def evaluate(scope: Scope) -> Any:
            first = left(scope)
            if first is False:
                return False
            second = right(scope)
            if second is False:
                return False
            if first is True and second is True:
                return True
            return None

        return evaluate

    def _or_expr(self, node: Tree[Token]) -> Evaluator:
        left_node, right_node = node.children
        left_node = _tree(left_node)
        right_node = _tree(right_node)
        left = self.compile(left_node)
        right = self.compile(right_node)

        def evaluate(scope: Scope) -> Any:
            first = left(scope)
            if first is True:
                return True
            second = right(scope)
            if second is True:
                return True
            if first is False and second is False:
                return False
            return None

        return evaluate

    def _if_expr(self, node: Tree[Token]) -> Evaluator:
        condition_node, then_node, else_node = node.children
        condition_node = _tree(condition_node)
        then_node = _tree(then_node)
        else_node = _tree(else_node)
        condition = self.compile(condition_node)
        then_branch = self.compile(then_node)
        else_branch = self.compile(else_node)

        def evaluate(scope: Scope) -> Any:
            if condition(scope) is True:
                return then_branch(scope)
            return else_branch(scope)

        return evaluate

    def _instance_of(self, node: Tree[Token]) -> Evaluator:
        value_node, type_token = node.children
        value_node = _tree(value_node)
        value = self.compile(value_node)
        wanted = " ".join(str(type_token).split())

        if wanted == "Any":

            def evaluate_any(scope: Scope) -> Any:
                return value(scope) is not None

            return evaluate_any

        def evaluate(scope: Scope) -> Any:
            return ops.type_name(value(scope)) == wanted

        return evaluate

    # ------------------------------------------------------------ unary tests (x in ...)

    def _in_expr(self, node: Tree[Token]) -> Evaluator:
        value_node, tests_node = node.children
        value_node = _tree(value_node)
        tests_node = _tree(tests_node)
        value = self.compile(value_node)
        if tests_node.data == "single_compare_test":
            tests = [self._compare_test(tests_node)]
        elif tests_node.data == "single_test":
            child = tests_node.children[0]
            child = _tree(child)
            tests = [self._unary_test(child)]
        else:
            tests = [self._unary_test(_tree(child)) for child in tests_node.children]

        if len(tests) == 1:
            (test,) = tests

            def evaluate_one(scope: Scope) -> Any:
                return test(value(scope), scope)

            return evaluate_one

        def evaluate(scope: Scope) -> Any:
            subject = value(scope)
            result: bool | None = False
            for test in tests:
                outcome = test(subject, scope)
                if outcome is True:
                    return True
                if outcome is None:
                    result = None
            return result

        return evaluate

    def _unary_test(self, node: Tree[Token]) -> Callable[[Any, Scope], bool | None]:
        if node.data == "test_compare":
            return self._compare_test(node)
        expression_node = node.children[0]
        expression_node = _tree(expression_node)
        if expression_node.data.startswith("interval_"):
            start_node, end_node = expression_node.children
            start_node = _tree(start_node)
            end_node = _tree(end_node)
            start = self.compile(start_node)
            end = self.compile(end_node)
            start_included = expression_node.data in {"interval_cc", "interval_co"}
            end_included = expression_node.data in {"interval_cc", "interval_oc"}

            def range_test(subject: Any, scope: Scope) -> bool | None:
                return ops.in_range(subject, start(scope), end(scope), start_included, end_included)

            return range_test
        expression = self.compile(expression_node)

        def expression_test(subject: Any, scope: Scope) -> bool | None:
            return _unary_test_value(subject, expression(scope))

        return expression_test

    def _compare_test(self, node: Tree[Token]) -> Callable[[Any, Scope], bool | None]:
        operator, operand_node = node.children
        operand_node = _tree(operand_node)
        if str(operator) in {"=", "!="}:
            raise self.error(f"unexpected {str(operator)!r} in a unary test", operator)
        comparator = _COMPARATORS[str(operator)]
        operand = self.compile(operand_node)

        def test(subject: Any, scope: Scope) -> bool | None:
            return comparator(subject, operand(scope))

        return test

    # ------------------------------------------------------------ paths and filters

    def _path(self, node: Tree[Token]) -> Evaluator:
        base_node, name_node = node.children
        base_node = _tree(base_node)
        base = self.compile(base_node)
        name = _name(_tree_or_token(name_node))
        path = ops.path

        def evaluate(scope: Scope) -> Any:
            return path(base(scope), name)

        return evaluate

    def _filter(self, node: Tree[Token]) -> Evaluator:
        base_node, condition_node = node.children
        base_node = _tree(base_node)
        condition_node = _tree(condition_node)
        base = self.compile(base_node)
        condition = self.compile(condition_node)

        if condition_node.data == "number" or (
            condition_node.data == "neg"
            and isinstance(condition_node.children[0], Tree)
            and condition_node.children[0].data == "number"
        ):
            index = _literal_number(condition_node)

            def evaluate_index(scope: Scope) -> Any:
                items = base(scope)
                if type(items) is not list:
                    return None
                return _item_at(items, index)

            return evaluate_index

        always_predicate = condition_node.data in _PREDICATE_NODES

        def evaluate(scope: Scope) -> Any:
            items = base(scope)
            if type(items) is not list:
                return None
            if not items:
                return []
            first = items[0]
            first_outcome = condition(ItemScope(first, scope))
            if not always_predicate and type(first_outcome) is Decimal:
                return _item_at(items, first_outcome)
            selected = [first] if first_outcome is True else []
            selected.extend(
                item for item in itertools.islice(items, 1, None) if condition(ItemScope(item, scope)) is True
            )
            return selected

        return evaluate

    # ------------------------------------------------------------ iteration

    def _iterations(self, nodes: Iterable[Tree[Token] | Token | None]) -> list[tuple[str, Evaluator]]:
        iterations: list[tuple[str, Evaluator]] = []
        for iteration in nodes:
            if not isinstance(iteration, Tree) or iteration.data not in {"iteration", "iteration_range"}:
                continue
            name_node = iteration.children[0]
            name_node = _tree(name_node)
            name = _name(name_node)
            if iteration.data == "iteration":
                domain_node = iteration.children[1]
                domain_node = _tree(domain_node)
                iterations.append((name, self.compile(domain_node)))
            else:
                start_node, end_node = iteration.children[1:]
                start_node = _tree(start_node)
                end_node = _tree(end_node)
                iterations.append((name, _range_domain(self.compile(start_node), self.compile(end_node))))
        return iterations

    def _for_expr(self, node: Tree[Token]) -> Evaluator:
        *iteration_nodes, body_node = node.children
        body_node = _tree(body_node)
        iterations = self._iterations(iteration_nodes)
        names = [name for name, _ in iterations]
        body = self.compile(body_node)
        uses_partial = "partial" in free_names(body_node) and "partial" not in names

        def evaluate(scope: Scope) -> Any:
            domains = _domains(iterations, scope)
            if domains is None:
                return None
            results: list[Any] = []
            for combination in itertools.product(*domains):
                bindings = dict(zip(names, combination, strict=True))
                if uses_partial:
                    bindings["partial"] = list(results)
                results.append(body(Scope(bindings, scope)))
            return results

        return evaluate

    def _quantified(self, node: Tree[Token], *, every: bool) -> Evaluator:
        *iteration_nodes, body_node = node.children
        body_node = _tree(body_node)
        iterations = self._iterations(iteration_nodes)
        names = [name for name, _ in iterations]
        body = self.compile(body_node)
        decisive = not every  # `some` stops at the first true, `every` at the first false

        def evaluate(scope: Scope) -> Any:
            domains = _domains(iterations, scope)
            if domains is None:
                return None
            result: bool | None = not decisive
            for combination in itertools.product(*domains):
                outcome = body(Scope(dict(zip(names, combination, strict=True)), scope))
                if outcome is decisive:
                    return decisive
                if outcome is not (not decisive):
                    result = None
            return result

        return evaluate

    def _some_expr(self, node: Tree[Token]) -> Evaluator:
        return self._quantified(node, every=False)

    def _every_expr(self, node: Tree[Token]) -> Evaluator:
        return self._quantified(node, every=True)

    # ------------------------------------------------------------ functions

    def _function_def(self, node: Tree[Token]) -> Evaluator:
        *param_nodes, body_node = node.children
        body_node = _tree(body_node)
        params = tuple(_name(param) for param in param_nodes if isinstance(param, Tree))
        body = self.compile(body_node)

        def evaluate(scope: Scope) -> Any:
            def invoke(args: Sequence[Any]) -> Any:
                if len(args) != len(params):
                    raise FeelEvaluationError(
                        f"no function found with {len(args)} parameters (the function takes {len(params)})"
                    )
                return body(Scope(dict(zip(params, args, strict=True)), scope))

            return FeelFunction(params, invoke)

        return evaluate

    def _call(self, node: Tree[Token]) -> Evaluator:
        name_node, arguments_node = node.children
        name = _function_name(_tree_or_token(name_node))
        positional: list[Evaluator] = []
        named: dict[str, Evaluator] | None = None
        if arguments_node is None:
            pass
        elif isinstance(arguments_node, Tree) and arguments_node.data == "named":
            named = {}
            for child in arguments_node.children:
                *words, value_node = _tree(child).children
                value_node = _tree(value_node)
                named[" ".join(str(word) for word in words)] = self.compile(value_node)
        elif isinstance(arguments_node, Tree) and arguments_node.data == "positional":
            positional = [self.compile(child) for child in arguments_node.children if isinstance(child, Tree)]
        else:
            arguments_node = _tree(arguments_node)
            positional = [self.compile(arguments_node)]

        builtin = BUILTINS.get(name)
        if builtin is not None:
            if named is not None:
                return _named_builtin_call(builtin, named)
            return _builtin_call(builtin, positional)
        return _dynamic_call(name, positional, named)


# ---------------------------------------------------------------- runtime helpers


def _and_values(first: Any, second: Any) -> bool | None:
    if first is False or second is False:
        return False
    if first is True and second is True:
        return True
    return None


def _unary_test_value(subject: Any, test: Any) -> bool | None:
    """``subject in <expression>`` for an expression test, as Camunda's engine defines it."""
    if test is True:
        return True
    if type(test) is list:
        return any(ops.equals(subject, item) is True for item in test) or ops.equals(subject, test) is True
    if type(test) is FeelRange:
        return ops.in_range(subject, test.start, test.end, test.start_included, test.end_included)
    outcome = ops.equals(subject, test)
    if outcome is True:
        return True
    if test is False:
        return False
    if outcome is None:
        return None
    return False


def _literal_number(node: Tree[Token]) -> Decimal:
    """The value of a (possibly negated) number literal node."""
    if node.data == "neg":
        inner = node.children[0]
        inner = _tree(inner)
        return _literal_number(inner).copy_negate()
    return Decimal(str(node.children[0]))


def _item_at(items: list[Any], index: Any) -> Any:
    if type(index) is not Decimal:
        return None
    position = int(index - 1) if index > 0 else int(len(items) + index)
    if position < 0 or position >= len(items):
        return None
    return items[position]


def _range_domain(start: Evaluator, end: Evaluator) -> Evaluator:
    """``a..b`` in a for/some/every: the numbers from ``a`` to ``b`` in steps of one."""

    def evaluate(scope: Scope) -> Any:
        low = start(scope)
        high = end(scope)
        if type(low) is not Decimal or type(high) is not Decimal:
            return None
        step = Decimal(1) if low <= high else Decimal(-1)
        values: list[Decimal] = []
        current = low
        while (current <= high) if step > 0 else (current >= high):
            values.append(current)
            current += step
        return values

    return evaluate


def _domains(iterations: list[tuple[str, Evaluator]], scope: Scope) -> list[list[Any]] | None:
    """Every iteration domain, each evaluated in the enclosing scope (as Zeebe does)."""
    domains: list[list[Any]] = []
    for _, domain in iterations:
        values = domain(scope)
        if type(values) is not list:
            return None
        domains.append(values)
    return domains


def _arity_error(name: str, count: int) -> FeelEvaluationError:
    return FeelEvaluationError(f"no function found with name '{name}' and {count} parameters")


def _builtin_call(builtin: Builtin, arguments: list[Evaluator]) -> Evaluator:
    count = len(arguments)
    if not builtin.accepts(count):
        name = builtin.name

        def fail(_scope: Scope) -> Any:
            raise _arity_error(name, count)

        return fail
    invoke = builtin.invoke
    if count == 0:

        def call0(scope: Scope) -> Any:
            return invoke(scope, ())

        return call0
    if count == 1:
        (first,) = arguments

        def call1(scope: Scope) -> Any:
            return invoke(scope, (first(scope),))

        return call1
    if count == 2:
        first, second = arguments

        def call2(scope: Scope) -> Any:
            return invoke(scope, (first(scope), second(scope)))

        return call2

    def call(scope: Scope) -> Any:
        return invoke(scope, tuple(argument(scope) for argument in arguments))

    return call


def _named_builtin_call(builtin: Builtin, arguments: dict[str, Evaluator]) -> Evaluator:
    positions = builtin.named_positions(tuple(arguments))
    if positions is None:
        name = builtin.name
        given = ", ".join(arguments)

        def fail(_scope: Scope) -> Any:
            raise FeelEvaluationError(f"no function found with name '{name}' and parameters {given}")

        return fail
    size = max(positions.values(), default=-1) + 1
    ordered = [(positions[key], value) for key, value in arguments.items()]
    invoke = builtin.invoke

    def call(scope: Scope) -> Any:
        values: list[Any] = [None] * size
        for position, value in ordered:
            values[position] = value(scope)
        while values and values[-1] is None and not builtin.accepts(len(values)):
            values.pop()
        return invoke(scope, tuple(values))

    return call


def _dynamic_call(name: str, positional: list[Evaluator], named: dict[str, Evaluator] | None) -> Evaluator:
    """A call of a function value bound to ``name`` (e.g. a context entry ``f: function(x) ...``)."""

    def evaluate(scope: Scope) -> Any:
        function = scope.lookup(name)
        if not isinstance(function, FeelFunction):
            raise FeelEvaluationError(f"no function found with name '{name}'")
        if named is not None:
            unknown = set(named) - set(function.params)
            if unknown:
                raise FeelEvaluationError(
                    f"no function found with name '{name}' and parameters {', '.join(named)}"
                )
            return function.call(
                [named[param](scope) if param in named else None for param in function.params]
            )
        return function.call([argument(scope) for argument in positional])

    return evaluate


# ---------------------------------------------------------------- static analysis


_BINDING_NODES = {"for_expr", "some_expr", "every_expr"}


def free_names(node: Tree[Token] | Token | None, bound: frozenset[str] = frozenset()) -> set[str]:
    """Variable names an expression reads from its enclosing scope (an over-approximation)."""
    names: set[str] = set()
    if not isinstance(node, Tree):
        return names
    kind = node.data
    if kind == "var":
        name_node = node.children[0]
        name_node = _tree(name_node)
        name = _name(name_node)
        if name not in bound:
            names.add(name)
        return names
    if kind in _BINDING_NODES:
        inner = set(bound)
        for child in node.children[:-1]:
            if isinstance(child, Tree) and child.data in {"iteration", "iteration_range"}:
                for domain in child.children[1:]:
                    names |= free_names(domain, bound)
                name_node = child.children[0]
                name_node = _tree(name_node)
                inner.add(_name(name_node))
        names |= free_names(node.children[-1], frozenset(inner))
        return names
    if kind == "function_def":
        params = {_name(param) for param in node.children[:-1] if isinstance(param, Tree)}
        return free_names(node.children[-1], bound | params)
    if kind == "context":
        inner = set(bound)
        for entry in node.children:
            if not isinstance(entry, Tree):
                continue
            key_node, value_node = entry.children
            names |= free_names(value_node, frozenset(inner))
            inner.add(string_literal(key_node) if isinstance(key_node, Token) else _name(key_node))
        return names
    if kind == "path":
        return free_names(node.children[0], bound)
    if kind == "filter":
        names |= free_names(node.children[0], bound)
        names |= free_names(node.children[1], bound | {"item"})
        return names
    for child in node.children:
        names |= free_names(child, bound)
    return names


def compile_tree(text: str) -> tuple[Evaluator, Tree[Token]]:
    tree = parse(text)
    return Compiler(text).compile(tree), tree


def decimal_or_none(text: str) -> Decimal | None:
    try:
        return Decimal(text)
    except InvalidOperation:
        return None
