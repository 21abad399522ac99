"""`shuangshi tasks|incidents|instances` as a user runs them: child processes talking REST through the SDK.

The engine runs in-process (the ``cluster`` fixtures) or as ``shuangshi engine`` in a child process; the
command line only gets ``CAMUNDA_REST_ADDRESS`` (and the SDK's credential variables), as it would for
a Camunda 8 cluster. Processes are deployed and started, and jobs failed, through pyzeebe; the tests
wait for the engine through the SDK directly (each command line run costs seconds of start-up).
"""

import asyncio
import json
import os
import signal
import sys
from collections.abc import Awaitable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from camunda_orchestration_sdk import CamundaAsyncClient
from camunda_orchestration_sdk.models.incident_result import IncidentResult
from camunda_orchestration_sdk.models.incident_search_query import IncidentSearchQuery
from camunda_orchestration_sdk.models.incident_search_query_filter import IncidentSearchQueryFilter
from camunda_orchestration_sdk.models.incident_state_exact_match import IncidentStateExactMatch
from camunda_orchestration_sdk.models.process_instance_search_query import ProcessInstanceSearchQuery
from camunda_orchestration_sdk.models.process_instance_search_query_filter import (
    ProcessInstanceSearchQueryFilter,
)
from camunda_orchestration_sdk.models.user_task_result import UserTaskResult
from camunda_orchestration_sdk.models.user_task_search_query import UserTaskSearchQuery
from camunda_orchestration_sdk.models.user_task_search_query_filter import UserTaskSearchQueryFilter
from pyzeebe.proto import gateway_pb2 as pb
from pyzeebe.proto.gateway_pb2_grpc import GatewayStub

from engine.rest.auth import hash_password
from shuangshi.rest_client import USER_TASK_FIELDS
from tests.engine.conftest import bpmn, chain, flow, service_task, wait_for
from tests.engine.rest.conftest import Cluster, sdk_client

pytestmark = pytest.mark.asyncio

REVIEW_FORM = json.dumps(
    {
        "id": "cli-review",
        "type": "default",
        "components": [
            {"type": "checkbox", "key": "approved", "label": "同意"},
            {"type": "textfield", "key": "note", "label": "意见"},
        ],
    },
    ensure_ascii=False,
)
# Personal data in process variables: the command line must never print it.
APPLICANT = {"applicantName": "张三丰", "mobile": "13800001234"}
MOBILE_MASKED = "138****1234"
UNKNOWN_KEY = "2251799813685000"


def user_task(task_id: str, name: str, groups: str, form_id: str | None = None) -> str:
    form = f'<zeebe:formDefinition formId="{form_id}" />' if form_id else ""
    return (
        f'<bpmn:userTask id="{task_id}" name="{name}"><bpmn:extensionElements><zeebe:userTask />{form}'
        f'<zeebe:assignmentDefinition candidateGroups="{groups}" /></bpmn:extensionElements></bpmn:userTask>'
    )


# Review by the town; only a boolean `approved = true` ends it, anything else goes to rework.
APPROVAL = bpmn(
    "cli-approval",
    '<bpmn:startEvent id="s" />'
    + user_task("review", "审核", "town:xiji", "cli-review")
    + '<bpmn:exclusiveGateway id="gw" default="f_rework" />'
    + user_task("rework", "补正", "town:xiji")
    + '<bpmn:endEvent id="done" /><bpmn:endEvent id="reworked" />'
    + chain("s", "review", "gw")
    + flow("f_approved", "gw", "done", "=approved = true")
    + flow("f_rework", "gw", "rework")
    + chain("rework", "reworked"),
)
OTHER = bpmn(
    "cli-other",
    '<bpmn:startEvent id="s" />' + user_task("check", "复核", "district:rsj") + '<bpmn:endEvent id="e" />'
    "" + chain("s", "check", "e"),
)
SERVICE = bpmn(
    "cli-service",
    '<bpmn:startEvent id="s" />'
    + service_task("charge", "cli.charge", retries=1)
    + '<bpmn:endEvent id="e" />'
    "" + chain("s", "charge", "e"),
)


