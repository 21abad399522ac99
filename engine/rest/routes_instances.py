"""Deployments, process definitions, process instances, element instances and variables.

Reads come straight from the processor's in-memory state and from the append-only ``records``
table (``Store.find_records``); handlers run on the engine's event loop between writer batches, so
both agree. Writes go through ``Engine.execute`` like every gRPC command.

Search rows are built with typed values (keys as integers, dates as epoch milliseconds) so that
filters and sorting compare numbers, and are rendered in Camunda's shape (keys as strings, dates as
ISO 8601 UTC with ``Z``) only for the page that is answered.

**Element instances** are the live element instances in memory plus, for ended ones, the
``PROCESS_INSTANCE`` records: ``ELEMENT_ACTIVATED`` gives the start, ``ELEMENT_COMPLETED`` or
``ELEMENT_TERMINATED`` the end and the state. As in Camunda, the process itself is not an element
instance (its key is the process instance key).

**Variable keys.** A variable is one name in one scope. Its key is the position of the ``VARIABLE``
record that created it (``CREATED``): unique, stable across updates and kept after the scope ends.
Its value is the one in memory while the scope lives, else that of the latest ``VARIABLE`` record
for (scope, name). Values travel as JSON text, as in Camunda; searches truncate values longer than
``VALUE_LIMIT`` characters (``isTruncated``) unless ``truncateValues=false``; ``GET`` returns the
full value.
"""

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Response, UploadFile
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from engine.clock import datetime_to_ms, ms_to_datetime
from engine.processor import DeploymentResult, Processor
from engine.rest.deps import EngineDep
from engine.rest.problems import ApiProblem
from engine.rest.search import SearchQuery, check_filter_fields, matches, paginate
from engine.runtime import Engine
from engine.state import InstanceInfo, ProcessDefinition, State

router = APIRouter()

TENANT = "<default>"
VALUE_LIMIT = 8191  # characters of a variable value in search results, as Operate keeps them
DEFAULT_AWAIT_TIMEOUT_MS = 15_000  # awaitCompletion without requestTimeout (Zeebe's request timeout)
_ELEMENT_INTENTS = ("ELEMENT_ACTIVATED", "ELEMENT_COMPLETED", "ELEMENT_TERMINATED")
_ENDED_STATE = {"ELEMENT_COMPLETED": "COMPLETED", "ELEMENT_TERMINATED": "TERMINATED"}
# ElementInstanceResult.type accepts these; anything else is reported as UNKNOWN.
_SDK_ELEMENT_TYPES = frozenset(
    {
        "AD_HOC_SUB_PROCESS",
        "BOUNDARY_EVENT",
        "BUSINESS_RULE_TASK",
        "CALL_ACTIVITY",
        "END_EVENT",
        "EVENT_BASED_GATEWAY",
        "EVENT_SUB_PROCESS",
        "EXCLUSIVE_GATEWAY",
        "INCLUSIVE_GATEWAY",
        "INTERMEDIATE_CATCH_EVENT",
        "INTERMEDIATE_THROW_EVENT",
        "MANUAL_TASK",
        "MULTI_INSTANCE_BODY",
        "PARALLEL_GATEWAY",
        "RECEIVE_TASK",
        "SCRIPT_TASK",
        "SEND_TASK",
        "SERVICE_TASK",
        "START_EVENT",
        "SUB_PROCESS",
        "TASK",
        "USER_TASK",
    }
)

Row = dict[str, Any]


# ------------------------------------------------------------------------------------------------
# values
# ------------------------------------------------------------------------------------------------
def _iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return ms_to_datetime(ms).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse_key(value: Any, field_name: str) -> int:
    """A key as Camunda sends it (a string of digits; a number is accepted too)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise ApiProblem(400, f"'{field_name}': expected a numeric key, got {json.dumps(value)}")


def _parse_date(value: Any, field_name: str) -> int:
    """An ISO 8601 date-time (without an offset: UTC) as epoch milliseconds."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            return datetime_to_ms(parsed)
    raise ApiProblem(400, f"'{field_name}': expected an ISO 8601 date-time, got {json.dumps(value)}")


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _check_tenant(tenant_id: str | None, field_name: str = "tenantId") -> None:
    if tenant_id is not None and tenant_id != TENANT:
        raise ApiProblem(
            400,
            f"'{field_name}': multi-tenancy is not supported by the embedded engine; "
            f"expected '{TENANT}' or none, got '{tenant_id}'",
        )


