"""User tasks for clerks and the forms linked to them (the Tasklist part of the REST API v2).

Reads come straight from the processor's in-memory state (handlers run on the engine's event loop
between writer batches); every change goes through ``Engine.execute``. With authentication on, a
user sees and acts on only the tasks ``Principal.may_work_on`` allows: search leaves the others out,
and reading or changing one answers 403.
"""

import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from engine.clock import ms_to_datetime
from engine.processor import Processor, Rejection, RejectionType
from engine.rest.auth import Principal
from engine.rest.deps import EngineDep, PrincipalDep, key_text
from engine.rest.problems import ApiProblem
from engine.rest.search import SearchQuery, check_filter_fields, matches, paginate
from engine.state import FormDefinition, State, UserTask
from engine.timeutil import TimerFormatError, parse_datetime

router = APIRouter(tags=["User task"])

TENANT_ID = "<default>"
MAX_PRIORITY = 100
TASK_STATES = frozenset(
    {
        "CREATING",
        "CREATED",
        "ASSIGNING",
        "UPDATING",
        "COMPLETING",
        "COMPLETED",
        "CANCELING",
        "CANCELED",
        "FAILED",
    }
)
_KEY_FILTERS = ("userTaskKey", "processInstanceKey", "processDefinitionKey", "elementInstanceKey")
_DATE_FIELDS = ("creationDate", "completionDate", "dueDate", "followUpDate")
_LIST_FILTERS = ("candidateGroup", "candidateUser")
_VARIABLE_FILTERS = ("processInstanceVariables", "localVariables")
_PLAIN_FILTERS = (
    "state",
    "assignee",
    "priority",
    "elementId",
    "name",
    "tenantId",
    "processDefinitionId",
    "businessId",
)
FILTER_FIELDS = (*_PLAIN_FILTERS, *_KEY_FILTERS, *_DATE_FIELDS, *_LIST_FILTERS, *_VARIABLE_FILTERS)
SORT_FIELDS = ("creationDate", "completionDate", "dueDate", "followUpDate", "priority", "name", "businessId")