@dataclass
class Ran:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        assert self.code == 0, self.stderr
        return json.loads(self.stdout)


async def shuangshi(rest_url: str, *args: str, **env: str) -> Ran:
    """Run ``python -m shuangshi ARGS`` with ``CAMUNDA_REST_ADDRESS=rest_url`` (plus ``env``)."""
    environment = {**os.environ, "CAMUNDA_REST_ADDRESS": rest_url, **env}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "shuangshi",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=environment,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return Ran(process.returncode, stdout.decode(), stderr.decode())


async def start(cluster: Cluster, process_id: str, variables: dict[str, Any] | None = None) -> str:
    response = await cluster.client.run_process(process_id, variables or {})
    return str(response.process_instance_key)


async def json_items(rest_url: str, *args: str, **env: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await shuangshi(rest_url, *args, "--json", **env)).json()
    return items


async def tasks_of(rest_url: str, instance: str, *args: str, **env: str) -> list[dict[str, Any]]:
    return await json_items(rest_url, "tasks", "list", "--process-instance", instance, *args, **env)


async def sdk_tasks(sdk: CamundaAsyncClient, instance: str) -> list[UserTaskResult]:
    query = UserTaskSearchQuery(filter_=UserTaskSearchQueryFilter(process_instance_key=instance))
    return list((await sdk.search_user_tasks(data=query)).items)


async def sdk_instance_in(sdk: CamundaAsyncClient, instance: str, state: str) -> bool:
    query = ProcessInstanceSearchQuery(
        filter_=ProcessInstanceSearchQueryFilter(process_instance_key=instance)
    )
    return [row.state.value for row in (await sdk.search_process_instances(data=query)).items] == [state]


async def sdk_incidents(sdk: CamundaAsyncClient, instance: str) -> list[IncidentResult]:
    query = IncidentSearchQuery(
        filter_=IncidentSearchQueryFilter(process_instance_key=instance, state=IncidentStateExactMatch.ACTIVE)
    )
    return list((await sdk.search_incidents(data=query)).items)


async def activate_one(stub: GatewayStub, job_type: str) -> pb.ActivatedJob:
    request = pb.ActivateJobsRequest(
        type=job_type, worker="cli-test", timeout=60_000, maxJobsToActivate=1, requestTimeout=5_000
    )
    jobs: list[pb.ActivatedJob] = [
        job async for response in stub.ActivateJobs(request) for job in response.jobs
    ]
    assert len(jobs) == 1
    job: pb.ActivatedJob = jobs[0]
    return job


async def test_list_a_waiting_task_by_group_and_complete_it(cluster: Cluster) -> None:
    """`tasks list --group` shows the town's task (no variable values); `tasks complete --var approved=true`
    hands a boolean to the gateway, so the instance ends instead of going to rework."""
    await cluster.deploy(cli_approval__bpmn=APPROVAL, cli_review__form=REVIEW_FORM, cli_other__bpmn=OTHER)
    instance = await start(cluster, "cli-approval", APPLICANT)
    other = await start(cluster, "cli-other", APPLICANT)
    (task,) = await wait_for(lambda: sdk_tasks(cluster.sdk, instance), within=30, message="the review task")
    (other_task,) = await wait_for(lambda: sdk_tasks(cluster.sdk, other), within=30, message="the other task")
    key = task.user_task_key

    table, listed = await asyncio.gather(
        shuangshi(cluster.rest_url, "tasks", "list", "--group", "town:xiji"),
        json_items(cluster.rest_url, "tasks", "list", "--group", "town:xiji", "--state", "CREATED"),
    )
    assert table.code == 0, table.stderr
    assert key in table.stdout
    assert "审核" in table.stdout
    assert "town:xiji" in table.stdout
    assert instance in table.stdout
    assert other_task.user_task_key not in table.stdout
    for value in (*APPLICANT.values(), MOBILE_MASKED):
        assert value not in table.stdout + table.stderr

    assert [t["userTaskKey"] for t in listed] == [key]
    (item,) = listed
    assert set(item) <= set(USER_TASK_FIELDS)
    assert "variables" not in item
    assert isinstance(item["userTaskKey"], str)
    assert item["processInstanceKey"] == instance
    assert item["candidateGroups"] == ["town:xiji"]
    assert item["state"] == "CREATED"
    assert item["name"] == "审核"
    assert item["formKey"] is not None
    assert all(value not in json.dumps(listed, ensure_ascii=False) for value in APPLICANT.values())

    done = await shuangshi(
        cluster.rest_url,
        "tasks",
        "complete",
        key,
        "--var",
        "approved=true",
        "--var",
        'note="同意"',
        "--action",
        "approve",
    )
    assert done.code == 0, done.stderr
    assert f"completed user task {key} with 2 variable(s): approved, note" in done.stdout

    await wait_for(
        lambda: sdk_instance_in(cluster.sdk, instance, "COMPLETED"), within=30, message="the instance to end"
    )
    (completed,) = await tasks_of(cluster.rest_url, instance, "--state", "COMPLETED")
    assert completed["userTaskKey"] == key


