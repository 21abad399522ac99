"""The application model and its validation against a catalog (a small fake of the catalog's shape)."""

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from workers.application.models import (
    Applicant,
    Application,
    CatalogLike,
    CatalogRule,
    Problem,
    missing_required_materials,
    validate_application,
)
from workers.domain.validators import (
    credit_code_check_char,
    id_number_check_digit,
    organisation_code_check_char,
)

# --------------------------------------------------------------------------------------------------
# Test doubles of the catalog's data structure
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Material:
    """A catalog material."""

    id: str
    name: str
    required: bool


@dataclass(frozen=True)
class ItemField:
    """A catalog item field."""

    name: str
    label: str
    type: str
    required: bool


@dataclass(frozen=True)
class Item:
    """A catalog item."""

    code: str
    applicant_kind: str
    materials: list[Material]
    scope: list[str] = field(default_factory=list)
    fields: list[ItemField] = field(default_factory=list)


@dataclass(frozen=True)
class Town:
    """A catalog town."""

    code: str
    name: str


@dataclass(frozen=True)
class FakeCatalog:
    """Items and towns by code; unknown codes raise KeyError like the real catalog."""

    items: dict[str, Item]
    towns: dict[str, Town]

    def item(self, code: str) -> Item:
        """The item with this code."""
        return self.items[code]

    def town(self, code: str) -> Town:
        """The town with this code."""
        return self.towns[code]


PERSON_ITEM = Item(
    code="3700002036027",
    applicant_kind="person",
    materials=[
        Material("id-card", "居民身份证", required=True),
        Material("referral", "转诊证明", required=True),
        Material("photo", "照片", required=False),
    ],
    scope=["转外就医备案"],
    fields=[
        ItemField("hospital", "就医医院", "string", required=True),
        ItemField("days", "住院天数", "integer", required=True),
        ItemField("admitted", "入院日期", "date", required=False),
        ItemField("emergency", "是否急诊", "boolean", required=False),
    ],
)
ENTERPRISE_ITEM = Item(
    code="3700000117086",
    applicant_kind="enterprise",
    materials=[Material("licence", "营业执照", required=True)],
)
BOTH_ITEM = Item(code="3700000131001", applicant_kind="both", materials=[])
CATALOG: CatalogLike = FakeCatalog(
    items={item.code: item for item in (PERSON_ITEM, ENTERPRISE_ITEM, BOTH_ITEM)},
    towns={"xiji": Town("xiji", "西集镇"), "shuiquan": Town("shuiquan", "水泉镇")},
)

_ID_BODY = "37040619850312001"  # made-up: 山亭区, 1985-03-12, sequence 001
ID_NUMBER = _ID_BODY + id_number_check_digit(_ID_BODY)
_ORG = "MA3C4D5E" + organisation_code_check_char("MA3C4D5E")
CREDIT_CODE = "91370406" + _ORG + credit_code_check_char("91370406" + _ORG)


def person(**changes: Any) -> dict[str, Any]:
    """A valid person applicant as process variables, with changes."""
    return {"kind": "person", "name": "张三", "idNumber": ID_NUMBER, "mobile": "13800001234", **changes}


def enterprise(**changes: Any) -> dict[str, Any]:
    """A valid enterprise applicant as process variables, with changes."""
    base = {
        "kind": "enterprise",
        "name": "枣庄市山亭区示例农业有限公司",
        "creditCode": CREDIT_CODE,
        "legalRepresentative": "李四",
        "mobile": "13900001234",
    }
    return base | changes


def application(**changes: Any) -> dict[str, Any]:
    """A valid application for the person item at 西集镇, with changes."""
    base = {
        "applicant": person(),
        "itemCode": PERSON_ITEM.code,
        "townCode": "xiji",
        "counter": "town",
        "materials": ["id-card", "referral"],
        "fields": {"hospital": "省立医院", "days": 3},
    }
    return base | changes


def by_path(problems: list[Problem]) -> dict[str, list[Problem]]:
    """Problems grouped by field path."""
    grouped: dict[str, list[Problem]] = {}
    for problem in problems:
        grouped.setdefault(problem.path, []).append(problem)
    return grouped


def only(problems: list[Problem]) -> Problem:
    """The single problem in the list."""
    assert len(problems) == 1, problems
    return problems[0]


# --------------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------------


def test_valid_person_application_has_no_problems() -> None:
    """A complete, consistent person application yields no problems."""
    assert validate_application(application(), CATALOG) == []


