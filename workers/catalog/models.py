"""Pydantic models of the delegation catalog (``config/catalog.yaml``).

The catalog is data: delegation modes, the 9 双十镇 towns, the district departments and the 13
delegated items of 山政办发〔2021〕12号. Attribute names are snake_case; the YAML and JSON keys are
their camelCase aliases (``time_limit_days`` ↔ ``timeLimitDays``).

Field-level rules (types, patterns, ranges) are checked by pydantic. Rules that span several entries
(unique codes, known references, 只减不增 against the baseline, contiguous ``seq``) are found by
:func:`find_catalog_issues`, which reports each problem with the location (a path of YAML keys and
list indexes) of the offending value, so that the loader can name the file line.
"""

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationInfo,
    model_validator,
)
from pydantic.alias_generators import to_camel

__all__ = [
    "ApplicantKind",
    "Baseline",
    "Catalog",
    "CatalogIssue",
    "Department",
    "FieldType",
    "Item",
    "ItemField",
    "ItemType",
    "Loc",
    "Material",
    "Mode",
    "Party",
    "RemovedMaterial",
    "Town",
    "find_catalog_issues",
    "format_loc",
]

#: Kinds of administrative power items (权力事项类型) as used in Shandong's item lists.
ItemType = Literal[
    "行政许可",
    "行政处罚",
    "行政强制",
    "行政征收",
    "行政给付",
    "行政检查",
    "行政确认",
    "行政奖励",
    "行政裁决",
    "其他行政权力",
    "公共服务",
]
#: Who may apply for an item: a natural person, an enterprise / organisation, or either.
ApplicantKind = Literal["person", "enterprise", "both"]
#: Which level of government performs a step of a delegation mode.
Party = Literal["town", "district"]
#: Value types of item-specific application fields.
FieldType = Literal["string", "integer", "date", "boolean"]

#: A location inside the catalog document: YAML keys (camelCase) and 0-based list indexes.
Loc = tuple[str | int, ...]

