"""User tasks through the official Camunda SDK: search, forms, assignment, updates, completion, paging."""

import asyncio
import datetime as dt
import json
from typing import Any, cast

import pytest
from camunda_orchestration_sdk import CamundaAsyncClient, errors
from camunda_orchestration_sdk.api.user_task import get_user_task_form
from camunda_orchestration_sdk.models.advanced_date_time_filter import AdvancedDateTimeFilter
from camunda_orchestration_sdk.models.changeset import Changeset
from camunda_orchestration_sdk.models.clock_pin_request import ClockPinRequest
from camunda_orchestration_sdk.models.cursor_based_forward_pagination import CursorBasedForwardPagination
from camunda_orchestration_sdk.models.offset_based_pagination import OffsetBasedPagination
from camunda_orchestration_sdk.models.sort_order_enum import SortOrderEnum
from camunda_orchestration_sdk.models.user_task_assignment_request import UserTaskAssignmentRequest
from camunda_orchestration_sdk.models.user_task_completion_request import UserTaskCompletionRequest
from camunda_orchestration_sdk.models.user_task_completion_request_variables import (
    UserTaskCompletionRequestVariables,
)
from camunda_orchestration_sdk.models.user_task_result import UserTaskResult
from camunda_orchestration_sdk.models.user_task_search_query import UserTaskSearchQuery
from camunda_orchestration_sdk.models.user_task_search_query_filter import UserTaskSearchQueryFilter
from camunda_orchestration_sdk.models.user_task_search_query_sort_request import (
    UserTaskSearchQuerySortRequest,
)
from camunda_orchestration_sdk.models.user_task_search_query_sort_request_field import (
    UserTaskSearchQuerySortRequestField,
)
from camunda_orchestration_sdk.models.user_task_state_exact_match import UserTaskStateExactMatch
from camunda_orchestration_sdk.models.user_task_update_request import UserTaskUpdateRequest
from camunda_orchestration_sdk.semantic_types import EndCursor, FormKey, UserTaskKey

from tests.engine.conftest import bpmn, chain, flow, service_task, wait_for
from tests.engine.rest.conftest import Cluster, problem

pytestmark = pytest.mark.asyncio

HOUR_MS = 3_600_000
REVIEW_FORM = json.dumps(
    {
        "id": "review-form",
        "type": "default",
        "components": [{"type": "checkbox", "key": "approved", "label": "同意"}],
    },
    ensure_ascii=False,
)


def user_task(task_id: str, extensions: str = "", name: str | None = None) -> str:
    """A Camunda user task with the given zeebe extension elements."""
    label = f' name="{name}"' if name else ""
    return (
        f'<bpmn:userTask id="{task_id}"{label}><bpmn:extensionElements><zeebe:userTask />{extensions}'
        "</bpmn:extensionElements></bpmn:userTask>"
    )


def single_task_process(process_id: str, groups: str = "town:xiji") -> str:
    """start → one user task offered to ``groups`` → end."""
    return bpmn(
        process_id,
        '<bpmn:startEvent id="s" />'
        + user_task("work", f'<zeebe:assignmentDefinition candidateGroups="{groups}" />', name="办理")
        + '<bpmn:endEvent id="e" />'
        + chain("s", "work", "e"),
    )


def update(changeset: Changeset) -> UserTaskUpdateRequest:
    return UserTaskUpdateRequest(changeset=changeset)


def completion(variables: dict[str, Any]) -> UserTaskCompletionRequest:
    document = UserTaskCompletionRequestVariables()
    for name, value in variables.items():
        document[name] = value
    return UserTaskCompletionRequest(variables=document)


async def tasks_of(
    sdk: CamundaAsyncClient, process_instance_key: int, state: UserTaskStateExactMatch | None = None
) -> list[UserTaskResult]:
    """The user tasks of one process instance, optionally in one state."""
    query_filter = UserTaskSearchQueryFilter(process_instance_key=str(process_instance_key))
    if state is not None:
        query_filter.state = state
    result = await sdk.search_user_tasks(data=UserTaskSearchQuery(filter_=query_filter))
    return result.items


async def only_task(sdk: CamundaAsyncClient, process_instance_key: int) -> UserTaskResult:
    tasks = await tasks_of(sdk, process_instance_key)
    assert len(tasks) == 1
    return tasks[0]


