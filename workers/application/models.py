"""The application (申请) a clerk or the CLI submits, and its validation against the catalog.

Attributes are snake_case in Python and camelCase in process variables (``idNumber``, ``itemCode``).
:func:`validate_application` reports every problem at once, so a clerk can tell the applicant all that is
missing in one go (一次性告知), each with a camelCase field path and a ``[rule]`` Chinese / English message.
The catalog is reached through the small :class:`CatalogLike` protocol, so this module does not depend on
how ``workers.catalog`` stores items and towns.
"""

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Literal, Protocol

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import ErrorDetails, PydanticCustomError

from workers.domain.validators import (
    check_credit_code,
    check_email,
    check_id_number,
    check_mobile,
    check_person_name,
    normalize_credit_code,
    normalize_id_number,
    normalize_mobile,
    normalize_person_name,
    rule_of,
)

__all__ = [
    "Applicant",
    "ApplicantKind",
    "Application",
    "CatalogLike",
    "CatalogRule",
    "Counter",
    "FieldValue",
    "ItemFieldLike",
    "ItemLike",
    "MaterialLike",
    "Problem",
    "missing_required_materials",
    "validate_application",
]

# --------------------------------------------------------------------------------------------------
# What this module needs of the catalog (workers.catalog provides it)
# --------------------------------------------------------------------------------------------------