Text = Annotated[StrictStr, Field(min_length=1)]
Code = Annotated[StrictStr, Field(pattern=r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")]
MaterialId = Annotated[StrictStr, Field(pattern=r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")]
CasePrefix = Annotated[StrictStr, Field(pattern=r"^[A-Z]{2,4}$")]
Days = Annotated[StrictInt, Field(ge=0, le=365)]
Steps = Annotated[StrictInt, Field(ge=1, le=50)]


class _Model(BaseModel):
    """Base of all catalog models: immutable, camelCase aliases, unknown keys rejected."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
    )


class Mode(_Model):
    """A delegation mode (调整方式): which BPMN process runs the item and who does what."""

    code: Code
    name: Text
    bpmn_process_id: Annotated[StrictStr, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.-]*$")]
    description: Text
    accepted_by: Party
    reviewed_by: Party
    decided_by: Party
    seal_owner: Party


class Town(_Model):
    """A 双十镇 town that takes over the delegated items."""

    code: Annotated[StrictStr, Field(pattern=r"^[a-z]+$")]
    name: Text
    case_prefix: CasePrefix


class Department(_Model):
    """A district department that delegates items (区级实施部门)."""

    code: Annotated[StrictStr, Field(pattern=r"^[a-z]+$")]
    name: Text
    case_prefix: CasePrefix


class Material(_Model):
    """An application material (申请材料) required after delegation."""

    id: MaterialId
    name: Text
    required: StrictBool


class RemovedMaterial(_Model):
    """A material the district required before delegation that the delegated item no longer asks for."""

    id: MaterialId
    name: Text


class ItemField(_Model):
    """An item-specific application field (a process variable of the application)."""

    name: Annotated[StrictStr, Field(pattern=r"^[a-z][A-Za-z0-9]*$")]
    label: Text
    type: FieldType
    required: StrictBool


class Baseline(_Model):
    """The district's pre-delegation values of an item, the ceiling for 只减不增."""

    materials: tuple[MaterialId, ...]
    time_limit_days: Days
    steps: Steps


class Item(_Model):
    """A delegated administrative power item (赋权事项), one row of the notice's attachment."""

    seq: Annotated[StrictInt, Field(ge=1)]
    code: Annotated[StrictStr, Field(pattern=r"^[0-9]{13}$")]
    name: Text
    department_code: StrictStr
    type: ItemType
    mode: StrictStr
    scope: tuple[Text, ...] = ()
    remark: StrictStr = ""
    applicant_kind: ApplicantKind
    sample_values: StrictBool
    materials: tuple[Material, ...]
    removed_materials: tuple[RemovedMaterial, ...] = ()
    time_limit_days: Days
    steps: Steps
    baseline: Baseline
    fields: tuple[ItemField, ...] = ()

    @property
    def whole_item(self) -> bool:
        """True when the whole item is delegated, not only the sub-items listed in ``scope``."""
        return not self.scope

    def material(self, material_id: str) -> Material:
        """The delegated material with this id; KeyError names the item when there is none."""
        for material in self.materials:
            if material.id == material_id:
                return material
        known = ", ".join(m.id for m in self.materials)
        raise KeyError(f"item {self.code} ({self.name}) has no material {material_id!r}; known: {known}")


@dataclass(frozen=True, slots=True)
class CatalogIssue:
    """A cross-entry inconsistency: where it is, what is wrong, and where the first occurrence was."""

    loc: Loc
    message: str
    first: Loc | None = None


def format_loc(loc: Loc) -> str:
    """Render a location as ``items[3].baseline.materials[0]`` (list indexes are 0-based)."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out or "<root>"


class Catalog(_Model):
    """The whole delegation catalog with lookups by code."""

    modes: tuple[Mode, ...]
    towns: tuple[Town, ...]
    departments: tuple[Department, ...]
    items: tuple[Item, ...]

    @model_validator(mode="after")
    def _check_consistency(self, info: ValidationInfo) -> Self:
        """Reject cross-entry inconsistencies unless the caller (the loader) reports them itself."""
        context = info.context if isinstance(info.context, dict) else {}
        if context.get("skip_cross_checks"):
            return self
        issues = find_catalog_issues(self)
        if issues:
            lines = []
            for issue in issues:
                suffix = f" (first at {format_loc(issue.first)})" if issue.first is not None else ""
                lines.append(f"{format_loc(issue.loc)}: {issue.message}{suffix}")
            raise ValueError("inconsistent catalog:\n" + "\n".join(lines))
        return self

    def item(self, code: str) -> Item:
        """The item with this 事项编码."""
        for item in self.items:
            if item.code == code:
                return item
        raise KeyError(f"unknown item code {code!r}; the catalog has {len(self.items)} items")

    def town(self, code: str) -> Town:
        """The town with this code (e.g. ``xiji``)."""
        for town in self.towns:
            if town.code == code:
                return town
        raise KeyError(f"unknown town code {code!r}; known: {', '.join(t.code for t in self.towns)}")

    def department(self, code: str) -> Department:
        """The district department with this code (e.g. ``xzsp``)."""
        for department in self.departments:
            if department.code == code:
                return department
        known = ", ".join(d.code for d in self.departments)
        raise KeyError(f"unknown department code {code!r}; known: {known}")

    def mode(self, code: str) -> Mode:
        """The delegation mode with this code (e.g. ``direct``)."""
        for mode in self.modes:
            if mode.code == code:
                return mode
        raise KeyError(f"unknown delegation mode {code!r}; known: {', '.join(m.code for m in self.modes)}")

    def items_by_mode(self) -> dict[str, tuple[Item, ...]]:
        """Items grouped by mode code, modes in catalog order (empty modes included), items by seq."""
        ordered = sorted(self.items, key=lambda item: item.seq)
        return {mode.code: tuple(i for i in ordered if i.mode == mode.code) for mode in self.modes}

    def to_public_dict(self) -> dict[str, Any]:
        """A JSON-able description of the catalog for ``shuangshi catalog --json``."""
        items: list[dict[str, Any]] = []
        for item in sorted(self.items, key=lambda i: i.seq):
            department = self.department(item.department_code)
            mode = self.mode(item.mode)
            items.append(
                {
                    "seq": item.seq,
                    "code": item.code,
                    "name": item.name,
                    "departmentCode": department.code,
                    "departmentName": department.name,
                    "type": item.type,
                    "mode": mode.code,
                    "modeName": mode.name,
                    "bpmnProcessId": mode.bpmn_process_id,
                    "scope": list(item.scope),
                    "remark": item.remark,
                    "applicantKind": item.applicant_kind,
                    "materials": [m.model_dump(mode="json", by_alias=True) for m in item.materials],
                    "timeLimitDays": item.time_limit_days,
                    "steps": item.steps,
                    "baseline": item.baseline.model_dump(mode="json", by_alias=True),
                    "fields": [f.model_dump(mode="json", by_alias=True) for f in item.fields],
                    "sampleValues": item.sample_values,
                }
            )
        return {
            "modes": [m.model_dump(mode="json", by_alias=True) for m in self.modes],
            "towns": [t.model_dump(mode="json", by_alias=True) for t in self.towns],
            "departments": [d.model_dump(mode="json", by_alias=True) for d in self.departments],
            "items": items,
        }


def _duplicates(entries: Iterable[tuple[Hashable, Loc]], what: str, issues: list[CatalogIssue]) -> None:
    """Append an issue for every entry whose key was already seen, pointing back at the first one."""
    first_seen: dict[Hashable, Loc] = {}
    for key, loc in entries:
        if key in first_seen:
            issues.append(CatalogIssue(loc, f"duplicate {what} {key}", first=first_seen[key]))
        else:
            first_seen[key] = loc


def _registry_duplicates(
    section: str, entries: Sequence[Town | Department], issues: list[CatalogIssue]
) -> None:
    """Codes, names and case prefixes of towns (or departments) are each unique."""
    singular = section.removesuffix("s")
    _duplicates([(e.code, (section, k, "code")) for k, e in enumerate(entries)], f"{singular} code", issues)
    _duplicates([(e.name, (section, k, "name")) for k, e in enumerate(entries)], f"{singular} name", issues)
    _duplicates(
        [(e.case_prefix, (section, k, "casePrefix")) for k, e in enumerate(entries)],
        f"{singular} case prefix",
        issues,
    )


def _check_item_references(index: int, item: Item, catalog: Catalog, issues: list[CatalogIssue]) -> None:
    """The item's mode and department exist; ids and field names are unique; scope matches the remark."""
    here: Loc = ("items", index)
    if item.mode not in {m.code for m in catalog.modes}:
        known = ", ".join(m.code for m in catalog.modes)
        issues.append(
            CatalogIssue((*here, "mode"), f"unknown delegation mode {item.mode!r} (known: {known})")
        )
    if item.department_code not in {d.code for d in catalog.departments}:
        known = ", ".join(d.code for d in catalog.departments)
        issues.append(
            CatalogIssue(
                (*here, "departmentCode"), f"unknown department {item.department_code!r} (known: {known})"
            )
        )

    # Material ids are unique across delegated and removed materials of one item.
    _duplicates(
        [(m.id, (*here, "materials", k, "id")) for k, m in enumerate(item.materials)]
        + [(m.id, (*here, "removedMaterials", k, "id")) for k, m in enumerate(item.removed_materials)],
        "material id",
        issues,
    )
    _duplicates(
        [(f.name, (*here, "fields", k, "name")) for k, f in enumerate(item.fields)], "field name", issues
    )
    _duplicates(
        [(m, (*here, "baseline", "materials", k)) for k, m in enumerate(item.baseline.materials)],
        "baseline material id",
        issues,
    )
    if item.scope and not item.remark:
        issues.append(CatalogIssue((*here, "remark"), "an item with a delegated scope needs its 备注 remark"))
    for k, part in enumerate(item.scope):
        if item.remark and part not in item.remark:
            issues.append(
                CatalogIssue((*here, "scope", k), f"scope entry {part!r} does not occur in the remark")
            )


def _check_item_baseline(index: int, item: Item, issues: list[CatalogIssue]) -> None:
    """只减不增: delegated materials, time limit and steps never exceed the item's baseline."""
    here: Loc = ("items", index)
    known_ids = {m.id for m in item.materials} | {m.id for m in item.removed_materials}
    baseline_ids = set(item.baseline.materials)
    for k, material_id in enumerate(item.baseline.materials):
        if material_id not in known_ids:
            issues.append(
                CatalogIssue(
                    (*here, "baseline", "materials", k),
                    f"unknown material id {material_id!r}: not in materials or removedMaterials of this item",
                )
            )
    for k, material in enumerate(item.materials):
        if material.id not in baseline_ids:
            issues.append(
                CatalogIssue(
                    (*here, "materials", k, "id"),
                    f"delegated material {material.id!r} is not in the baseline materials "
                    "(只减不增: materials may only decrease)",
                )
            )
    for k, removed in enumerate(item.removed_materials):
        if removed.id not in baseline_ids:
            issues.append(
                CatalogIssue(
                    (*here, "removedMaterials", k, "id"),
                    f"removed material {removed.id!r} is not in the baseline materials",
                )
            )
    if item.time_limit_days > item.baseline.time_limit_days:
        issues.append(
            CatalogIssue(
                (*here, "timeLimitDays"),
                f"delegated time limit {item.time_limit_days} working days exceeds the baseline "
                f"{item.baseline.time_limit_days} (只减不增)",
            )
        )
    if item.steps > item.baseline.steps:
        issues.append(
            CatalogIssue(
                (*here, "steps"),
                f"delegated steps {item.steps} exceed the baseline {item.baseline.steps} (只减不增)",
            )
        )


def find_catalog_issues(catalog: Catalog) -> list[CatalogIssue]:
    """Every cross-entry inconsistency of the catalog, in document order of the sections."""
    issues: list[CatalogIssue] = []

    _duplicates([(m.code, ("modes", k, "code")) for k, m in enumerate(catalog.modes)], "mode code", issues)
    _duplicates(
        [(m.bpmn_process_id, ("modes", k, "bpmnProcessId")) for k, m in enumerate(catalog.modes)],
        "BPMN process id",
        issues,
    )
    _registry_duplicates("towns", catalog.towns, issues)
    _registry_duplicates("departments", catalog.departments, issues)

    _duplicates([(i.code, ("items", k, "code")) for k, i in enumerate(catalog.items)], "item code", issues)
    _duplicates([(i.seq, ("items", k, "seq")) for k, i in enumerate(catalog.items)], "item seq", issues)
    count = len(catalog.items)
    for k, item in enumerate(catalog.items):
        if item.seq > count:
            issues.append(
                CatalogIssue(
                    ("items", k, "seq"), f"seq {item.seq} is outside 1..{count} (seq must be contiguous)"
                )
            )
    missing = sorted(set(range(1, count + 1)) - {i.seq for i in catalog.items})
    if missing:
        issues.append(
            CatalogIssue(
                ("items",),
                f"seq must run 1..{count} without gaps; missing {', '.join(map(str, missing))}",
            )
        )

    for k, item in enumerate(catalog.items):
        _check_item_references(k, item, catalog, issues)
        _check_item_baseline(k, item, issues)
    return issues