async def test_clerk_finds_task_by_group_reads_form_and_completion_routes_gateway(cluster: Cluster) -> None:
    """A worker step leads to a formed task for town:<code>; completing it with approved=true takes the yes branch."""
    review = user_task(
        "review",
        '<zeebe:formDefinition formId="review-form" />'
        '<zeebe:assignmentDefinition candidateGroups="=&quot;town:&quot; + townCode" />',
        name="审核",
    )
    xml = bpmn(
        "approval",
        '<bpmn:startEvent id="s" />'
        + service_task("intake", "approval.intake")
        + review
        + '<bpmn:exclusiveGateway id="gw" default="f_no" />'
        + service_task("grant", "approval.grant")
        + service_task("refuse", "approval.refuse")
        + '<bpmn:endEvent id="granted" /><bpmn:endEvent id="refused" />'
        + chain("s", "intake", "review", "gw")
        + flow("f_yes", "gw", "grant", "=approved")
        + flow("f_no", "gw", "refuse")
        + chain("grant", "granted")
        + chain("refuse", "refused"),
    )
    await cluster.deploy(approval__bpmn=xml, review__form=REVIEW_FORM)
    branches: list[str] = []

    async def intake(applicant: str) -> dict[str, Any]:
        return {"townCode": "xiji", "applicantName": applicant.upper()}

    async def grant() -> dict[str, Any]:
        branches.append("grant")
        return {"outcome": "granted"}

    async def refuse() -> dict[str, Any]:
        branches.append("refuse")
        return {"outcome": "refused"}

    cluster.worker(approval__intake=intake, approval__grant=grant, approval__refuse=refuse)
    run = asyncio.create_task(
        cluster.client.run_process_with_result("approval", {"applicant": "li"}, timeout=20_000)
    )
    by_group = UserTaskSearchQuery(
        filter_=UserTaskSearchQueryFilter(candidate_group="town:xiji", state=UserTaskStateExactMatch.CREATED)
    )

    async def found() -> list[UserTaskResult]:
        return (await cluster.sdk.search_user_tasks(data=by_group)).items

    tasks = await wait_for(found, message="the review task offered to town:xiji")
    assert len(tasks) == 1
    task = tasks[0]
    assert task.element_id == "review"
    assert task.name == "审核"
    assert task.candidate_groups == ["town:xiji"]
    assert task.process_definition_id == "approval"
    assert task.form_key is not None

    form = await cluster.sdk.get_user_task_form(user_task_key=task.user_task_key)
    assert form.form_id == "review-form"
    assert form.version == 1
    assert form.form_key == task.form_key
    assert json.loads(form.schema)["components"][0]["key"] == "approved"
    by_key = await cluster.sdk.get_form_by_key(form_key=FormKey(task.form_key))
    assert by_key.schema == form.schema

    other_group = UserTaskSearchQuery(filter_=UserTaskSearchQueryFilter(candidate_group="town:dongsheng"))
    assert (await cluster.sdk.search_user_tasks(data=other_group)).items == []
    assert not run.done()

    await cluster.sdk.complete_user_task(task.user_task_key, data=completion({"approved": True}))
    result = await asyncio.wait_for(run, 15)
    assert branches == ["grant"]
    assert result.variables["outcome"] == "granted"
    assert result.variables["approved"] is True
    done = await cluster.sdk.get_user_task(task.user_task_key)
    assert done.state.value == "COMPLETED"
    assert done.completion_date is not None


async def test_task_without_form_answers_no_content(cluster: Cluster) -> None:
    """The form of a task without a linked form is 204 No Content; an unknown form key is 404."""
    await cluster.deploy(plain__bpmn=single_task_process("plain"))
    instance = await cluster.client.run_process("plain", {})
    task = await only_task(cluster.sdk, instance.process_instance_key)
    assert task.form_key is None
    # The SDK's high-level method asserts on the documented 204, so read the status one level down.
    response = await get_user_task_form.asyncio_detailed(
        user_task_key=task.user_task_key, client=cast(Any, cluster.sdk.client)
    )
    assert response.status_code == 204
    with pytest.raises(errors.NotFoundError):
        await cluster.sdk.get_form_by_key(form_key=FormKey("12345"))


