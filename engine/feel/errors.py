"""Exceptions raised by the FEEL compiler and evaluator."""

from __future__ import annotations


class FeelError(Exception):
    """Base class of every error raised by :mod:`engine.feel`."""


class FeelSyntaxError(FeelError):
    """The expression text is not valid FEEL (or not in the supported subset).

    ``column`` is 1-based; the message names the expression and the column.
    """

    def __init__(self, message: str, *, expression: str, column: int) -> None:
        super().__init__(f"{message} at column {column} of expression {expression!r}")
        self.expression = expression
        self.column = column


class FeelEvaluationError(FeelError):
    """Evaluation failed where Zeebe's FEEL engine fails too (no ``null`` fallback).

    Examples: invoking a function that does not exist, or a built-in with a number of
    arguments no overload accepts, or a failed ``assert``.
    """
