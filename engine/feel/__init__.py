"""A FEEL subset for the embedded Zeebe-compatible engine.

Zeebe expressions (the text after a leading ``=`` in BPMN attributes) are compiled once, at
deploy time, into a tree of closures; evaluating one is a single call with the variables::

    condition = compile_expression('amount > 100 and status = "ok"')
    condition.evaluate({"amount": 250, "status": "ok"})  # True

Semantics follow Camunda's FEEL engine (feel-scala, what Zeebe runs): missing variables are
null, type mismatches give null, unknown functions fail. See ``engine/feel/README.md`` for the
supported subset and the known differences.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from typing import Any

from engine.feel.compiler import Evaluator, RootScope, compile_tree, free_names
from engine.feel.errors import FeelError, FeelEvaluationError, FeelSyntaxError
from engine.feel.values import FeelFunction, FeelRange, YearsMonthsDuration, to_feel, to_json_value

__all__ = [
    "CompiledExpression",
    "FeelError",
    "FeelEvaluationError",
    "FeelFunction",
    "FeelRange",
    "FeelSyntaxError",
    "YearsMonthsDuration",
    "compile_expression",
    "evaluate",
    "names_referenced",
    "to_feel",
    "to_json_value",
]


class CompiledExpression:
    """A parsed and compiled FEEL expression; immutable and safe to share between threads."""

    __slots__ = ("_evaluator", "names", "text")

    def __init__(self, text: str, evaluator: Evaluator, names: frozenset[str]) -> None:
        self.text = text
        self._evaluator = evaluator
        #: Top-level variable names the expression may read.
        self.names = names

    def evaluate(self, context: Mapping[str, Any], *, now: dt.datetime | None = None) -> Any:
        """Evaluate against process variables (JSON values); ``now`` is the engine clock (UTC).

        Returns a FEEL value (``Decimal`` numbers, ``datetime``/``date``/``time``/``timedelta``
        temporals, :class:`YearsMonthsDuration`, lists, dicts); pass it to
        :func:`to_json_value` to store it as a variable.
        """
        return self._evaluator(RootScope(context, now))

    def __repr__(self) -> str:
        return f"CompiledExpression({self.text!r})"


@functools.lru_cache(maxsize=4096)
def compile_expression(text: str) -> CompiledExpression:
    """Parse and compile FEEL ``text`` (without the leading ``=``); raises :class:`FeelSyntaxError`."""
    evaluator, tree = compile_tree(text)
    return CompiledExpression(text, evaluator, frozenset(free_names(tree)))


def evaluate(text: str, context: Mapping[str, Any], *, now: dt.datetime | None = None) -> Any:
    """Compile (cached) and evaluate ``text`` in one call."""
    return compile_expression(text).evaluate(context, now=now)


def names_referenced(text: str) -> set[str]:
    """Top-level variable names the expression reads (an over-approximation)."""
    return set(compile_expression(text).names)