# --- request bodies ------------------------------------------------------------------------------
class AssignmentRequest(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    assignee: str | None = None
    allow_override: bool | None = Field(default=None, alias="allowOverride")
    action: str | None = None


class CompletionRequest(BaseModel):
    variables: dict[str, Any] | None = None
    action: str | None = None


class Changeset(BaseModel):
    """Attributes a PATCH may change; ``null`` or absent keeps the value, ``""``/``[]`` resets it."""

    model_config = ConfigDict(populate_by_name=True)
    due_date: str | None = Field(default=None, alias="dueDate")
    follow_up_date: str | None = Field(default=None, alias="followUpDate")
    candidate_users: list[str] | None = Field(default=None, alias="candidateUsers")
    candidate_groups: list[str] | None = Field(default=None, alias="candidateGroups")
    priority: int | None = Field(default=None, ge=0, le=MAX_PRIORITY)


class UpdateRequest(BaseModel):
    changeset: Changeset | None = None
    action: str | None = None


# --- helpers -------------------------------------------------------------------------------------
def iso_text(ms: int | None) -> str | None:
    """Epoch milliseconds as an ISO 8601 UTC date-time with millisecond precision."""
    if ms is None:
        return None
    return ms_to_datetime(ms).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _stored_date_ms(text: str | None) -> int | None:
    return None if text is None else parse_datetime(text)


def parse_key(text: str, field_name: str) -> int:
    if not text.isascii() or not text.isdigit():
        raise ApiProblem(400, f"'{field_name}': expected a numeric key, got '{text}'")
    return int(text)


def _root_instance_key(state: State, process_instance_key: int) -> int:
    key = process_instance_key
    seen = {key}
    while True:
        info = state.instances.get(key)
        parent = info.parent_process_instance_key if info is not None else None
        if parent is None or parent in seen:
            return key
        seen.add(parent)
        key = parent


def task_json(state: State, task: UserTask) -> dict[str, Any]:
    """A user task as ``UserTaskResult`` of the Orchestration Cluster API."""
    definition = state.processes.get(task.process_definition_key)
    return {
        "userTaskKey": key_text(task.key),
        "name": task.name if task.name is not None else task.element_id,
        "state": task.state,
        "assignee": task.assignee,
        "elementId": task.element_id,
        "candidateGroups": list(task.candidate_groups),
        "candidateUsers": list(task.candidate_users),
        "processDefinitionId": task.bpmn_process_id,
        "processDefinitionKey": key_text(task.process_definition_key),
        "processDefinitionVersion": task.process_definition_version,
        "processName": definition.name if definition is not None else None,
        "processInstanceKey": key_text(task.process_instance_key),
        "rootProcessInstanceKey": key_text(_root_instance_key(state, task.process_instance_key)),
        "elementInstanceKey": key_text(task.element_instance_key),
        "creationDate": iso_text(task.created_ms),
        "completionDate": iso_text(task.completed_ms),
        "dueDate": iso_text(_stored_date_ms(task.due_date)),
        "followUpDate": iso_text(_stored_date_ms(task.follow_up_date)),
        "priority": task.priority,
        "formKey": key_text(task.form_key),
        "externalFormReference": task.external_form_reference,
        "customHeaders": dict(task.custom_headers),
        "tenantId": TENANT_ID,
        "businessId": None,
        "tags": [],
    }


def form_json(form: FormDefinition) -> dict[str, Any]:
    """A deployed form as ``FormResult``: the schema travels as a JSON document in a string."""
    return {
        "formKey": key_text(form.key),
        "formId": form.form_id,
        "version": form.version,
        "schema": form.schema,
        "tenantId": TENANT_ID,
    }


def authorize(principal: Principal | None, task: UserTask) -> None:
    """Refuse (403) a user who may not work on ``task``; without authentication everyone may."""
    if principal is None or principal.may_work_on(task):
        return
    raise Rejection(
        RejectionType.FORBIDDEN,
        f"User '{principal.username}' may not work on user task with key '{task.key}': it is neither "
        "assigned nor offered to them or their groups",
    )


def _checked_task(processor: Processor, principal: Principal | None, key: int) -> UserTask:
    task = processor.user_task(key)  # NOT_FOUND → 404
    authorize(principal, task)
    return task


def _date_value(value: Any, field_name: str) -> int:
    if not isinstance(value, str):
        raise ApiProblem(400, f"'filter.{field_name}': expected an RFC 3339 date-time, got {value!r}")
    try:
        return parse_datetime(value)
    except TimerFormatError as exc:
        raise ApiProblem(
            400,
            f"'filter.{field_name}': the provided date-time '{value}' cannot be parsed as a date according "
            f"to RFC 3339, section 5.6 ({exc})",
        ) from exc


def _convert(condition: Any, convert: Callable[[Any], Any]) -> Any:
    """Apply ``convert`` to a filter's plain value or to each operand of its advanced operators."""
    if not isinstance(condition, dict):
        return convert(condition)
    converted: dict[str, Any] = {}
    for operator, operand in condition.items():
        if operator == "$exists":
            converted[operator] = operand
        elif operator in {"$in", "$notIn"}:
            converted[operator] = [convert(v) for v in operand] if isinstance(operand, list) else operand
        else:
            converted[operator] = convert(operand)
    return converted


def _normalized_filter(raw: dict[str, Any]) -> dict[str, Any]:
    """Check a filter's fields and bring its values to the types the rows carry."""
    check_filter_fields(raw, FILTER_FIELDS)
    result: dict[str, Any] = {}
    for name, condition in raw.items():
        if name in _KEY_FILTERS:

            def key_value(value: Any, field_name: str = name) -> str:
                if isinstance(value, bool) or not isinstance(value, str | int):
                    raise ApiProblem(400, f"'filter.{field_name}': expected a key, got {value!r}")
                return str(value)

            result[name] = _convert(condition, key_value)
        elif name in _DATE_FIELDS:

            def date_value(value: Any, field_name: str = name) -> int:
                return _date_value(value, field_name)

            result[name] = _convert(condition, date_value)
        elif name == "priority":

            def priority_value(value: Any) -> int:
                if isinstance(value, bool) or not isinstance(value, int):
                    raise ApiProblem(400, f"'filter.priority': expected an integer, got {value!r}")
                return value

            result[name] = _convert(condition, priority_value)
        elif name == "state":

            def state_value(value: Any) -> str:
                if value not in TASK_STATES:
                    raise ApiProblem(
                        400,
                        f"'filter.state': expected one of {', '.join(sorted(TASK_STATES))}, got {value!r}",
                    )
                return str(value)

            result[name] = state_value(condition) if not isinstance(condition, dict) else condition
        elif name in _VARIABLE_FILTERS:
            result[name] = _variable_filters(condition, name)
        else:
            result[name] = condition
    return result


def _variable_filters(condition: Any, field_name: str) -> list[tuple[str, Any]]:
    if not isinstance(condition, list):
        raise ApiProblem(400, f"'filter.{field_name}': expected a list of {{name, value}} objects")
    pairs: list[tuple[str, Any]] = []
    for index, entry in enumerate(condition):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or "value" not in entry:
            raise ApiProblem(400, f"'filter.{field_name}[{index}]': expected an object with name and value")
        pairs.append((entry["name"], entry["value"]))
    return pairs


def _list_matches(values: list[str], condition: Any) -> bool:
    """A list field (candidate groups or users) matches when one of its entries does."""
    if not isinstance(condition, dict):
        return condition in values
    for operator, operand in condition.items():
        single = {operator: operand}
        if operator == "$exists":
            ok = bool(values) == bool(operand)
        elif operator in {"$neq", "$notIn"}:
            ok = all(matches({"v": v}, {"v": single}) for v in values)
        else:
            ok = any(matches({"v": v}, {"v": single}) for v in values)
        if not ok:
            return False
    return True


def _variables_match(variables: dict[str, Any] | None, pairs: list[tuple[str, Any]]) -> bool:
    """Each named variable must exist and its JSON text must match the filter value."""
    scope = variables or {}
    for name, condition in pairs:
        if name not in scope:
            return False
        text = json.dumps(scope[name], ensure_ascii=False, separators=(",", ":"))
        if not matches({"v": text}, {"v": condition}):
            return False
    return True


def _row(task: UserTask) -> dict[str, Any]:
    """What filters and sorting see of a task: keys as strings, dates as epoch milliseconds."""
    return {
        "task": task,
        "state": task.state,
        "assignee": task.assignee,
        "priority": task.priority,
        "elementId": task.element_id,
        "name": task.name if task.name is not None else task.element_id,
        "tenantId": TENANT_ID,
        "processDefinitionId": task.bpmn_process_id,
        "businessId": None,
        "userTaskKey": str(task.key),
        "processInstanceKey": str(task.process_instance_key),
        "processDefinitionKey": str(task.process_definition_key),
        "elementInstanceKey": str(task.element_instance_key),
        "creationDate": task.created_ms,
        "completionDate": task.completed_ms,
        "dueDate": _stored_date_ms(task.due_date),
        "followUpDate": _stored_date_ms(task.follow_up_date),
    }


def _row_matches(state: State, row: dict[str, Any], filters: dict[str, Any]) -> bool:
    task: UserTask = row["task"]
    plain = {k: v for k, v in filters.items() if k not in _LIST_FILTERS and k not in _VARIABLE_FILTERS}
    if not matches(row, plain):
        return False
    if "candidateGroup" in filters and not _list_matches(task.candidate_groups, filters["candidateGroup"]):
        return False
    if "candidateUser" in filters and not _list_matches(task.candidate_users, filters["candidateUser"]):
        return False
    if "processInstanceVariables" in filters and not _variables_match(
        state.variables.get(task.process_instance_key), filters["processInstanceVariables"]
    ):
        return False
    return "localVariables" not in filters or _variables_match(
        state.variables.get(task.element_instance_key), filters["localVariables"]
    )


def _parse_date_change(value: str | None, field_name: str) -> str | None:
    """A changeset date: ``None`` keeps, ``""`` resets, anything else must be an RFC 3339 date-time."""
    if value is None or value == "":
        return value
    try:
        return iso_text(parse_datetime(value))
    except TimerFormatError as exc:
        raise ApiProblem(
            400,
            f"'changeset.{field_name}': the provided date-time '{value}' cannot be parsed as a date "
            f"according to RFC 3339, section 5.6 ({exc})",
        ) from exc


# --- routes --------------------------------------------------------------------------------------
@router.post("/user-tasks/search")
async def search_user_tasks(
    engine: EngineDep,
    principal: PrincipalDep,
    query: Annotated[SearchQuery | None, Body()] = None,
) -> dict[str, Any]:
    """Search user tasks by filter, sort and page; with authentication, only the caller's tasks."""
    query = query or SearchQuery()
    raw_filter = dict(query.filter)
    alternatives = raw_filter.pop("$or", None)
    filters = _normalized_filter(raw_filter)
    alternative_filters: list[dict[str, Any]] = []
    if alternatives is not None:
        if not isinstance(alternatives, list) or not all(isinstance(a, dict) for a in alternatives):
            raise ApiProblem(400, "'filter.$or': expected a list of filter objects")
        alternative_filters = [_normalized_filter(a) for a in alternatives]
    state: State = engine.processor.state
    rows = []
    for task in state.user_tasks.values():
        if principal is not None and not principal.may_work_on(task):
            continue
        row = _row(task)
        if not _row_matches(state, row, filters):
            continue
        if alternative_filters and not any(_row_matches(state, row, f) for f in alternative_filters):
            continue
        rows.append(row)
    result = paginate(rows, query, sortable=SORT_FIELDS, default_sort=lambda r: r["task"].key)
    result["items"] = [task_json(state, row["task"]) for row in result["items"]]
    return result


@router.get("/user-tasks/{user_task_key}")
async def get_user_task(user_task_key: str, engine: EngineDep, principal: PrincipalDep) -> dict[str, Any]:
    """One user task by key: 404 when unknown, 403 when the caller may not work on it."""
    key = parse_key(user_task_key, "userTaskKey")
    task = _checked_task(engine.processor, principal, key)
    return task_json(engine.processor.state, task)


@router.post("/user-tasks/{user_task_key}/assignment", status_code=204)
async def assign_user_task(
    user_task_key: str, body: AssignmentRequest, engine: EngineDep, principal: PrincipalDep
) -> Response:
    """Assign the task; with ``allowOverride: false`` a task assigned to someone else answers 409."""
    key = parse_key(user_task_key, "userTaskKey")
    assignee = body.assignee
    if assignee is None or not assignee.strip():
        raise ApiProblem(400, "'assignee': must not be empty or null")
    allow_override = True if body.allow_override is None else body.allow_override

    def command() -> None:
        _checked_task(engine.processor, principal, key)
        engine.processor.assign_user_task(key, assignee, allow_override=allow_override)

    await engine.execute(command)
    return Response(status_code=204)


@router.delete("/user-tasks/{user_task_key}/assignee", status_code=204)
async def unassign_user_task(user_task_key: str, engine: EngineDep, principal: PrincipalDep) -> Response:
    """Remove the assignee of an open task."""
    key = parse_key(user_task_key, "userTaskKey")

    def command() -> None:
        _checked_task(engine.processor, principal, key)
        engine.processor.assign_user_task(key, None)

    await engine.execute(command)
    return Response(status_code=204)


@router.patch("/user-tasks/{user_task_key}", status_code=204)
async def update_user_task(
    user_task_key: str,
    engine: EngineDep,
    principal: PrincipalDep,
    body: Annotated[UpdateRequest | None, Body()] = None,
) -> Response:
    """Change due and follow-up dates, candidate groups and users, or priority of an open task."""
    key = parse_key(user_task_key, "userTaskKey")
    changes: dict[str, Any] = {}
    changeset = body.changeset if body is not None else None
    if changeset is not None:
        due_date = _parse_date_change(changeset.due_date, "dueDate")
        follow_up_date = _parse_date_change(changeset.follow_up_date, "followUpDate")
        if due_date is not None:
            changes["due_date"] = due_date or None
        if follow_up_date is not None:
            changes["follow_up_date"] = follow_up_date or None
        if changeset.candidate_groups is not None:
            changes["candidate_groups"] = list(changeset.candidate_groups)
        if changeset.candidate_users is not None:
            changes["candidate_users"] = list(changeset.candidate_users)
        if changeset.priority is not None:
            changes["priority"] = changeset.priority
    if not changes and (body is None or body.action is None):
        raise ApiProblem(
            400,
            "'changeset': no update data provided; provide at least an 'action' or a non-null value for "
            "one of dueDate, followUpDate, candidateGroups, candidateUsers, priority",
        )

    def command() -> None:
        _checked_task(engine.processor, principal, key)
        engine.processor.update_user_task(key, changes)

    await engine.execute(command)
    return Response(status_code=204)


@router.post("/user-tasks/{user_task_key}/completion", status_code=204)
async def complete_user_task(
    user_task_key: str,
    engine: EngineDep,
    principal: PrincipalDep,
    body: Annotated[CompletionRequest | None, Body()] = None,
) -> Response:
    """Complete an open task; its variables are merged into the instance as Zeebe does."""
    key = parse_key(user_task_key, "userTaskKey")
    variables = dict(body.variables or {}) if body is not None else {}
    action = (body.action if body is not None else None) or "complete"

    def command() -> None:
        _checked_task(engine.processor, principal, key)
        engine.processor.complete_user_task(key, variables, action)

    await engine.execute(command)
    return Response(status_code=204)


@router.get("/user-tasks/{user_task_key}/form", response_model=None)
async def get_user_task_form(
    user_task_key: str, engine: EngineDep, principal: PrincipalDep
) -> JSONResponse | Response:
    """The deployed form linked to the task (by form id at creation); 204 when it has none."""
    key = parse_key(user_task_key, "userTaskKey")
    task = _checked_task(engine.processor, principal, key)
    if task.form_key is None:
        return Response(status_code=204)
    form = engine.processor.state.forms.get(task.form_key)
    if form is None:
        raise ApiProblem(404, f"Form with key '{task.form_key}' of user task '{key}' not found")
    return JSONResponse(form_json(form))


@router.get("/forms/{form_key}", tags=["Form"])
async def get_form(form_key: str, engine: EngineDep) -> dict[str, Any]:
    """A deployed form by key (any authenticated user may read forms)."""
    key = parse_key(form_key, "formKey")
    form = engine.processor.state.forms.get(key)
    if form is None:
        raise ApiProblem(404, f"Form with key '{key}' not found")
    return form_json(form)
