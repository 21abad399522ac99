"""pyzeebe handler for ``sla.schedule``: start, pause (补正) and resume the working-day time limit.

The task header ``action`` says which; ``warnDaysBefore`` (on ``start``, default 1) is how many
working days before the deadline the yellow warning fires; ``supplementDays`` (on ``pause``) is the
补正 period in working days.

Outputs: ``sla`` (the running state), ``slaDueAt`` and ``slaWarnAt`` (ISO date-times with offset,
read by the timer boundary events), ``supplementDeadline`` (on pause) and ``calendarUnknownYears`` (years
the holiday calendar does not know: deadlines there count Monday–Friday only, and say so).
"""

from typing import Any

from pyzeebe import Job, ZeebeTaskRouter

from workers.case import service as case_service
from workers.case.models import CaseContext
from workers.registry import JobType
from workers.runtime import Services, broker_now, header, run_blocking, task
from workers.sla import SlaDeadlines, SlaState, pause, resume, schedule
from workers.sla.calendar import WorkingCalendar

VARIABLES = [
    "caseNumber",
    "itemCode",
    "townCode",
    "counter",
    "departmentCode",
    "mode",
    "timeLimitDays",
    "sla",
]


def _deadline_variables(deadlines: SlaDeadlines) -> dict[str, Any]:
    return {
        "sla": deadlines.state.model_dump(mode="json", by_alias=True),
        "slaDueAt": deadlines.due_at.isoformat(),
        "slaWarnAt": deadlines.warn_at.isoformat(),
        "calendarUnknownYears": list(deadlines.unknown_years),
    }


def apply(services: Services, job: Job) -> dict[str, Any]:
    action = header(job, "action", {"start", "pause", "resume"})
    case = CaseContext.model_validate(job.variables)
    at = broker_now(job)
    calendar: WorkingCalendar = services.calendar
    if action == "start":
        warn_header = job.custom_headers.get("warnDaysBefore", "1")
        if not str(warn_header).isdigit():
            raise ValueError(
                f"element '{job.element_id}': task header warnDaysBefore='{warn_header}' "
                "is not a whole number"
            )
        deadlines = schedule(
            at,
            int(str(job.variables["timeLimitDays"])),
            warn_days_before=int(warn_header),
            calendar=calendar,
        )
        case_service.record(
            services.ledger,
            case,
            "sla.scheduled",
            at,
            job.key,
            actor="sla.schedule",
            payload={"dueAt": deadlines.due_at.isoformat(), "limitDays": deadlines.limit_days},
        )
        return _deadline_variables(deadlines)
    state = SlaState.model_validate(job.variables["sla"])
    if action == "pause":
        days = int(header(job, "supplementDays"))
        paused = pause(state, at, calendar=calendar)
        supplement = schedule(at, days, calendar=calendar)
        case_service.record(
            services.ledger,
            case,
            "sla.paused",
            at,
            job.key,
            actor="sla.schedule",
            payload={"supplementDeadline": supplement.due_at.isoformat()},
        )
        return {
            "sla": paused.model_dump(mode="json", by_alias=True),
            "supplementDeadline": supplement.due_at.isoformat(),
        }
    deadlines = resume(state, at, calendar=calendar)
    case_service.record(
        services.ledger,
        case,
        "sla.scheduled",
        at,
        job.key,
        actor="sla.schedule",
        payload={"dueAt": deadlines.due_at.isoformat(), "limitDays": deadlines.limit_days},
    )
    return _deadline_variables(deadlines)


def create_router(services: Services) -> ZeebeTaskRouter:
    router = ZeebeTaskRouter()

    @task(router, JobType.SLA_SCHEDULE, VARIABLES)
    async def sla_schedule(job: Job) -> dict[str, Any]:
        result: dict[str, Any] = await run_blocking(apply, services, job)
        return result

    return router