class MaterialLike(Protocol):
    """A material (申请材料) an item asks for."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def required(self) -> bool: ...


class ItemFieldLike(Protocol):
    """An item-specific form field; ``type`` is ``string``, ``integer``, ``date`` or ``boolean``."""

    @property
    def name(self) -> str: ...
    @property
    def label(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def required(self) -> bool: ...


class ItemLike(Protocol):
    """An administrative power item (事项); ``applicant_kind`` is ``person``, ``enterprise`` or ``both``."""

    @property
    def code(self) -> str: ...
    @property
    def applicant_kind(self) -> str: ...
    @property
    def materials(self) -> Sequence[MaterialLike]: ...
    @property
    def scope(self) -> Sequence[str]: ...
    @property
    def fields(self) -> Sequence[ItemFieldLike]: ...


class CatalogLike(Protocol):
    """Look-ups by code; both raise :class:`KeyError` for an unknown code."""

    def item(self, code: str, /) -> ItemLike: ...
    def town(self, code: str, /) -> object: ...


# --------------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------------

ApplicantKind = Literal["person", "enterprise"]
Counter = Literal["town", "district"]


def _scalar(value: object) -> object:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise _fail(
        "fields.scalar",
        "事项字段的值须为文本、数字、布尔值或空",
        "a field value is a string, number, boolean or null",
    )


#: The value of an item-specific field: a JSON scalar.
FieldValue = Annotated[str | int | float | bool | None, BeforeValidator(_scalar)]


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
    )


def _error(problems: list[str]) -> PydanticCustomError:
    """A pydantic error whose type is the first rule and whose message lists every problem."""
    # The message goes through the context so that braces in it are never read as a template.
    return PydanticCustomError(rule_of(problems[0]), "{reason}", {"reason": "；".join(problems)})


def _fail(rule: str, zh: str, en: str) -> PydanticCustomError:
    return _error([f"[{rule}] {zh} / {en}"])


def _checked(value: str, normalize: Callable[[str], str], check: Callable[[str], list[str]]) -> str:
    normalized = normalize(value)
    problems = check(normalized)
    if problems:
        raise _error(problems)
    return normalized


def _kind_rule(
    value: str | None, info: ValidationInfo, *, wanted_by: str, label_zh: str, label_en: str
) -> str | None:
    """Enforce that a kind-specific field is present for ``wanted_by`` applicants and absent otherwise."""
    kind = info.data.get("kind")
    if kind is None:  # the kind itself is invalid; that error is reported on its own
        return value
    if value is None and kind == wanted_by:
        raise _fail(f"applicant.{info.field_name}.required", f"{label_zh}为必填项", f"{label_en} is required")
    if value is not None and kind != wanted_by:
        raise _fail(
            f"applicant.{info.field_name}.not_applicable",
            f"仅{_KIND_ZH[wanted_by]}申请人填写{label_zh}",
            f"{label_en} is only given for {wanted_by} applicants",
        )
    return value


_KIND_ZH = {"person": "自然人", "enterprise": "法人（企业）"}


class Applicant(_Model):
    """Who applies: a natural person (自然人) or an enterprise / organisation (法人)."""

    kind: ApplicantKind
    #: The person's name, or the enterprise's registered name.
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    #: 居民身份证号 — required for a person, absent for an enterprise.
    id_number: str | None = Field(default=None, validate_default=True)
    #: 统一社会信用代码 — required for an enterprise, absent for a person.
    credit_code: str | None = Field(default=None, validate_default=True)
    #: 法定代表人姓名 — required for an enterprise, absent for a person.
    legal_representative: str | None = Field(default=None, validate_default=True)
    mobile: str
    email: str | None = None

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("kind") == "person":
            return _checked(value, normalize_person_name, check_person_name)
        return value

    @field_validator("id_number")
    @classmethod
    def _check_id_number(cls, value: str | None, info: ValidationInfo) -> str | None:
        _kind_rule(value, info, wanted_by="person", label_zh="身份证号", label_en="the ID number")
        return None if value is None else _checked(value, normalize_id_number, check_id_number)

    @field_validator("credit_code")
    @classmethod
    def _check_credit_code(cls, value: str | None, info: ValidationInfo) -> str | None:
        _kind_rule(
            value, info, wanted_by="enterprise", label_zh="统一社会信用代码", label_en="the credit code"
        )
        return None if value is None else _checked(value, normalize_credit_code, check_credit_code)

    @field_validator("legal_representative")
    @classmethod
    def _check_legal_representative(cls, value: str | None, info: ValidationInfo) -> str | None:
        _kind_rule(
            value,
            info,
            wanted_by="enterprise",
            label_zh="法定代表人姓名",
            label_en="the legal representative",
        )
        return None if value is None else _checked(value, normalize_person_name, check_person_name)

    @field_validator("mobile")
    @classmethod
    def _check_mobile(cls, value: str) -> str:
        return _checked(value, normalize_mobile, check_mobile)

    @field_validator("email")
    @classmethod
    def _check_email(cls, value: str | None) -> str | None:
        return None if value is None else _checked(value, str.strip, check_email)


class Application(_Model):
    """One submitted application for a delegated item, at a town's or the district's counter."""

    applicant: Applicant
    #: 事项编码, 13 digits as in the notice's attachment table.
    item_code: Annotated[str, StringConstraints(pattern=r"^[0-9]{13}$")]
    town_code: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
    #: Where the application was accepted (区、镇有同等的受理权).
    counter: Counter
    #: Ids of the materials provided (references, never contents).
    materials: list[str] = Field(default_factory=list)
    #: Item-specific form fields by name.
    fields: dict[str, FieldValue] = Field(default_factory=dict)
    #: One of the item's delegated scopes (备注), when the item delegates only part of itself.
    scope: str | None = None
    note: Annotated[str, StringConstraints(max_length=2000)] | None = None

    @field_validator("materials")
    @classmethod
    def _unique_materials(cls, value: list[str]) -> list[str]:
        duplicates = sorted({m for m in value if value.count(m) > 1})
        if duplicates:
            raise _fail(
                "materials.duplicate",
                f"材料重复提交：{'、'.join(duplicates)}",
                f"materials listed more than once: {', '.join(duplicates)}",
            )
        return value


# --------------------------------------------------------------------------------------------------
# Validation against the catalog
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an application.

    ``path`` is the camelCase field path (``applicant.idNumber``, ``materials.2``, ``fields.area``; empty
    for the application as a whole), ``rule`` the identifier of the failed rule, ``message`` the
    ``[rule] 中文 / English`` text shown to clerks.
    """

    path: str
    message: str
    rule: str


class CatalogRule(StrEnum):
    """Rules checked against the catalog (the ``rule`` of the resulting :class:`Problem`)."""

    UNKNOWN_ITEM = "item.unknown"
    UNKNOWN_TOWN = "town.unknown"
    KIND_NOT_ACCEPTED = "applicant.kind_not_accepted"
    MATERIALS_MISSING = "materials.missing"
    UNKNOWN_MATERIAL = "materials.unknown"
    FIELD_REQUIRED = "fields.required"
    FIELD_TYPE = "fields.type"
    UNKNOWN_FIELD = "fields.unknown"
    SCOPE_NOT_DELEGATED = "scope.not_delegated"