def test_valid_enterprise_application_has_no_problems() -> None:
    """A complete, consistent enterprise application yields no problems."""
    data = application(
        applicant=enterprise(),
        itemCode=ENTERPRISE_ITEM.code,
        materials=["licence"],
        fields={},
        counter="district",
    )
    assert validate_application(data, CATALOG) == []


def test_model_accepts_camel_and_snake_case_and_dumps_camel_case() -> None:
    """Fields are populated by camelCase alias or by snake_case name, and dumped as camelCase."""
    by_alias = Application.model_validate(application())
    by_name = Application.model_validate(
        {
            "applicant": {"kind": "person", "name": "张三", "id_number": ID_NUMBER, "mobile": "13800001234"},
            "item_code": PERSON_ITEM.code,
            "town_code": "xiji",
            "counter": "town",
            "materials": ["id-card", "referral"],
            "fields": {"hospital": "省立医院", "days": 3},
        }
    )
    assert by_alias == by_name
    dumped = by_alias.model_dump(by_alias=True, exclude_none=True)
    assert dumped["itemCode"] == PERSON_ITEM.code
    assert dumped["applicant"]["idNumber"] == ID_NUMBER


def test_applicant_values_are_normalised() -> None:
    """A lower-case x, a +86 prefix with separators and a look-alike dot are stored in canonical form."""
    bodies = (f"11010519900701{n:03d}" for n in range(1000))
    body = next(b for b in bodies if id_number_check_digit(b) == "X")
    applicant = Applicant.model_validate(
        {"kind": "person", "name": " 阿卜杜•扎克尔 ", "idNumber": body + "x", "mobile": "+86 138-0000-1234"}
    )
    assert applicant.id_number == body + "X"
    assert applicant.mobile == "13800001234"
    assert applicant.name == "阿卜杜·扎克尔"


def test_applicant_error_names_field_and_rule() -> None:
    """A bad ID number raises a pydantic error located at id_number whose message names the rule."""
    with pytest.raises(ValidationError) as caught:
        Applicant(kind="person", name="张三", id_number=ID_NUMBER[:-1] + "0", mobile="13800001234")
    (error,) = caught.value.errors()
    assert error["loc"] == ("id_number",)
    assert error["type"] == "id_number.check_digit"
    assert "[id_number.check_digit]" in error["msg"]


def test_person_requires_id_number() -> None:
    """A person without an ID number gets a problem at applicant.idNumber."""
    data = application(applicant={k: v for k, v in person().items() if k != "idNumber"})
    problem = only(validate_application(data, CATALOG))
    assert problem.path == "applicant.idNumber"
    assert problem.rule == "applicant.id_number.required"


def test_enterprise_requires_credit_code_and_legal_representative() -> None:
    """An enterprise without credit code and legal representative gets one problem for each."""
    data = application(applicant={"kind": "enterprise", "name": "示例公司", "mobile": "13900001234"})
    grouped = by_path(validate_application(data, CATALOG))
    assert grouped["applicant.creditCode"][0].rule == "applicant.credit_code.required"
    assert grouped["applicant.legalRepresentative"][0].rule == "applicant.legal_representative.required"


def test_kind_specific_fields_are_not_mixed() -> None:
    """A person may not carry a credit code, an enterprise may not carry an ID number."""
    grouped = by_path(validate_application(application(applicant=person(creditCode=CREDIT_CODE)), CATALOG))
    assert grouped["applicant.creditCode"][0].rule == "applicant.credit_code.not_applicable"
    data = application(
        applicant=enterprise(idNumber=ID_NUMBER), itemCode=BOTH_ITEM.code, materials=[], fields={}
    )
    assert only(validate_application(data, CATALOG)).path == "applicant.idNumber"


def test_enterprise_name_may_contain_latin_letters_but_legal_representative_is_checked() -> None:
    """An enterprise's registered name is free text; its legal representative's name is a personal name."""
    data = application(applicant=enterprise(name="ABC（山东）科技有限公司"), itemCode=BOTH_ITEM.code)
    data |= {"materials": [], "fields": {}}
    assert validate_application(data, CATALOG) == []
    data["applicant"] = enterprise(legalRepresentative="Li4")
    rules = {p.rule for p in validate_application(data, CATALOG)}
    assert rules == {"name.digits"}


