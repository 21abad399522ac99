"""The inspectors of 双随机抽查 (检查人员名录): a YAML or CSV file of ``id``, ``name``, ``affiliation``.

``affiliation`` is the code of the inspector's own unit, a town (``xiji``) or a district department
(``xzsp``) of the catalog: an inspector never checks a case of that town or department.

YAML::

    inspectors:
      - {id: JC001, name: 检查员甲, affiliation: xiji}

CSV (UTF-8, with or without a byte-order mark; the header names the columns, in any order)::

    id,name,affiliation
    JC001,检查员甲,xiji

Every problem is reported as ``file:line: field: message``; nothing else than these three columns is
accepted, so no other data about staff ends up in the ledger or the public list. Names are staff names
published with a draw (公示); ID numbers, phone numbers and e-mail addresses are refused in them.
"""

import csv
import hashlib
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Final

import rfc8785
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictStr,
    StringConstraints,
    ValidationError,
    field_validator,
)
from ruamel.yaml.comments import CommentedMap

from workers.catalog.models import Catalog
from workers.config_errors import ConfigFileError, FileProblem
from workers.logging import mask_text
from workers.supervision.configfile import display_path, line_of, parse_yaml, read_text, validate_document

__all__ = [
    "INSPECTOR_COLUMNS",
    "Inspector",
    "InspectorPool",
    "InspectorsFileError",
    "affiliation_name",
    "load_inspectors",
    "parse_inspectors_csv",
    "parse_inspectors_yaml",
    "sha256_of",
]

INSPECTOR_COLUMNS: Final = ("id", "name", "affiliation")
_EMAIL_MARK: Final = "@"
_MAX_SHOWN_INPUT: Final = 60


class InspectorsFileError(ConfigFileError):
    """The inspectors file could not be loaded; ``problems`` lists every problem, by line."""


def sha256_of(document: Any) -> str:
    """SHA-256 (hex) of a JSON document in RFC 8785 (JCS) canonical form, which any JCS library reproduces."""
    return hashlib.sha256(rfc8785.dumps(document)).hexdigest()


