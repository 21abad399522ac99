"""The FEEL grammar (lark, LALR(1) with the contextual lexer) and the shared parser instance."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator

from lark import Lark, Token
from lark.lark import PostLex

#: Built-in functions whose names contain spaces. They are lexed as one token when a ``(``
#: follows, so ``date and time("...")`` is a call and not a conjunction.
MULTI_WORD_FUNCTIONS: tuple[str, ...] = (
    "years and months duration",
    "date and time",
    "round half down",
    "round half up",
    "last day of month",
    "substring before",
    "substring after",
    "string length",
    "upper case",
    "lower case",
    "starts with",
    "ends with",
    "string join",
    "list contains",
    "insert before",
    "index of",
    "distinct values",
    "duplicate values",
    "is empty",
    "is defined",
    "is blank",
    "get or else",
    "get value",
    "get entries",
    "context put",
    "context merge",
    "put all",
    "day of week",
    "day of year",
    "month of year",
    "week of year",
    "round up",
    "round down",
    "random number",
    "to base64",
    "from base64",
    "from json",
    "to json",
)

_FUNCTION_NAME_PATTERN = "|".join(
    r"\s+".join(re.escape(word) for word in name.split(" "))
    for name in sorted(MULTI_WORD_FUNCTIONS, key=len, reverse=True)
)

#: Type names after ``instance of``.
TYPE_NAMES: tuple[str, ...] = (
    "years and months duration",
    "days and time duration",
    "date and time",
    "number",
    "string",
    "boolean",
    "date",
    "time",
    "list",
    "context",
    "function",
    "range",
    "Any",
    "null",
)

_TYPE_NAME_PATTERN = "|".join(r"\s+".join(re.escape(word) for word in name.split(" ")) for name in TYPE_NAMES)

GRAMMAR = r"""
?start: expr

?expr: disjunction
     | "for" iteration ("," iteration)* "return" expr            -> for_expr
     | "if" expr "then" expr "else" expr                          -> if_expr
     | "some" iteration ("," iteration)* "satisfies" expr         -> some_expr
     | "every" iteration ("," iteration)* "satisfies" expr        -> every_expr
     | "function" "(" [name ("," name)*] ")" expr                 -> function_def

iteration: name "in" expr                                         -> iteration
         | name "in" additive ".." additive                       -> iteration_range

?disjunction: conjunction
            | disjunction "or" conjunction                        -> or_expr

?conjunction: comparison
            | conjunction "and" comparison                        -> and_expr

?comparison: additive
           | additive COMPARE additive                            -> compare
           | additive "between" additive "and" additive           -> between
           | additive "in" in_test                                -> in_expr
           | additive "instance" "of" TYPE_NAME                   -> instance_of

in_test: test_item                                                -> single_test
       | "(" test_item ("," test_item)+ ")"                      -> test_list
       | "(" COMPARE additive ")"                                 -> single_compare_test

?test_item: COMPARE additive                                      -> test_compare
          | additive                                              -> test_expr

?additive: multiplicative
         | additive "+" multiplicative                            -> add
         | additive "-" multiplicative                            -> sub

?multiplicative: power
               | multiplicative "*" power                         -> mul
               | multiplicative "/" power                         -> div

?power: unary
      | power "**" unary                                          -> pow

?unary: postfix
      | "-" unary                                                 -> neg

?postfix: primary
        | postfix "." name                                        -> path
        | postfix "." SPACED_PROPERTY                             -> path
        | postfix "[" expr "]"                                    -> filter

?primary: NUMBER                                                  -> number
        | STRING                                                  -> string
        | "true"                                                  -> true
        | "false"                                                 -> false
        | "null"                                                  -> null
        | "@" STRING                                              -> temporal
        | name                                                    -> var
        | FUNCTION_NAME "(" [arguments] ")"                       -> call
        | name "(" [arguments] ")"                                -> call
        | "[" [expr ("," expr)*] "]"                              -> list
        | "{" [entry ("," entry)*] "}"                            -> context
        | "(" expr ")"
        | "[" additive ".." additive "]"                          -> interval_cc
        | "[" additive ".." additive ")"                          -> interval_co
        | "(" additive ".." additive "]"                          -> interval_oc
        | "(" additive ".." additive ")"                          -> interval_oo

?arguments: expr ("," expr)*                                      -> positional
          | named_argument ("," named_argument)*                  -> named

named_argument: NAME+ ":" expr

entry: name ":" expr                                              -> entry
     | STRING ":" expr                                            -> string_entry

name: NAME | BACKTICK_NAME

FUNCTION_NAME.3: /(?:FUNCTION_NAMES)(?=\s*\()/
TYPE_NAME.2: /(?:TYPE_NAMES)(?![\w$?])/
SPACED_PROPERTY.3: /(?:time\s+offset|start\s+included|end\s+included)(?![\w$?])/
COMPARE: "<=" | ">=" | "!=" | "=" | "<" | ">"
NUMBER: /\d+(\.\d+)?/ | /\.\d+/
STRING: /"(?:[^"\\]|\\.)*"/s
NAME: /(?!\d)[\w$?]+/
BACKTICK_NAME: /`[^`]+`/

COMMENT_LINE: /\/\/[^\n]*/
COMMENT_BLOCK: /\/\*(.|\n)*?\*\//
%ignore COMMENT_LINE
%ignore COMMENT_BLOCK
%ignore /\s+/
""".replace("FUNCTION_NAMES", _FUNCTION_NAME_PATTERN).replace("TYPE_NAMES", _TYPE_NAME_PATTERN)


class _WholeWords(PostLex):
    """Keeps NAME in every lexer state, so ``true orx`` is a syntax error and not ``true or x``.

    The contextual lexer only tries the terminals the parser can accept next; without NAME
    there, a keyword could match the first letters of a longer word.
    """

    always_accept = ("NAME",)

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        return stream


@functools.cache
def parser() -> Lark:
    """The LALR parser, built once on first use."""
    return Lark(GRAMMAR, parser="lalr", lexer="contextual", maybe_placeholders=True, postlex=_WholeWords())