def _root_instance(state: State, process_instance_key: int) -> int:
    """The top of the call hierarchy an instance belongs to (itself for a root instance)."""
    root = process_instance_key
    info = state.instances.get(root)
    while info is not None and info.parent_process_instance_key is not None:
        root = info.parent_process_instance_key
        info = state.instances.get(root)
    return root


# ------------------------------------------------------------------------------------------------
# search over typed rows
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Resource:
    """How one searchable resource is filtered, sorted and rendered."""

    output: tuple[str, ...]  # fields of a response item, in order
    filters: frozenset[str]  # filterable fields
    sortable: frozenset[str]
    default_sort: str  # a key field: creation order
    keys: frozenset[str] = frozenset()  # int in rows, strings in JSON
    dates: frozenset[str] = frozenset()  # epoch ms in rows, ISO 8601 in JSON
    base_only: frozenset[str] = frozenset()  # filters handled by the endpoint, not inside "$or"

    def render(self, row: Row) -> Row:
        out: Row = {}
        for name in self.output:
            value = row.get(name)
            if value is not None and name in self.keys:
                value = str(value)
            elif name in self.dates:
                value = _iso(value)
            out[name] = value
        return out

    def _convert(self, name: str, value: Any) -> Any:
        if name in self.keys:
            return _parse_key(value, f"filter.{name}")
        if name in self.dates:
            return _parse_date(value, f"filter.{name}")
        return value

    def normalize(self, filters: Mapping[str, Any]) -> dict[str, Any]:
        """Filter values in the rows' types: keys as integers, dates as epoch milliseconds."""
        out: dict[str, Any] = {}
        for name, condition in filters.items():
            if name not in self.keys and name not in self.dates:
                out[name] = condition
            elif isinstance(condition, dict):
                converted: dict[str, Any] = {}
                for operator, value in condition.items():
                    if operator in {"$in", "$notIn"}:
                        if not isinstance(value, list):
                            raise ApiProblem(400, f"'filter.{name}': '{operator}' expects a list")
                        converted[operator] = [self._convert(name, v) for v in value]
                    elif operator in {"$exists", "$like"}:
                        converted[operator] = value
                    else:
                        converted[operator] = self._convert(name, value)
                out[name] = converted
            else:
                out[name] = self._convert(name, condition)
        return out

    def select(self, rows: Iterable[Row], filters: Mapping[str, Any]) -> list[Row]:
        """The rows matching ``filters`` (and at least one ``$or`` group, when there are any)."""
        base = dict(filters)
        raw_groups = base.pop("$or", [])
        if not isinstance(raw_groups, list) or not all(isinstance(g, dict) for g in raw_groups):
            raise ApiProblem(400, "'filter.$or': expected a list of filter objects")
        check_filter_fields(base, self.filters)
        for group in raw_groups:
            check_filter_fields(group, self.filters - self.base_only)
        normalized = self.normalize(base)
        groups = [self.normalize(g) for g in raw_groups]
        try:
            return [
                row
                for row in rows
                if matches(row, normalized) and (not groups or any(matches(row, g) for g in groups))
            ]
        except TypeError as exc:
            raise ApiProblem(
                400, "'filter': an operator got a value of the wrong type for its field"
            ) from exc

    def page(self, rows: list[Row], query: SearchQuery, render: Callable[[Row], Row] | None = None) -> Row:
        default = self.default_sort
        result = paginate(rows, query, sortable=self.sortable, default_sort=lambda row: row[default])
        result["items"] = [(render or self.render)(row) for row in result["items"]]
        return result


