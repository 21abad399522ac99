"""pyzeebe handler for ``ledger.record``: the diagram names the event in the task header ``event``."""

from typing import Any

from pyzeebe import Job, ZeebeTaskRouter

from workers.case import service as case_service
from workers.case.models import CaseContext
from workers.registry import JobType
from workers.runtime import Services, broker_now, header, run_blocking, task

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
    return {}


def record(services: Services, job: Job) -> dict[str, Any]:
    event = header(job, "event")
    case = CaseContext.model_validate(job.variables)
    case_service.record(
        services.ledger,
        case,
        event,
        broker_now(job),
        job.key,
        actor=f"ledger.record:{job.element_id}",
        payload=payload_for(event, dict(job.variables)),
    )
    return {}


def create_router(services: Services) -> ZeebeTaskRouter:
    router = ZeebeTaskRouter()

    @task(router, JobType.LEDGER_RECORD, VARIABLES)
    async def ledger_record(job: Job) -> dict[str, Any]:
        result: dict[str, Any] = await run_blocking(record, services, job)
        return result

    return router
