"""Zeebe's gateway gRPC protocol, served on the stubs generated inside pyzeebe (``pyzeebe.proto``).

Each RPC validates its request, hands one command to the engine's writer and maps the outcome to
the response message, or a rejection to the gRPC status code a Zeebe gateway would return.
"""

import json
from collections.abc import AsyncIterator
from typing import Any, NoReturn

import grpc
from pyzeebe.proto import gateway_pb2 as pb
from pyzeebe.proto.gateway_pb2_grpc import GatewayServicer

from engine import __version__
from engine.processor import ActivatedJob, Rejection, RejectionType, parse_variables
from engine.runtime import Engine

_STATUS = {
    RejectionType.NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    RejectionType.INVALID_ARGUMENT: grpc.StatusCode.INVALID_ARGUMENT,
    RejectionType.INVALID_STATE: grpc.StatusCode.FAILED_PRECONDITION,
    RejectionType.ALREADY_EXISTS: grpc.StatusCode.ALREADY_EXISTS,
    RejectionType.FORBIDDEN: grpc.StatusCode.PERMISSION_DENIED,
}

_COMMAND_NAMES = {
    "DeployResource": "CREATE",
    "CreateProcessInstance": "CREATE",
    "CreateProcessInstanceWithResult": "CREATE_WITH_AWAITING_RESULT",
    "CancelProcessInstance": "CANCEL",
    "ActivateJobs": "ACTIVATE",
    "StreamActivatedJobs": "ACTIVATE",
    "CompleteJob": "COMPLETE",
    "FailJob": "FAIL",
    "ThrowError": "THROW_ERROR",
    "UpdateJobRetries": "UPDATE_RETRIES",
    "UpdateJobTimeout": "UPDATE_TIMEOUT",
    "PublishMessage": "PUBLISH",
    "SetVariables": "UPDATE",
    "ResolveIncident": "RESOLVE",
}


async def _reject(context: grpc.aio.ServicerContext[Any, Any], rpc: str, rejection: Rejection) -> NoReturn:
    command = _COMMAND_NAMES.get(rpc, rpc.upper())
    await context.abort(
        _STATUS[rejection.type],
        f"Command '{command}' rejected with code '{rejection.type.value}': {rejection.message}",
    )
    raise AssertionError("unreachable")  # pragma: no cover - abort raises


def _activated(item: ActivatedJob) -> pb.ActivatedJob:
    job = item.job
    return pb.ActivatedJob(
        key=job.key,
        type=job.type,
        processInstanceKey=job.process_instance_key,
        bpmnProcessId=job.bpmn_process_id,
        processDefinitionVersion=job.process_definition_version,
        processDefinitionKey=job.process_definition_key,
        elementId=job.element_id,
        elementInstanceKey=job.element_instance_key,
        customHeaders=json.dumps(job.custom_headers, ensure_ascii=False),
        worker=job.worker,
        retries=job.retries,
        deadline=job.deadline_ms,
        variables=json.dumps(item.variables, ensure_ascii=False),
        tenantId="<default>",
    )


