"""Starting cases and doing the clerks' steps, the way a counter system and Tasklist users do.

Cases start over the gateway (pyzeebe); the clerks' steps go through the REST API with the official
Camunda SDK. Nothing here depends on the embedded engine: it works the same against Camunda 8.
"""

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from camunda_orchestration_sdk import CamundaAsyncClient
from camunda_orchestration_sdk.models.process_instance_search_query import ProcessInstanceSearchQuery
from camunda_orchestration_sdk.models.user_task_completion_request import UserTaskCompletionRequest
from camunda_orchestration_sdk.models.user_task_search_query import UserTaskSearchQuery
from camunda_orchestration_sdk.models.variable_search_query import VariableSearchQuery
from camunda_orchestration_sdk.semantic_types import ProcessInstanceKey
from pyzeebe import ZeebeClient

from workers.catalog.models import Catalog

T = TypeVar("T")
POLL_S = 0.1


class CaseTimeoutError(TimeoutError):
    """A case did not reach the expected step in time."""


async def poll(probe: Callable[[], Awaitable[T | None]], within: float, what: str) -> T:
    """Ask ``probe`` until it answers (the REST API is eventually consistent on a real cluster)."""
    deadline = time.monotonic() + within
    while True:
        found = await probe()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise CaseTimeoutError(f"timed out after {within:.0f} s waiting for {what}")
        await asyncio.sleep(POLL_S)


async def start_case(
    zeebe: ZeebeClient,
    catalog: Catalog,
    application: dict[str, Any],
) -> int:
    """Start the process of the item's delegation mode with the application; the process instance key."""
    item = catalog.item(str(application["itemCode"]))
    process_id = catalog.mode(item.mode).bpmn_process_id
    response = await zeebe.run_process(
        process_id,
        {
            "application": application,
            "itemCode": item.code,
            "townCode": application["townCode"],
            "counter": application["counter"],
        },
    )
    return int(response.process_instance_key)


async def case_number(sdk: CamundaAsyncClient, process_instance_key: int, within: float = 30) -> str:
    """The 办件编号 ``case.register`` gave the case (it lives in the called intake instance)."""

    async def probe() -> str | None:
        children = await sdk.search_process_instances(
            data=ProcessInstanceSearchQuery.from_dict(
                {"filter": {"parentProcessInstanceKey": str(process_instance_key)}}
            )
        )
        keys = [str(process_instance_key), *(str(c.process_instance_key) for c in children.items)]
        for key in keys:
            found = await sdk.search_variables(
                data=VariableSearchQuery.from_dict(
                    {"filter": {"processInstanceKey": key, "name": "caseNumber"}}
                )
            )
            if found.items:
                value = json.loads(found.items[0].value)
                return str(value)
        return None

    return await poll(probe, within, "the case number")


async def open_task(
    sdk: CamundaAsyncClient, process_instance_key: int, element_id: str, within: float = 30
) -> Any:
    query = UserTaskSearchQuery.from_dict(
        {
            "filter": {
                "processInstanceKey": str(process_instance_key),
                "elementId": element_id,
                "state": "CREATED",
            }
        }
    )

    async def probe() -> Any:
        result = await sdk.search_user_tasks(data=query)
        return result.items[0] if result.items else None

    return await poll(probe, within, f"the user task '{element_id}'")


async def complete_task(sdk: CamundaAsyncClient, task: Any, variables: dict[str, Any]) -> None:
    await sdk.complete_user_task(
        task.user_task_key, data=UserTaskCompletionRequest.from_dict({"variables": variables})
    )


APPROVE = {"conclusion": "approve", "conclusionReason": "申请材料齐全，符合法定条件"}
OPINION = {"opinionDecision": "approve", "opinionText": "经实质性审核，申请材料真实、完整，符合条件。"}


async def approve_case(sdk: CamundaAsyncClient, process_instance_key: int, mode: str, counter: str) -> None:
    """Do every clerk's step of a case so that it is approved (the path depends on mode and counter)."""
    if counter == "district" or mode == "window-forwarding":
        await complete_task(sdk, await open_task(sdk, process_instance_key, "district_decision"), APPROVE)
    elif mode == "direct":
        await complete_task(sdk, await open_task(sdk, process_instance_key, "town_decision"), APPROVE)
    else:
        await complete_task(sdk, await open_task(sdk, process_instance_key, "town_review"), OPINION)
        await complete_task(
            sdk, await open_task(sdk, process_instance_key, "district_issue"), {"issueRemark": ""}
        )


async def finished(sdk: CamundaAsyncClient, process_instance_key: int, within: float = 60) -> str:
    """Wait until the case's process instance ended; its final state."""

    async def probe() -> str | None:
        instance = await sdk.get_process_instance(ProcessInstanceKey(str(process_instance_key)))
        state = str(instance.state.value)
        return None if state == "ACTIVE" else state

    return await poll(probe, within, "the case to finish")
