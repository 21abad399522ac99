"""Hand-edited YAML files of supervision (inspectors, scorecard rules) checked with pydantic, by line.

Like the catalog's loader: ruamel.yaml's round-trip loader keeps the line of every key and list entry, and
each pydantic error is located in the document by its field path, so a problem reads like
``config/supervision.yaml:12: measures.timeliness.weight: Input should be greater than or equal to 0``.
List indexes in field paths are 0-based.
"""

from pathlib import Path
from typing import Any, Final, TypeVar

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from workers.catalog.models import Loc, format_loc
from workers.config_errors import ConfigFileError, FileProblem, line_of

__all__ = ["display_path", "line_of", "parse_yaml", "read_text", "validate_document"]

_MAX_SHOWN_INPUT: Final = 60
M = TypeVar("M", bound=BaseModel)


def display_path(path: Path) -> str:
    """The path relative to the working directory when it lies inside it, else as given."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)


def read_text(path: Path, error: type[ConfigFileError], what: str) -> str:
    """The file's UTF-8 text (a byte-order mark dropped); ``error`` names the file when it cannot be read."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise error([FileProblem(display_path(path), None, "", f"cannot read the {what}: {reason}")]) from exc


def parse_yaml(text: str, file: str, error: type[ConfigFileError]) -> Any:
    """The round-trip YAML document; a syntax error is raised as ``error`` with its line."""
    try:
        return YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        message = str(exc.problem or exc.context or "invalid YAML")
        raise error([FileProblem(file, line, "", f"YAML syntax error: {message}")]) from exc
    except YAMLError as exc:
        raise error([FileProblem(file, None, "", f"YAML error: {exc}")]) from exc


def _plain(node: Any) -> Any:
    """ruamel's round-trip containers and scalar subclasses as plain Python values."""
    if isinstance(node, dict):
        return {_plain(key): _plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_plain(value) for value in node]
    for kind in (bool, str, int, float):  # bool first: it is an int
        if isinstance(node, kind):
            return kind(node)
    return node


def validate_document(model: type[M], document: Any, file: str, error: type[ConfigFileError]) -> M:
    """``document`` validated as ``model`` (camelCase keys); every problem raised as ``error`` by line."""
    try:
        return model.model_validate(_plain(document), by_alias=True, by_name=False)
    except ValidationError as exc:
        problems = []
        for item in exc.errors(include_url=False):
            loc: Loc = tuple(item["loc"])
            message = item["msg"]
            if item["type"] == "extra_forbidden":
                message = "unknown key (keys are camelCase; check the spelling)"
            elif item["type"] != "missing" and not isinstance(item["input"], dict | list):
                shown = repr(item["input"])
                if len(shown) > _MAX_SHOWN_INPUT:
                    shown = shown[: _MAX_SHOWN_INPUT - 3] + "..."
                message += f", got {shown}"
            problems.append(FileProblem(file, line_of(document, loc), format_loc(loc), message))
        raise error(sorted(problems, key=lambda p: p.line or 0)) from exc
