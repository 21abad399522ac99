"""Operations: incidents, jobs, messages and the engine clock (REST API v2).

Reads come straight from the processor's in-memory state (handlers run on the engine's event loop
between writer batches); every change goes through ``Engine.execute``.

Job states. The engine keeps its own job states; searches show them as the SDK's ``JobStateEnum``:

==================  ===============  ==========================================================
engine              REST ``state``   meaning
==================  ===============  ==========================================================
ACTIVATABLE         CREATED          waiting for a worker (also after a time-out or a back-off)
ACTIVATED           CREATED          a worker holds it (``worker`` and ``deadline`` are set)
BACKOFF             FAILED           failed with retries left (``hasFailedWithRetriesLeft``)
FAILED              FAILED           failed without retries: a ``JOB_NO_RETRIES`` incident
ERROR_THROWN        ERROR_THROWN     threw an error nobody catches: an incident
(ended) completed   COMPLETED        from the ``JOB COMPLETED`` record
(ended) cancelled   CANCELED         its element was terminated (``JOB CANCELED`` record)
(ended) caught      ERROR_THROWN     threw an error that a catch event took (``JOB ERROR_THROWN``)
==================  ===============  ==========================================================

Live jobs are in memory; ended jobs are read from the ``records`` table (the record that ends a job
carries all of it), so the search also finds completed jobs.
"""

import fnmatch
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from engine.clock import ControlledClock, ms_to_datetime
from engine.processor import ErrorType
from engine.rest.deps import EngineDep, key_text
from engine.rest.problems import ApiProblem
from engine.rest.search import SearchQuery, check_filter_fields, matches, paginate
from engine.runtime import Engine
from engine.state import Incident, Job, Record, State

router = APIRouter()

TENANT_ID = "<default>"
CLOCK_NOT_CONTROLLED = (
    "The clock API needs an engine started with '--clock controlled'; this engine follows the "
    "system clock, which cannot be pinned or reset"
)
_ERROR_TYPES = frozenset(e.value for e in ErrorType)
_JOB_STATES = {
    "ACTIVATABLE": "CREATED",
    "ACTIVATED": "CREATED",
    "BACKOFF": "FAILED",
    "FAILED": "FAILED",
    "ERROR_THROWN": "ERROR_THROWN",
}
_ENDED_JOB_STATES = {"COMPLETED": "COMPLETED", "CANCELED": "CANCELED", "ERROR_THROWN": "ERROR_THROWN"}

INCIDENT_FIELDS = (
    "processDefinitionId",
    "errorType",
    "errorMessage",
    "elementId",
    "creationTime",
    "state",
    "tenantId",
    "incidentKey",
    "processDefinitionKey",
    "processInstanceKey",
    "elementInstanceKey",
    "jobKey",
)
INCIDENT_SORT_FIELDS = tuple(f for f in INCIDENT_FIELDS if f != "errorMessage")
_INCIDENT_DATES = ("creationTime",)

JOB_FIELDS = (
    "deadline",
    "deniedReason",
    "elementId",
    "elementInstanceKey",
    "endTime",
    "errorCode",
    "errorMessage",
    "hasFailedWithRetriesLeft",
    "isDenied",
    "jobKey",
    "kind",
    "listenerEventType",
    "priority",
    "processDefinitionId",
    "processDefinitionKey",
    "processInstanceKey",
    "retries",
    "state",
    "tenantId",
    "type",
    "worker",
    "creationTime",
    "lastUpdateTime",
)
JOB_SORT_FIELDS = tuple(f for f in JOB_FIELDS if f != "lastUpdateTime")
_JOB_DATES = ("deadline", "endTime", "creationTime", "lastUpdateTime")


