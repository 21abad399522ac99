"""pyzeebe handler for ``ledger.record``: the diagram names the event in the task header ``event``.

Header ``oncePerCase`` (``true``/``false``, default ``false``): record the event only if the case has none of
that name yet (e.g. ``rated``: one rating per case); otherwise the BPMN error ``EVENT_ALREADY_RECORDED``.
"""

from typing import Any

from pyzeebe import Job, ZeebeTaskRouter

from workers.case import service as case_service
from workers.case.models import CaseContext
from workers.ledger import DuplicateEventError
from workers.rating import MAX_COMMENT_LENGTH, SCORES, mask_free_text
from workers.registry import ErrorCode, JobType
from workers.runtime import BpmnError, Services, broker_now, header, run_blocking, task

#: Longest 整改 measures text kept in the ledger (the form allows as much).
MAX_MEASURES_LENGTH = 1000

VARIABLES = [
    "caseNumber",
    "itemCode",
    "townCode",
    "counter",
    "departmentCode",
    "mode",
    "decision",
    "missingMaterials",
    "invalidReasons",
    "sealProblem",
    "score",
    "comment",
    "followUp",
    "ratingId",
    "rectificationMeasures",
    "applicantContacted",
]


def payload_for(event: str, variables: dict[str, Any]) -> dict[str, Any]:
    """Process facts for the event, never personal data (the ledger strips and refuses it as well)."""
    if event == "decided":
        decision = variables.get("decision")
        if not isinstance(decision, dict):
            raise ValueError(
                "ledger event 'decided' needs the process variable 'decision' (set by seal.stamp)"
            )
        return {"outcome": decision.get("outcome"), "documentNo": decision.get("documentNo")}
    if event == "materials-requested":
        return {
            "missing": [m.get("id") for m in variables.get("missingMaterials") or [] if isinstance(m, dict)]
        }
    if event == "not-accepted":
        reasons = variables.get("invalidReasons") or []
        return {
            "reason": "application-invalid" if reasons else "supplement-deadline-passed",
            "problems": len(reasons),
        }
    if event == "seal-rejected":
        return {"problem": str(variables.get("sealProblem") or "")[:200]}
    if event == "rated":
        score = variables.get("score")
        if isinstance(score, bool) or not isinstance(score, int) or score not in SCORES:
            raise ValueError("ledger event 'rated' needs the process variable 'score', a whole number 1 to 5")
        payload: dict[str, Any] = {
            "score": score,
            "comment": mask_free_text(str(variables.get("comment") or ""))[:MAX_COMMENT_LENGTH],
            "followUp": variables.get("followUp") is True,
        }
        if isinstance(variables.get("ratingId"), str):
            payload["ratingId"] = variables["ratingId"]
        return payload
    if event == "rectified":
        measures = str(variables.get("rectificationMeasures") or "")
        return {
            "measures": mask_free_text(measures)[:MAX_MEASURES_LENGTH],
            "applicantContacted": variables.get("applicantContacted") is True,
        }
    return {}


def record(services: Services, job: Job) -> dict[str, Any]:
    event = header(job, "event")
    once = job.custom_headers.get("oncePerCase", "false")
    if once not in {"true", "false"}:
        raise ValueError(f"element '{job.element_id}': task header oncePerCase='{once}' is not true or false")
    case = CaseContext.model_validate(job.variables)
    try:
        case_service.record(
            services.ledger,
            case,
            event,
            broker_now(job),
            job.key,
            actor=f"ledger.record:{job.element_id}",
            payload=payload_for(event, dict(job.variables)),
            once_per_case=once == "true",
        )
    except DuplicateEventError as exc:
        raise BpmnError(ErrorCode.EVENT_ALREADY_RECORDED, str(exc)) from None
    return {}


def create_router(services: Services) -> ZeebeTaskRouter:
    router = ZeebeTaskRouter()

    @task(router, JobType.LEDGER_RECORD, VARIABLES)
    async def ledger_record(job: Job) -> dict[str, Any]:
        result: dict[str, Any] = await run_blocking(record, services, job)
        return result

    return router
