"""好差评: the applicant's rating of a closed case and the town's 整改 follow-up of a poor one.

:mod:`workers.rating.service` holds the rules (input checks, masking, who may rate, reading the ledger);
:mod:`workers.rating.process` submits a rating to the rating process (``bpmn/case-rating.bpmn``) over the
gateway. The process's steps are done by the existing workers (``ledger.record``, ``sla.schedule``,
``staff.alert``); this package has no job handlers.
"""

from workers.rating.service import (
    MAX_COMMENT_LENGTH,
    PROCESS_ID,
    RATABLE_STATUSES,
    SCORES,
    Rating,
    RatingError,
    RatingState,
    check_ratable,
    mask_free_text,
    parse_rating,
    process_variables,
    rating_state,
)

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
