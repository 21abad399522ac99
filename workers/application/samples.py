"""Sample applications that pass every check, for demos and tests (`shuangshi submit --sample`).

The people and enterprises are made up: ID numbers and credit codes are built from fixed, fictitious
parts with their check characters computed, and the mobile numbers use a reserved test range.
"""

from typing import Any, Literal

from workers.catalog.models import Catalog, Item
from workers.domain.validators import (
    credit_code_check_char,
    id_number_check_digit,
    organisation_code_check_char,
)

_FIELD_SAMPLES: dict[str, Any] = {"string": "示例", "integer": 1, "date": "2026-01-15", "boolean": False}


def sample_id_number(sequence: int = 1) -> str:
    body = f"370406199001{(sequence % 28) + 1:02d}{sequence % 1000:03d}"
    return body + id_number_check_digit(body)


def sample_credit_code(sequence: int = 1) -> str:
    org_body = f"{sequence % 100_000_000:08d}"
    organisation = org_body + organisation_code_check_char(org_body)
    body = "92" + "370406" + organisation
    return body + credit_code_check_char(body)


def sample_application(
    catalog: Catalog,
    item_code: str,
    town_code: str,
    counter: Literal["town", "district"],
    *,
    sequence: int = 1,
) -> dict[str, Any]:
    """A complete application for the item: every required material, every required field, one scope."""
    item: Item = catalog.item(item_code)
    catalog.town(town_code)
    if item.applicant_kind == "enterprise":
        applicant: dict[str, Any] = {
            "kind": "enterprise",
            "name": "山亭区示例个体工商户",
            "creditCode": sample_credit_code(sequence),
            "legalRepresentative": "李示例",
            "mobile": "13900000000",
        }
    else:
        applicant = {
            "kind": "person",
            "name": "王示例",
            "idNumber": sample_id_number(sequence),
            "mobile": "13900000000",
        }
    fields = {f.name: _FIELD_SAMPLES[f.type] for f in item.fields if f.required}
    application: dict[str, Any] = {
        "applicant": applicant,
        "itemCode": item.code,
        "townCode": town_code,
        "counter": counter,
        "materials": [m.id for m in item.materials if m.required],
        "fields": fields,
    }
    if item.scope:
        application["scope"] = item.scope[0]
    return application
