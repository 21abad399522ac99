"""The applicant's 进度查询 of one case, from the ledger only (which holds no personal data).

:func:`public_progress` turns a ledger :class:`~workers.ledger.CaseView` into what the portal shows:
status, item, town, acceptance and due dates, the current stage, the decision's outcome and the rating.
It shows no actors, no payload values other than the decision's outcome and the rating's score and
follow-up state, and nothing of other cases.
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from workers.catalog.models import Catalog
from workers.ledger import CHINA_TZ, CaseView
from workers.rating import RATABLE_STATUSES, rating_state

__all__ = ["OUTCOME_NAMES", "STAGES", "STATUS_NAMES", "public_progress"]

STATUS_NAMES: Final[Mapping[str, str]] = {
    "in-progress": "办理中",
    "completed": "已办结（准予）",
    "rejected": "已办结（不予批准）",
    "not-accepted": "不予受理",
    "withdrawn": "已撤回",
}
OUTCOME_NAMES: Final[Mapping[str, str]] = {
    "approved": "准予",
    "rejected": "不予批准",
    "not-accepted": "不予受理",
}
#: The stage an open case is in after each ledger event (the last such event counts); events not listed
#: (alerts, the process end, …) do not move the stage.
STAGES: Final[Mapping[str, str]] = {
    "registered": "已受理，审查中",
    "accepted": "已受理，审查中",
    "sla.scheduled": "已受理，审查中",
    "materials-requested": "待补正材料（已一次性告知）",
    "sla.paused": "待补正材料（已一次性告知）",
    "supplemented": "已补正材料，审查中",
    "forwarded": "已转区级部门办理",
    "sealed": "已出具盖章文书",
    "seal-verified": "区级见章发证",
    "seal-rejected": "退回镇级重新审核",
}
_CLOSED_STAGES: Final[Mapping[str, str]] = {
    "completed": "已办结",
    "rejected": "已办结",
    "not-accepted": "不予受理，已办结",
    "withdrawn": "已撤回",
}


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(CHINA_TZ).isoformat(timespec="seconds")


def _day(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(CHINA_TZ).date().isoformat()


def _name(lookup: Any, code: str) -> str | None:
    try:
        name: str = lookup(code).name
    except KeyError:
        return None
    return name


def _stage(view: CaseView) -> str:
    if view.status in _CLOSED_STAGES:
        return _CLOSED_STAGES[view.status]
    stage = "已受理，审查中"
    for event in view.events:
        stage = STAGES.get(event.event, stage)
    return stage


def _rating(view: CaseView) -> dict[str, Any]:
    state = rating_state(view)
    if state is None:
        return {"rated": False, "canRate": view.status in RATABLE_STATUSES}
    rectification: dict[str, Any] | None = None
    if state.follow_up:
        rectification = {
            "status": "done" if state.rectified_at is not None else "in-progress",
            "statusName": "整改完成" if state.rectified_at is not None else "整改中",
            "dueAt": _iso(state.due_at),
            "rectifiedAt": _iso(state.rectified_at),
        }
    return {
        "rated": True,
        "canRate": False,
        "score": state.score,
        "ratedAt": _iso(state.rated_at),
        "rectification": rectification,
    }


def public_progress(view: CaseView, catalog: Catalog) -> dict[str, Any]:
    """进度查询 data of one case: camelCase keys, times in China time (ISO 8601), dates as ``YYYY-MM-DD``.

    Keys: ``caseNumber``, ``status``/``statusName``, ``item`` {``code``, ``name``}, ``town`` {``code``,
    ``name``}, ``acceptedAt``/``acceptedDate``, ``dueAt``/``dueDate`` (the case's time limit),
    ``closedAt``, ``stage`` (the current stage, in Chinese), ``decision`` (null until decided)
    {``outcome``, ``outcomeName``, ``decidedAt``} and ``rating`` {``rated``, ``canRate``, and once rated
    ``score``, ``ratedAt``, ``rectification`` (null without a follow-up) {``status`` ``in-progress``/``done``,
    ``statusName``, ``dueAt``, ``rectifiedAt``}}.
    """
    decided = next((event for event in view.events if event.event == "decided"), None)
    decision: dict[str, Any] | None = None
    if view.outcome is not None:
        decision = {
            "outcome": view.outcome,
            "outcomeName": OUTCOME_NAMES.get(view.outcome, view.outcome),
            "decidedAt": _iso(decided.occurred_at if decided is not None else view.closed_at),
        }
    return {
        "caseNumber": view.case_number,
        "status": view.status,
        "statusName": STATUS_NAMES.get(view.status, view.status),
        "item": {"code": view.item_code, "name": _name(catalog.item, view.item_code)},
        "town": {"code": view.town_code, "name": _name(catalog.town, view.town_code)},
        "acceptedAt": _iso(view.accepted_at),
        "acceptedDate": _day(view.accepted_at),
        "dueAt": _iso(view.due_at),
        "dueDate": _day(view.due_at),
        "closedAt": _iso(view.closed_at),
        "stage": _stage(view),
        "decision": decision,
        "rating": _rating(view),
    }
