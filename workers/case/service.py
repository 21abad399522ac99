"""Registering a case (办件编号 + ledger) and forwarding it to the district. Never imports pyzeebe."""

from datetime import datetime
from typing import Any

from workers.case.models import CaseContext, CaseKeys, RegisteredCase
from workers.catalog.models import Catalog
from workers.ledger import CaseEvent, Ledger, china_date


def register(catalog: Catalog, ledger: Ledger, keys: CaseKeys, at: datetime, job_key: int) -> RegisteredCase:
    """Number the case and open it in the ledger; a redelivered job gets the same number and no new row.

    Town-accepted cases are numbered with the town's prefix (``XJ-20261126-0001``), district-accepted
    ones with the department's (区、镇有同等的受理权: the district counter keeps its own numbering).
    """
    item = catalog.item(keys.item_code)
    town = catalog.town(keys.town_code)
    department = catalog.department(item.department_code)
    prefix = town.case_prefix if keys.counter == "town" else department.case_prefix
    case_number = ledger.next_case_number(prefix, china_date(at), job_key)
    ledger.record_event(
        CaseEvent(
            case_number=case_number,
            item_code=item.code,
            town_code=town.code,
            department_code=department.code,
            mode=item.mode,
            counter=keys.counter,
            event="registered",
            actor="case.register",
            occurred_at=at,
            payload={"prefix": prefix},
        ),
        job_key,
    )
    return RegisteredCase(
        case_number=case_number,
        department_code=department.code,
        mode=item.mode,
        item_name=item.name,
        town_name=town.name,
        department_name=department.name,
        time_limit_days=item.time_limit_days,
    )


def record(
    ledger: Ledger,
    case: CaseContext,
    event: str,
    at: datetime,
    job_key: int,
    *,
    actor: str,
    payload: dict[str, Any] | None = None,
    once_per_case: bool = False,
) -> None:
    """Append one ledger event for the case (idempotent on the job key; see ``Ledger.record_event``)."""
    ledger.record_event(
        CaseEvent(
            case_number=case.case_number,
            item_code=case.item_code,
            town_code=case.town_code,
            department_code=case.department_code,
            mode=case.mode,
            counter=case.counter,
            event=event,
            actor=actor,
            occurred_at=at,
            payload=payload or {},
        ),
        job_key,
        once_per_case=once_per_case,
    )