# ------------------------------------------------------------------------------------------------
# deployments
# ------------------------------------------------------------------------------------------------
def _deployment_response(result: DeploymentResult) -> Row:
    deployments: list[Row] = [
        {
            "processDefinition": {
                "processDefinitionId": p.bpmn_process_id,
                "processDefinitionVersion": p.version,
                "resourceName": p.resource_name,
                "tenantId": TENANT,
                "processDefinitionKey": str(p.key),
            }
        }
        for p in result.processes
    ]
    deployments += [
        {
            "form": {
                "formId": f.form_id,
                "version": f.version,
                "resourceName": f.resource_name,
                "tenantId": TENANT,
                "formKey": str(f.key),
            }
        }
        for f in result.forms
    ]
    return {"deploymentKey": str(result.key), "tenantId": TENANT, "deployments": deployments}


@router.post("/deployments", tags=["Resource"])
async def create_deployment(
    engine: EngineDep,
    resources: Annotated[list[UploadFile], File()],
    tenant_id: Annotated[str | None, Form(alias="tenantId")] = None,
) -> Row:
    """Deploy BPMN and form resources atomically; 400 names the resource and element of each problem."""
    _check_tenant(tenant_id)
    contents = [(upload.filename or "resource", await upload.read()) for upload in resources]
    result = await engine.execute(lambda: engine.processor.deploy(contents))
    return _deployment_response(result)


# ------------------------------------------------------------------------------------------------
# process definitions
# ------------------------------------------------------------------------------------------------
_DEFINITIONS = _Resource(
    output=(
        "name",
        "resourceName",
        "version",
        "versionTag",
        "processDefinitionId",
        "tenantId",
        "processDefinitionKey",
        "hasStartForm",
        "state",
    ),
    filters=frozenset(
        {
            "name",
            "isLatestVersion",
            "resourceName",
            "version",
            "versionTag",
            "processDefinitionId",
            "tenantId",
            "processDefinitionKey",
            "hasStartForm",
            "state",
        }
    ),
    sortable=frozenset(
        {
            "name",
            "processDefinitionId",
            "processDefinitionKey",
            "resourceName",
            "tenantId",
            "version",
            "versionTag",
        }
    ),
    default_sort="processDefinitionKey",
    keys=frozenset({"processDefinitionKey"}),
)


def _has_start_form(processor: Processor, definition: ProcessDefinition) -> bool:
    model = processor.model(definition.key)
    return model.none_start is not None and "startFormId" in model.element(model.none_start).extra


def _definition_row(processor: Processor, definition: ProcessDefinition) -> Row:
    state = processor.state
    return {
        "name": definition.name,
        "resourceName": definition.resource_name,
        "version": definition.version,
        "versionTag": None,  # zeebe:versionTag is not read by the embedded engine
        "processDefinitionId": definition.bpmn_process_id,
        "tenantId": TENANT,
        "processDefinitionKey": definition.key,
        "hasStartForm": _has_start_form(processor, definition),
        "state": "ACTIVE",
        "isLatestVersion": state.latest_process.get(definition.bpmn_process_id) == definition.key,
    }


def _definition(state: State, key_text: str) -> ProcessDefinition:
    key = _parse_key(key_text, "processDefinitionKey")
    definition = state.processes.get(key)
    if definition is None:
        raise ApiProblem(404, f"Process definition with key '{key}' not found")
    return definition


@router.post("/process-definitions/search", tags=["Process definition"])
async def search_process_definitions(engine: EngineDep, query: SearchQuery | None = None) -> Row:
    """Process definitions by id, key, version, name, resource, latest version."""
    query = query or SearchQuery()
    state = engine.processor.state
    filters = dict(query.filter)
    if filters.get("isLatestVersion") is False:  # false means "every version", as in Camunda
        del filters["isLatestVersion"]
    rows = _DEFINITIONS.select(
        (_definition_row(engine.processor, d) for d in state.processes.values()), filters
    )
    return _DEFINITIONS.page(rows, query)


