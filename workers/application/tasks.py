"""pyzeebe handler for ``application.validate``."""

from typing import Any

from pyzeebe import Job, ZeebeTaskRouter

from workers.application import service
from workers.registry import JobType
from workers.runtime import BpmnError, Services, run_blocking, task


def create_router(services: Services) -> ZeebeTaskRouter:
    router = ZeebeTaskRouter()

    @task(
        router,
        JobType.APPLICATION_VALIDATE,
        ["application", "supplementedMaterials", "itemCode", "townCode", "counter"],
    )
    async def validate(job: Job) -> dict[str, Any]:
        application = job.variables.get("application")
        if not isinstance(application, dict):
            raise TypeError("process variable 'application' must be an object")
        supplemented = job.variables.get("supplementedMaterials") or []
        if not isinstance(supplemented, list):
            raise TypeError("process variable 'supplementedMaterials' must be a list of material ids")
        # A case started from the intake start form carries item, town and counter beside the application.
        merged = dict(application)
        for name in ("itemCode", "townCode", "counter"):
            if name in job.variables:
                merged[name] = job.variables[name]
        outcome = await run_blocking(service.check, services.catalog, merged, [str(m) for m in supplemented])
        if outcome.error is not None:
            raise BpmnError(outcome.error, outcome.message, outcome.variables)
        return {"missingMaterials": []}

    return router
