"""pyzeebe handler for ``sla.schedule``: start, pause (补正) and resume the working-day time limit.

The task header ``action`` says which; ``warnDaysBefore`` (on ``start``, default 1) is how many
working days before the deadline the yellow warning fires; ``supplementDays`` (on ``pause``) is the
补正 period in working days.

``limitDays`` (on ``start``, optional, 0–365) is a fixed number of working days counted from now instead
of the item's time limit (``timeLimitDays``): the deadline of a follow-up task such as the 整改 after a
poor rating. Such a deadline is recorded in the ledger as ``followup.scheduled`` (payload ``dueAt``,
``limitDays``), not ``sla.scheduled``, so the case's own deadline and on-time status stay as they were.

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

#: The largest number of working days a days header may hold (as ``LimitDays`` in the models).
MAX_DAYS = 365

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


def _days_header(job: Job, name: str, default: str | None) -> int | None:
    """A task header holding a number of working days (0–365); ``default`` when the header is absent."""
    value = job.custom_headers.get(name, default)
    if value is None:
        return None
    if not str(value).isascii() or not str(value).isdigit():
        raise ValueError(f"element '{job.element_id}': task header {name}='{value}' is not a whole number")
    if int(value) > MAX_DAYS:
        raise ValueError(f"element '{job.element_id}': task header {name}='{value}' is more than {MAX_DAYS}")
    return int(value)


def apply(services: Services, job: Job) -> dict[str, Any]:
    action = header(job, "action", {"start", "pause", "resume"})
    case = CaseContext.model_validate(job.variables)
    at = broker_now(job)
    calendar: WorkingCalendar = services.calendar
    if action == "start":
        warn_days = _days_header(job, "warnDaysBefore", "1")
        fixed_days = _days_header(job, "limitDays", None)
        limit = int(str(job.variables["timeLimitDays"])) if fixed_days is None else fixed_days
        deadlines = schedule(at, limit, warn_days_before=warn_days or 0, calendar=calendar)
        case_service.record(
            services.ledger,
            case,
            "sla.scheduled" if fixed_days is None else "followup.scheduled",
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