@router.get("/process-definitions/{process_definition_key}", tags=["Process definition"])
async def get_process_definition(engine: EngineDep, process_definition_key: str) -> Row:
    """One process definition; 404 when the key is unknown."""
    state = engine.processor.state
    return _DEFINITIONS.render(_definition_row(engine.processor, _definition(state, process_definition_key)))


@router.get("/process-definitions/{process_definition_key}/xml", tags=["Process definition"])
async def get_process_definition_xml(engine: EngineDep, process_definition_key: str) -> Response:
    """The deployed BPMN XML, byte for byte as it was deployed."""
    definition = _definition(engine.processor.state, process_definition_key)
    return Response(content=definition.xml, media_type="text/xml")


# ------------------------------------------------------------------------------------------------
# process instances
# ------------------------------------------------------------------------------------------------
class _CamelModel(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)


class CreateProcessInstanceRequest(_CamelModel):
    """``ProcessCreationById`` or ``ProcessCreationByKey`` of the Camunda API."""

    process_definition_id: str | None = None
    process_definition_key: str | int | None = None
    process_definition_version: int = -1
    process_definition_version_tag: str | None = None  # ProcessCreationByVersionTag: refused
    variables: dict[str, Any] | None = None
    tenant_id: str | None = None
    operation_reference: int | None = Field(default=None, gt=0)
    start_instructions: list[dict[str, Any]] | None = None
    runtime_instructions: list[dict[str, Any]] | None = None
    await_completion: bool = False
    fetch_variables: list[str] | None = None
    request_timeout: int = Field(default=0, ge=0)
    tags: list[str] | None = None
    business_id: str | None = None


class CancelProcessInstanceRequest(_CamelModel):
    operation_reference: int | None = Field(default=None, gt=0)


_INSTANCES = _Resource(
    output=(
        "processDefinitionId",
        "processDefinitionName",
        "processDefinitionVersion",
        "processDefinitionVersionTag",
        "startDate",
        "endDate",
        "state",
        "suspendedDate",
        "hasIncident",
        "tenantId",
        "processInstanceKey",
        "processDefinitionKey",
        "parentProcessInstanceKey",
        "parentElementInstanceKey",
        "rootProcessInstanceKey",
        "tags",
        "businessId",
    ),
    filters=frozenset(
        {
            "processDefinitionId",
            "processDefinitionName",
            "processDefinitionVersion",
            "processDefinitionVersionTag",
            "processDefinitionKey",
            "startDate",
            "endDate",
            "state",
            "hasIncident",
            "tenantId",
            "variables",
            "processInstanceKey",
            "parentProcessInstanceKey",
            "parentElementInstanceKey",
        }
    ),
    sortable=frozenset(
        {
            "endDate",
            "hasIncident",
            "parentElementInstanceKey",
            "parentProcessInstanceKey",
            "processDefinitionId",
            "processDefinitionKey",
            "processDefinitionName",
            "processDefinitionVersion",
            "processDefinitionVersionTag",
            "processInstanceKey",
            "startDate",
            "state",
            "tenantId",
        }
    ),
    default_sort="processInstanceKey",
    keys=frozenset(
        {
            "processInstanceKey",
            "processDefinitionKey",
            "parentProcessInstanceKey",
            "parentElementInstanceKey",
            "rootProcessInstanceKey",
        }
    ),
    dates=frozenset({"startDate", "endDate", "suspendedDate"}),
    base_only=frozenset({"variables"}),
)


def _instance_row(state: State, info: InstanceInfo) -> Row:
    definition = state.processes.get(info.process_definition_key)
    name = definition.name if definition is not None else None
    return {
        "processDefinitionId": info.bpmn_process_id,
        "processDefinitionName": name or info.bpmn_process_id,
        "processDefinitionVersion": info.version,
        "processDefinitionVersionTag": None,
        "startDate": info.start_ms,
        "endDate": info.end_ms,
        "state": info.state,
        "suspendedDate": None,
        "hasIncident": info.has_incident,
        "tenantId": TENANT,
        "processInstanceKey": info.key,
        "processDefinitionKey": info.process_definition_key,
        "parentProcessInstanceKey": info.parent_process_instance_key,
        "parentElementInstanceKey": info.parent_element_instance_key,
        "rootProcessInstanceKey": _root_instance(state, info.key),
        "tags": [],
        "businessId": None,
    }