async def test_complete_with_a_json_vars_file_and_a_refusal(cluster: Cluster) -> None:
    """`--json-vars` feeds the completion (`--var` wins); completing it again is refused with exit code 1."""
    await cluster.deploy(cli_approval__bpmn=APPROVAL, cli_review__form=REVIEW_FORM)
    instance = await start(cluster, "cli-approval")
    (task,) = await wait_for(lambda: sdk_tasks(cluster.sdk, instance), within=30, message="the review task")
    path = cluster.workdir / "decision.json"
    path.write_text(json.dumps({"approved": False, "note": "材料齐全"}, ensure_ascii=False), encoding="utf-8")

    key = task.user_task_key
    done = await shuangshi(
        cluster.rest_url, "tasks", "complete", key, "--json-vars", str(path), "--var", "approved=true"
    )
    assert done.code == 0, done.stderr
    await wait_for(
        lambda: sdk_instance_in(cluster.sdk, instance, "COMPLETED"),
        within=30,
        message="the instance to end (approved from --var, over the file)",
    )

    again = await shuangshi(cluster.rest_url, "tasks", "complete", key)
    assert again.code == 1
    assert "the API refused the request: " in again.stderr
    assert "Traceback" not in again.stderr


async def test_tasks_list_pages_through_results_with_cursors(cluster: Cluster) -> None:
    """Small pages are followed with `after` cursors up to --limit; the table says how many there are."""
    await cluster.deploy(cli_other__bpmn=OTHER)
    instances = [await start(cluster, "cli-other") for _ in range(5)]
    for instance in instances:
        await wait_for(partial(sdk_tasks, cluster.sdk, instance), within=30, message="a task per instance")

    rows, first, limited = await asyncio.gather(
        json_items(cluster.rest_url, "tasks", "list", "--group", "district:rsj", "--page-size", "2"),
        json_items(
            cluster.rest_url, "tasks", "list", "--group", "district:rsj", "--page-size", "2", "--limit", "3"
        ),
        shuangshi(
            cluster.rest_url, "tasks", "list", "--group", "district:rsj", "--page-size", "2", "--limit", "3"
        ),
    )
    assert sorted(row["processInstanceKey"] for row in rows) == sorted(instances)
    assert len({row["userTaskKey"] for row in rows}) == 5
    assert [row["userTaskKey"] for row in first] == [row["userTaskKey"] for row in rows[:3]]
    assert limited.code == 0, limited.stderr
    assert sum(row["userTaskKey"] in limited.stdout for row in rows) == 3
    assert "3 user tasks of 5; raise --limit to see more" in limited.stderr


