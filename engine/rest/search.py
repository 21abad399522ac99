"""The search request shape shared by every ``POST /v2/<resource>/search`` endpoint.

A request carries ``filter`` (field → value, or an advanced filter such as ``{"$eq": …}``,
``{"$in": […]}``, ``{"$like": "a*"}``, ``{"$exists": true}``, ``{"$gt": …}``), ``sort`` (a list of
``{"field", "order"}``) and ``page`` (``limit`` with ``from``, or ``after``/``before`` cursors).
Results are ``{"items": […], "page": {"totalItems", "startCursor", "endCursor",
"hasMoreTotalItems"}}``. Cursors are opaque to clients; here they encode a position.
"""

import base64
import fnmatch
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from engine.rest.problems import ApiProblem

DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000


class SortField(BaseModel):
    model_config = ConfigDict(extra="forbid")
    field: str
    order: str = "ASC"


class Page(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    from_: int | None = Field(default=None, alias="from", ge=0)
    after: str | None = None
    before: str | None = None


class SearchQuery(BaseModel):
    """The body of a search request; ``filter`` stays a plain mapping checked per resource."""

    model_config = ConfigDict(extra="forbid")
    filter: dict[str, Any] = Field(default_factory=dict)
    sort: list[SortField] = Field(default_factory=list)
    page: Page = Field(default_factory=Page)


def _cursor(position: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"p": position}).encode()).decode()


def _position(cursor: str, field_name: str) -> int:
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        position = int(value["p"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ApiProblem(400, f"'page.{field_name}': not a cursor returned by this API") from exc
    return position


def _matches_advanced(actual: Any, condition: Mapping[str, Any], field_name: str) -> bool:
    for operator, expected in condition.items():
        if operator == "$eq":
            ok = actual == expected
        elif operator == "$neq":
            ok = actual != expected
        elif operator == "$exists":
            ok = (actual is not None) == bool(expected)
        elif operator == "$in":
            ok = actual in expected
        elif operator == "$notIn":
            ok = actual not in expected
        elif operator == "$like":
            ok = isinstance(actual, str) and fnmatch.fnmatchcase(actual, str(expected))
        elif operator in {"$gt", "$gte", "$lt", "$lte"}:
            if actual is None:
                return False
            ok = {
                "$gt": actual > expected,
                "$gte": actual >= expected,
                "$lt": actual < expected,
                "$lte": actual <= expected,
            }[operator]
        else:
            raise ApiProblem(400, f"'filter.{field_name}': unknown operator '{operator}'")
        if not ok:
            return False
    return True


def matches(item: Mapping[str, Any], filters: Mapping[str, Any]) -> bool:
    """Whether ``item`` satisfies every filter entry (plain value or advanced operators)."""
    for name, condition in filters.items():
        actual = item.get(name)
        if isinstance(condition, dict):
            if not _matches_advanced(actual, condition, name):
                return False
        elif isinstance(actual, list):
            if condition not in actual:
                return False
        elif actual != condition:
            return False
    return True


def check_filter_fields(filters: Mapping[str, Any], allowed: Iterable[str]) -> None:
    allowed_set = set(allowed)
    for name in filters:
        if name not in allowed_set:
            raise ApiProblem(
                400, f"'filter.{name}': unknown filter field; supported: {', '.join(sorted(allowed_set))}"
            )


def _sort_key(field_name: str) -> Callable[[dict[str, Any]], tuple[bool, Any]]:
    """Missing values sort last; present values compare by themselves."""

    def key(item: dict[str, Any]) -> tuple[bool, Any]:
        value = item.get(field_name)
        return (value is None, value if value is not None else 0)

    return key


def paginate(
    items: list[dict[str, Any]],
    query: SearchQuery,
    *,
    sortable: Iterable[str],
    default_sort: Callable[[dict[str, Any]], Any] | None = None,
) -> dict[str, Any]:
    """Sort, then cut one page out of ``items`` (already filtered) and describe it."""
    sortable_set = set(sortable)
    if default_sort is not None:
        items.sort(key=default_sort)
    for spec in reversed(query.sort):
        if spec.field not in sortable_set:
            raise ApiProblem(400, f"'sort.field': cannot sort by '{spec.field}'")
        order = spec.order.upper()
        if order not in {"ASC", "DESC"}:
            raise ApiProblem(400, f"'sort.order': expected ASC or DESC, got '{spec.order}'")
        items.sort(key=_sort_key(spec.field), reverse=order == "DESC")
    page = query.page
    total = len(items)
    if page.after is not None:
        start = _position(page.after, "after") + 1
    elif page.before is not None:
        start = max(0, _position(page.before, "before") - page.limit)
    else:
        start = page.from_ or 0
    chosen = items[start : start + page.limit]
    end = start + len(chosen) - 1
    return {
        "items": chosen,
        "page": {
            "totalItems": total,
            "startCursor": _cursor(start) if chosen else None,
            "endCursor": _cursor(end) if chosen else None,
            "hasMoreTotalItems": False,
        },
    }