def _unsupported(field_name: str) -> ApiProblem:
    return ApiProblem(400, f"'{field_name}': not supported by the embedded engine")


@router.post("/process-instances", tags=["Process instance"])
async def create_process_instance(engine: EngineDep, body: CreateProcessInstanceRequest) -> Row:
    """Start an instance by process id (latest or given version) or by definition key.

    With ``awaitCompletion`` the answer waits for the end of the instance (504 after
    ``requestTimeout``, 409 when it was terminated) and carries its variables (``fetchVariables``).
    """
    if body.process_definition_id is None and body.process_definition_key is None:
        raise ApiProblem(
            400, "'processDefinitionId': either processDefinitionId or processDefinitionKey is required"
        )
    if body.process_definition_id is not None and body.process_definition_key is not None:
        raise ApiProblem(
            400, "'processDefinitionKey': only one of processDefinitionId and processDefinitionKey is allowed"
        )
    _check_tenant(body.tenant_id)
    for field_name, given in (
        ("startInstructions", body.start_instructions),
        ("runtimeInstructions", body.runtime_instructions),
        ("tags", body.tags),
    ):
        if given:
            raise _unsupported(field_name)
    if body.business_id is not None:
        raise _unsupported("businessId")
    if body.process_definition_version_tag is not None:
        raise _unsupported("processDefinitionVersionTag")
    process_id = body.process_definition_id or ""
    definition_key = (
        _parse_key(body.process_definition_key, "processDefinitionKey")
        if body.process_definition_key is not None
        else 0
    )
    if body.process_definition_key is not None and definition_key <= 0:
        raise ApiProblem(400, "'processDefinitionKey': expected a positive key")
    version = body.process_definition_version
    variables = body.variables or {}
    result_variables: dict[str, Any] = {}
    if body.await_completion:
        timeout_ms = body.request_timeout or DEFAULT_AWAIT_TIMEOUT_MS
        try:
            info, result = await engine.create_instance_with_result(
                process_id, version, definition_key, variables, timeout_ms
            )
        except TimeoutError as exc:
            raise ApiProblem(
                504,
                f"Expected the process instance to complete within {timeout_ms} ms, but it did not "
                "(it keeps running)",
                title="DEADLINE_EXCEEDED",
            ) from exc
        if result.state != "COMPLETED":
            raise ApiProblem(
                409,
                f"Expected to receive the result of process instance '{result.process_instance_key}', "
                f"but it was {result.state.lower()}",
            )
        result_variables = result.variables
        if body.fetch_variables:
            result_variables = {n: result_variables[n] for n in body.fetch_variables if n in result_variables}
    else:
        info = await engine.execute(
            lambda: engine.processor.create_instance(process_id, version, definition_key, variables)
        )
    return {
        "processDefinitionId": info.bpmn_process_id,
        "processDefinitionVersion": info.version,
        "tenantId": TENANT,
        "variables": result_variables,
        "processDefinitionKey": str(info.process_definition_key),
        "processInstanceKey": str(info.key),
        "tags": [],
        "businessId": None,
    }


def _variable_filter_instances(engine: Engine, conditions: Any) -> set[int]:
    """Instances having, for every ``{name, value}``, a variable of that name whose JSON text matches."""
    if not isinstance(conditions, list) or not all(
        isinstance(c, dict) and isinstance(c.get("name"), str) and "value" in c for c in conditions
    ):
        raise ApiProblem(400, "'filter.variables': expected a list of {name, value} objects")
    selected: set[int] | None = None
    rows = _variable_rows(engine)
    for condition in conditions:
        wanted = {"name": condition["name"], "value": condition["value"]}
        found = {row["processInstanceKey"] for row in rows if matches(row, wanted)}
        selected = found if selected is None else selected & found
    return selected or set()


