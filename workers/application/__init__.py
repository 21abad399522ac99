"""The application a case starts from: applicant, item, counter, materials and item fields."""

from workers.application.models import (
    Applicant,
    Application,
    CatalogLike,
    CatalogRule,
    Problem,
    missing_required_materials,
    validate_application,
)

__all__ = [
    "Applicant",
    "Application",
    "CatalogLike",
    "CatalogRule",
    "Problem",
    "missing_required_materials",
    "validate_application",
]