#: Chinese wording for pydantic's own error types (the English text comes from pydantic).
_PYDANTIC_ZH = {
    "missing": "必填项缺失",
    "extra_forbidden": "不允许的字段",
    "string_type": "应为文本",
    "int_type": "应为整数",
    "bool_type": "应为布尔值",
    "list_type": "应为列表",
    "dict_type": "应为对象",
    "model_type": "应为对象",
    "model_attributes_type": "应为对象",
    "literal_error": "取值不在允许范围内",
    "string_pattern_mismatch": "格式不正确",
    "string_too_short": "不能为空",
    "string_too_long": "过长",
}

_KIND_LABEL = {"person": "自然人", "enterprise": "法人（企业）", "both": "自然人和法人"}
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TYPE_LABEL = {"string": "文本", "integer": "整数", "date": "日期（YYYY-MM-DD）", "boolean": "布尔值"}


def _camel_path(loc: tuple[int | str, ...]) -> tuple[str, ...]:
    """Field names become their camelCase aliases; dict keys and list indexes are kept as they are."""
    model: type[BaseModel] | None = Application
    parts: list[str] = []
    for part in loc:
        if model is not None and isinstance(part, str):
            match = next(
                (
                    (name, info)
                    for name, info in model.model_fields.items()
                    if part in {name, info.alias}
                ),
                None,
            )  # fmt: skip
            if match is not None:
                name, info = match
                parts.append(info.alias or name)
                annotation = info.annotation
                model = (
                    annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
                )
                continue
        model = None
        parts.append(str(part))
    return tuple(parts)


def _from_pydantic(error: ErrorDetails) -> Problem:
    path = ".".join(_camel_path(error["loc"]))
    kind = error["type"]
    if "ctx" in error and "reason" in error["ctx"]:  # one of ours: the message already names the rule
        return Problem(path=path, message=str(error["ctx"]["reason"]), rule=kind)
    zh = _PYDANTIC_ZH.get(kind, "取值无效")
    return Problem(path=path, message=f"[{kind}] {path}：{zh} / {error['msg']}", rule=kind)


def _get(data: Mapping[str, Any], name: str) -> Any:
    """A raw value given by alias or by attribute name."""
    alias = to_camel(name)
    return data[alias] if alias in data else data.get(name)


def missing_required_materials(provided: Sequence[str], item: ItemLike) -> list[MaterialLike]:
    """The item's required materials whose ids are not among ``provided``, in catalog order."""
    given = set(provided)
    return [material for material in item.materials if material.required and material.id not in given]


def _field_type_ok(kind: str, value: object) -> bool:
    match kind:
        case "string":
            return isinstance(value, str)
        case "integer":
            return isinstance(value, int) and not isinstance(value, bool)
        case "boolean":
            return isinstance(value, bool)
        case "date":
            if not (isinstance(value, str) and _DATE_RE.fullmatch(value)):
                return False
            try:
                date.fromisoformat(value)
            except ValueError:
                return False
            return True
        case _:
            raise ValueError(f"catalog item field has unsupported type {kind!r}")


def _is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


