"""The applicant's rating of a closed case (好差评) and its 整改 follow-up: the rules, no pyzeebe.

A rating is a score from 1 to 5 and an optional comment of at most 500 characters. Only a case the
ledger holds as closed with a decision (``completed`` or ``rejected``) can be rated, and only once. The
comment is free text typed by the applicant: before it goes anywhere (process variables, the ledger,
logs) :func:`mask_free_text` masks ID numbers and mobile numbers the way the logs do and replaces e-mail
addresses, so the ledger, which refuses personal data, accepts it. Names cannot be recognised and are
not removed; the comment is never shown to the public.

The rating process (``bpmn/case-rating.bpmn``) decides whether a 整改 follow-up is needed, records
``rated`` in the ledger (payload ``score``, ``comment``, ``followUp``, ``ratingId``) and, for a follow-up,
``followup.scheduled`` (the 整改 deadline) and, when the town is done, ``rectified``.
:func:`rating_state` reads those events back.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from pydantic import AwareDatetime, TypeAdapter, ValidationError

from workers.catalog.models import Catalog
from workers.ledger import CaseView, RecordedEvent
from workers.logging import mask_text

__all__ = [
    "MAX_COMMENT_LENGTH",
    "PROCESS_ID",
    "RATABLE_STATUSES",
    "SCORES",
    "Rating",
    "RatingError",
    "RatingState",
    "check_ratable",
    "mask_free_text",
    "parse_rating",
    "process_variables",
    "rating_state",
]

#: The BPMN process id of the rating process (``bpmn/case-rating.bpmn``).
PROCESS_ID: Final = "case-rating"
#: Case statuses (ledger projection) that can be rated: closed with a decision.
RATABLE_STATUSES: Final = ("completed", "rejected")
SCORES: Final = range(1, 6)
MAX_COMMENT_LENGTH: Final = 500

_STATUS_NAMES: Final[Mapping[str, str]] = {
    "in-progress": "办理中",
    "not-accepted": "不予受理",
    "withdrawn": "已撤回",
}
# The shape of an e-mail address the ledger refuses (workers.ledger.service); replaced as a whole.
_EMAIL_RE: Final = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")
_EMAIL_MASK: Final = "[邮箱]"
# Control characters other than tab and line breaks.
_CONTROL_RE: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_AWARE: Final = TypeAdapter(AwareDatetime)

Reason = Literal["invalid", "unknown-case", "not-closed", "already-rated"]


class RatingError(Exception):
    """A rating that is not accepted, with the reason and (for bad input) the field; nothing was started.

    ``reason``: ``invalid`` (``field`` names ``score`` or ``comment``), ``unknown-case``, ``not-closed``,
    ``already-rated``. The message says what is wrong and never repeats the comment.
    """

    def __init__(self, reason: Reason, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.reason: Reason = reason
        self.message = message
        self.field = field


@dataclass(frozen=True)
class Rating:
    """A checked rating: ``score`` 1–5 and the comment, already masked (empty when none was given)."""

    score: int
    comment: str


def mask_free_text(text: str) -> str:
    """``text`` with ID and mobile numbers masked (``370402********123X``, ``138****5678``) and e-mail
    addresses replaced by ``[邮箱]``; the result never holds more characters than ``text``."""
    while _EMAIL_RE.search(text):
        text = _EMAIL_RE.sub(_EMAIL_MASK, text)
    return mask_text(text)


def _score(value: object) -> int:
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise RatingError("invalid", "score: must be a whole number from 1 to 5", "score")
    if value not in SCORES:
        raise RatingError("invalid", f"score: {value} is out of range; give 1 (差) to 5 (好)", "score")
    return value


def _comment(value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise RatingError("invalid", "comment: must be text", "comment")
    text = value.strip()
    if len(text) > MAX_COMMENT_LENGTH:
        raise RatingError(
            "invalid",
            f"comment: {len(text)} characters; at most {MAX_COMMENT_LENGTH} are allowed",
            "comment",
        )
    if _CONTROL_RE.search(text):
        raise RatingError("invalid", "comment: contains control characters", "comment")
    return mask_free_text(text)


def parse_rating(score: object, comment: object = None) -> Rating:
    """The rating from raw input (``score`` an int or a string of digits); :class:`RatingError` naming
    the field when it is not 1–5 or the comment is not text of at most 500 characters."""
    return Rating(score=_score(score), comment=_comment(comment))


def _rated_event(view: CaseView) -> RecordedEvent | None:
    return next((event for event in view.events if event.event == "rated"), None)


def check_ratable(view: CaseView | None, case_number: str) -> CaseView:
    """The case if it can be rated now; otherwise :class:`RatingError` saying why."""
    if view is None:
        raise RatingError("unknown-case", f"no such case: {case_number}")
    if view.status not in RATABLE_STATUSES:
        status = _STATUS_NAMES.get(view.status, view.status)
        raise RatingError(
            "not-closed",
            f"case {case_number} is {view.status} ({status}): only a closed case with a decision "
            "(completed or rejected) can be rated",
        )
    rated = _rated_event(view)
    if rated is not None:
        raise RatingError(
            "already-rated",
            f"case {case_number} was already rated on {rated.occurred_at.date().isoformat()}: "
            "one rating per case",
        )
    return view


def process_variables(view: CaseView, catalog: Catalog, rating: Rating, rating_id: str) -> dict[str, Any]:
    """The variables the rating process starts with: the rating, the case's keys from the ledger (the
    workers need ``counter``, ``departmentCode`` and ``mode`` to record events) and names for the form."""
    return {
        "caseNumber": view.case_number,
        "itemCode": view.item_code,
        "townCode": view.town_code,
        "score": rating.score,
        "comment": rating.comment,
        "ratingId": rating_id,
        "counter": view.counter,
        "departmentCode": view.department_code,
        "mode": view.mode,
        "itemName": catalog.item(view.item_code).name,
        "townName": catalog.town(view.town_code).name,
    }


@dataclass(frozen=True)
class RatingState:
    """What the ledger says about a case's rating.

    ``rating_id`` is the id the recorded rating was submitted with; ``follow_up`` whether it opened a
    整改 task; ``due_at`` the 整改 deadline once scheduled; ``rectified_at`` when the town completed it.
    """

    rated_at: datetime
    score: int | None
    rating_id: str | None
    follow_up: bool
    due_at: datetime | None
    rectified_at: datetime | None


def rating_state(view: CaseView) -> RatingState | None:
    """The case's recorded rating and follow-up, or ``None`` while it has no ``rated`` event."""
    rated = _rated_event(view)
    if rated is None:
        return None
    later = [event for event in view.events if event.id > rated.id]
    scheduled = next((event for event in later if event.event == "followup.scheduled"), None)
    rectified = next((event for event in later if event.event == "rectified"), None)
    due_at: datetime | None = None
    if scheduled is not None:
        try:
            due_at = _AWARE.validate_python(scheduled.payload.get("dueAt"))
        except ValidationError:
            due_at = None
    score = rated.payload.get("score")
    rating_id = rated.payload.get("ratingId")
    return RatingState(
        rated_at=rated.occurred_at,
        score=score if isinstance(score, int) and not isinstance(score, bool) else None,
        rating_id=rating_id if isinstance(rating_id, str) else None,
        follow_up=rated.payload.get("followUp") is True,
        due_at=due_at,
        rectified_at=rectified.occurred_at if rectified is not None else None,
    )
