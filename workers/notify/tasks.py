"""pyzeebe handlers for ``applicant.notify`` and ``staff.alert``.

``applicant.notify`` renders the template named by the task header ``template``
(``decision`` picks ``decision-approved`` or ``decision-rejected`` from the sealed decision) and sends
it to the applicant's mobile and e-mail from the application, plus the local outbox. ``staff.alert``
(header ``level=yellow|red|returned``) writes the alert for the supervisors to the outbox and the ledger.
"""

from datetime import datetime
from typing import Any

from pyzeebe import Job, ZeebeTaskRouter

from workers.case import service as case_service
from workers.case.models import CaseContext
from workers.notify import Notifier
from workers.registry import JobType
from workers.runtime import Services, broker_now, header, run_blocking, task

VARIABLES = [
    "application",
    "caseNumber",
    "itemCode",
    "townCode",
    "counter",
    "departmentCode",
    "mode",
    "timeLimitDays",
    "slaDueAt",
    "missingMaterials",
    "supplementDeadline",
    "invalidReasons",
    "decision",
    "sealProblem",
]


def applicant_context(services: Services, variables: dict[str, Any]) -> dict[str, Any]:
    catalog = services.catalog
    item = catalog.item(str(variables["itemCode"]))
    town = catalog.town(str(variables["townCode"]))
    department = catalog.department(item.department_code)
    applicant = (variables.get("application") or {}).get("applicant") or {}
    decision = variables.get("decision") or {}
    seal = decision.get("seal") or {}
    counter = variables.get("counter")
    office = f"{town.name}便民服务中心" if counter == "town" else f"{department.name}政务服务窗口"
    reasons = list(variables.get("invalidReasons") or []) or ["补正期限届满未补正材料"]
    return {
        "applicant_name": applicant.get("name") or "申请人",
        "case_number": variables["caseNumber"],
        "item_name": item.name,
        "office_name": office,
        "department_name": department.name,
        "time_limit_days": variables.get("timeLimitDays", item.time_limit_days),
        "due_date": variables.get("slaDueAt"),
        "missing_materials": [
            m.get("name") for m in variables.get("missingMaterials") or [] if isinstance(m, dict)
        ],
        "supplement_deadline": variables.get("supplementDeadline"),
        "reasons": reasons,
        "document_number": decision.get("documentNo"),
        "seal_owner_name": seal.get("ownerName"),
    }


def recipients(variables: dict[str, Any]) -> dict[str, str | None]:
    applicant = (variables.get("application") or {}).get("applicant") or {}
    return {"mobile": applicant.get("mobile"), "email": applicant.get("email")}


def _working_days_left(services: Services, due: str | None, at: datetime) -> int:
    if not due:
        return 0
    due_at = datetime.fromisoformat(due)
    if due_at <= at:
        return 0
    return services.calendar.working_days_after(at.astimezone(due_at.tzinfo).date(), due_at.date())


def create_router(services: Services, notifier: Notifier) -> ZeebeTaskRouter:
    router = ZeebeTaskRouter()

    @task(router, JobType.APPLICANT_NOTIFY, VARIABLES)
    async def applicant_notify(job: Job) -> dict[str, Any]:
        template = header(job, "template")
        variables = dict(job.variables)
        if template == "decision":
            decision = variables.get("decision")
            outcome = decision.get("outcome") if isinstance(decision, dict) else None
            template = "decision-approved" if outcome == "approved" else "decision-rejected"
        context = await run_blocking(applicant_context, services, variables)
        await notifier.notify(job.key, template, context, recipients(variables))
        return {}

    @task(router, JobType.STAFF_ALERT, VARIABLES)
    async def staff_alert(job: Job) -> dict[str, Any]:
        level = header(job, "level", {"yellow", "red", "returned"})
        variables = dict(job.variables)
        case = CaseContext.model_validate(variables)
        at = broker_now(job)
        context = await run_blocking(applicant_context, services, variables)
        left = await run_blocking(_working_days_left, services, variables.get("slaDueAt"), at)
        context.update(
            supervisor_group_name=f"{services.settings.supervisor_group}督办组",
            current_step=job.element_id,
            remaining_days=left,
            overdue_days=0 if left else 1,
        )
        if level == "returned":
            context["reasons"] = [str(variables.get("sealProblem") or "镇章核验不通过")]
        template = {"yellow": "alert-yellow", "red": "alert-red", "returned": "returned"}[level]
        await notifier.notify(job.key, template, context, {})
        # The diagram may name the ledger event (e.g. the 整改 follow-up's own alerts); default alert-<level>.
        event = job.custom_headers.get("event") or f"alert-{level}"
        await run_blocking(
            case_service.record,
            services.ledger,
            case,
            event,
            at,
            job.key,
            actor="staff.alert",
            payload={"level": level},
        )
        return {}

    return router
