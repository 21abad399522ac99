"""A clerk's and an operator's walk through Camunda's REST API with nothing but the official SDK.

It deploys a small review process, starts a case for 西集镇, finds the waiting user task by its
candidate group, reads its form, completes it, pins the cluster clock forward to fire the publicity
timer, then finds the incident the missing archive process causes, deploys that process and resolves
the incident. It knows nothing of the engine behind the API: point ``CAMUNDA_REST_ADDRESS`` at the
embedded engine (started with ``--clock controlled``) or at a Camunda 8 cluster whose clock API is
enabled, and set ``CAMUNDA_AUTH_STRATEGY`` and credentials as that cluster needs.

    CAMUNDA_REST_ADDRESS=http://127.0.0.1:8080 CAMUNDA_AUTH_STRATEGY=NONE \\
        .venv/bin/python examples/clerk_walkthrough.py
"""

import asyncio
import sys
import time
from pathlib import Path

from camunda_orchestration_sdk import CamundaAsyncClient
from camunda_orchestration_sdk.models.clock_pin_request import ClockPinRequest
from camunda_orchestration_sdk.models.incident_search_query import IncidentSearchQuery
from camunda_orchestration_sdk.models.process_creation_by_id import ProcessCreationById
from camunda_orchestration_sdk.models.user_task_completion_request import UserTaskCompletionRequest
from camunda_orchestration_sdk.models.user_task_search_query import UserTaskSearchQuery
from camunda_orchestration_sdk.runtime.eventual import ConsistencyOptions

HERE = Path(__file__).parent / "walkthrough"
WAIT = ConsistencyOptions(wait_up_to_ms=20_000, poll_interval_ms=100)


def say(text: str) -> None:
    print(text, flush=True)


def in_state(state: str) -> ConsistencyOptions:
    """Poll until the returned process instance is in ``state`` (the API is eventually consistent)."""
    return ConsistencyOptions(
        wait_up_to_ms=20_000, poll_interval_ms=100, predicate=lambda instance: instance.state.value == state
    )


async def walkthrough() -> None:
    async with CamundaAsyncClient() as client:
        deployment = await client.deploy_resources_from_files(
            [HERE / "walkthrough-review.bpmn", HERE / "walkthrough-review-form.form"]
        )
        say(f"deployed: {deployment.deployment_key}")

        created = await client.create_process_instance(
            data=ProcessCreationById.from_dict(
                {"processDefinitionId": "walkthrough-review", "variables": {"townCode": "xiji"}}
            )
        )
        instance_key = created.process_instance_key
        say(f"case started: {instance_key}")

        tasks = await client.search_user_tasks(
            data=UserTaskSearchQuery.from_dict(
                {
                    "filter": {
                        "candidateGroup": "town:xiji",
                        "state": "CREATED",
                        "processInstanceKey": instance_key,
                    }
                }
            ),
            consistency=WAIT,
        )
        task = tasks.items[0]
        say(f"task found for town:xiji: {task.user_task_key} ({task.name})")

        form = await client.get_user_task_form(task.user_task_key)
        say(f"form: {form.form_id}")

        await client.complete_user_task(
            task.user_task_key,
            data=UserTaskCompletionRequest.from_dict(
                {"variables": {"approved": True, "opinion": "材料齐全"}}
            ),
        )
        say("task completed: approved")

        await client.pin_clock(data=ClockPinRequest(timestamp=int(time.time() * 1000) + 2 * 3_600_000))
        say("clock pinned two hours ahead: the publicity timer is due")

        incidents = await client.search_incidents(
            data=IncidentSearchQuery.from_dict(
                {"filter": {"processInstanceKey": instance_key, "state": "ACTIVE"}}
            ),
            consistency=WAIT,
        )
        incident = incidents.items[0]
        say(f"incident: {incident.error_type.value} at {incident.element_id}")

        await client.deploy_resources_from_files([HERE / "walkthrough-archive.bpmn"])
        await client.resolve_incident(incident.incident_key)
        say("archive process deployed, incident resolved")

        await client.get_process_instance(instance_key, consistency=in_state("COMPLETED"))
        await client.reset_clock()
        say("case completed")


if __name__ == "__main__":
    try:
        asyncio.run(walkthrough())
    except Exception as exc:  # noqa: BLE001 - a walkthrough reports and exits non-zero
        say(f"walkthrough failed: {exc!r}")
        sys.exit(1)