@pytest.mark.parametrize(
    ("changes", "path", "rule"),
    [
        ({"name": "张3"}, "applicant.name", "name.digits"),
        ({"mobile": "138000012345"}, "applicant.mobile", "mobile.length"),
        ({"email": "not-an-email"}, "applicant.email", "email.format"),
        ({"kind": "robot"}, "applicant.kind", "literal_error"),
        ({"nickname": "小张"}, "applicant.nickname", "extra_forbidden"),
    ],
)
def test_applicant_field_problems(changes: dict[str, Any], path: str, rule: str) -> None:
    """Each applicant field rule reports at its camelCase path with its rule."""
    problem = only(validate_application(application(applicant=person(**changes)), CATALOG))
    assert (problem.path, problem.rule) == (path, rule)
    assert f"[{rule}]" in problem.message


def test_bad_item_code_shape_is_reported_once() -> None:
    """A 12-digit item code fails the pattern and is not also reported as unknown."""
    problem = only(validate_application(application(itemCode="370000203602"), CATALOG))
    assert (problem.path, problem.rule) == ("itemCode", "string_pattern_mismatch")


def test_item_code_must_be_a_string() -> None:
    """An item code given as a number is a type error (no silent conversion)."""
    problem = only(validate_application(application(itemCode=3700002036027), CATALOG))
    assert (problem.path, problem.rule) == ("itemCode", "string_type")


def test_duplicate_material_ids() -> None:
    """A material listed twice is a problem naming it."""
    problem = only(validate_application(application(materials=["id-card", "referral", "id-card"]), CATALOG))
    assert problem.rule == "materials.duplicate"
    assert "id-card" in problem.message


def test_non_scalar_field_value_is_one_problem() -> None:
    """A list as a field value gives a single problem at fields.<name>, not one per accepted type."""
    data = application(fields={"hospital": "省立医院", "days": 3, "emergency": [True]})
    problem = only(validate_application(data, CATALOG))
    assert (problem.path, problem.rule) == ("fields.emergency", "fields.scalar")


# --------------------------------------------------------------------------------------------------
# Catalog checks
# --------------------------------------------------------------------------------------------------


def test_unknown_item_code() -> None:
    """A well-formed item code that the catalog does not know is reported at itemCode."""
    problem = only(validate_application(application(itemCode="3700009999999"), CATALOG))
    assert (problem.path, problem.rule) == ("itemCode", CatalogRule.UNKNOWN_ITEM)
    assert "3700009999999" in problem.message


def test_unknown_town() -> None:
    """A town code the catalog does not know is reported at townCode."""
    problem = only(validate_application(application(townCode="nowhere"), CATALOG))
    assert (problem.path, problem.rule) == ("townCode", CatalogRule.UNKNOWN_TOWN)


def test_applicant_kind_not_accepted_by_item() -> None:
    """An enterprise applying for a person-only item is reported at applicant.kind."""
    problem = only(validate_application(application(applicant=enterprise()), CATALOG))
    assert (problem.path, problem.rule) == ("applicant.kind", CatalogRule.KIND_NOT_ACCEPTED)


@pytest.mark.parametrize("applicant", [person(), enterprise()])
def test_both_kinds_accepted(applicant: dict[str, Any]) -> None:
    """An item for both kinds accepts persons and enterprises."""
    data = application(applicant=applicant, itemCode=BOTH_ITEM.code, materials=[], fields={})
    assert validate_application(data, CATALOG) == []


def test_missing_required_materials_are_listed_with_ids_and_names() -> None:
    """Missing required materials make one problem listing ids and Chinese names, optional ones left out."""
    problem = only(validate_application(application(materials=[]), CATALOG))
    assert (problem.path, problem.rule) == ("materials", CatalogRule.MATERIALS_MISSING)
    assert "id-card（居民身份证）" in problem.message
    assert "referral（转诊证明）" in problem.message
    assert "photo" not in problem.message


def test_missing_required_materials_helper() -> None:
    """The helper returns the required materials not provided, in catalog order."""
    assert [m.id for m in missing_required_materials(["referral", "photo"], PERSON_ITEM)] == ["id-card"]


def test_unknown_material_ids() -> None:
    """A material id the item does not ask for is reported at its list index."""
    problem = only(validate_application(application(materials=["id-card", "referral", "passport"]), CATALOG))
    assert (problem.path, problem.rule) == ("materials.2", CatalogRule.UNKNOWN_MATERIAL)
    assert "passport" in problem.message


