"""Process instances, element instances and variables through the official SDK (pyzeebe works the jobs)."""

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from camunda_orchestration_sdk import errors
from camunda_orchestration_sdk.models.advanced_date_time_filter import AdvancedDateTimeFilter
from camunda_orchestration_sdk.models.advanced_process_instance_state_filter import (
    AdvancedProcessInstanceStateFilter,
)
from camunda_orchestration_sdk.models.element_instance_result import ElementInstanceResult
from camunda_orchestration_sdk.models.element_instance_search_query import ElementInstanceSearchQuery
from camunda_orchestration_sdk.models.element_instance_search_query_filter import (
    ElementInstanceSearchQueryFilter,
)
from camunda_orchestration_sdk.models.element_instance_search_query_filter_type import (
    ElementInstanceSearchQueryFilterType,
)
from camunda_orchestration_sdk.models.element_instance_state_exact_match import ElementInstanceStateExactMatch
from camunda_orchestration_sdk.models.limit_based_pagination import LimitBasedPagination
from camunda_orchestration_sdk.models.problem_detail import ProblemDetail
from camunda_orchestration_sdk.models.process_creation_by_id import ProcessCreationById
from camunda_orchestration_sdk.models.process_creation_by_key import ProcessCreationByKey
from camunda_orchestration_sdk.models.process_instance_creation_instruction_base_variables import (
    ProcessInstanceCreationInstructionBaseVariables,
)
from camunda_orchestration_sdk.models.process_instance_filter_fields import ProcessInstanceFilterFields
from camunda_orchestration_sdk.models.process_instance_search_query import ProcessInstanceSearchQuery
from camunda_orchestration_sdk.models.process_instance_search_query_filter import (
    ProcessInstanceSearchQueryFilter,
)
from camunda_orchestration_sdk.models.process_instance_state_enum import ProcessInstanceStateEnum
from camunda_orchestration_sdk.models.process_instance_state_exact_match import ProcessInstanceStateExactMatch
from camunda_orchestration_sdk.models.variable_search_query import VariableSearchQuery
from camunda_orchestration_sdk.models.variable_search_query_filter import VariableSearchQueryFilter
from camunda_orchestration_sdk.models.variable_search_result import VariableSearchResult
from camunda_orchestration_sdk.models.variable_value_filter_property import VariableValueFilterProperty
from camunda_orchestration_sdk.semantic_types import (
    ElementInstanceKey,
    ProcessDefinitionId,
    ProcessDefinitionKey,
    ProcessInstanceKey,
    VariableKey,
)

from tests.engine.conftest import bpmn, chain, flow, service_task, wait_for
from tests.engine.rest.conftest import Cluster

UNKNOWN_KEY = "2251799813685249"

WAITING = bpmn(
    "waiting",
    '<bpmn:startEvent id="start" name="Request received" />'
    + service_task("enrich", "enrich")
    + service_task("wait", "never")
    + '<bpmn:endEvent id="end" />'
    + chain("start", "enrich", "wait", "end"),
).replace('id="waiting" isExecutable', 'id="waiting" name="Waiting process" isExecutable')

CHARGE = bpmn(
    "charge",
    '<bpmn:startEvent id="start" />'
    + service_task(
        "charge_it",
        "charge",
        '<zeebe:ioMapping><zeebe:input source="=amount * 2" target="doubled" /></zeebe:ioMapping>',
    )
    + '<bpmn:endEvent id="end" />'
    + chain("start", "charge_it", "end"),
)

INSTANT = bpmn("instant", '<bpmn:startEvent id="start" /><bpmn:endEvent id="end" />' + chain("start", "end"))

STUCK = bpmn(
    "stuck",
    '<bpmn:startEvent id="start" /><bpmn:exclusiveGateway id="decide" />'
    '<bpmn:endEvent id="big" /><bpmn:endEvent id="small" />'
    + flow("f1", "start", "decide")
    + flow("f2", "decide", "big", "=x &gt; 1")
    + flow("f3", "decide", "small", "=x &lt;= 1"),
)


def detail(error: errors.ApiError) -> str:
    """The problem detail text of an SDK error."""
    assert isinstance(error.parsed, ProblemDetail), error
    return error.parsed.detail


def variables(**values: Any) -> ProcessInstanceCreationInstructionBaseVariables:
    return ProcessInstanceCreationInstructionBaseVariables.from_dict(values)