async def test_boundary_timers_warn_then_cancel_the_task(cluster: Cluster) -> None:
    """A non-interrupting timer warns while the task stays open; the interrupting one cancels it."""
    warn = (
        '<bpmn:boundaryEvent id="warn" attachedToRef="work" cancelActivity="false">'
        '<bpmn:timerEventDefinition><bpmn:timeDuration xsi:type="bpmn:tFormalExpression">PT1H'
        "</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>"
    )
    overdue = (
        '<bpmn:boundaryEvent id="overdue" attachedToRef="work">'
        '<bpmn:timerEventDefinition><bpmn:timeDuration xsi:type="bpmn:tFormalExpression">PT2H'
        "</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>"
    )
    xml = bpmn(
        "deadline",
        '<bpmn:startEvent id="s" />'
        + user_task("work", '<zeebe:assignmentDefinition candidateGroups="town:xiji" />')
        + warn
        + overdue
        + service_task("yellow", "deadline.yellow")
        + service_task("escalate", "deadline.escalate")
        + '<bpmn:endEvent id="done" /><bpmn:endEvent id="warned" /><bpmn:endEvent id="late" />'
        + chain("s", "work", "done")
        + chain("warn", "yellow", "warned")
        + chain("overdue", "escalate", "late"),
    )
    await cluster.deploy(deadline__bpmn=xml)
    warnings: list[str] = []

    async def yellow() -> dict[str, Any]:
        warnings.append("yellow")
        return {}

    async def escalate() -> dict[str, Any]:
        return {"escalated": True}

    cluster.worker(deadline__yellow=yellow, deadline__escalate=escalate)
    run = asyncio.create_task(cluster.client.run_process_with_result("deadline", {}, timeout=20_000))
    of_process = UserTaskSearchQuery(filter_=UserTaskSearchQueryFilter(process_definition_id="deadline"))

    async def created() -> list[UserTaskResult]:
        return (await cluster.sdk.search_user_tasks(data=of_process)).items

    task = (await wait_for(created, message="the user task"))[0]
    task_key = task.user_task_key
    instance_key = int(task.process_instance_key)

    created_ms = int(task.creation_date.timestamp() * 1000)
    await cluster.sdk.pin_clock(data=ClockPinRequest(timestamp=created_ms + HOUR_MS + 1_000))
    await wait_for(lambda: warnings == ["yellow"], message="the yellow warning")
    still_open = await cluster.sdk.get_user_task(task_key)
    assert still_open.state.value == "CREATED"
    assert not run.done()

    await cluster.sdk.pin_clock(data=ClockPinRequest(timestamp=created_ms + 2 * HOUR_MS + 1_000))
    result = await asyncio.wait_for(run, 15)
    assert result.variables == {"escalated": True}
    canceled = await cluster.sdk.get_user_task(task_key)
    assert canceled.state.value == "CANCELED"
    assert canceled.completion_date is not None
    assert [
        t.user_task_key for t in await tasks_of(cluster.sdk, instance_key, UserTaskStateExactMatch.CANCELED)
    ] == [task_key]
    assert await tasks_of(cluster.sdk, instance_key, UserTaskStateExactMatch.CREATED) == []