async def test_list_and_resolve_an_incident(cluster: Cluster) -> None:
    """A job failed with no retries shows as an incident (message masked); after raising the retries,
    `incidents resolve` clears it and the job can be worked again; an unknown key is refused."""
    await cluster.deploy(cli_service__bpmn=SERVICE)
    instance = await start(cluster, "cli-service")
    stub = GatewayStub(cluster.channel)
    job = await activate_one(stub, "cli.charge")
    await stub.FailJob(
        pb.FailJobRequest(jobKey=job.key, retries=0, errorMessage="支付接口超时, 联系 13800001234")
    )
    await wait_for(lambda: sdk_incidents(cluster.sdk, instance), within=30, message="the incident")

    listed, table, instances = await asyncio.gather(
        json_items(cluster.rest_url, "incidents", "list", "--process-instance", instance),
        shuangshi(cluster.rest_url, "incidents", "list", "--state", "ACTIVE"),
        json_items(cluster.rest_url, "instances", "list", "--process-id", "cli-service"),
    )
    (incident,) = listed
    key = incident["incidentKey"]
    assert isinstance(key, str)
    assert incident["state"] == "ACTIVE"
    assert incident["errorType"] == "JOB_NO_RETRIES"
    assert incident["jobKey"] == str(job.key)
    assert incident["processInstanceKey"] == instance
    assert incident["errorMessage"] == f"支付接口超时, 联系 {MOBILE_MASKED}"
    assert table.code == 0, table.stderr
    assert key in table.stdout
    assert "JOB_NO_RETRIES" in table.stdout
    assert MOBILE_MASKED in table.stdout
    assert "13800001234" not in table.stdout
    assert [(row["processInstanceKey"], row["hasIncident"]) for row in instances] == [(instance, True)]

    await stub.UpdateJobRetries(pb.UpdateJobRetriesRequest(jobKey=job.key, retries=1))
    resolved, unknown = await asyncio.gather(
        shuangshi(cluster.rest_url, "incidents", "resolve", key),
        shuangshi(cluster.rest_url, "incidents", "resolve", UNKNOWN_KEY),
    )
    assert resolved.code == 0, resolved.stderr
    assert f"resolved incident {key}" in resolved.stdout
    assert unknown.code == 1
    assert "the API refused the request: 404" in unknown.stderr
    assert UNKNOWN_KEY in unknown.stderr

    await wait_for(lambda: _no(sdk_incidents(cluster.sdk, instance)), within=30, message="the incident to go")
    again = await activate_one(stub, "cli.charge")
    assert again.key == job.key
    await stub.CompleteJob(pb.CompleteJobRequest(jobKey=again.key, variables="{}"))
    await wait_for(
        lambda: sdk_instance_in(cluster.sdk, instance, "COMPLETED"), within=30, message="the instance to end"
    )


async def _no(items: Awaitable[list[Any]]) -> bool:
    return not await items


async def test_instances_list_json_filters_by_process_and_state(cluster: Cluster) -> None:
    """`instances list --json`: keys as strings, only the asked process id and state; the table names them."""
    await cluster.deploy(cli_other__bpmn=OTHER, cli_service__bpmn=SERVICE)
    others = sorted([await start(cluster, "cli-other", APPLICANT) for _ in range(2)])
    service = await start(cluster, "cli-service")
    for instance in [*others, service]:
        await wait_for(
            partial(sdk_instance_in, cluster.sdk, instance, "ACTIVE"), within=30, message="instances"
        )

    rows, completed, table, none = await asyncio.gather(
        json_items(cluster.rest_url, "instances", "list", "--process-id", "cli-other", "--state", "ACTIVE"),
        json_items(
            cluster.rest_url, "instances", "list", "--process-id", "cli-other", "--state", "COMPLETED"
        ),
        shuangshi(cluster.rest_url, "instances", "list"),
        shuangshi(cluster.rest_url, "instances", "list", "--process-id", "no-such-process"),
    )
    assert sorted(row["processInstanceKey"] for row in rows) == others
    assert all(isinstance(row["processInstanceKey"], str) for row in rows)
    assert {row["processDefinitionId"] for row in rows} == {"cli-other"}
    assert {row["state"] for row in rows} == {"ACTIVE"}
    assert "variables" not in rows[0]
    assert completed == []
    assert table.code == 0, table.stderr
    assert all(key in table.stdout for key in [*others, service])
    assert "cli-service" in table.stdout
    assert "张三丰" not in table.stdout
    assert none.code == 0
    assert "no process instances match" in none.stdout