async def deploy(cluster: Cluster, **resources: str) -> dict[str, ProcessDefinitionKey]:
    """Deploy through the SDK; returns process id → definition key."""
    paths: list[str | Path] = []
    for name, content in resources.items():
        path = cluster.workdir / f"{name}.bpmn"
        path.write_text(content, encoding="utf-8")
        paths.append(path)
    deployment = await cluster.sdk.deploy_resources_from_files(paths)
    return {p.process_definition_id: p.process_definition_key for p in deployment.processes}


async def start(cluster: Cluster, process_id: str, **values: Any) -> ProcessInstanceKey:
    created = await cluster.sdk.create_process_instance(
        data=ProcessCreationById(
            process_definition_id=ProcessDefinitionId(process_id), variables=variables(**values)
        )
    )
    return created.process_instance_key


async def element_instances(
    cluster: Cluster, process_instance_key: ProcessInstanceKey, **filters: Any
) -> list[ElementInstanceResult]:
    result = await cluster.sdk.search_element_instances(
        data=ElementInstanceSearchQuery(
            filter_=ElementInstanceSearchQueryFilter(process_instance_key=process_instance_key, **filters)
        )
    )
    return result.items


async def element_states(cluster: Cluster, process_instance_key: ProcessInstanceKey) -> dict[str, str]:
    return {str(e.element_id): e.state.value for e in await element_instances(cluster, process_instance_key)}


async def instance_variables(
    cluster: Cluster, process_instance_key: ProcessInstanceKey, **filters: Any
) -> dict[str, VariableSearchResult]:
    result = await cluster.sdk.search_variables(
        data=VariableSearchQuery(
            filter_=VariableSearchQueryFilter(process_instance_key=process_instance_key, **filters)
        )
    )
    return {v.name: v for v in result.items}


async def search_instances(cluster: Cluster, **filters: Any) -> set[str]:
    result = await cluster.sdk.search_process_instances(
        data=ProcessInstanceSearchQuery(filter_=ProcessInstanceSearchQueryFilter(**filters))
    )
    return {i.process_instance_key for i in result.items}


async def test_create_by_id_and_by_key_with_variables(cluster: Cluster) -> None:
    """Creation by process id and by definition key answers keys, id and version; variables land at the root."""
    keys = await deploy(cluster, waiting=WAITING)
    by_id = await cluster.sdk.create_process_instance(
        data=ProcessCreationById(
            process_definition_id=ProcessDefinitionId("waiting"),
            variables=variables(amount=12, customer={"name": "李"}),
        )
    )
    assert (by_id.process_definition_id, by_id.process_definition_version) == ("waiting", 1)
    assert by_id.process_definition_key == keys["waiting"]
    assert by_id.tenant_id == "<default>"
    assert by_id.variables.to_dict() == {}
    assert (by_id.tags, by_id.business_id) == ([], None)

    by_key = await cluster.sdk.create_process_instance(
        data=ProcessCreationByKey(process_definition_key=keys["waiting"], variables=variables(amount=3))
    )
    assert by_key.process_definition_id == "waiting"
    assert by_key.process_instance_key != by_id.process_instance_key

    found = await instance_variables(cluster, by_id.process_instance_key)
    assert json.loads(found["customer"].value) == {"name": "李"}
    assert found["customer"].scope_key == by_id.process_instance_key
    assert found["amount"].value == "12"
    assert (await instance_variables(cluster, by_key.process_instance_key))["amount"].value == "3"


async def test_await_completion_returns_the_variables(cluster: Cluster) -> None:
    """awaitCompletion answers when the instance ends, with the variables named in fetchVariables."""
    await deploy(cluster, charge=CHARGE)

    async def charge(doubled: int) -> dict[str, Any]:
        return {"charged": doubled, "receipt": "R-1"}

    cluster.worker(charge=charge)
    created = await cluster.sdk.create_process_instance(
        data=ProcessCreationById(
            process_definition_id=ProcessDefinitionId("charge"),
            variables=variables(amount=21),
            await_completion=True,
            fetch_variables=["charged"],
            request_timeout=10_000,
        )
    )
    assert created.variables.to_dict() == {"charged": 42}
    instance = await cluster.sdk.get_process_instance(created.process_instance_key)
    assert instance.state == ProcessInstanceStateEnum.COMPLETED
    assert instance.end_date is not None


async def test_await_completion_times_out_with_504(cluster: Cluster) -> None:
    """An instance that does not end within requestTimeout answers 504 and keeps running."""
    await deploy(cluster, waiting=WAITING)
    with pytest.raises(errors.GatewayTimeoutError):
        await cluster.sdk.create_process_instance(
            data=ProcessCreationById(
                process_definition_id=ProcessDefinitionId("waiting"),
                await_completion=True,
                request_timeout=100,
            )
        )
    running = await search_instances(
        cluster,
        process_definition_id=ProcessDefinitionId("waiting"),
        state=ProcessInstanceStateExactMatch.ACTIVE,
    )
    assert len(running) == 1


