"""Submitting a rating: check it against the ledger, start the rating process, watch the ledger record it.

Used by ``shuangshi rate`` and the applicants' portal. The process is started over the Zeebe gateway
(``CreateProcessInstance``), like ``shuangshi submit`` starts cases; what it did is read back from the
ledger, which the process writes through the workers: the ``rated`` event carrying this submission's
``ratingId`` (``recorded``), or another submission's (``duplicate``: a concurrent rating of the same case
won; the ledger records one rating per case and this process ends without recording), and for a
follow-up the ``followup.scheduled`` event with the 整改 deadline. When the workers have not recorded the
rating within ``wait_seconds`` the outcome is ``pending``: the process runs on and will record it.
"""

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from pyzeebe import ZeebeClient

from workers.catalog.models import Catalog
from workers.ledger import Ledger
from workers.rating.service import (
    PROCESS_ID,
    Rating,
    check_ratable,
    process_variables,
    rating_state,
)

__all__ = ["POLL_SECONDS", "RatingOutcome", "submit_rating"]

#: How often the ledger is read while waiting for the process to record the rating.
POLL_SECONDS: Final = 0.1

State = Literal["recorded", "duplicate", "pending"]


@dataclass(frozen=True)
class RatingOutcome:
    """What became of one submitted rating (see the module documentation for ``state``)."""

    case_number: str
    score: int
    process_instance_key: int
    state: State
    town_code: str
    town_name: str
    #: Whether the rating opened a 整改 task (None while pending).
    follow_up: bool | None
    #: The 整改 deadline, once the process has scheduled it.
    due_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        """camelCase, keys as strings, the deadline in ISO 8601."""
        return {
            "caseNumber": self.case_number,
            "score": self.score,
            "state": self.state,
            "followUp": self.follow_up,
            "rectification": (
                None
                if not self.follow_up
                else {
                    "townCode": self.town_code,
                    "townName": self.town_name,
                    "dueAt": None if self.due_at is None else self.due_at.isoformat(),
                }
            ),
            "processInstanceKey": str(self.process_instance_key),
        }


async def submit_rating(
    zeebe: ZeebeClient,
    ledger: Ledger,
    catalog: Catalog,
    case_number: str,
    rating: Rating,
    *,
    wait_seconds: float = 30.0,
) -> RatingOutcome:
    """Check that the case can be rated (:class:`~workers.rating.service.RatingError` if not: nothing is
    started), start the rating process and wait up to ``wait_seconds`` for the ledger to record it."""
    view = check_ratable(await asyncio.to_thread(ledger.case, case_number), case_number)
    rating_id = str(uuid.uuid4())
    variables = process_variables(view, catalog, rating, rating_id)
    response = await zeebe.run_process(PROCESS_ID, variables)
    key = int(response.process_instance_key)

    def outcome(state: State, follow_up: bool | None, due_at: datetime | None) -> RatingOutcome:
        return RatingOutcome(
            case_number=view.case_number,
            score=rating.score,
            process_instance_key=key,
            state=state,
            town_code=view.town_code,
            town_name=str(variables["townName"]),
            follow_up=follow_up,
            due_at=due_at,
        )

    deadline = time.monotonic() + wait_seconds
    while True:
        current = await asyncio.to_thread(ledger.case, case_number)
        recorded = rating_state(current) if current is not None else None
        if recorded is not None and recorded.rating_id != rating_id:
            return outcome("duplicate", None, None)
        if recorded is not None and (not recorded.follow_up or recorded.due_at is not None):
            return outcome("recorded", recorded.follow_up, recorded.due_at)
        if time.monotonic() >= deadline:
            if recorded is not None:
                return outcome("recorded", recorded.follow_up, None)
            return outcome("pending", None, None)
        await asyncio.sleep(POLL_SECONDS)
