"""Conformance: the job lifecycle over raw gateway RPCs — activation, time-outs, retries, incidents."""

import json
from typing import Any

import grpc
import pytest
from pyzeebe.proto import gateway_pb2 as pb
from pyzeebe.proto.gateway_pb2_grpc import GatewayStub

from tests.engine.conftest import Target, bpmn, chain, service_task, wait_for

pytestmark = pytest.mark.asyncio

ONE_TASK = bpmn(
    "one-task",
    '<bpmn:startEvent id="s" />' + service_task("t", "job.work", retries=2) + '<bpmn:endEvent id="e" />'
    "" + chain("s", "t", "e"),
)


async def activate(stub: GatewayStub, job_type: str = "job.work", **options: Any) -> list[pb.ActivatedJob]:
    request = pb.ActivateJobsRequest(
        type=job_type,
        worker=options.pop("worker", "tester"),
        timeout=options.pop("timeout", 60_000),
        maxJobsToActivate=options.pop("max_jobs", 10),
        requestTimeout=options.pop("request_timeout", 5_000),
        fetchVariable=options.pop("fetch", []),
    )
    jobs: list[pb.ActivatedJob] = []
    async for response in stub.ActivateJobs(request):
        jobs.extend(response.jobs)
    return jobs


async def start(zeebe: Target, variables: dict[str, Any] | None = None) -> tuple[GatewayStub, int]:
    await zeebe.deploy(one__bpmn=ONE_TASK)
    response = await zeebe.client.run_process("one-task", variables or {"n": 1})
    return GatewayStub(zeebe.channel), response.process_instance_key


async def test_activation_hands_out_job_with_its_context(zeebe: Target) -> None:
    """An activated job carries its keys, worker, retries, deadline and the fetched variables only."""
    stub, pi = await start(zeebe, {"n": 1, "other": "x"})
    jobs = await activate(stub, fetch=["n"])
    assert len(jobs) == 1
    job = jobs[0]
    assert job.processInstanceKey == pi
    assert job.bpmnProcessId == "one-task"
    assert job.elementId == "t"
    assert job.worker == "tester"
    assert job.retries == 2
    assert job.deadline > 0
    assert json.loads(job.variables) == {"n": 1}


async def test_long_poll_answers_when_a_job_arrives(zeebe: Target) -> None:
    """A parked ActivateJobs request returns as soon as a job of its type is created."""
    await zeebe.deploy(one__bpmn=ONE_TASK)
    stub = GatewayStub(zeebe.channel)
    import asyncio  # noqa: PLC0415 - only this test needs a concurrent task

    waiting = asyncio.create_task(activate(stub, request_timeout=20_000))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    await zeebe.client.run_process("one-task", {})
    jobs = await asyncio.wait_for(waiting, 10)
    assert len(jobs) == 1


async def test_activation_without_jobs_returns_empty_after_request_timeout(zeebe: Target) -> None:
    """With nothing to do, a long poll ends empty after its requestTimeout."""
    stub = GatewayStub(zeebe.channel)
    jobs = await activate(stub, "nobody.home", request_timeout=200)
    assert jobs == []


async def test_completing_twice_answers_not_found(zeebe: Target) -> None:
    """A completed job is gone: completing it again is NOT_FOUND."""
    stub, _ = await start(zeebe)
    (job,) = await activate(stub)
    await stub.CompleteJob(pb.CompleteJobRequest(jobKey=job.key, variables='{"done": true}'))
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.CompleteJob(pb.CompleteJobRequest(jobKey=job.key))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    assert str(job.key) in (info.value.details() or "")


async def test_variables_must_be_a_json_object(zeebe: Target) -> None:
    """Completing with a JSON array is INVALID_ARGUMENT naming the variables field."""
    stub, _ = await start(zeebe)
    (job,) = await activate(stub)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.CompleteJob(pb.CompleteJobRequest(jobKey=job.key, variables="[1, 2]"))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "variables" in (info.value.details() or "")


async def test_timed_out_job_is_reactivated_with_the_same_key(zeebe: Target) -> None:
    """After its activation timeout the job can be activated again, with the same key."""
    stub, _ = await start(zeebe)
    (first,) = await activate(stub, timeout=1_000)
    assert await activate(stub, request_timeout=100) == []
    zeebe.advance_clock(1_500)
    again = await wait_for(lambda: activate(stub, request_timeout=500), message="the job to time out")
    assert [j.key for j in again] == [first.key]


async def test_update_job_timeout_extends_the_deadline(zeebe: Target) -> None:
    """UpdateJobTimeout moves the deadline so the job does not time out at the old one."""
    stub, _ = await start(zeebe)
    (job,) = await activate(stub, timeout=1_000)
    await stub.UpdateJobTimeout(pb.UpdateJobTimeoutRequest(jobKey=job.key, timeout=60_000))
    zeebe.advance_clock(2_000)
    assert await activate(stub, request_timeout=200) == []