async def test_search_instances_by_state_definition_and_incident(cluster: Cluster) -> None:
    """Search filters by state (exact and $in), process id, definition key, incident and start date."""
    keys = await deploy(cluster, waiting=WAITING, instant=INSTANT, stuck=STUCK)
    waiting = await start(cluster, "waiting")
    instant = await start(cluster, "instant")
    stuck = await start(cluster, "stuck")
    cancelled = await start(cluster, "waiting")
    await cluster.sdk.cancel_process_instance(cancelled, data=None)

    assert await search_instances(cluster, state=ProcessInstanceStateExactMatch.COMPLETED) == {instant}
    assert await search_instances(cluster, state=ProcessInstanceStateExactMatch.TERMINATED) == {cancelled}
    assert await search_instances(cluster, state=ProcessInstanceStateExactMatch.ACTIVE) == {waiting, stuck}
    ended = AdvancedProcessInstanceStateFilter(
        in_=[ProcessInstanceStateEnum.COMPLETED, ProcessInstanceStateEnum.TERMINATED]
    )
    assert await search_instances(cluster, state=ended) == {instant, cancelled}
    assert await search_instances(cluster, process_definition_id=ProcessDefinitionId("waiting")) == {
        waiting,
        cancelled,
    }
    assert await search_instances(cluster, process_definition_key=keys["instant"]) == {instant}
    assert await search_instances(cluster, has_incident=True) == {stuck}
    assert await search_instances(cluster, has_incident=False) == {waiting, instant, cancelled}

    either = [ProcessInstanceFilterFields(state=ended), ProcessInstanceFilterFields(has_incident=True)]
    assert await search_instances(cluster, or_=either) == {instant, cancelled, stuck}
    assert await search_instances(cluster, process_definition_id="waiting", or_=either) == {cancelled}

    stuck_instance = await cluster.sdk.get_process_instance(stuck)
    since = AdvancedDateTimeFilter(gte=stuck_instance.start_date)
    assert stuck in await search_instances(cluster, start_date=since)
    later = AdvancedDateTimeFilter(gt=stuck_instance.start_date + timedelta(hours=1))
    assert await search_instances(cluster, start_date=later) == set()

    page = await cluster.sdk.search_process_instances(
        data=ProcessInstanceSearchQuery(page=LimitBasedPagination(limit=2))
    )
    assert page.page.total_items == 4
    assert [i.process_instance_key for i in page.items] == sorted([waiting, instant, stuck, cancelled])[:2]


async def test_search_instances_by_variable_value(cluster: Cluster) -> None:
    """The variables filter matches instances by a variable's JSON text."""
    await deploy(cluster, waiting=WAITING)
    li = await start(cluster, "waiting", customer="Li")
    await start(cluster, "waiting", customer="Wang")
    found = await search_instances(
        cluster, variables=[VariableValueFilterProperty(name="customer", value='"Li"')]
    )
    assert found == {li}


async def test_get_process_instance(cluster: Cluster) -> None:
    """GET answers a running instance with its definition, dates, root key and no incident."""
    keys = await deploy(cluster, waiting=WAITING)
    key = await start(cluster, "waiting")
    instance = await cluster.sdk.get_process_instance(key)
    assert instance.process_instance_key == key
    assert (instance.process_definition_id, instance.process_definition_version) == ("waiting", 1)
    assert instance.process_definition_name == "Waiting process"
    assert instance.process_definition_key == keys["waiting"]
    assert instance.state == ProcessInstanceStateEnum.ACTIVE
    assert instance.end_date is None
    assert instance.start_date.tzinfo is not None
    assert instance.has_incident is False
    assert instance.root_process_instance_key == key
    assert instance.parent_process_instance_key is None
    assert instance.tenant_id == "<default>"


async def test_cancel_terminates_and_a_second_cancel_is_404(cluster: Cluster) -> None:
    """Cancellation answers 204 and terminates the instance and its waiting task; again, it is 404."""
    await deploy(cluster, waiting=WAITING)
    key = await start(cluster, "waiting")
    await cluster.sdk.cancel_process_instance(key, data=None)
    instance = await cluster.sdk.get_process_instance(key)
    assert instance.state == ProcessInstanceStateEnum.TERMINATED
    assert instance.end_date is not None
    assert await element_states(cluster, key) == {"start": "COMPLETED", "enrich": "TERMINATED"}
    with pytest.raises(errors.NotFoundError):
        await cluster.sdk.cancel_process_instance(key, data=None)


