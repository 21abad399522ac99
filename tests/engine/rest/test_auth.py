"""Basic authentication and who may see and act on which user task, through the official SDK."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from camunda_orchestration_sdk import CamundaAsyncClient, errors
from camunda_orchestration_sdk.models.user_task_assignment_request import UserTaskAssignmentRequest
from camunda_orchestration_sdk.models.user_task_completion_request import UserTaskCompletionRequest
from camunda_orchestration_sdk.models.user_task_completion_request_variables import (
    UserTaskCompletionRequestVariables,
)
from camunda_orchestration_sdk.models.user_task_result import UserTaskResult
from camunda_orchestration_sdk.models.user_task_search_query import UserTaskSearchQuery
from camunda_orchestration_sdk.models.user_task_search_query_filter import UserTaskSearchQueryFilter
from camunda_orchestration_sdk.semantic_types import FormKey, UserTaskKey

from tests.engine.conftest import bpmn, chain
from tests.engine.rest.conftest import Cluster, problem, sdk_client

pytestmark = pytest.mark.asyncio

PASSWORDS = {"xiji": "xiji-pass", "rsj": "rsj-pass", "boss": "boss-pass"}
FORM = '{"id": "case-form", "type": "default", "components": []}'
CASE_PROCESS = bpmn(
    "case",
    '<bpmn:startEvent id="s" />'
    '<bpmn:userTask id="handle"><bpmn:extensionElements><zeebe:userTask />'
    '<zeebe:formDefinition formId="case-form" />'
    '<zeebe:assignmentDefinition candidateGroups="=&quot;town:&quot; + townCode" assignee="=assignee" />'
    "</bpmn:extensionElements></bpmn:userTask>"
    '<bpmn:endEvent id="e" />' + chain("s", "handle", "e"),
)


@asynccontextmanager
async def logged_in(
    cluster: Cluster, username: str, password: str | None = None
) -> AsyncIterator[CamundaAsyncClient]:
    """An SDK client with Basic credentials, closed afterwards."""
    client = sdk_client(cluster.rest_url, username=username, password=password or PASSWORDS[username])
    try:
        yield client
    finally:
        await client.aclose()


async def start_case(cluster: Cluster, town: str, assignee: str | None = None) -> UserTaskKey:
    """Start a case for ``town`` and return its user task key (looked up as the admin)."""
    instance = await cluster.client.run_process("case", {"townCode": town, "assignee": assignee})
    async with logged_in(cluster, "boss") as boss:
        query = UserTaskSearchQuery(
            filter_=UserTaskSearchQueryFilter(process_instance_key=str(instance.process_instance_key))
        )
        items = (await boss.search_user_tasks(data=query)).items
    assert len(items) == 1
    return items[0].user_task_key


async def visible_keys(client: CamundaAsyncClient) -> set[str]:
    items: list[UserTaskResult] = (await client.search_user_tasks(data=UserTaskSearchQuery())).items
    return {t.user_task_key for t in items}


def completion(**variables: object) -> UserTaskCompletionRequest:
    document = UserTaskCompletionRequestVariables()
    for name, value in variables.items():
        document[name] = value
    return UserTaskCompletionRequest(variables=document)


async def test_wrong_or_missing_credentials_are_unauthorized(secured_cluster: Cluster) -> None:
    """A wrong password and a request without credentials both answer 401."""
    async with logged_in(secured_cluster, "xiji", "not-the-password") as intruder:
        with pytest.raises(errors.UnauthorizedError) as wrong:
            await intruder.search_user_tasks(data=UserTaskSearchQuery())
    assert problem(wrong.value).title == "UNAUTHORIZED"
    anonymous = sdk_client(secured_cluster.rest_url)
    try:
        with pytest.raises(errors.UnauthorizedError):
            await anonymous.search_user_tasks(data=UserTaskSearchQuery())
    finally:
        await anonymous.aclose()
    async with logged_in(secured_cluster, "xiji") as xiji:
        assert (await xiji.search_user_tasks(data=UserTaskSearchQuery())).items == []


async def test_town_clerk_sees_only_own_town(secured_cluster: Cluster) -> None:
    """xiji's search lists only town:xiji tasks; reading another town's task is 403."""
    await secured_cluster.deploy(case__bpmn=CASE_PROCESS, case__form=FORM)
    mine = await start_case(secured_cluster, "xiji")
    also_mine = await start_case(secured_cluster, "xiji")
    theirs = await start_case(secured_cluster, "dongsheng")
    async with logged_in(secured_cluster, "xiji") as xiji:
        result = await xiji.search_user_tasks(data=UserTaskSearchQuery())
        assert {t.user_task_key for t in result.items} == {mine, also_mine}
        assert result.page.total_items == 2
        assert all(t.candidate_groups == ["town:xiji"] for t in result.items)
        assert (await xiji.get_user_task(mine)).candidate_groups == ["town:xiji"]
        form = await xiji.get_user_task_form(user_task_key=mine)
        assert form.form_id == "case-form"
        with pytest.raises(errors.ForbiddenError) as forbidden:
            await xiji.get_user_task(theirs)
        assert problem(forbidden.value).title == "FORBIDDEN"
        assert str(theirs) in problem(forbidden.value).detail
        with pytest.raises(errors.ForbiddenError):
            await xiji.get_user_task_form(user_task_key=theirs)
        # Forms themselves are not secret: any authenticated user may read one by key.
        assert (await xiji.get_form_by_key(form_key=FormKey(form.form_key))).form_id == "case-form"


async def test_other_department_cannot_complete_or_see_a_town_task(secured_cluster: Cluster) -> None:
    """rsj gets 403 completing a xiji task and its search leaves it out; xiji then completes it."""
    await secured_cluster.deploy(case__bpmn=CASE_PROCESS, case__form=FORM)
    task = await start_case(secured_cluster, "xiji")
    async with logged_in(secured_cluster, "rsj") as rsj:
        assert task not in await visible_keys(rsj)
        with pytest.raises(errors.UnexpectedStatus) as forbidden:
            await rsj.complete_user_task(task, data=completion(approved=True))
        assert forbidden.value.status_code == 403
        assert b"FORBIDDEN" in forbidden.value.content
        assert str(task).encode() in forbidden.value.content
        with pytest.raises(errors.UnexpectedStatus) as assign:
            await rsj.assign_user_task(task, data=UserTaskAssignmentRequest(assignee="rsj"))
        assert assign.value.status_code == 403
    async with logged_in(secured_cluster, "xiji") as xiji:
        assert (await xiji.get_user_task(task)).state.value == "CREATED"
        await xiji.complete_user_task(task, data=completion(approved=True))
        assert (await xiji.get_user_task(task)).state.value == "COMPLETED"


async def test_admin_sees_every_task(secured_cluster: Cluster) -> None:
    """A member of the admin group sees and may act on tasks of every town."""
    await secured_cluster.deploy(case__bpmn=CASE_PROCESS, case__form=FORM)
    keys = {await start_case(secured_cluster, town) for town in ("xiji", "dongsheng", "nanhai")}
    async with logged_in(secured_cluster, "boss") as boss:
        assert await visible_keys(boss) == keys
        for key in keys:
            await boss.complete_user_task(key, data=completion())
        states = {t.state.value for t in (await boss.search_user_tasks(data=UserTaskSearchQuery())).items}
        assert states == {"COMPLETED"}


async def test_task_assigned_directly_is_visible_to_its_assignee(secured_cluster: Cluster) -> None:
    """A task assigned to a user outside its candidate groups is listed for, and workable by, that user."""
    await secured_cluster.deploy(case__bpmn=CASE_PROCESS, case__form=FORM)
    assigned = await start_case(secured_cluster, "nanhai", assignee="rsj")
    other = await start_case(secured_cluster, "nanhai")
    async with logged_in(secured_cluster, "rsj") as rsj:
        assert await visible_keys(rsj) == {assigned}
        query = UserTaskSearchQuery(filter_=UserTaskSearchQueryFilter(assignee="rsj"))
        assert [t.user_task_key for t in (await rsj.search_user_tasks(data=query)).items] == [assigned]
        with pytest.raises(errors.ForbiddenError):
            await rsj.get_user_task(other)
        await rsj.complete_user_task(assigned, data=completion(approved=False))
        assert (await rsj.get_user_task(assigned)).state.value == "COMPLETED"
