"""Checking an application in the process: complete → on; materials missing → 一次性告知; else 不予受理."""

from dataclasses import dataclass
from typing import Any

from workers.application.models import CatalogRule, missing_required_materials, validate_application
from workers.catalog.models import Catalog
from workers.registry import ErrorCode


@dataclass(frozen=True)
class ValidationOutcome:
    """``error`` is None when the application may be accepted; otherwise the BPMN error and its variables."""

    error: ErrorCode | None
    message: str
    variables: dict[str, Any]


def check(catalog: Catalog, application: dict[str, Any], supplemented: list[str]) -> ValidationOutcome:
    """Validate the application with the materials supplemented so far added to the ones first given.

    Only missing materials can be cured by 补正: when those are the sole problems the outcome is
    MATERIALS_INCOMPLETE with every missing material (id and Chinese name) for the one-time notice.
    Any other problem makes the application invalid; the reasons name the field, never its value.
    """
    provided = list(application.get("materials") or [])
    merged = {**application, "materials": list(dict.fromkeys([*provided, *supplemented]))}
    problems = validate_application(merged, catalog)
    if not problems:
        return ValidationOutcome(None, "application complete", {})
    if all(p.rule == CatalogRule.MATERIALS_MISSING for p in problems):
        item = catalog.item(str(application.get("itemCode")))
        missing = [
            {"id": m.id, "name": m.name} for m in missing_required_materials(merged["materials"], item)
        ]
        return ValidationOutcome(
            ErrorCode.MATERIALS_INCOMPLETE,
            f"{len(missing)} required material(s) missing",
            {"missingMaterials": missing},
        )
    reasons = [f"{p.path}: {p.message}" for p in problems]
    return ValidationOutcome(
        ErrorCode.APPLICATION_INVALID, f"{len(reasons)} problem(s)", {"invalidReasons": reasons}
    )