class Inspector(BaseModel):
    """One inspector: a staff id, the name published with a draw, and the code of their own unit."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Annotated[StrictStr, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=32)]
    name: Annotated[StrictStr, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
    affiliation: Annotated[StrictStr, StringConstraints(strip_whitespace=True, pattern=r"^[a-z]+$")]

    @field_validator("name")
    @classmethod
    def _no_contact_data(cls, value: str) -> str:
        if mask_text(value) != value or _EMAIL_MARK in value:
            raise ValueError("a name may not contain an ID number, a phone number or an e-mail address")
        return value

    def canonical(self) -> dict[str, str]:
        """The inspector as hashed and published: ``{"id", "name", "affiliation"}``."""
        return {"id": self.id, "name": self.name, "affiliation": self.affiliation}


class _InspectorsDocument(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    inspectors: tuple[Inspector, ...]


@dataclass(frozen=True, slots=True)
class InspectorPool:
    """The validated inspectors, sorted by id, and the file they came from."""

    inspectors: tuple[Inspector, ...]
    source: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "inspectors", tuple(sorted(self.inspectors, key=lambda i: i.id)))

    def canonical(self) -> list[dict[str, str]]:
        """The list that is hashed (and published with the draw): every inspector, sorted by id."""
        return [inspector.canonical() for inspector in self.inspectors]

    @property
    def digest(self) -> str:
        """SHA-256 of :meth:`canonical` (RFC 8785): the same list gives the same digest in YAML or CSV."""
        return sha256_of(self.canonical())

    def get(self, inspector_id: str) -> Inspector | None:
        """The inspector with this id, if listed."""
        return next((i for i in self.inspectors if i.id == inspector_id), None)


def load_inspectors(path: Path, catalog: Catalog) -> InspectorPool:
    """Read a ``.yaml``/``.yml`` or ``.csv`` inspectors file; :class:`InspectorsFileError` names the line."""
    shown = display_path(path)
    suffix = path.suffix.lower()
    if suffix not in {".yaml", ".yml", ".csv"}:
        raise InspectorsFileError(
            [FileProblem(shown, None, "", "an inspectors file is YAML (.yaml, .yml) or CSV (.csv)")]
        )
    text = read_text(path, InspectorsFileError, "inspectors file")
    if suffix == ".csv":
        return parse_inspectors_csv(text, catalog, shown)
    return parse_inspectors_yaml(text, catalog, shown)


def parse_inspectors_yaml(text: str, catalog: Catalog, file: str = "<inspectors>") -> InspectorPool:
    """Inspectors from YAML text: a mapping whose ``inspectors`` key lists ``{id, name, affiliation}``."""
    document = parse_yaml(text, file, InspectorsFileError)
    if not isinstance(document, CommentedMap):
        raise InspectorsFileError(
            [FileProblem(file, 1, "<root>", "expected a mapping with the key 'inspectors' (a list)")]
        )
    parsed = validate_document(_InspectorsDocument, document, file, InspectorsFileError)
    if not parsed.inspectors:
        raise InspectorsFileError(
            [FileProblem(file, line_of(document, ("inspectors",)), "inspectors", "no inspectors listed")]
        )
    lines = [line_of(document, ("inspectors", index)) for index in range(len(parsed.inspectors))]
    _check_pool(
        parsed.inspectors,
        catalog,
        file,
        lines,
        lambda index, field: (
            line_of(document, ("inspectors", index, field)),
            f"inspectors[{index}].{field}",
        ),
    )
    return InspectorPool(parsed.inspectors, file)


def parse_inspectors_csv(text: str, catalog: Catalog, file: str = "<inspectors>") -> InspectorPool:
    """Inspectors from CSV text with the header ``id,name,affiliation`` (any order)."""
    reader = csv.reader(io.StringIO(text))
    problems: list[FileProblem] = []
    inspectors: list[Inspector] = []
    lines: list[int] = []
    try:
        columns = _csv_columns(next(reader, None), file)
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(columns):
                problems.append(
                    FileProblem(file, line, "", f"expected {len(columns)} values, found {len(row)}")
                )
                continue
            try:
                inspectors.append(Inspector.model_validate(dict(zip(columns, row, strict=True))))
            except ValidationError as exc:
                problems.extend(_row_problems(file, line, exc))
                continue
            lines.append(line)
    except csv.Error as exc:
        raise InspectorsFileError(
            [FileProblem(file, reader.line_num or None, "", f"CSV error: {exc}")]
        ) from exc
    if problems:
        raise InspectorsFileError(problems)
    if not inspectors:
        raise InspectorsFileError([FileProblem(file, 2, "", "no inspectors listed under the header")])
    _check_pool(inspectors, catalog, file, lines, lambda index, field: (lines[index], field))
    return InspectorPool(tuple(inspectors), file)


def _csv_columns(header: Sequence[str] | None, file: str) -> list[str]:
    """The column names of the header line: exactly ``id``, ``name`` and ``affiliation``, in any order."""
    expected = ",".join(INSPECTOR_COLUMNS)
    if header is None:
        raise InspectorsFileError(
            [FileProblem(file, 1, "", f"the file is empty: expected the header {expected}")]
        )
    columns = [name.strip().lower() for name in header]
    details = []
    if missing := [name for name in INSPECTOR_COLUMNS if name not in columns]:
        details.append(f"missing column(s) {', '.join(missing)}")
    if unknown := [name for name in columns if name not in INSPECTOR_COLUMNS]:
        details.append(f"unknown column(s) {', '.join(repr(name) for name in unknown)}")
    if len(set(columns)) != len(columns):
        details.append("a column is named twice")
    if details:
        raise InspectorsFileError(
            [FileProblem(file, 1, "<header>", f"{'; '.join(details)} (expected {expected})")]
        )
    return columns


def _row_problems(file: str, line: int, exc: ValidationError) -> list[FileProblem]:
    problems = []
    for error in exc.errors(include_url=False):
        field = ".".join(str(part) for part in error["loc"])
        message = error["msg"]
        if error["type"] != "missing":
            shown = repr(error["input"])
            if len(shown) > _MAX_SHOWN_INPUT:
                shown = shown[: _MAX_SHOWN_INPUT - 3] + "..."
            message += f", got {shown}"
        problems.append(FileProblem(file, line, field, message))
    return problems


def _check_pool(
    inspectors: Sequence[Inspector],
    catalog: Catalog,
    file: str,
    lines: Sequence[int | None],
    where: Callable[[int, str], tuple[int | None, str]],
) -> None:
    """Unique ids; every affiliation a town or department code of the catalog."""
    towns = {town.code for town in catalog.towns}
    departments = {department.code for department in catalog.departments}
    problems: list[FileProblem] = []
    first_line: dict[str, int | None] = {}
    for index, inspector in enumerate(inspectors):
        if inspector.id in first_line:
            line, field = where(index, "id")
            problems.append(
                FileProblem(
                    file,
                    line,
                    field,
                    f"duplicate inspector id {inspector.id} (first at line {first_line[inspector.id]})",
                )
            )
        else:
            first_line[inspector.id] = lines[index]
        if inspector.affiliation not in towns | departments:
            line, field = where(index, "affiliation")
            problems.append(
                FileProblem(
                    file,
                    line,
                    field,
                    f"unknown affiliation {inspector.affiliation!r}: not a town code "
                    f"({', '.join(sorted(towns))}) or a department code ({', '.join(sorted(departments))})",
                )
            )
    if problems:
        raise InspectorsFileError(sorted(problems, key=lambda p: p.line or 0))


def affiliation_name(catalog: Catalog, code: str) -> str:
    """The name of a town or department code (``西集镇``, ``区行政审批服务局``); the code when unknown."""
    names: Mapping[str, str] = {t.code: t.name for t in catalog.towns} | {
        d.code: d.name for d in catalog.departments
    }
    return names.get(code, code)