async def test_credentials_come_from_the_sdk_variables(secured_cluster: Cluster) -> None:
    """With `--auth basic`, CAMUNDA_AUTH_STRATEGY=BASIC and the user's credentials show that user's tasks;
    without credentials the refusal says how to pass them (exit code 1)."""
    cluster = secured_cluster
    await cluster.deploy(cli_approval__bpmn=APPROVAL, cli_review__form=REVIEW_FORM)
    instance = await start(cluster, "cli-approval")
    boss = sdk_client(cluster.rest_url, username="boss", password="boss-pass")  # noqa: S106 - the fixture's user
    try:
        await wait_for(lambda: sdk_tasks(boss, instance), within=30, message="the task")
    finally:
        await boss.aclose()
    xiji = {
        "CAMUNDA_AUTH_STRATEGY": "BASIC",
        "CAMUNDA_BASIC_AUTH_USERNAME": "xiji",
        "CAMUNDA_BASIC_AUTH_PASSWORD": "xiji-pass",
    }
    rsj = {**xiji, "CAMUNDA_BASIC_AUTH_USERNAME": "rsj", "CAMUNDA_BASIC_AUTH_PASSWORD": "rsj-pass"}

    mine, theirs, anonymous, wrong = await asyncio.gather(
        tasks_of(cluster.rest_url, instance, **xiji),
        tasks_of(cluster.rest_url, instance, **rsj),
        shuangshi(cluster.rest_url, "tasks", "list", CAMUNDA_AUTH_STRATEGY="NONE"),
        shuangshi(cluster.rest_url, "tasks", "list", **{**xiji, "CAMUNDA_BASIC_AUTH_PASSWORD": "nope"}),
    )
    (task,) = mine
    assert theirs == []
    assert anonymous.code == 1
    assert "401" in anonymous.stderr
    assert "CAMUNDA_AUTH_STRATEGY=BASIC" in anonymous.stderr
    assert wrong.code == 1
    assert "401" in wrong.stderr

    done = await shuangshi(
        cluster.rest_url, "tasks", "complete", task["userTaskKey"], "--var", "approved=true", **xiji
    )
    assert done.code == 0, done.stderr


async def test_engine_command_serves_rest_with_basic_auth(tmp_path: Path) -> None:
    """`shuangshi engine --auth basic --users-file` announces both addresses; the CLI reaches it with
    the SDK's Basic variables and is refused without them; SIGTERM stops it cleanly."""
    users = tmp_path / "users.yaml"
    users.write_text(
        f'users:\n  - {{username: xiji, passwordHash: "{hash_password("xiji-pass", iterations=1000)}", groups: ["town:xiji"]}}\n',
        encoding="utf-8",
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "shuangshi",
        "engine",
        "--grpc-address",
        "127.0.0.1:0",
        "--rest-address",
        "127.0.0.1:0",
        "--auth",
        "basic",
        "--users-file",
        str(users),
        "--data-dir",
        str(tmp_path / "engine"),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stderr is not None
        ready = json.loads(await asyncio.wait_for(process.stderr.readline(), 60))
        assert ready["event"] == "engine.ready"
        assert ready["auth"] == "basic"
        assert not ready["grpc_address"].endswith(":0")
        rest = ready["rest_address"]
        assert rest.startswith("127.0.0.1:")
        assert not rest.endswith(":0")

        credentials = {
            "CAMUNDA_AUTH_STRATEGY": "BASIC",
            "CAMUNDA_BASIC_AUTH_USERNAME": "xiji",
            "CAMUNDA_BASIC_AUTH_PASSWORD": "xiji-pass",
        }
        listed = await shuangshi(rest, "tasks", "list", **credentials)
        assert listed.code == 0, listed.stderr
        assert "no user tasks match" in listed.stdout
        refused = await shuangshi(rest, "incidents", "list", CAMUNDA_AUTH_STRATEGY="NONE")
        assert refused.code == 1
        assert "401" in refused.stderr

        process.send_signal(signal.SIGTERM)
        remaining = (await asyncio.wait_for(process.stderr.read(), 30)).decode()
        assert await asyncio.wait_for(process.wait(), 30) == 0
        events = [json.loads(line)["event"] for line in remaining.splitlines() if line.startswith("{")]
        assert events[-1] == "engine.stopped"
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