@pytest.mark.parametrize(
    "fields", [{"days": 3}, {"hospital": None, "days": 3}, {"hospital": "  ", "days": 3}]
)
def test_required_field_missing(fields: dict[str, Any]) -> None:
    """An absent, null or blank required field is reported with its label."""
    problem = only(validate_application(application(fields=fields), CATALOG))
    assert (problem.path, problem.rule) == ("fields.hospital", CatalogRule.FIELD_REQUIRED)
    assert "就医医院" in problem.message


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("days", "3"),
        ("days", True),
        ("days", 3.5),
        ("hospital", 7),
        ("admitted", "2024-02-30"),
        ("admitted", "20240201"),
        ("emergency", "yes"),
    ],
)
def test_field_of_wrong_type(name: str, value: object) -> None:
    """A value that does not match the field's declared type is reported at fields.<name>."""
    data = application(fields={"hospital": "省立医院", "days": 3, name: value})
    problem = only(validate_application(data, CATALOG))
    assert (problem.path, problem.rule) == (f"fields.{name}", CatalogRule.FIELD_TYPE)


def test_fields_of_the_right_types() -> None:
    """Strings, integers, ISO dates and booleans of the declared types pass."""
    fields = {
        "hospital": "省立医院",
        "days": 3,
        "admitted": date(2024, 2, 29).isoformat(),
        "emergency": False,
    }
    assert validate_application(application(fields=fields), CATALOG) == []


def test_unknown_field() -> None:
    """A field the item does not declare is reported."""
    data = application(fields={"hospital": "省立医院", "days": 3, "colour": "red"})
    problem = only(validate_application(data, CATALOG))
    assert (problem.path, problem.rule) == ("fields.colour", CatalogRule.UNKNOWN_FIELD)


def test_scope_must_be_a_delegated_scope() -> None:
    """A scope outside the item's delegated scopes is reported; a listed scope passes."""
    assert validate_application(application(scope="转外就医备案"), CATALOG) == []
    problem = only(validate_application(application(scope="异地就医结算"), CATALOG))
    assert (problem.path, problem.rule) == ("scope", CatalogRule.SCOPE_NOT_DELEGATED)


def test_scope_on_item_without_scopes() -> None:
    """An item without delegated scopes accepts no scope."""
    data = application(applicant=person(), itemCode=BOTH_ITEM.code, materials=[], fields={}, scope="x")
    assert only(validate_application(data, CATALOG)).rule == CatalogRule.SCOPE_NOT_DELEGATED


def test_every_problem_is_collected() -> None:
    """Model and catalog problems are all reported together, each at its own path."""
    data = {
        "applicant": {"kind": "person", "name": "张3", "idNumber": ID_NUMBER[:-1] + "0", "mobile": "12345"},
        "itemCode": PERSON_ITEM.code,
        "townCode": "nowhere",
        "counter": "city",
        "materials": ["passport"],
        "fields": {"days": "three"},
        "scope": "其他",
        "colour": "red",
    }
    paths = {(p.path, p.rule) for p in validate_application(data, CATALOG)}
    assert paths == {
        ("applicant.name", "name.digits"),
        ("applicant.idNumber", "id_number.check_digit"),
        ("applicant.mobile", "mobile.length"),
        ("counter", "literal_error"),
        ("colour", "extra_forbidden"),
        ("townCode", "town.unknown"),
        ("materials.0", "materials.unknown"),
        ("materials", "materials.missing"),
        ("fields.hospital", "fields.required"),
        ("fields.days", "fields.type"),
        ("scope", "scope.not_delegated"),
    }


def test_empty_input_reports_missing_fields() -> None:
    """An empty mapping reports each required top-level field as missing."""
    problems = validate_application({}, CATALOG)
    assert {(p.path, p.rule) for p in problems} == {
        ("applicant", "missing"),
        ("itemCode", "missing"),
        ("townCode", "missing"),
        ("counter", "missing"),
    }
    assert all("必填项缺失" in p.message for p in problems)


def test_unsupported_field_type_in_catalog_is_an_error() -> None:
    """A catalog field type this module does not know is a configuration error, not an applicant problem."""
    item = Item(
        code="3700000000001",
        applicant_kind="both",
        materials=[],
        fields=[ItemField("x", "X", "money", required=False)],
    )
    catalog = FakeCatalog(items={item.code: item}, towns={"xiji": Town("xiji", "西集镇")})
    data = application(itemCode=item.code, materials=[], fields={"x": 1})
    with pytest.raises(ValueError, match="money"):
        validate_application(data, catalog)
