"""The REST v2 calls behind ``shuangshi tasks|incidents|instances``, made only through the official SDK.

``camunda-orchestration-sdk`` reads its configuration from the environment (``CAMUNDA_REST_ADDRESS``,
``CAMUNDA_AUTH_STRATEGY``, ``CAMUNDA_BASIC_AUTH_USERNAME``/``PASSWORD``, ``CAMUNDA_CLIENT_ID``/``SECRET``,
``CAMUNDA_OAUTH_URL``, …); this module only sets the REST address it was given, so the commands work
unchanged against the embedded engine and a Camunda 8 cluster. Results come back as the API's JSON
shapes (camelCase, keys as strings); every failure becomes a :class:`RestCommandError` carrying the
exit code: 1 when the API answered and refused, 2 when it could not be reached or configured.

Importing the SDK takes about two seconds, so the command definitions import this module only when a
REST command runs.
"""

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Protocol, TypeVar

import httpx
from camunda_orchestration_sdk import CamundaAsyncClient, IncidentKey, UserTaskKey
from camunda_orchestration_sdk.errors import ApiError, MissingRequiredFieldError
from camunda_orchestration_sdk.models.cursor_based_forward_pagination import CursorBasedForwardPagination
from camunda_orchestration_sdk.models.incident_search_query import IncidentSearchQuery
from camunda_orchestration_sdk.models.incident_search_query_filter import IncidentSearchQueryFilter
from camunda_orchestration_sdk.models.incident_state_exact_match import IncidentStateExactMatch
from camunda_orchestration_sdk.models.process_instance_search_query import ProcessInstanceSearchQuery
from camunda_orchestration_sdk.models.process_instance_search_query_filter import (
    ProcessInstanceSearchQueryFilter,
)
from camunda_orchestration_sdk.models.process_instance_state_exact_match import (
    ProcessInstanceStateExactMatch,
)
from camunda_orchestration_sdk.models.user_task_completion_request import UserTaskCompletionRequest
from camunda_orchestration_sdk.models.user_task_completion_request_variables import (
    UserTaskCompletionRequestVariables,
)
from camunda_orchestration_sdk.models.user_task_search_query import UserTaskSearchQuery
from camunda_orchestration_sdk.models.user_task_search_query_filter import UserTaskSearchQueryFilter
from camunda_orchestration_sdk.models.user_task_state_exact_match import UserTaskStateExactMatch
from camunda_orchestration_sdk.semantic_types import EndCursor
from camunda_orchestration_sdk.types import UNSET, Unset

T = TypeVar("T")

# The fields of a user task the CLI shows. Variables are never among them; keeping an explicit list
# also keeps out whatever extra properties a server may add to the result.
USER_TASK_FIELDS = (
    "userTaskKey",
    "name",
    "state",
    "assignee",
    "candidateGroups",
    "candidateUsers",
    "elementId",
    "elementInstanceKey",
    "processDefinitionId",
    "processDefinitionKey",
    "processDefinitionVersion",
    "processInstanceKey",
    "processName",
    "formKey",
    "externalFormReference",
    "priority",
    "creationDate",
    "completionDate",
    "dueDate",
    "followUpDate",
    "tenantId",
    "tags",
)


class RestCommandError(Exception):
    """A REST command failed; ``exit_code`` is 1 when the API refused, 2 when it was not reachable."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


@dataclass(frozen=True)
class Connection:
    """Where the REST API is (``url``, as for ``CAMUNDA_REST_ADDRESS``) and how long a request may take."""

    url: str
    timeout: float = 30.0


@dataclass(frozen=True)
class Found:
    """Search results gathered over one or more pages: ``total`` is what the server counts."""

    items: list[dict[str, Any]]
    total: int
    total_is_lower_bound: bool = False


@dataclass(frozen=True)
class Paging:
    limit: int = 100
    page_size: int = 100


class _Item(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


class _PageInfo(Protocol):
    @property
    def total_items(self) -> int: ...
    @property
    def has_more_total_items(self) -> bool: ...
    @property
    def end_cursor(self) -> EndCursor | None: ...


class _SearchResult(Protocol):
    """What the SDK's search results have in common (each resource has its own model class)."""

    @property
    def items(self) -> Sequence[_Item]: ...
    @property
    def page(self) -> _PageInfo: ...


def describe_api_error(exc: ApiError) -> str:
    """One line from the problem detail of a refused request: status, title and detail."""
    title: str | None = getattr(exc.parsed, "title", None)
    detail: str | None = getattr(exc.parsed, "detail", None)
    if detail is None:
        try:
            body = json.loads(exc.content)
        except ValueError:
            body = None
        if isinstance(body, dict):
            title = title or body.get("title")
            detail = body.get("detail")
        if detail is None:
            detail = exc.content.decode(errors="replace").strip()[:300] or None
    try:
        phrase = HTTPStatus(exc.status_code).phrase
    except ValueError:
        phrase = "error"
    message = f"the API refused the request: {exc.status_code} {title or phrase}"
    if detail:
        message += f": {detail}"
    if exc.status_code == 401:
        message += (
            " (set CAMUNDA_AUTH_STRATEGY=BASIC with CAMUNDA_BASIC_AUTH_USERNAME and "
            "CAMUNDA_BASIC_AUTH_PASSWORD, or the OAuth variables, for a secured API)"
        )
    return message


def run(connection: Connection, action: Callable[[CamundaAsyncClient], Awaitable[T]]) -> T:
    """Run ``action`` with an SDK client for ``connection``; SDK and HTTP failures become RestCommandError."""
    return asyncio.run(_run(connection, action))