# --- request bodies ------------------------------------------------------------------------------
class _Body(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


class IncidentResolutionRequest(_Body):
    operation_reference: int | None = Field(default=None, alias="operationReference", ge=1)


class JobChangeset(_Body):
    retries: int | None = Field(default=None, ge=1)
    timeout: int | None = Field(default=None, ge=1)
    priority: int | None = None


class JobUpdateRequest(_Body):
    changeset: JobChangeset
    operation_reference: int | None = Field(default=None, alias="operationReference", ge=1)
    job_lease_token: str | None = Field(default=None, alias="jobLeaseToken")


class MessageCorrelationRequest(_Body):
    name: str = Field(min_length=1)
    correlation_key: str | None = Field(default=None, alias="correlationKey")
    variables: dict[str, Any] | None = None
    tenant_id: str | None = Field(default=None, alias="tenantId")
    business_id: str | None = Field(default=None, alias="businessId")


class MessagePublicationRequest(MessageCorrelationRequest):
    time_to_live: int | None = Field(default=None, alias="timeToLive", ge=0)
    message_id: str | None = Field(default=None, alias="messageId")


class ClockPinRequest(_Body):
    timestamp: int = Field(ge=0)


# --- helpers -------------------------------------------------------------------------------------
def iso_text(ms: int | None) -> str | None:
    """Epoch ms as ISO 8601 UTC with milliseconds and ``Z`` (one width, so the text sorts by time)."""
    if ms is None or ms < 0:
        return None
    return ms_to_datetime(ms).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse_key(text: str, field_name: str) -> int:
    if not (text.isascii() and text.isdigit()):
        raise ApiProblem(400, f"'{field_name}': expected a numeric key, got '{text}'")
    return int(text)


def _check_tenant(tenant_id: str | None) -> None:
    if tenant_id not in {None, "", TENANT_ID}:
        raise ApiProblem(400, f"'tenantId': multi-tenancy is not supported; the only tenant is '{TENANT_ID}'")


def _root_instance(state: State, process_instance_key: int) -> int:
    """The top of the call hierarchy an instance belongs to (itself for a root instance)."""
    key = process_instance_key
    info = state.instances.get(key)
    while info is not None and info.parent_process_instance_key is not None:
        key = info.parent_process_instance_key
        info = state.instances.get(key)
    return key


def _instant_ms(value: Any, field_name: str) -> int:
    """A filter's date-time (ISO 8601 with an offset or ``Z``, or epoch ms) as epoch ms."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise ApiProblem(
            400, f"'filter.{field_name}': expected an ISO 8601 date-time, got '{value}'"
        ) from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def _date_condition(condition: Any, field_name: str) -> Any:
    """Rewrite a date filter (plain or advanced) to compare epoch ms instead of text."""
    if not isinstance(condition, dict):
        return _instant_ms(condition, field_name)
    rewritten: dict[str, Any] = {}
    for operator, operand in condition.items():
        if operator == "$exists":
            rewritten[operator] = operand
        elif isinstance(operand, list):
            rewritten[operator] = [_instant_ms(v, field_name) for v in operand]
        else:
            rewritten[operator] = _instant_ms(operand, field_name)
    return rewritten


def _phrase_matches(text: Any, condition: Any, field_name: str) -> bool:
    """Camunda's incident ``errorMessage`` filter: case-insensitive phrase containment; ``$like`` per word."""
    message = str(text or "").lower()
    if not isinstance(condition, dict):
        condition = {"$eq": condition}
    for operator, operand in condition.items():
        if operator == "$eq":
            ok = str(operand).lower() in message
        elif operator == "$neq":
            ok = str(operand).lower() not in message
        elif operator == "$in":
            ok = any(str(o).lower() in message for o in operand)
        elif operator == "$notIn":
            ok = not any(str(o).lower() in message for o in operand)
        elif operator == "$like":
            ok = any(fnmatch.fnmatchcase(word, str(operand).lower()) for word in message.split())
        elif operator == "$exists":
            ok = bool(text) == bool(operand)
        else:
            raise ApiProblem(400, f"'filter.{field_name}': unknown operator '{operator}'")
        if not ok:
            return False
    return True


def _select(
    items: Iterable[dict[str, Any]],
    filters: Mapping[str, Any],
    *,
    dates: Iterable[str] = (),
    phrases: Iterable[str] = (),
) -> list[dict[str, Any]]:
    """The items that satisfy ``filters``; date fields compare as instants, phrase fields by containment."""
    date_names, phrase_names = set(dates), set(phrases)
    plain = {n: c for n, c in filters.items() if n not in date_names and n not in phrase_names}
    on_dates = {n: _date_condition(c, n) for n, c in filters.items() if n in date_names}
    on_phrases = {n: c for n, c in filters.items() if n in phrase_names}
    chosen = []
    for item in items:
        if not matches(item, plain):
            continue
        if on_dates:
            instants = {n: None if item.get(n) is None else _instant_ms(item[n], n) for n in on_dates}
            if not matches(instants, on_dates):
                continue
        if on_phrases and not all(_phrase_matches(item.get(n), c, n) for n, c in on_phrases.items()):
            continue
        chosen.append(item)
    return chosen


def _require_controlled_clock(engine: Engine) -> ControlledClock:
    clock = engine.clock
    if not clock.controlled or not isinstance(clock, ControlledClock):
        raise ApiProblem(403, CLOCK_NOT_CONTROLLED)
    return clock


# --- incidents -----------------------------------------------------------------------------------
def incident_item(state: State, incident: Incident) -> dict[str, Any]:
    return {
        "incidentKey": str(incident.key),
        "processDefinitionId": incident.bpmn_process_id,
        "processDefinitionKey": str(incident.process_definition_key),
        "processInstanceKey": str(incident.process_instance_key),
        "rootProcessInstanceKey": str(_root_instance(state, incident.process_instance_key)),
        "errorType": incident.error_type if incident.error_type in _ERROR_TYPES else "UNKNOWN",
        "errorMessage": incident.error_message,
        "elementId": incident.element_id,
        "elementInstanceKey": str(incident.element_instance_key),
        "creationTime": iso_text(incident.created_ms),
        "state": incident.state,
        "jobKey": key_text(incident.job_key),
        "tenantId": TENANT_ID,
    }


@router.post("/incidents/search", tags=["Incident"])
async def search_incidents(engine: EngineDep, query: SearchQuery | None = None) -> dict[str, Any]:
    """Incidents, active and resolved, filtered, sorted and paged."""
    query = query or SearchQuery()
    check_filter_fields(query.filter, INCIDENT_FIELDS)
    state = engine.processor.state
    items = (incident_item(state, i) for i in state.incidents.values())
    chosen = _select(items, query.filter, dates=_INCIDENT_DATES, phrases=("errorMessage",))
    return paginate(
        chosen, query, sortable=INCIDENT_SORT_FIELDS, default_sort=lambda item: int(item["incidentKey"])
    )


@router.get("/incidents/{incident_key}", tags=["Incident"])
async def get_incident(incident_key: str, engine: EngineDep) -> dict[str, Any]:
    """One incident, active or resolved."""
    key = _parse_key(incident_key, "incidentKey")
    state = engine.processor.state
    incident = state.incidents.get(key)
    if incident is None:
        raise ApiProblem(404, f"Incident with key '{key}' not found")
    return incident_item(state, incident)


@router.post(
    "/incidents/{incident_key}/resolution", tags=["Incident"], status_code=204, response_class=Response
)
async def resolve_incident(
    incident_key: str, engine: EngineDep, body: IncidentResolutionRequest | None = None
) -> Response:
    """Resolve an active incident: a job incident makes the job activatable again (raise its retries
    first, or a new incident follows at once); any other incident runs the failed step again."""
    del body  # operationReference only labels records in Zeebe; accepted and not needed here
    key = _parse_key(incident_key, "incidentKey")
    await engine.execute(lambda: engine.processor.resolve_incident(key))
    return Response(status_code=204)


# --- jobs ----------------------------------------------------------------------------------------
def _job_fields(
    *,
    job_key: int,
    job_type: str,
    process_instance_key: int,
    root_process_instance_key: int,
    element_instance_key: int,
    element_id: str,
    process_definition_key: int,
    process_definition_id: str,
    custom_headers: dict[str, str],
    retries: int,
    state: str,
    worker: str,
    deadline_ms: int,
    error_code: str,
    error_message: str,
    failed_with_retries_left: bool,
    created_ms: int,
    end_ms: int | None,
) -> dict[str, Any]:
    return {
        "jobKey": str(job_key),
        "type": job_type,
        "kind": "BPMN_ELEMENT",
        "listenerEventType": "UNSPECIFIED",
        "state": state,
        "retries": retries,
        "worker": worker,
        "deadline": iso_text(deadline_ms) if deadline_ms > 0 else None,
        "errorCode": error_code or None,
        "errorMessage": error_message or None,
        "hasFailedWithRetriesLeft": failed_with_retries_left,
        "deniedReason": None,
        "isDenied": None,
        "customHeaders": custom_headers,
        "elementId": element_id,
        "elementInstanceKey": str(element_instance_key),
        "processDefinitionId": process_definition_id,
        "processDefinitionKey": str(process_definition_key),
        "processInstanceKey": str(process_instance_key),
        "rootProcessInstanceKey": str(root_process_instance_key),
        "businessId": None,
        "tenantId": TENANT_ID,
        "priority": 0,
        "creationTime": iso_text(created_ms),
        "endTime": iso_text(end_ms),
        "lastUpdateTime": iso_text(end_ms),
    }


def live_job_item(state: State, job: Job) -> dict[str, Any]:
    return _job_fields(
        job_key=job.key,
        job_type=job.type,
        process_instance_key=job.process_instance_key,
        root_process_instance_key=_root_instance(state, job.process_instance_key),
        element_instance_key=job.element_instance_key,
        element_id=job.element_id,
        process_definition_key=job.process_definition_key,
        process_definition_id=job.bpmn_process_id,
        custom_headers=dict(job.custom_headers),
        retries=job.retries,
        state=_JOB_STATES.get(job.state, job.state),
        worker=job.worker,
        deadline_ms=job.deadline_ms if job.state == "ACTIVATED" else -1,
        error_code=job.error_code,
        error_message=job.error_message,
        failed_with_retries_left=job.state == "BACKOFF" or (job.retries > 0 and bool(job.error_message)),
        created_ms=job.created_ms,
        end_ms=None,
    )


def ended_job_item(state: State, record: Record) -> dict[str, Any] | None:
    """A job from the record that ended it; None for records written before they carried the whole job."""
    value = record.value
    if "elementInstanceKey" not in value or record.process_instance_key is None:
        return None
    return _job_fields(
        job_key=record.key,
        job_type=str(value.get("type", "")),
        process_instance_key=record.process_instance_key,
        root_process_instance_key=_root_instance(state, record.process_instance_key),
        element_instance_key=int(value["elementInstanceKey"]),
        element_id=str(value.get("elementId", "")),
        process_definition_key=int(value.get("processDefinitionKey", 0)),
        process_definition_id=str(value.get("bpmnProcessId", "")),
        custom_headers=dict(value.get("customHeaders") or {}),
        retries=int(value.get("retries", 0)),
        state=_ENDED_JOB_STATES[record.intent],
        worker=str(value.get("worker", "")),
        deadline_ms=-1,
        error_code=str(value.get("errorCode", "")),
        error_message=str(value.get("errorMessage", "")),
        failed_with_retries_left=False,
        created_ms=int(value.get("created", -1)),
        end_ms=record.timestamp,
    )


def _instance_key_hint(filters: Mapping[str, Any]) -> int | None:
    """A plain ``processInstanceKey`` filter narrows the records read to that instance."""
    value = filters.get("processInstanceKey")
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None


def job_items(engine: Engine, filters: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Live jobs from memory, then ended jobs from the records that ended them (latest ending wins)."""
    state = engine.processor.state
    items = [live_job_item(state, job) for job in state.jobs.values()]
    ended: dict[int, Record] = {}
    records = engine.store.find_records(
        "JOB", intents=_ENDED_JOB_STATES, process_instance_key=_instance_key_hint(filters)
    )
    for record in records:
        if record.key not in state.jobs:
            ended[record.key] = record
    for record in ended.values():
        item = ended_job_item(state, record)
        if item is not None:
            items.append(item)
    return items


@router.post("/jobs/search", tags=["Job"])
async def search_jobs(engine: EngineDep, query: SearchQuery | None = None) -> dict[str, Any]:
    """Jobs, live and ended, filtered, sorted and paged (states as in the module docstring)."""
    query = query or SearchQuery()
    check_filter_fields(query.filter, JOB_FIELDS)
    chosen = _select(job_items(engine, query.filter), query.filter, dates=_JOB_DATES)
    return paginate(chosen, query, sortable=JOB_SORT_FIELDS, default_sort=lambda item: int(item["jobKey"]))


@router.patch("/jobs/{job_key}", tags=["Job"], status_code=204, response_class=Response)
async def update_job(job_key: str, body: JobUpdateRequest, engine: EngineDep) -> Response:
    """Change a job's retries and/or its timeout (ms from now; the job must be activated)."""
    key = _parse_key(job_key, "jobKey")
    changes = body.changeset
    if changes.priority is not None:
        raise ApiProblem(400, "'changeset.priority': job priorities are not supported by the embedded engine")
    if changes.retries is None and changes.timeout is None:
        raise ApiProblem(400, "'changeset': set at least one of 'retries' and 'timeout'")
    retries, timeout = changes.retries, changes.timeout
    await engine.execute(lambda: engine.processor.update_job(key, retries, timeout))
    return Response(status_code=204)


# --- messages ------------------------------------------------------------------------------------
@router.post("/messages/publication", tags=["Message"])
async def publish_message(body: MessagePublicationRequest, engine: EngineDep) -> dict[str, Any]:
    """Publish a message: it correlates to what waits now and, with a time to live, is buffered for later."""
    _check_tenant(body.tenant_id)
    name, correlation_key = body.name, body.correlation_key or ""
    ttl, message_id, variables = body.time_to_live or 0, body.message_id or "", body.variables or {}
    key = await engine.execute(
        lambda: engine.processor.publish_message(name, correlation_key, ttl, message_id, variables)
    )
    return {"tenantId": TENANT_ID, "messageKey": str(key)}


@router.post("/messages/correlation", tags=["Message"])
async def correlate_message(body: MessageCorrelationRequest, engine: EngineDep) -> dict[str, Any]:
    """Correlate a message to what waits for it now (never buffered); 404 when nothing does."""
    _check_tenant(body.tenant_id)
    name, correlation_key, variables = body.name, body.correlation_key or "", body.variables or {}
    message_key, instance_key = await engine.execute(
        lambda: engine.processor.correlate_message(name, correlation_key, variables)
    )
    return {"tenantId": TENANT_ID, "messageKey": str(message_key), "processInstanceKey": str(instance_key)}


# --- clock ---------------------------------------------------------------------------------------
@router.put("/clock", tags=["Clock"], status_code=204, response_class=Response)
async def pin_clock(body: ClockPinRequest, engine: EngineDep) -> Response:
    """Pin the engine clock at ``timestamp`` (epoch ms); whatever is due by then fires."""
    clock = _require_controlled_clock(engine)
    timestamp = body.timestamp
    # Through the writer, so commands that arrived before the pin still run at the old time.
    await engine.execute(lambda: clock.pin(timestamp))
    return Response(status_code=204)


@router.post("/clock/reset", tags=["Clock"], status_code=204, response_class=Response)
async def reset_clock(engine: EngineDep) -> Response:
    """Let the engine clock follow the system time again."""
    clock = _require_controlled_clock(engine)
    await engine.execute(clock.reset)
    return Response(status_code=204)