async def test_element_instances_show_completed_and_active_elements(cluster: Cluster) -> None:
    """Element instances list the passed start event and tasks as COMPLETED and the waiting task as ACTIVE."""
    await deploy(cluster, waiting=WAITING)
    key = await start(cluster, "waiting", amount=1)

    async def enrich() -> dict[str, Any]:
        return {"amount": 2}

    cluster.worker(enrich=enrich)

    async def waiting_at_wait() -> bool:
        return (await element_states(cluster, key)).get("wait") == "ACTIVE"

    await wait_for(waiting_at_wait, message="the instance to wait at 'wait'")
    elements = {str(e.element_id): e for e in await element_instances(cluster, key)}
    assert set(elements) == {"start", "enrich", "wait"}
    start_event = elements["start"]
    assert start_event.state.value == "COMPLETED"
    assert start_event.type_.value == "START_EVENT"
    assert start_event.element_name == "Request received"
    assert start_event.end_date is not None
    assert elements["enrich"].state.value == "COMPLETED"
    waiting = elements["wait"]
    assert (waiting.state.value, waiting.type_.value, waiting.element_name) == (
        "ACTIVE",
        "SERVICE_TASK",
        "wait",
    )
    assert waiting.end_date is None
    assert (waiting.process_instance_key, waiting.root_process_instance_key) == (key, key)
    assert waiting.process_definition_id == "waiting"
    assert (waiting.has_incident, waiting.incident_key) == (False, None)

    active = await element_instances(cluster, key, state=ElementInstanceStateExactMatch.ACTIVE)
    assert [e.element_id for e in active] == ["wait"]
    tasks = await element_instances(cluster, key, type_=ElementInstanceSearchQueryFilterType.SERVICE_TASK)
    assert sorted(e.element_id for e in tasks) == ["enrich", "wait"]
    by_scope = await element_instances(cluster, key, element_instance_scope_key=key)
    assert len(by_scope) == 3

    fetched = await cluster.sdk.get_element_instance(waiting.element_instance_key)
    assert fetched.element_id == "wait"
    assert fetched.state.value == "ACTIVE"
    ended = await cluster.sdk.get_element_instance(start_event.element_instance_key)
    assert ended.state.value == "COMPLETED"
    assert ended.start_date <= ended.end_date  # type: ignore[operator]


async def test_element_instance_with_an_incident(cluster: Cluster) -> None:
    """A gateway stuck on a condition incident is ACTIVE with hasIncident and its incident key."""
    await deploy(cluster, stuck=STUCK)
    key = await start(cluster, "stuck")
    [gateway] = await element_instances(cluster, key, element_id="decide")
    assert gateway.type_.value == "EXCLUSIVE_GATEWAY"
    assert gateway.state.value == "ACTIVE"
    assert gateway.has_incident is True
    assert gateway.incident_key is not None
    with_incident = await element_instances(cluster, key, has_incident=True)
    assert [e.element_id for e in with_incident] == ["decide"]


async def test_variables_search_by_instance_and_name_returns_json_text(cluster: Cluster) -> None:
    """Variables come back as JSON text; an update keeps the variable key; GET answers the same variable."""
    await deploy(cluster, waiting=WAITING)
    key = await start(cluster, "waiting", amount=1, customer={"name": "Li", "tags": ["vip"]}, note="hi")
    before = await instance_variables(cluster, key, name="amount")
    assert set(before) == {"amount"}
    amount = before["amount"]
    assert (amount.value, amount.is_truncated, amount.scope_key) == ("1", False, key)
    assert amount.root_process_instance_key == key

    async def enrich() -> dict[str, Any]:
        return {"amount": 2}

    cluster.worker(enrich=enrich)

    async def updated() -> bool:
        return (await instance_variables(cluster, key, name="amount"))["amount"].value == "2"

    await wait_for(updated, message="the worker's update of 'amount'")
    after = (await instance_variables(cluster, key, name="amount"))["amount"]
    assert after.variable_key == amount.variable_key

    everything = await instance_variables(cluster, key)
    assert json.loads(everything["customer"].value) == {"name": "Li", "tags": ["vip"]}
    assert everything["note"].value == '"hi"'

    fetched = await cluster.sdk.get_variable(after.variable_key)
    assert (fetched.name, fetched.value, fetched.process_instance_key) == ("amount", "2", key)


