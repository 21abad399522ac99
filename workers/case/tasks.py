"""pyzeebe handlers for ``case.register`` and ``case.forward``."""

from typing import Any

from pyzeebe import Job, ZeebeTaskRouter

from workers.case import service
from workers.case.models import CaseContext, CaseKeys
from workers.registry import JobType
from workers.runtime import Services, broker_now, header, run_blocking, task

CASE_VARIABLES = ["caseNumber", "itemCode", "townCode", "counter", "departmentCode", "mode"]


def create_router(services: Services) -> ZeebeTaskRouter:
    router = ZeebeTaskRouter()

    @task(router, JobType.CASE_REGISTER, ["itemCode", "townCode", "counter"])
    async def register(job: Job) -> dict[str, Any]:
        keys = CaseKeys.model_validate(job.variables)
        registered = await run_blocking(
            service.register, services.catalog, services.ledger, keys, broker_now(job), job.key
        )
        result: dict[str, Any] = registered.model_dump(by_alias=True)
        return result

    @task(router, JobType.CASE_FORWARD, CASE_VARIABLES)
    async def forward(job: Job) -> dict[str, Any]:
        case = CaseContext.model_validate(job.variables)
        to = header(job, "to", {"district"})
        at = broker_now(job)
        await run_blocking(
            service.record,
            services.ledger,
            case,
            "forwarded",
            at,
            job.key,
            actor="case.forward",
            payload={"to": to},
        )
        return {"forwardedAt": at.isoformat()}

    return router