@router.post("/process-instances/search", tags=["Process instance"])
async def search_process_instances(engine: EngineDep, query: SearchQuery | None = None) -> Row:
    """Process instances by key, definition, state, incident, parent, dates and variables."""
    query = query or SearchQuery()
    state = engine.processor.state
    filters = dict(query.filter)
    variable_conditions = filters.pop("variables", None)
    rows: Iterable[Row] = (_instance_row(state, info) for info in state.instances.values())
    if variable_conditions is not None:
        keys = _variable_filter_instances(engine, variable_conditions)
        rows = [row for row in rows if row["processInstanceKey"] in keys]
    return _INSTANCES.page(_INSTANCES.select(rows, filters), query)


@router.get("/process-instances/{process_instance_key}", tags=["Process instance"])
async def get_process_instance(engine: EngineDep, process_instance_key: str) -> Row:
    """One process instance, running or ended; 404 when the key is unknown."""
    key = _parse_key(process_instance_key, "processInstanceKey")
    state = engine.processor.state
    info = state.instances.get(key)
    if info is None:
        raise ApiProblem(404, f"Process instance with key '{key}' not found")
    return _INSTANCES.render(_instance_row(state, info))


@router.post(
    "/process-instances/{process_instance_key}/cancellation",
    tags=["Process instance"],
    status_code=204,
    response_class=Response,
)
async def cancel_process_instance(
    engine: EngineDep, process_instance_key: str, body: CancelProcessInstanceRequest | None = None
) -> Response:
    """Terminate a running root instance: 204; 404 when unknown or already ended; 409 for a called child."""
    del body  # operationReference only tags records in Zeebe
    key = _parse_key(process_instance_key, "processInstanceKey")
    await engine.execute(lambda: engine.processor.cancel_instance(key))
    return Response(status_code=204)


# ------------------------------------------------------------------------------------------------
# element instances
# ------------------------------------------------------------------------------------------------
_ELEMENTS = _Resource(
    output=(
        "processDefinitionId",
        "startDate",
        "endDate",
        "elementId",
        "elementName",
        "type",
        "state",
        "hasIncident",
        "tenantId",
        "elementInstanceKey",
        "processInstanceKey",
        "rootProcessInstanceKey",
        "processDefinitionKey",
        "incidentKey",
    ),
    filters=frozenset(
        {
            "processDefinitionId",
            "state",
            "type",
            "elementId",
            "elementName",
            "hasIncident",
            "tenantId",
            "elementInstanceKey",
            "processInstanceKey",
            "processDefinitionKey",
            "incidentKey",
            "startDate",
            "endDate",
            "elementInstanceScopeKey",
        }
    ),
    sortable=frozenset(
        {
            "elementId",
            "elementInstanceKey",
            "elementName",
            "endDate",
            "incidentKey",
            "processDefinitionId",
            "processDefinitionKey",
            "processInstanceKey",
            "startDate",
            "state",
            "tenantId",
            "type",
        }
    ),
    default_sort="elementInstanceKey",
    keys=frozenset(
        {
            "elementInstanceKey",
            "processInstanceKey",
            "rootProcessInstanceKey",
            "processDefinitionKey",
            "incidentKey",
            "elementInstanceScopeKey",
        }
    ),
    dates=frozenset({"startDate", "endDate"}),
)