async def test_variables_of_a_completed_instance_remain_searchable(cluster: Cluster) -> None:
    """After the instance ends its variables, including task-local ones, are still found."""
    await deploy(cluster, charge=CHARGE)

    async def charge(doubled: int) -> dict[str, Any]:
        return {"charged": doubled}

    cluster.worker(charge=charge)
    created = await cluster.sdk.create_process_instance(
        data=ProcessCreationById(
            process_definition_id=ProcessDefinitionId("charge"),
            variables=variables(amount=5),
            await_completion=True,
        )
    )
    key = created.process_instance_key
    found = await instance_variables(cluster, key)
    assert {name: v.value for name, v in found.items()} == {"amount": "5", "doubled": "10", "charged": "10"}
    [task] = await element_instances(cluster, key, element_id="charge_it")
    assert task.state.value == "COMPLETED"
    assert found["doubled"].scope_key == task.element_instance_key
    assert found["amount"].scope_key == key
    local = await instance_variables(cluster, key, scope_key=task.element_instance_key)
    assert set(local) == {"doubled"}
    fetched = await cluster.sdk.get_variable(found["charged"].variable_key)
    assert fetched.value == "10"


async def test_long_values_are_truncated_in_search_only(cluster: Cluster) -> None:
    """Search truncates long values (isTruncated) unless truncateValues=false; GET answers the full value."""
    await deploy(cluster, waiting=WAITING)
    text = "x" * 10_000
    key = await start(cluster, "waiting", letter=text)
    [letter] = (await instance_variables(cluster, key, name="letter")).values()
    assert letter.is_truncated is True
    assert len(letter.value) < len(text)
    full = await cluster.sdk.search_variables(
        data=VariableSearchQuery(filter_=VariableSearchQueryFilter(process_instance_key=key, name="letter")),
        truncate_values=False,
    )
    assert (full.items[0].value, full.items[0].is_truncated) == (json.dumps(text), False)
    assert (await cluster.sdk.get_variable(letter.variable_key)).value == json.dumps(text)


async def test_unknown_keys_are_404(cluster: Cluster) -> None:
    """Unknown process instance, element instance and variable keys answer 404."""
    with pytest.raises(errors.NotFoundError):
        await cluster.sdk.get_process_instance(ProcessInstanceKey(UNKNOWN_KEY))
    with pytest.raises(errors.NotFoundError):
        await cluster.sdk.cancel_process_instance(ProcessInstanceKey(UNKNOWN_KEY), data=None)
    with pytest.raises(errors.NotFoundError):
        await cluster.sdk.get_element_instance(ElementInstanceKey(UNKNOWN_KEY))
    with pytest.raises(errors.NotFoundError):
        await cluster.sdk.get_variable(VariableKey(UNKNOWN_KEY))
    # Like Camunda, an unknown process id is a NOT_FOUND rejection (404); the SDK has no class for it here.
    with pytest.raises(errors.ApiError) as raised:
        await cluster.sdk.create_process_instance(
            data=ProcessCreationById(process_definition_id=ProcessDefinitionId("nowhere"))
        )
    assert raised.value.status_code == 404


async def test_bad_filters_and_bodies_are_400_naming_the_field(cluster: Cluster) -> None:
    """Unsupported filter fields, malformed keys and refused creation properties name the field."""
    await deploy(cluster, waiting=WAITING)
    with pytest.raises(errors.BadRequestError) as raised:
        await cluster.sdk.search_process_instances(
            data=ProcessInstanceSearchQuery(filter_=ProcessInstanceSearchQueryFilter(error_message="boom"))
        )
    assert "'filter.errorMessage'" in detail(raised.value)
    with pytest.raises(errors.BadRequestError) as raised:
        await cluster.sdk.search_variables(
            data=VariableSearchQuery(filter_=VariableSearchQueryFilter(process_instance_key="twelve"))
        )
    assert "'filter.processInstanceKey'" in detail(raised.value)
    with pytest.raises(errors.BadRequestError) as raised:
        await cluster.sdk.create_process_instance(
            data=ProcessCreationById(process_definition_id=ProcessDefinitionId("waiting"), request_timeout=-1)
        )
    assert "'requestTimeout'" in detail(raised.value)
    with pytest.raises(errors.BadRequestError) as raised:
        await cluster.sdk.create_process_instance(
            data=ProcessCreationById(process_definition_id=ProcessDefinitionId("waiting"), tags=["urgent"])
        )
    assert "'tags'" in detail(raised.value)
    element_filter = ElementInstanceSearchQueryFilter()
    element_filter["flowNodeId"] = "wait"
    with pytest.raises(errors.BadRequestError) as raised:
        await cluster.sdk.search_element_instances(data=ElementInstanceSearchQuery(filter_=element_filter))
    assert "'filter.flowNodeId'" in detail(raised.value)
