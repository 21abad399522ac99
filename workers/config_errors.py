"""Problems of the configuration files the office edits by hand (catalog, holidays): file, line, field."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Self

from ruamel.yaml.comments import CommentedMap, CommentedSeq


@dataclass(frozen=True, slots=True)
class FileProblem:
    """One problem of a configuration file: the file, its 1-based line, the field path and what is wrong."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class ConfigFileError(Exception):
    """A configuration file could not be loaded; ``problems`` lists every problem found, by line."""

    def __init__(self, problems: Iterable[FileProblem]) -> None:
        self.problems: tuple[FileProblem, ...] = tuple(problems)
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(str(problem) for problem in self.problems)

    def __reduce__(self) -> tuple[type[Self], tuple[tuple[FileProblem, ...]]]:
        return (type(self), (self.problems,))


def line_of(document: Any, loc: Sequence[int | str]) -> int | None:
    """1-based line of the deepest part of ``loc`` present in a ruamel round-trip document (a missing key
    → its parent); ``None`` when the document is not a mapping or sequence."""
    if not isinstance(document, CommentedMap | CommentedSeq):
        return None
    node: Any = document
    line: int = document.lc.line
    for part in loc:
        if isinstance(node, CommentedMap) and part in node:
            line = node.lc.key(part)[0]
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
            line = node.lc.item(part)[0]
            node = node[part]
        else:
            break
    return line + 1