async def _run(connection: Connection, action: Callable[[CamundaAsyncClient], Awaitable[T]]) -> T:
    try:
        client = CamundaAsyncClient(
            configuration={"CAMUNDA_REST_ADDRESS": connection.url},
            timeout=httpx.Timeout(connection.timeout),
        )
    except ValueError as exc:  # pydantic's ValidationError is a ValueError too
        raise RestCommandError(f"the Camunda client configuration is not usable: {exc}", 2) from exc
    where = connection.url
    try:
        async with client:
            return await action(client)
    except ApiError as exc:
        raise RestCommandError(describe_api_error(exc), 1) from exc
    except httpx.TimeoutException as exc:
        raise RestCommandError(
            f"the REST API at {where} did not answer within {connection.timeout:g} s", 2
        ) from exc
    except httpx.TransportError as exc:
        reason = str(exc) or type(exc).__name__
        raise RestCommandError(
            f"cannot connect to the REST API at {where}: {reason} "
            "(is the engine running? set --rest-address or CAMUNDA_REST_ADDRESS)",
            2,
        ) from exc
    except httpx.HTTPStatusError as exc:  # the OAuth token endpoint refused the credentials
        raise RestCommandError(
            f"authentication failed: {exc.request.url} answered {exc.response.status_code}", 1
        ) from exc
    except MissingRequiredFieldError as exc:
        raise RestCommandError(f"unexpected answer from {where}: {exc}", 1) from exc
    except json.JSONDecodeError as exc:
        raise RestCommandError(
            f"the server at {where} did not answer with JSON; is it the Camunda REST API (…/v2)?", 1
        ) from exc


async def _collect(
    fetch: Callable[[CursorBasedForwardPagination], Awaitable[_SearchResult]], paging: Paging
) -> Found:
    """Follow ``endCursor`` from page to page until ``paging.limit`` items or the last page."""
    items: list[dict[str, Any]] = []
    total = 0
    lower_bound = False
    after: EndCursor | Unset = UNSET
    while len(items) < paging.limit:
        size = min(paging.page_size, paging.limit - len(items))
        result = await fetch(CursorBasedForwardPagination(after=after, limit=size))
        total = result.page.total_items
        lower_bound = bool(result.page.has_more_total_items)
        items.extend(item.to_dict() for item in result.items)
        if len(result.items) < size or not result.page.end_cursor:
            break
        after = result.page.end_cursor
    return Found(items[: paging.limit], total, lower_bound)


def _given(value: T | None) -> T | Unset:
    return UNSET if value is None else value


def search_user_tasks(
    *,
    group: str | None,
    assignee: str | None,
    state: str | None,
    process_instance_key: str | None,
    paging: Paging,
) -> Callable[[CamundaAsyncClient], Awaitable[Found]]:
    query_filter = UserTaskSearchQueryFilter(
        candidate_group=_given(group),
        assignee=_given(assignee),
        state=UNSET if state is None else UserTaskStateExactMatch(state),
        process_instance_key=_given(process_instance_key),
    )

    async def action(client: CamundaAsyncClient) -> Found:
        async def fetch(page: CursorBasedForwardPagination) -> _SearchResult:
            return await client.search_user_tasks(data=UserTaskSearchQuery(filter_=query_filter, page=page))

        found = await _collect(fetch, paging)
        metadata = [{name: item.get(name) for name in USER_TASK_FIELDS} for item in found.items]
        return Found(metadata, found.total, found.total_is_lower_bound)

    return action


def complete_user_task(
    key: str, variables: Mapping[str, Any], action_name: str | None
) -> Callable[[CamundaAsyncClient], Awaitable[None]]:
    request = UserTaskCompletionRequest(
        variables=UserTaskCompletionRequestVariables.from_dict(variables) if variables else UNSET,
        action=_given(action_name),
    )

    async def action(client: CamundaAsyncClient) -> None:
        await client.complete_user_task(UserTaskKey(key), data=request)

    return action


def search_incidents(
    *, process_instance_key: str | None, state: str | None, paging: Paging
) -> Callable[[CamundaAsyncClient], Awaitable[Found]]:
    query_filter = IncidentSearchQueryFilter(
        process_instance_key=_given(process_instance_key),
        state=UNSET if state is None else IncidentStateExactMatch(state),
    )

    async def action(client: CamundaAsyncClient) -> Found:
        async def fetch(page: CursorBasedForwardPagination) -> _SearchResult:
            return await client.search_incidents(data=IncidentSearchQuery(filter_=query_filter, page=page))

        return await _collect(fetch, paging)

    return action


def resolve_incident(key: str) -> Callable[[CamundaAsyncClient], Awaitable[None]]:
    async def action(client: CamundaAsyncClient) -> None:
        await client.resolve_incident(IncidentKey(key))

    return action


def search_process_instances(
    *, process_id: str | None, state: str | None, paging: Paging
) -> Callable[[CamundaAsyncClient], Awaitable[Found]]:
    query_filter = ProcessInstanceSearchQueryFilter(
        process_definition_id=_given(process_id),
        state=UNSET if state is None else ProcessInstanceStateExactMatch(state),
    )

    async def action(client: CamundaAsyncClient) -> Found:
        async def fetch(page: CursorBasedForwardPagination) -> _SearchResult:
            return await client.search_process_instances(
                data=ProcessInstanceSearchQuery(filter_=query_filter, page=page)
            )

        return await _collect(fetch, paging)

    return action