async def test_assign_unassign_and_update_round_trip(cluster: Cluster) -> None:
    """Assignment, unassignment and changeset updates show up in GET; allowOverride=false on an assigned task is 409."""
    await cluster.deploy(office__bpmn=single_task_process("office"))
    instance = await cluster.client.run_process("office", {})
    task = await only_task(cluster.sdk, instance.process_instance_key)
    key = task.user_task_key
    assert task.assignee is None
    assert task.priority == 50

    await cluster.sdk.assign_user_task(key, data=UserTaskAssignmentRequest(assignee="clerk1"))
    assert (await cluster.sdk.get_user_task(key)).assignee == "clerk1"
    with pytest.raises(errors.ConflictError) as conflict:
        await cluster.sdk.assign_user_task(
            key, data=UserTaskAssignmentRequest(assignee="clerk2", allow_override=False)
        )
    assert "clerk1" in problem(conflict.value).detail
    await cluster.sdk.assign_user_task(key, data=UserTaskAssignmentRequest(assignee="clerk2"))
    assert (await cluster.sdk.get_user_task(key)).assignee == "clerk2"

    await cluster.sdk.unassign_user_task(key)
    assert (await cluster.sdk.get_user_task(key)).assignee is None
    await cluster.sdk.assign_user_task(
        key, data=UserTaskAssignmentRequest(assignee="clerk3", allow_override=False)
    )
    assert (await cluster.sdk.get_user_task(key)).assignee == "clerk3"

    due = dt.datetime(2030, 1, 31, 17, 30, tzinfo=dt.UTC)
    follow_up = dt.datetime(2030, 1, 20, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    await cluster.sdk.update_user_task(
        key,
        data=update(
            Changeset(
                due_date=due,
                follow_up_date=follow_up,
                candidate_groups=["town:xiji", "district:rsj"],
                priority=80,
            )
        ),
    )
    updated = await cluster.sdk.get_user_task(key)
    assert updated.due_date == due
    assert updated.follow_up_date == follow_up
    assert updated.candidate_groups == ["town:xiji", "district:rsj"]
    assert updated.candidate_users == []
    assert updated.priority == 80
    assert updated.assignee == "clerk3"

    by_district = UserTaskSearchQuery(filter_=UserTaskSearchQueryFilter(candidate_group="district:rsj"))
    assert [t.user_task_key for t in (await cluster.sdk.search_user_tasks(data=by_district)).items] == [key]
    by_priority = UserTaskSearchQuery(filter_=UserTaskSearchQueryFilter(priority=80))
    assert [t.user_task_key for t in (await cluster.sdk.search_user_tasks(data=by_priority)).items] == [key]
    due_by_end_of_january = UserTaskSearchQuery(
        filter_=UserTaskSearchQueryFilter(due_date=AdvancedDateTimeFilter(lte=due, gt=follow_up))
    )
    found = (await cluster.sdk.search_user_tasks(data=due_by_end_of_january)).items
    assert [t.user_task_key for t in found] == [key]

    await cluster.sdk.update_user_task(key, data=update(Changeset(candidate_groups=[])))
    reset = await cluster.sdk.get_user_task(key)
    assert reset.candidate_groups == []
    assert reset.due_date == due
    assert reset.priority == 80


async def test_wrong_state_unknown_key_and_bad_bodies(cluster: Cluster) -> None:
    """A completed task answers 409, an unknown key 404, and a bad body 400 naming the field."""
    await cluster.deploy(once__bpmn=single_task_process("once"))
    instance = await cluster.client.run_process("once", {})
    key = (await only_task(cluster.sdk, instance.process_instance_key)).user_task_key

    with pytest.raises(errors.BadRequestError) as bad_variables:
        await cluster.sdk.complete_user_task(
            key, data=UserTaskCompletionRequest(variables=cast(Any, ["not", "an", "object"]))
        )
    assert "'variables'" in problem(bad_variables.value).detail
    with pytest.raises(errors.BadRequestError) as bad_assignee:
        await cluster.sdk.assign_user_task(key, data=UserTaskAssignmentRequest(assignee=""))
    assert "'assignee'" in problem(bad_assignee.value).detail
    with pytest.raises(errors.BadRequestError) as bad_priority:
        await cluster.sdk.update_user_task(key, data=update(Changeset(priority=101)))
    assert "'changeset.priority'" in problem(bad_priority.value).detail
    with pytest.raises(errors.BadRequestError) as naive_date:
        await cluster.sdk.update_user_task(
            key,
            data=update(Changeset(due_date=dt.datetime(2030, 1, 1, 12, 0))),  # noqa: DTZ001
        )
    assert "'changeset.dueDate'" in problem(naive_date.value).detail
    with pytest.raises(errors.BadRequestError) as empty_update:
        await cluster.sdk.update_user_task(key, data=update(Changeset()))
    assert "'changeset'" in problem(empty_update.value).detail
    with pytest.raises(errors.BadRequestError) as bad_filter:
        await cluster.sdk.search_user_tasks(
            data=UserTaskSearchQuery(
                filter_=UserTaskSearchQueryFilter(due_date=dt.datetime(2030, 1, 1))  # noqa: DTZ001
            )
        )
    assert "'filter.dueDate'" in problem(bad_filter.value).detail
    assert (await cluster.sdk.get_user_task(key)).state.value == "CREATED"

    await cluster.sdk.complete_user_task(key, data=completion({"note": "done"}))
    with pytest.raises(errors.ConflictError) as twice:
        await cluster.sdk.complete_user_task(key, data=completion({}))
    assert "COMPLETED" in problem(twice.value).detail
    with pytest.raises(errors.ConflictError):
        await cluster.sdk.assign_user_task(key, data=UserTaskAssignmentRequest(assignee="late"))
    with pytest.raises(errors.ConflictError):
        await cluster.sdk.update_user_task(key, data=update(Changeset(priority=10)))

    unknown = UserTaskKey("2251799813999999")
    with pytest.raises(errors.NotFoundError):
        await cluster.sdk.get_user_task(unknown)
    with pytest.raises(errors.NotFoundError) as missing:
        await cluster.sdk.complete_user_task(unknown, data=completion({}))
    assert "2251799813999999" in problem(missing.value).detail
    with pytest.raises(errors.NotFoundError):
        await cluster.sdk.unassign_user_task(unknown)


async def test_pagination_over_250_tasks(cluster: Cluster) -> None:
    """Cursor paging (100, 100, 50) and offset paging list all 250 tasks once, newest first."""
    await cluster.deploy(bulk__bpmn=single_task_process("bulk"))
    for number in range(250):
        await cluster.client.run_process("bulk", {"number": number})
        if cluster.clock is not None:
            cluster.clock.add(1_000)
    newest_first = [
        UserTaskSearchQuerySortRequest(
            field=UserTaskSearchQuerySortRequestField.CREATIONDATE,
            order=SortOrderEnum.DESC,
        )
    ]
    query_filter = UserTaskSearchQueryFilter(process_definition_id="bulk")

    pages: list[list[UserTaskResult]] = []
    after: EndCursor | None = None
    while True:
        page = (
            CursorBasedForwardPagination(after=after, limit=100)
            if after is not None
            else OffsetBasedPagination(limit=100)
        )
        result = await cluster.sdk.search_user_tasks(
            data=UserTaskSearchQuery(filter_=query_filter, sort=newest_first, page=page)
        )
        assert result.page.total_items == 250
        if not result.items:
            break
        pages.append(result.items)
        after = result.page.end_cursor
    assert [len(p) for p in pages] == [100, 100, 50]
    by_cursor = [t for p in pages for t in p]
    assert len({t.user_task_key for t in by_cursor}) == 250
    created = [t.creation_date for t in by_cursor]
    assert created == sorted(created, reverse=True)
    assert created[0] > created[-1]

    by_offset: list[UserTaskResult] = []
    for start in (0, 100, 200):
        result = await cluster.sdk.search_user_tasks(
            data=UserTaskSearchQuery(
                filter_=query_filter, sort=newest_first, page=OffsetBasedPagination(from_=start, limit=100)
            )
        )
        by_offset.extend(result.items)
    assert [t.user_task_key for t in by_offset] == [t.user_task_key for t in by_cursor]


async def test_user_task_survives_engine_restart(cluster: Cluster) -> None:
    """An open user task is found again after the engine restarts on its data and can be completed there."""
    xml = bpmn(
        "durable",
        '<bpmn:startEvent id="s" />'
        + user_task("work", '<zeebe:assignmentDefinition candidateGroups="town:xiji" assignee="clerk1" />')
        + service_task("archive", "durable.archive")
        + '<bpmn:endEvent id="e" />'
        + chain("s", "work", "archive", "e"),
    )
    await cluster.deploy(durable__bpmn=xml)
    instance = await cluster.client.run_process("durable", {"caseNumber": "X-1"})
    before = await only_task(cluster.sdk, instance.process_instance_key)

    await cluster.restart()

    after = await only_task(cluster.sdk, instance.process_instance_key)
    assert after.user_task_key == before.user_task_key
    assert after.state.value == "CREATED"
    assert after.assignee == "clerk1"
    assert after.creation_date == before.creation_date
    archived: list[dict[str, Any]] = []

    async def archive(caseNumber: str, approved: bool) -> dict[str, Any]:  # noqa: N803 - process variable name
        archived.append({"caseNumber": caseNumber, "approved": approved})
        return {}

    cluster.worker(durable__archive=archive)
    await cluster.sdk.complete_user_task(after.user_task_key, data=completion({"approved": True}))
    await wait_for(lambda: archived == [{"caseNumber": "X-1", "approved": True}], message="the archive step")
    assert (await cluster.sdk.get_user_task(after.user_task_key)).state.value == "COMPLETED"
