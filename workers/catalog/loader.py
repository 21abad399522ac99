"""Load ``config/catalog.yaml`` and report every problem as ``file:line: field: message``.

The YAML is read with ruamel.yaml's round-trip loader, which keeps the line of every key and list
entry. Pydantic validation errors and the catalog's cross-entry checks are both located in the
document by their field path, so a process owner editing the file sees exactly where to look::

    config/catalog.yaml:57: items[3].code: duplicate item code 3700002036017 (first at line 41)

List indexes in field paths are 0-based (``items[3]`` is the fourth entry).
"""

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from workers.catalog.models import Catalog, Loc, find_catalog_issues, format_loc
from workers.config_errors import ConfigFileError, FileProblem, line_of

__all__ = [
    "CATALOG_FILE_NAME",
    "CONFIG_DIR_ENV",
    "CatalogError",
    "CatalogProblem",
    "config_dir",
    "default_catalog_path",
    "load_catalog",
    "parse_catalog",
]

#: Environment variable that points at the configuration folder (the one holding ``catalog.yaml``).
CONFIG_DIR_ENV = "SHUANGSHI_CONFIG_DIR"
CATALOG_FILE_NAME = "catalog.yaml"

_MAX_SHOWN_INPUT = 60


#: One problem of the catalog file (file, 1-based line, field path, message).
CatalogProblem = FileProblem


class CatalogError(ConfigFileError):
    """The catalog could not be loaded; ``problems`` lists every problem found, by line."""


def config_dir() -> Path:
    """The configuration folder: ``$SHUANGSHI_CONFIG_DIR`` if set, else the repository's ``config/``."""
    override = os.environ.get(CONFIG_DIR_ENV)
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2] / "config"


def default_catalog_path() -> Path:
    """Where :func:`load_catalog` reads from when given no path."""
    return config_dir() / CATALOG_FILE_NAME


def load_catalog(path: Path | None = None) -> Catalog:
    """Read, validate and cross-check the catalog; raise :class:`CatalogError` naming file and line."""
    source = path if path is not None else default_catalog_path()
    shown = _display_path(source)
    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogError([CatalogProblem(shown, None, "", f"cannot read the catalog: {exc}")]) from exc
    return parse_catalog(text, shown)


def parse_catalog(text: str, file: str = "<catalog>") -> Catalog:
    """Validate catalog YAML given as text; ``file`` is the name used in problem reports."""
    try:
        document = YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        raise CatalogError([_yaml_problem(file, exc)]) from exc
    except YAMLError as exc:  # errors without a position, e.g. a reader error on a control character
        raise CatalogError([CatalogProblem(file, None, "", f"YAML error: {exc}")]) from exc

    if not isinstance(document, CommentedMap):
        raise CatalogError(
            [
                CatalogProblem(
                    file,
                    1,
                    "<root>",
                    "the catalog must be a mapping with modes, towns, departments and items",
                )
            ]
        )

    try:
        catalog = Catalog.model_validate(
            _plain(document), by_alias=True, by_name=False, context={"skip_cross_checks": True}
        )
    except ValidationError as exc:
        raise CatalogError(_sorted(_pydantic_problems(file, document, exc))) from exc

    problems = []
    for issue in find_catalog_issues(catalog):
        message = issue.message
        if issue.first is not None:
            message += f" (first at line {line_of(document, issue.first)})"
        problems.append(CatalogProblem(file, line_of(document, issue.loc), format_loc(issue.loc), message))
    if problems:
        raise CatalogError(_sorted(problems))
    return catalog


def _display_path(path: Path) -> str:
    """The path relative to the working directory when it lies inside it, else as given."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)


def _sorted(problems: Iterable[CatalogProblem]) -> list[CatalogProblem]:
    return sorted(problems, key=lambda p: p.line or 0)


def _yaml_problem(file: str, exc: MarkedYAMLError) -> CatalogProblem:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else None
    message = str(exc.problem or exc.context or "invalid YAML")
    if exc.problem and exc.context:
        where = f" at line {exc.context_mark.line + 1}" if exc.context_mark is not None else ""
        message += f" ({exc.context}{where})"
    return CatalogProblem(file, line, "", f"YAML syntax error: {message}")


def _plain(node: Any) -> Any:
    """Turn ruamel's round-trip containers and scalar subclasses into plain Python values."""
    if isinstance(node, dict):
        return {_plain(key): _plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_plain(value) for value in node]
    for kind in (bool, str, int, float):  # bool first: it is an int
        if isinstance(node, kind):
            return kind(node)
    return node  # None, dates and timestamps pass through unchanged


def _pydantic_problems(file: str, document: CommentedMap, exc: ValidationError) -> list[CatalogProblem]:
    problems = []
    for error in exc.errors(include_url=False):
        loc: Loc = tuple(error["loc"])
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown key (keys are camelCase; check the spelling)"
        elif error["type"] != "missing" and not isinstance(error["input"], dict | list):
            shown = repr(error["input"])
            if len(shown) > _MAX_SHOWN_INPUT:
                shown = shown[: _MAX_SHOWN_INPUT - 3] + "..."
            message += f", got {shown}"
        problems.append(CatalogProblem(file, line_of(document, loc), format_loc(loc), message))
    return problems
