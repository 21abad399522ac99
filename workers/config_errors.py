"""Problems of the configuration files the office edits by hand (catalog, holidays): file, line, field."""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Self


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