class _Checker:
    """Catalog checks over the raw data, skipping parts that already failed model validation."""

    def __init__(self, data: Mapping[str, Any], catalog: CatalogLike, failed: set[tuple[str, ...]]) -> None:
        self.data = data
        self.catalog = catalog
        self.failed = failed
        self.problems: list[Problem] = []

    def ok(self, *path: str) -> bool:
        """Whether nothing at or below ``path`` failed model validation."""
        return not any(bad[: len(path)] == path for bad in self.failed)

    def add(self, path: str, rule: CatalogRule, zh: str, en: str) -> None:
        self.problems.append(Problem(path=path, message=f"[{rule}] {zh} / {en}", rule=rule.value))

    def run(self) -> list[Problem]:
        self.check_town()
        item = self.check_item()
        if item is not None:
            self.check_kind(item)
            self.check_materials(item)
            self.check_fields(item)
            self.check_scope(item)
        return self.problems

    def check_town(self) -> None:
        code = _get(self.data, "town_code")
        if not (self.ok("townCode") and isinstance(code, str)):
            return
        try:
            self.catalog.town(code)
        except KeyError:
            self.add("townCode", CatalogRule.UNKNOWN_TOWN, f"未知的镇：{code}", f"unknown town code {code!r}")

    def check_item(self) -> ItemLike | None:
        code = _get(self.data, "item_code")
        if not (self.ok("itemCode") and isinstance(code, str)):
            return None
        try:
            return self.catalog.item(code)
        except KeyError:
            self.add(
                "itemCode", CatalogRule.UNKNOWN_ITEM, f"未知的事项编码：{code}", f"unknown item code {code!r}"
            )
            return None

    def check_kind(self, item: ItemLike) -> None:
        applicant = _get(self.data, "applicant")
        if not (self.ok("applicant", "kind") and isinstance(applicant, Mapping)):
            return
        kind = applicant.get("kind")
        if kind in {"person", "enterprise"} and item.applicant_kind not in {kind, "both"}:
            self.add(
                "applicant.kind",
                CatalogRule.KIND_NOT_ACCEPTED,
                f"事项 {item.code} 只受理{_KIND_LABEL.get(item.applicant_kind, item.applicant_kind)}申请",
                f"item {item.code} accepts {item.applicant_kind} applicants only, not {kind}",
            )

    def check_materials(self, item: ItemLike) -> None:
        provided = _get(self.data, "materials")
        if provided is None:
            provided = []
        if not isinstance(provided, list):
            return
        known = {material.id for material in item.materials}
        for index, material_id in enumerate(provided):
            if isinstance(material_id, str) and self.ok("materials", str(index)) and material_id not in known:
                self.add(
                    f"materials.{index}",
                    CatalogRule.UNKNOWN_MATERIAL,
                    f"事项 {item.code} 没有材料 {material_id}",
                    f"item {item.code} has no material {material_id!r}",
                )
        missing = missing_required_materials([m for m in provided if isinstance(m, str)], item)
        if missing:
            self.add(
                "materials",
                CatalogRule.MATERIALS_MISSING,
                "缺少必需材料：" + "、".join(f"{m.id}（{m.name}）" for m in missing),
                "missing required materials: " + ", ".join(m.id for m in missing),
            )

    def check_fields(self, item: ItemLike) -> None:
        given = _get(self.data, "fields")
        if given is None:
            given = {}
        if not isinstance(given, Mapping) or ("fields",) in self.failed:
            return
        declared = {field.name: field for field in item.fields}
        for name in given:
            if name not in declared:
                self.add(
                    f"fields.{name}",
                    CatalogRule.UNKNOWN_FIELD,
                    f"事项 {item.code} 没有字段 {name}",
                    f"item {item.code} has no field {name!r}",
                )
        for field in item.fields:
            path = f"fields.{field.name}"
            if not self.ok("fields", str(field.name)):
                continue
            value = given.get(field.name)
            if _is_blank(value):
                if field.required:
                    self.add(
                        path,
                        CatalogRule.FIELD_REQUIRED,
                        f"缺少必填项：{field.label}",
                        f"required field {field.name!r} is missing",
                    )
            elif not _field_type_ok(field.type, value):
                self.add(
                    path,
                    CatalogRule.FIELD_TYPE,
                    f"{field.label}应为{_TYPE_LABEL.get(field.type, field.type)}",
                    f"field {field.name!r} must be of type {field.type}, got {value!r}",
                )

    def check_scope(self, item: ItemLike) -> None:
        scope = _get(self.data, "scope")
        if not (self.ok("scope") and isinstance(scope, str)):
            return
        if scope not in item.scope:
            allowed = "、".join(item.scope) if item.scope else "无"
            self.add(
                "scope",
                CatalogRule.SCOPE_NOT_DELEGATED,
                f"事项 {item.code} 下放的范围不包括“{scope}”（下放范围：{allowed}）",
                f"scope {scope!r} is not delegated for item {item.code} (delegated: {list(item.scope)})",
            )


def validate_application(data: Mapping[str, Any], catalog: CatalogLike) -> list[Problem]:
    """Every problem with ``data`` (camelCase or snake_case keys): model rules first, then catalog rules.

    An empty list means the application is complete and consistent with the catalog. Parts that fail the
    model rules are not checked against the catalog again (an ``itemCode`` of the wrong shape is reported
    once, not also as unknown).
    """
    problems: list[Problem] = []
    failed: set[tuple[str, ...]] = set()
    try:
        Application.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            problems.append(_from_pydantic(error))
            failed.add(_camel_path(error["loc"]))
    problems.extend(_Checker(data, catalog, failed).run())
    return problems