class GatewayService(GatewayServicer):
    """The gateway RPCs the embedded engine implements; the rest answer UNIMPLEMENTED."""

    def __init__(self, engine: Engine, host: str, port: int) -> None:
        self.engine = engine
        self.host = host
        self.port = port

    async def Topology(self, request: pb.TopologyRequest, context: Any) -> pb.TopologyResponse:  # noqa: ARG002 - gRPC names
        partition = pb.Partition(partitionId=1, role=pb.Partition.LEADER, health=pb.Partition.HEALTHY)
        broker = pb.BrokerInfo(
            nodeId=0, host=self.host, port=self.port, partitions=[partition], version=__version__
        )
        return pb.TopologyResponse(
            brokers=[broker],
            clusterSize=1,
            partitionsCount=1,
            replicationFactor=1,
            gatewayVersion=__version__,
        )

    async def DeployResource(
        self, request: pb.DeployResourceRequest, context: Any
    ) -> pb.DeployResourceResponse:
        resources = [(r.name, bytes(r.content)) for r in request.resources]
        try:
            result = await self.engine.execute(lambda: self.engine.processor.deploy(resources))
        except Rejection as rejection:
            await _reject(context, "DeployResource", rejection)
        deployments = [
            pb.Deployment(
                process=pb.ProcessMetadata(
                    bpmnProcessId=p.bpmn_process_id,
                    version=p.version,
                    processDefinitionKey=p.key,
                    resourceName=p.resource_name,
                    tenantId="<default>",
                )
            )
            for p in result.processes
        ]
        deployments += [
            pb.Deployment(
                form=pb.FormMetadata(
                    formId=f.form_id,
                    version=f.version,
                    formKey=f.key,
                    resourceName=f.resource_name,
                    tenantId="<default>",
                )
            )
            for f in result.forms
        ]
        return pb.DeployResourceResponse(key=result.key, deployments=deployments, tenantId="<default>")

    async def CreateProcessInstance(
        self, request: pb.CreateProcessInstanceRequest, context: Any
    ) -> pb.CreateProcessInstanceResponse:
        if request.startInstructions:
            await _reject(
                context,
                "CreateProcessInstance",
                Rejection(
                    RejectionType.INVALID_ARGUMENT,
                    "Property 'startInstructions' is not supported by the embedded engine",
                ),
            )
        try:
            variables = parse_variables(request.variables)
            info = await self.engine.execute(
                lambda: self.engine.processor.create_instance(
                    request.bpmnProcessId, request.version, request.processDefinitionKey, variables
                )
            )
        except Rejection as rejection:
            await _reject(context, "CreateProcessInstance", rejection)
        return pb.CreateProcessInstanceResponse(
            processDefinitionKey=info.process_definition_key,
            bpmnProcessId=info.bpmn_process_id,
            version=info.version,
            processInstanceKey=info.key,
            tenantId="<default>",
        )

    async def CreateProcessInstanceWithResult(
        self, request: pb.CreateProcessInstanceWithResultRequest, context: Any
    ) -> pb.CreateProcessInstanceWithResultResponse:
        inner = request.request
        try:
            variables = parse_variables(inner.variables)
            info, result = await self.engine.create_instance_with_result(
                inner.bpmnProcessId,
                inner.version,
                inner.processDefinitionKey,
                variables,
                request.requestTimeout,
            )
        except Rejection as rejection:
            await _reject(context, "CreateProcessInstanceWithResult", rejection)
        except TimeoutError:
            await context.abort(
                grpc.StatusCode.DEADLINE_EXCEEDED,
                f"Expected the process instance of '{inner.bpmnProcessId}' to complete within "
                f"{request.requestTimeout} ms, but it did not",
            )
        if result.state != "COMPLETED":
            await context.abort(
                grpc.StatusCode.ABORTED,
                f"Expected to receive the result of process instance '{result.process_instance_key}', "
                f"but it was {result.state.lower()}",
            )
        out = result.variables
        if request.fetchVariables:
            out = {name: out[name] for name in request.fetchVariables if name in out}
        return pb.CreateProcessInstanceWithResultResponse(
            processDefinitionKey=info.process_definition_key,
            bpmnProcessId=info.bpmn_process_id,
            version=info.version,
            processInstanceKey=info.key,
            variables=json.dumps(out, ensure_ascii=False),
            tenantId="<default>",
        )

    async def CancelProcessInstance(
        self, request: pb.CancelProcessInstanceRequest, context: Any
    ) -> pb.CancelProcessInstanceResponse:
        try:
            await self.engine.execute(
                lambda: self.engine.processor.cancel_instance(request.processInstanceKey)
            )
        except Rejection as rejection:
            await _reject(context, "CancelProcessInstance", rejection)
        return pb.CancelProcessInstanceResponse()

    async def ActivateJobs(
        self, request: pb.ActivateJobsRequest, context: Any
    ) -> AsyncIterator[pb.ActivateJobsResponse]:
        try:
            jobs = await self.engine.activate_jobs(
                request.type,
                request.worker,
                request.timeout,
                request.maxJobsToActivate,
                list(request.fetchVariable),
                request.requestTimeout,
            )
        except Rejection as rejection:
            await _reject(context, "ActivateJobs", rejection)
        yield pb.ActivateJobsResponse(jobs=[_activated(j) for j in jobs])

    async def StreamActivatedJobs(
        self, request: pb.StreamActivatedJobsRequest, context: Any
    ) -> AsyncIterator[pb.ActivatedJob]:
        if not request.type:
            await _reject(
                context,
                "StreamActivatedJobs",
                Rejection(RejectionType.INVALID_ARGUMENT, "Expected 'type' to be a non-empty job type"),
            )
        timeout = request.timeout if request.timeout > 0 else 300_000
        try:
            async for job in self.engine.stream_jobs(
                request.type, request.worker, timeout, list(request.fetchVariable)
            ):
                yield _activated(job)
        except Rejection as rejection:
            await _reject(context, "StreamActivatedJobs", rejection)

    async def CompleteJob(self, request: pb.CompleteJobRequest, context: Any) -> pb.CompleteJobResponse:
        try:
            variables = parse_variables(request.variables)
            await self.engine.execute(lambda: self.engine.processor.complete_job(request.jobKey, variables))
        except Rejection as rejection:
            await _reject(context, "CompleteJob", rejection)
        return pb.CompleteJobResponse()

    async def FailJob(self, request: pb.FailJobRequest, context: Any) -> pb.FailJobResponse:
        try:
            variables = parse_variables(request.variables)
            await self.engine.execute(
                lambda: self.engine.processor.fail_job(
                    request.jobKey, request.retries, request.errorMessage, request.retryBackOff, variables
                )
            )
        except Rejection as rejection:
            await _reject(context, "FailJob", rejection)
        return pb.FailJobResponse()

    async def ThrowError(self, request: pb.ThrowErrorRequest, context: Any) -> pb.ThrowErrorResponse:
        try:
            variables = parse_variables(request.variables)
            await self.engine.execute(
                lambda: self.engine.processor.throw_error(
                    request.jobKey, request.errorCode, request.errorMessage, variables
                )
            )
        except Rejection as rejection:
            await _reject(context, "ThrowError", rejection)
        return pb.ThrowErrorResponse()

    async def UpdateJobRetries(
        self, request: pb.UpdateJobRetriesRequest, context: Any
    ) -> pb.UpdateJobRetriesResponse:
        try:
            await self.engine.execute(
                lambda: self.engine.processor.update_job_retries(request.jobKey, request.retries)
            )
        except Rejection as rejection:
            await _reject(context, "UpdateJobRetries", rejection)
        return pb.UpdateJobRetriesResponse()

    async def UpdateJobTimeout(
        self, request: pb.UpdateJobTimeoutRequest, context: Any
    ) -> pb.UpdateJobTimeoutResponse:
        try:
            await self.engine.execute(
                lambda: self.engine.processor.update_job_timeout(request.jobKey, request.timeout)
            )
        except Rejection as rejection:
            await _reject(context, "UpdateJobTimeout", rejection)
        return pb.UpdateJobTimeoutResponse()

    async def PublishMessage(
        self, request: pb.PublishMessageRequest, context: Any
    ) -> pb.PublishMessageResponse:
        try:
            variables = parse_variables(request.variables)
            key = await self.engine.execute(
                lambda: self.engine.processor.publish_message(
                    request.name, request.correlationKey, request.timeToLive, request.messageId, variables
                )
            )
        except Rejection as rejection:
            await _reject(context, "PublishMessage", rejection)
        return pb.PublishMessageResponse(key=key, tenantId="<default>")

    async def SetVariables(self, request: pb.SetVariablesRequest, context: Any) -> pb.SetVariablesResponse:
        try:
            variables = parse_variables(request.variables)
            key = await self.engine.execute(
                lambda: self.engine.processor.set_variables(
                    request.elementInstanceKey, variables, local=request.local
                )
            )
        except Rejection as rejection:
            await _reject(context, "SetVariables", rejection)
        return pb.SetVariablesResponse(key=key)

    async def ResolveIncident(
        self, request: pb.ResolveIncidentRequest, context: Any
    ) -> pb.ResolveIncidentResponse:
        try:
            await self.engine.execute(lambda: self.engine.processor.resolve_incident(request.incidentKey))
        except Rejection as rejection:
            await _reject(context, "ResolveIncident", rejection)
        return pb.ResolveIncidentResponse()

    async def _unimplemented(self, name: str, context: Any) -> NoReturn:
        await context.abort(
            grpc.StatusCode.UNIMPLEMENTED, f"The embedded engine does not implement the gateway RPC '{name}'"
        )
        raise AssertionError("unreachable")  # pragma: no cover - abort raises

    async def BroadcastSignal(self, request: Any, context: Any) -> NoReturn:  # noqa: ARG002
        await self._unimplemented("BroadcastSignal", context)

    async def DeleteResource(self, request: Any, context: Any) -> NoReturn:  # noqa: ARG002
        await self._unimplemented("DeleteResource", context)

    async def DeployProcess(self, request: Any, context: Any) -> NoReturn:  # noqa: ARG002
        await self._unimplemented("DeployProcess", context)

    async def EvaluateDecision(self, request: Any, context: Any) -> NoReturn:  # noqa: ARG002
        await self._unimplemented("EvaluateDecision", context)

    async def MigrateProcessInstance(self, request: Any, context: Any) -> NoReturn:  # noqa: ARG002
        await self._unimplemented("MigrateProcessInstance", context)

    async def ModifyProcessInstance(self, request: Any, context: Any) -> NoReturn:  # noqa: ARG002
        await self._unimplemented("ModifyProcessInstance", context)
