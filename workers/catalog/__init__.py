"""The delegation catalog: modes, towns, departments and the 13 delegated items (``config/catalog.yaml``).

``load_catalog()`` reads and checks the YAML; every problem is reported as ``file:line: field: message``
in one :class:`CatalogError`. The models are immutable pydantic models with camelCase aliases.
"""

from workers.catalog.loader import (
    CatalogError,
    CatalogProblem,
    config_dir,
    default_catalog_path,
    load_catalog,
    parse_catalog,
)
from workers.catalog.models import (
    Baseline,
    Catalog,
    CatalogIssue,
    Department,
    Item,
    ItemField,
    Material,
    Mode,
    RemovedMaterial,
    Town,
    find_catalog_issues,
)

__all__ = [
    "Baseline",
    "Catalog",
    "CatalogError",
    "CatalogIssue",
    "CatalogProblem",
    "Department",
    "Item",
    "ItemField",
    "Material",
    "Mode",
    "RemovedMaterial",
    "Town",
    "config_dir",
    "default_catalog_path",
    "find_catalog_issues",
    "load_catalog",
    "parse_catalog",
]