async def test_fail_with_retries_and_back_off(zeebe: Target) -> None:
    """A failed job with retries left comes back only after its back-off, with the new retries."""
    stub, _ = await start(zeebe)
    (job,) = await activate(stub)
    await stub.FailJob(
        pb.FailJobRequest(jobKey=job.key, retries=1, errorMessage="db down", retryBackOff=30_000)
    )
    assert await activate(stub, request_timeout=100) == []
    zeebe.advance_clock(31_000)
    (again,) = await wait_for(lambda: activate(stub, request_timeout=500), message="back-off to elapse")
    assert again.key == job.key
    assert again.retries == 1


async def test_no_retries_raise_an_incident_that_resolves(zeebe: Target) -> None:
    """Failing with 0 retries makes an incident; retries + ResolveIncident make the job active again."""
    server = zeebe.require_embedded("reads incidents from the engine state")
    stub, pi = await start(zeebe)
    (job,) = await activate(stub)
    await stub.FailJob(pb.FailJobRequest(jobKey=job.key, retries=0, errorMessage="boom"))
    incidents = [i for i in server.engine.processor.state.incidents.values() if i.process_instance_key == pi]
    assert len(incidents) == 1
    incident = incidents[0]
    assert incident.error_type == "JOB_NO_RETRIES"
    assert incident.error_message == "boom"
    assert incident.job_key == job.key
    assert server.engine.processor.state.instances[pi].has_incident
    assert await activate(stub, request_timeout=100) == []
    await stub.UpdateJobRetries(pb.UpdateJobRetriesRequest(jobKey=job.key, retries=3))
    await stub.ResolveIncident(pb.ResolveIncidentRequest(incidentKey=incident.key))
    (again,) = await activate(stub)
    assert again.key == job.key
    assert again.retries == 3
    assert not server.engine.processor.state.instances[pi].has_incident


async def test_resolving_an_unknown_incident_is_not_found(zeebe: Target) -> None:
    """ResolveIncident with a key that does not exist answers NOT_FOUND."""
    stub = GatewayStub(zeebe.channel)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.ResolveIncident(pb.ResolveIncidentRequest(incidentKey=2251799813685000))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND


async def test_cancel_terminates_the_instance_and_its_job(zeebe: Target) -> None:
    """Cancelling an instance removes its jobs; cancelling again is NOT_FOUND."""
    stub, pi = await start(zeebe)
    (job,) = await activate(stub)
    await zeebe.client.cancel_process_instance(pi)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.CompleteJob(pb.CompleteJobRequest(jobKey=job.key))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as again:
        await stub.CancelProcessInstance(pb.CancelProcessInstanceRequest(processInstanceKey=pi))
    assert again.value.code() == grpc.StatusCode.NOT_FOUND


async def test_unimplemented_rpc_names_itself(zeebe: Target) -> None:
    """An RPC outside the subset answers UNIMPLEMENTED with its name."""
    if not zeebe.embedded:
        pytest.skip("a real gateway implements BroadcastSignal")
    stub = GatewayStub(zeebe.channel)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.BroadcastSignal(pb.BroadcastSignalRequest(signalName="x"))
    assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert "BroadcastSignal" in (info.value.details() or "")


async def test_health_service_reports_gateway_serving(zeebe: Target) -> None:
    """The standard gRPC health service says gateway_protocol.Gateway is SERVING."""
    from grpc_health.v1 import health_pb2, health_pb2_grpc  # noqa: PLC0415

    health = health_pb2_grpc.HealthStub(zeebe.channel)
    response = await health.Check(health_pb2.HealthCheckRequest(service="gateway_protocol.Gateway"))
    assert response.status == health_pb2.HealthCheckResponse.SERVING


async def test_stream_activated_jobs_pushes_new_jobs(zeebe: Target) -> None:
    """A job stream receives a job created after the stream was opened."""
    await zeebe.deploy(one__bpmn=ONE_TASK)
    stub = GatewayStub(zeebe.channel)
    stream = stub.StreamActivatedJobs(
        pb.StreamActivatedJobsRequest(type="job.work", worker="streamer", timeout=60_000)
    )
    import asyncio  # noqa: PLC0415 - only these tests need concurrency

    reader = asyncio.create_task(anext(aiter(stream)))
    await asyncio.sleep(0.05)
    response = await zeebe.client.run_process("one-task", {"n": 7})
    job = await asyncio.wait_for(reader, 10)
    stream.cancel()
    assert job.processInstanceKey == response.process_instance_key
    assert job.worker == "streamer"
    assert json.loads(job.variables) == {"n": 7}


async def test_with_result_times_out_on_a_waiting_instance(zeebe: Target) -> None:
    """CreateProcessInstanceWithResult answers DEADLINE_EXCEEDED when the instance does not finish in time."""
    await zeebe.deploy(one__bpmn=ONE_TASK)
    stub = GatewayStub(zeebe.channel)
    request = pb.CreateProcessInstanceWithResultRequest(
        request=pb.CreateProcessInstanceRequest(bpmnProcessId="one-task", version=-1, variables="{}"),
        requestTimeout=300,
    )
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.CreateProcessInstanceWithResult(request)
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