class _ElementRows:
    """Builds element-instance rows, caching definition ids and element names per request."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.state = engine.processor.state
        self._names: dict[tuple[int, str], str] = {}
        self._incidents = {
            i.element_instance_key: i.key for i in self.state.incidents.values() if i.state == "ACTIVE"
        }

    def _name(self, definition_key: int, element_id: str) -> str:
        cached = self._names.get((definition_key, element_id))
        if cached is None:
            name = None
            if definition_key in self.state.processes:
                element = self.engine.processor.model(definition_key).elements.get(element_id)
                name = element.name if element is not None else None
            cached = self._names[(definition_key, element_id)] = name or element_id
        return cached

    def row(
        self,
        *,
        key: int,
        process_instance_key: int,
        definition_key: int,
        element_id: str,
        element_type: str,
        flow_scope_key: int | None,
        state: str,
        start_ms: int,
        end_ms: int | None,
    ) -> Row:
        definition = self.state.processes.get(definition_key)
        incident_key = self._incidents.get(key) if state == "ACTIVE" else None
        return {
            "processDefinitionId": definition.bpmn_process_id if definition is not None else None,
            "startDate": start_ms,
            "endDate": end_ms,
            "elementId": element_id,
            "elementName": self._name(definition_key, element_id),
            "type": element_type if element_type in _SDK_ELEMENT_TYPES else "UNKNOWN",
            "state": state,
            "hasIncident": incident_key is not None,
            "tenantId": TENANT,
            "elementInstanceKey": key,
            "processInstanceKey": process_instance_key,
            "rootProcessInstanceKey": _root_instance(self.state, process_instance_key),
            "processDefinitionKey": definition_key,
            "incidentKey": incident_key,
            "elementInstanceScopeKey": flow_scope_key,
        }

    def build(self, *, process_instance_key: int | None = None, key: int | None = None) -> list[Row]:
        started: dict[int, int] = {}
        rows: dict[int, Row] = {}
        records = self.engine.store.find_records(
            "PROCESS_INSTANCE", intents=_ELEMENT_INTENTS, key=key, process_instance_key=process_instance_key
        )
        for record in records:
            value = record.value
            if value.get("bpmnElementType") == "PROCESS" or record.process_instance_key is None:
                continue
            if record.intent == "ELEMENT_ACTIVATED":
                started[record.key] = record.timestamp
                continue
            flow_scope = value.get("flowScopeKey")
            rows[record.key] = self.row(
                key=record.key,
                process_instance_key=record.process_instance_key,
                definition_key=value["processDefinitionKey"],
                element_id=value["elementId"],
                element_type=value["bpmnElementType"],
                flow_scope_key=flow_scope if isinstance(flow_scope, int) and flow_scope >= 0 else None,
                state=_ENDED_STATE[record.intent],
                start_ms=started.get(record.key, record.timestamp),
                end_ms=record.timestamp,
            )
        if key is not None:
            live_element = self.state.elements.get(key)
            live = [live_element] if live_element is not None else []
        else:
            live = [
                ei
                for ei in self.state.elements.values()
                if process_instance_key is None or ei.process_instance_key == process_instance_key
            ]
        for ei in live:
            if ei.element_type == "PROCESS":
                continue
            rows[ei.key] = self.row(
                key=ei.key,
                process_instance_key=ei.process_instance_key,
                definition_key=ei.process_definition_key,
                element_id=ei.element_id,
                element_type=ei.element_type,
                flow_scope_key=ei.flow_scope_key,
                state="ACTIVE",
                start_ms=started.get(ei.key, ei.created_ms),
                end_ms=None,
            )
        return list(rows.values())


def _plain_key(filters: Mapping[str, Any], name: str) -> int | None:
    """A plain (non-operator) key filter, used to narrow the records read."""
    value = filters.get(name)
    if value is None or isinstance(value, dict):
        return None
    return _parse_key(value, f"filter.{name}")


@router.post("/element-instances/search", tags=["Element instance"])
async def search_element_instances(engine: EngineDep, query: SearchQuery | None = None) -> Row:
    """Element instances, active and ended, by instance, element id, type, state, incident, dates."""
    query = query or SearchQuery()
    filters = dict(query.filter)
    check_filter_fields({k: v for k, v in filters.items() if k != "$or"}, _ELEMENTS.filters)
    rows = _ElementRows(engine).build(
        process_instance_key=_plain_key(filters, "processInstanceKey"),
        key=_plain_key(filters, "elementInstanceKey"),
    )
    return _ELEMENTS.page(_ELEMENTS.select(rows, filters), query)


@router.get("/element-instances/{element_instance_key}", tags=["Element instance"])
async def get_element_instance(engine: EngineDep, element_instance_key: str) -> Row:
    """One element instance, active or ended; 404 when the key is unknown (or is a process instance)."""
    key = _parse_key(element_instance_key, "elementInstanceKey")
    rows = _ElementRows(engine).build(key=key)
    if not rows:
        raise ApiProblem(404, f"Element instance with key '{key}' not found")
    return _ELEMENTS.render(rows[0])


# ------------------------------------------------------------------------------------------------
# variables
# ------------------------------------------------------------------------------------------------
_VARIABLES = _Resource(
    output=(
        "value",
        "isTruncated",
        "name",
        "tenantId",
        "variableKey",
        "scopeKey",
        "processInstanceKey",
        "rootProcessInstanceKey",
    ),
    filters=frozenset(
        {"name", "value", "tenantId", "isTruncated", "variableKey", "scopeKey", "processInstanceKey"}
    ),
    sortable=frozenset({"name", "processInstanceKey", "scopeKey", "tenantId", "value", "variableKey"}),
    default_sort="variableKey",
    keys=frozenset({"variableKey", "scopeKey", "processInstanceKey", "rootProcessInstanceKey"}),
)


def _variable_rows(engine: Engine, *, process_instance_key: int | None = None) -> list[Row]:
    """One row per (scope, name): the key of its CREATED record, the current value as JSON text."""
    state = engine.processor.state
    rows: dict[tuple[int, str], Row] = {}
    for record in engine.store.find_records("VARIABLE", process_instance_key=process_instance_key):
        scope_key = record.value["scopeKey"]
        name = record.value["name"]
        row = rows.get((scope_key, name))
        if row is None:
            pik = record.process_instance_key if record.process_instance_key is not None else scope_key
            rows[(scope_key, name)] = {
                "variableKey": record.position,
                "name": name,
                "scopeKey": scope_key,
                "processInstanceKey": pik,
                "rootProcessInstanceKey": _root_instance(state, pik),
                "tenantId": TENANT,
                "current": record.value["value"],
            }
        else:
            row["current"] = record.value["value"]
    for (scope_key, name), row in rows.items():
        current = row.pop("current")
        live = state.variables.get(scope_key)
        if live is not None and name in live:
            current = live[name]  # the scope still lives: memory holds the current value
        row["value"] = _json_text(current)
    return list(rows.values())


def _with_truncation(row: Row, truncate: bool) -> Row:
    return {**row, "isTruncated": truncate and len(row["value"]) > VALUE_LIMIT}


def _render_variable(row: Row) -> Row:
    out = _VARIABLES.render(row)
    if out["isTruncated"]:
        out["value"] = out["value"][:VALUE_LIMIT]
    return out


@router.post("/variables/search", tags=["Variable"])
async def search_variables(
    engine: EngineDep,
    query: SearchQuery | None = None,
    truncate_values: Annotated[bool, Query(alias="truncateValues")] = True,
) -> Row:
    """Variables of every scope, live or ended, by instance, scope, name, value or key.

    Filters on ``value`` compare the full JSON text; long values are truncated in the answer only.
    """
    query = query or SearchQuery()
    filters = dict(query.filter)
    check_filter_fields({k: v for k, v in filters.items() if k != "$or"}, _VARIABLES.filters)
    rows = [
        _with_truncation(row, truncate_values)
        for row in _variable_rows(engine, process_instance_key=_plain_key(filters, "processInstanceKey"))
    ]
    return _VARIABLES.page(_VARIABLES.select(rows, filters), query, render=_render_variable)


@router.get("/variables/{variable_key}", tags=["Variable"])
async def get_variable(engine: EngineDep, variable_key: str) -> Row:
    """One variable with its full value; 404 when the key is unknown."""
    key = _parse_key(variable_key, "variableKey")
    for created in engine.store.find_records("VARIABLE", position=key):
        for row in _variable_rows(engine, process_instance_key=created.process_instance_key):
            if row["variableKey"] == key:
                out = _VARIABLES.render(row)
                del out["isTruncated"]
                return out
    raise ApiProblem(404, f"Variable with key '{key}' not found")
