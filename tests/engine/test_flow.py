"""Conformance: process flow through pyzeebe — tasks, variables, gateways, subprocesses, call activities."""

import asyncio
from typing import Any

import pytest
from pyzeebe import Job
from pyzeebe.errors import BusinessError, ProcessDefinitionNotFoundError, ProcessInvalidError

from tests.engine.conftest import Target, bpmn, chain, flow, service_task, wait_for

pytestmark = pytest.mark.asyncio


async def test_topology_reports_one_healthy_partition(zeebe: Target) -> None:
    """Topology answers with at least one broker leading a healthy partition."""
    topology = await zeebe.client.topology()
    assert topology.cluster_size >= 1
    assert topology.brokers
    assert topology.brokers[0].partitions


async def test_deploy_versions_by_content(zeebe: Target) -> None:
    """The same content keeps its version; changed content gets the next version."""
    first = bpmn("versioned", '<bpmn:startEvent id="s" /><bpmn:endEvent id="e" />' + chain("s", "e"))
    changed = bpmn("versioned", '<bpmn:startEvent id="s" /><bpmn:endEvent id="e2" />' + chain("s", "e2"))
    one = await zeebe.deploy(versioned__bpmn=first)
    again = await zeebe.deploy(versioned__bpmn=first)
    two = await zeebe.deploy(versioned__bpmn=changed)
    assert one.deployments[0].version == again.deployments[0].version
    assert one.deployments[0].process_definition_key == again.deployments[0].process_definition_key
    assert two.deployments[0].version == one.deployments[0].version + 1


async def test_unsupported_element_is_rejected_with_its_id(zeebe: Target) -> None:
    """Deploying a construct outside the subset fails and names the element."""
    if not zeebe.embedded:
        pytest.skip("a real Zeebe supports complex gateways; this checks the embedded subset")
    xml = bpmn(
        "unsupported",
        '<bpmn:startEvent id="s" /><bpmn:complexGateway id="cx" /><bpmn:endEvent id="e" />'
        + chain("s", "cx", "e"),
    )
    with pytest.raises(ProcessInvalidError) as info:
        await zeebe.deploy(unsupported__bpmn=xml)
    assert "cx" in str(info.value.__cause__)


async def test_unknown_process_is_not_found(zeebe: Target) -> None:
    """Creating an instance of a process that was never deployed answers NOT_FOUND."""
    with pytest.raises(ProcessDefinitionNotFoundError):
        await zeebe.client.run_process("never-deployed")


async def test_service_tasks_pass_variables_and_headers(zeebe: Target) -> None:
    """Job variables merge into the instance; the next job sees them; headers reach the worker."""
    headers = '<zeebe:taskHeaders><zeebe:header key="template" value="accepted" /></zeebe:taskHeaders>'
    xml = bpmn(
        "two-steps",
        '<bpmn:startEvent id="s" />'
        + service_task("a", "step.a", headers)
        + service_task("b", "step.b")
        + '<bpmn:endEvent id="e" />'
        + chain("s", "a", "b", "e"),
    )
    await zeebe.deploy(two__bpmn=xml)
    seen: dict[str, Any] = {}

    async def step_a(job: Job, amount: int) -> dict[str, Any]:
        seen["headers"] = dict(job.custom_headers)
        return {"doubled": amount * 2}

    async def step_b(doubled: int, amount: int) -> dict[str, Any]:
        return {"total": doubled + amount}

    zeebe.worker(step__a=step_a, step__b=step_b)
    result = await zeebe.client.run_process_with_result("two-steps", {"amount": 21}, timeout=10_000)
    assert result.variables == {"amount": 21, "doubled": 42, "total": 63}
    assert seen["headers"] == {"template": "accepted"}


async def test_with_result_fetches_only_named_variables(zeebe: Target) -> None:
    """CreateProcessInstanceWithResult returns only fetchVariables when given."""
    xml = bpmn("plain", '<bpmn:startEvent id="s" /><bpmn:endEvent id="e" />' + chain("s", "e"))
    await zeebe.deploy(plain__bpmn=xml)
    result = await zeebe.client.run_process_with_result(
        "plain", {"a": 1, "b": 2}, timeout=10_000, variables_to_fetch=["b"]
    )
    assert result.variables == {"b": 2}


async def test_io_mappings_make_variables_local(zeebe: Target) -> None:
    """Input mappings are local to the task; output mappings decide what reaches the process."""
    io = (
        '<zeebe:ioMapping><zeebe:input source="=order.amount" target="amount" />'
        '<zeebe:output source="=result * 10" target="scaled" /></zeebe:ioMapping>'
    )
    xml = bpmn(
        "mapped",
        '<bpmn:startEvent id="s" />' + service_task("t", "mapped.work", io) + '<bpmn:endEvent id="e" />'
        "" + chain("s", "t", "e"),
    )
    await zeebe.deploy(mapped__bpmn=xml)

    async def work(amount: int) -> dict[str, Any]:
        return {"result": amount + 1}

    zeebe.worker(mapped__work=work)
    result = await zeebe.client.run_process_with_result("mapped", {"order": {"amount": 4}}, timeout=10_000)
    assert result.variables == {"order": {"amount": 4}, "scaled": 50}


async def test_exclusive_gateway_routes_on_conditions_and_default(zeebe: Target) -> None:
    """The first true condition wins; with none true the default flow is taken."""
    xml = bpmn(
        "route",
        '<bpmn:startEvent id="s" /><bpmn:exclusiveGateway id="gw" default="f_low" />'
        '<bpmn:endEvent id="high" /><bpmn:endEvent id="low" />'
        + service_task("mark_high", "route.high")
        + flow("f_s", "s", "gw")
        + flow("f_high", "gw", "mark_high", "=amount &gt; 100")
        + flow("f_mh", "mark_high", "high")
        + flow("f_low", "gw", "low"),
    )
    await zeebe.deploy(route__bpmn=xml)

    async def high() -> dict[str, Any]:
        return {"route": "high"}

    zeebe.worker(route__high=high)
    big = await zeebe.client.run_process_with_result("route", {"amount": 500}, timeout=10_000)
    small = await zeebe.client.run_process_with_result("route", {"amount": 5}, timeout=10_000)
    assert big.variables["route"] == "high"
    assert "route" not in small.variables


async def test_parallel_fork_join_waits_for_all_branches(zeebe: Target) -> None:
    """A parallel join continues only after every branch arrived, and sees all their variables."""
    xml = bpmn(
        "fork-join",
        '<bpmn:startEvent id="s" /><bpmn:parallelGateway id="fork" /><bpmn:parallelGateway id="join" />'
        + service_task("a", "fork.a")
        + service_task("b", "fork.b")
        + service_task("after", "fork.after")
        + '<bpmn:endEvent id="e" />'
        + chain("s", "fork")
        + flow("fa", "fork", "a")
        + flow("fb", "fork", "b")
        + flow("ja", "a", "join")
        + flow("jb", "b", "join")
        + chain("join", "after", "e"),
    )
    await zeebe.deploy(fork__bpmn=xml)
    release_b = asyncio.Event()
    after_calls: list[dict[str, Any]] = []

    async def a() -> dict[str, Any]:
        return {"a": True}

    async def b() -> dict[str, Any]:
        await asyncio.wait_for(release_b.wait(), 10)
        return {"b": True}

    async def after(job: Job) -> dict[str, Any]:
        after_calls.append(dict(job.variables))
        return {}

    zeebe.worker(fork__a=a, fork__b=b, fork__after=after)
    run = asyncio.create_task(zeebe.client.run_process_with_result("fork-join", {}, timeout=15_000))
    await asyncio.sleep(0)
    assert not after_calls
    release_b.set()
    result = await run
    assert result.variables == {"a": True, "b": True}
    assert len(after_calls) == 1
    assert after_calls[0] == {"a": True, "b": True}


async def test_inclusive_gateway_takes_every_true_branch(zeebe: Target) -> None:
    """An inclusive fork activates each flow whose condition is true."""
    xml = bpmn(
        "inclusive",
        '<bpmn:startEvent id="s" /><bpmn:inclusiveGateway id="gw" default="fd" />'
        + service_task("x", "inc.x")
        + service_task("y", "inc.y")
        + service_task("d", "inc.d")
        + '<bpmn:endEvent id="ex" /><bpmn:endEvent id="ey" /><bpmn:endEvent id="ed" />'
        + chain("s", "gw")
        + flow("fx", "gw", "x", "=flags.x")
        + flow("fy", "gw", "y", "=flags.y")
        + flow("fd", "gw", "d")
        + chain("x", "ex")
        + chain("y", "ey")
        + chain("d", "ed"),
    )
    await zeebe.deploy(inclusive__bpmn=xml)

    async def x() -> dict[str, Any]:
        return {"x": 1}

    async def y() -> dict[str, Any]:
        return {"y": 1}

    async def d() -> dict[str, Any]:
        return {"d": 1}

    zeebe.worker(inc__x=x, inc__y=y, inc__d=d)
    both = await zeebe.client.run_process_with_result(
        "inclusive", {"flags": {"x": True, "y": True}}, timeout=10_000
    )
    none = await zeebe.client.run_process_with_result(
        "inclusive", {"flags": {"x": False, "y": False}}, timeout=10_000
    )
    assert {k: v for k, v in both.variables.items() if k != "flags"} == {"x": 1, "y": 1}
    assert {k: v for k, v in none.variables.items() if k != "flags"} == {"d": 1}


async def test_script_task_evaluates_feel(zeebe: Target) -> None:
    """A script task stores its FEEL result in the result variable."""
    script = (
        '<bpmn:scriptTask id="calc"><bpmn:extensionElements>'
        '<zeebe:script expression="=sum(for i in items return i.price)" resultVariable="total" />'
        "</bpmn:extensionElements></bpmn:scriptTask>"
    )
    xml = bpmn(
        "script", '<bpmn:startEvent id="s" />' + script + '<bpmn:endEvent id="e" />' + chain("s", "calc", "e")
    )
    await zeebe.deploy(script__bpmn=xml)
    result = await zeebe.client.run_process_with_result(
        "script", {"items": [{"price": 3}, {"price": 4.5}]}, timeout=10_000
    )
    assert result.variables["total"] == 7.5


async def test_embedded_subprocess_runs_inside_its_scope(zeebe: Target) -> None:
    """A subprocess runs its own start-to-end flow and then the parent continues."""
    sub = (
        '<bpmn:subProcess id="sub"><bpmn:startEvent id="ss" />'
        + service_task("inner", "sub.inner")
        + '<bpmn:endEvent id="se" />'
        + chain("ss", "inner", "se")
        + "</bpmn:subProcess>"
    )
    xml = bpmn(
        "with-sub",
        '<bpmn:startEvent id="s" />' + sub + service_task("outer", "sub.outer") + '<bpmn:endEvent id="e" />'
        "" + chain("s", "sub", "outer", "e"),
    )
    await zeebe.deploy(sub__bpmn=xml)
    order: list[str] = []

    async def inner() -> dict[str, Any]:
        order.append("inner")
        return {"inner": True}

    async def outer(inner: bool) -> dict[str, Any]:
        order.append("outer")
        return {"saw_inner": inner}

    zeebe.worker(sub__inner=inner, sub__outer=outer)
    result = await zeebe.client.run_process_with_result("with-sub", {}, timeout=10_000)
    assert order == ["inner", "outer"]
    assert result.variables == {"inner": True, "saw_inner": True}


async def test_call_activity_propagates_variables_both_ways(zeebe: Target) -> None:
    """A called process gets the parent's variables and hands its own back."""
    child = bpmn(
        "child",
        '<bpmn:startEvent id="cs" />' + service_task("ct", "child.work") + '<bpmn:endEvent id="ce" />'
        "" + chain("cs", "ct", "ce"),
    )
    call = (
        '<bpmn:callActivity id="call"><bpmn:extensionElements>'
        '<zeebe:calledElement processId="=childId" propagateAllChildVariables="true" />'
        "</bpmn:extensionElements></bpmn:callActivity>"
    )
    parent = bpmn(
        "parent", '<bpmn:startEvent id="s" />' + call + '<bpmn:endEvent id="e" />' + chain("s", "call", "e")
    )
    await zeebe.deploy(child__bpmn=child, parent__bpmn=parent)

    async def work(x: int) -> dict[str, Any]:
        return {"y": x + 1}

    zeebe.worker(child__work=work)
    result = await zeebe.client.run_process_with_result(
        "parent", {"x": 1, "childId": "child"}, timeout=10_000
    )
    assert result.variables == {"x": 1, "childId": "child", "y": 2}


async def test_multi_instance_parallel_and_sequential_collect_outputs(zeebe: Target) -> None:
    """Multi-instance runs once per item and gathers outputElement into outputCollection in order."""

    def process(process_id: str, *, sequential: bool) -> str:
        loop = (
            f'<bpmn:multiInstanceLoopCharacteristics isSequential="{"true" if sequential else "false"}">'
            '<bpmn:extensionElements><zeebe:loopCharacteristics inputCollection="=items" inputElement="item" '
            'outputCollection="results" outputElement="=doubled" /></bpmn:extensionElements>'
            "</bpmn:multiInstanceLoopCharacteristics>"
        )
        task = (
            '<bpmn:serviceTask id="each"><bpmn:extensionElements><zeebe:taskDefinition type="mi.double" />'
            f"</bpmn:extensionElements>{loop}</bpmn:serviceTask>"
        )
        return bpmn(
            process_id,
            '<bpmn:startEvent id="s" />' + task + '<bpmn:endEvent id="e" />' + chain("s", "each", "e"),
        )

    await zeebe.deploy(
        par__bpmn=process("mi-par", sequential=False), seq__bpmn=process("mi-seq", sequential=True)
    )
    active = 0
    most_active = 0

    async def double(item: int, loopCounter: int) -> dict[str, Any]:  # noqa: N803 - Zeebe's variable name
        nonlocal active, most_active
        active += 1
        most_active = max(most_active, active)
        await asyncio.sleep(0)
        active -= 1
        return {"doubled": item * 2, "seen": loopCounter}

    zeebe.worker(mi__double=double)
    parallel = await zeebe.client.run_process_with_result("mi-par", {"items": [1, 2, 3]}, timeout=10_000)
    sequential = await zeebe.client.run_process_with_result("mi-seq", {"items": [5, 6]}, timeout=10_000)
    assert parallel.variables["results"] == [2, 4, 6]
    assert sequential.variables["results"] == [10, 12]


async def test_set_variables_local_and_propagating(zeebe: Target) -> None:
    """SetVariables local=false writes to the scope that has the variable; local=true stays local."""
    server = zeebe.require_embedded("reads variables per scope")
    io = '<zeebe:ioMapping><zeebe:input source="=1" target="localOnly" /></zeebe:ioMapping>'
    xml = bpmn(
        "setvars",
        '<bpmn:startEvent id="s" />' + service_task("t", "setvars.wait", io) + '<bpmn:endEvent id="e" />'
        "" + chain("s", "t", "e"),
    )
    await zeebe.deploy(setvars__bpmn=xml)
    response = await zeebe.client.run_process("setvars", {"shared": 0})
    pi = response.process_instance_key
    state = server.engine.processor.state

    def task_key() -> int | None:
        for ei in state.elements.values():
            if ei.process_instance_key == pi and ei.element_id == "t" and ei.state == "ACTIVATED":
                return ei.key
        return None

    from tests.engine.conftest import wait_for  # noqa: PLC0415 - local helper

    key: int = await wait_for(task_key, message="the service task to wait")
    from pyzeebe.proto import gateway_pb2 as pb  # noqa: PLC0415 - raw RPC, pyzeebe has no wrapper
    from pyzeebe.proto.gateway_pb2_grpc import GatewayStub  # noqa: PLC0415

    stub = GatewayStub(zeebe.channel)
    await stub.SetVariables(
        pb.SetVariablesRequest(elementInstanceKey=key, variables='{"shared": 5, "localOnly": 9}')
    )
    await stub.SetVariables(
        pb.SetVariablesRequest(elementInstanceKey=key, variables='{"mine": true}', local=True)
    )
    assert state.variables[pi]["shared"] == 5
    assert state.variables[key]["localOnly"] == 9
    assert state.variables[key]["mine"] is True
    assert "mine" not in state.variables[pi]


async def test_user_task_waits_until_completed(zeebe: Target) -> None:
    """A Camunda user task waits with its form, candidate groups and assignee until it is completed."""
    server = zeebe.require_embedded("completes the user task through the engine (REST comes later)")
    form = '{"id": "review-form", "type": "default", "components": []}'
    task = (
        '<bpmn:userTask id="review" name="审核"><bpmn:extensionElements><zeebe:userTask />'
        '<zeebe:formDefinition formId="review-form" />'
        '<zeebe:assignmentDefinition candidateGroups="=&quot;town:&quot; + townCode" assignee="clerk1" />'
        "</bpmn:extensionElements></bpmn:userTask>"
    )
    xml = bpmn(
        "human",
        '<bpmn:startEvent id="s" />' + task + '<bpmn:exclusiveGateway id="gw" default="f_no" />'
        '<bpmn:endEvent id="yes" /><bpmn:endEvent id="no" />'
        + chain("s", "review", "gw")
        + flow("f_yes", "gw", "yes", "=approved")
        + flow("f_no", "gw", "no"),
    )
    await zeebe.deploy(human__bpmn=xml, review__form=form)
    run = asyncio.create_task(
        zeebe.client.run_process_with_result("human", {"townCode": "xiji"}, timeout=15_000)
    )
    state = server.engine.processor.state
    user_task = await wait_for(
        lambda: next((t for t in state.user_tasks.values() if t.state == "CREATED"), None),
        message="the user task",
    )
    assert user_task.candidate_groups == ["town:xiji"]
    assert user_task.assignee == "clerk1"
    assert user_task.form_key == state.latest_form["review-form"]
    assert not run.done()
    await server.engine.execute(
        lambda: server.engine.processor.complete_user_task(user_task.key, {"approved": True})
    )
    result = await asyncio.wait_for(run, 10)
    assert result.variables == {"townCode": "xiji", "approved": True}


async def test_missing_form_raises_an_incident(zeebe: Target) -> None:
    """A user task whose form was never deployed stops with a FORM_NOT_FOUND incident."""
    server = zeebe.require_embedded("reads incidents from the engine state")
    task = (
        '<bpmn:userTask id="review"><bpmn:extensionElements><zeebe:userTask />'
        '<zeebe:formDefinition formId="missing-form" /></bpmn:extensionElements></bpmn:userTask>'
    )
    xml = bpmn(
        "no-form",
        '<bpmn:startEvent id="s" />' + task + '<bpmn:endEvent id="e" />' + chain("s", "review", "e"),
    )
    await zeebe.deploy(noform__bpmn=xml)
    response = await zeebe.client.run_process("no-form", {})
    incidents = [
        i
        for i in server.engine.processor.state.incidents.values()
        if i.process_instance_key == response.process_instance_key
    ]
    assert [i.error_type for i in incidents] == ["FORM_NOT_FOUND"]
    assert "missing-form" in incidents[0].error_message


async def test_condition_incident_resolves_after_fixing_the_variable(zeebe: Target) -> None:
    """No true condition and no default is a CONDITION_ERROR incident; fix the variable, resolve, and it routes."""
    server = zeebe.require_embedded("reads incidents from the engine state")
    xml = bpmn(
        "strict-route",
        '<bpmn:startEvent id="s" /><bpmn:exclusiveGateway id="gw" /><bpmn:endEvent id="a" /><bpmn:endEvent id="b" />'
        + chain("s", "gw")
        + flow("fa", "gw", "a", '=kind = "a"')
        + flow("fb", "gw", "b", '=kind = "b"'),
    )
    await zeebe.deploy(strict__bpmn=xml)
    response = await zeebe.client.run_process("strict-route", {"kind": "c"})
    pi = response.process_instance_key
    state = server.engine.processor.state
    (incident,) = [i for i in state.incidents.values() if i.process_instance_key == pi]
    assert incident.error_type == "CONDITION_ERROR"
    assert incident.element_id == "gw"
    from pyzeebe.proto import gateway_pb2 as pb  # noqa: PLC0415 - raw RPCs pyzeebe has no wrapper for
    from pyzeebe.proto.gateway_pb2_grpc import GatewayStub  # noqa: PLC0415

    stub = GatewayStub(zeebe.channel)
    await stub.SetVariables(pb.SetVariablesRequest(elementInstanceKey=pi, variables='{"kind": "b"}'))
    await stub.ResolveIncident(pb.ResolveIncidentRequest(incidentKey=incident.key))
    assert state.instances[pi].state == "COMPLETED"


async def test_terminate_end_event_ends_parallel_branches(zeebe: Target) -> None:
    """A terminate end event ends the instance although another branch is still waiting."""
    server = zeebe.require_embedded("checks the other branch's job is gone")
    xml = bpmn(
        "terminate",
        '<bpmn:startEvent id="s" /><bpmn:parallelGateway id="split" />'
        + service_task("slow", "term.slow")
        + '<bpmn:endEvent id="stop"><bpmn:terminateEventDefinition /></bpmn:endEvent><bpmn:endEvent id="e" />'
        + chain("s", "split")
        + flow("f1", "split", "slow")
        + flow("f2", "split", "stop")
        + chain("slow", "e"),
    )
    await zeebe.deploy(terminate__bpmn=xml)
    result = await zeebe.client.run_process_with_result("terminate", {"x": 1}, timeout=10_000)
    assert result.variables == {"x": 1}
    assert not [j for j in server.engine.processor.state.jobs.values() if j.type == "term.slow"]


async def test_multi_instance_subprocess_with_completion_condition(zeebe: Target) -> None:
    """A parallel multi-instance subprocess stops early once its completion condition holds."""
    loop = (
        "<bpmn:multiInstanceLoopCharacteristics><bpmn:extensionElements><zeebe:loopCharacteristics "
        'inputCollection="=towns" inputElement="town" outputCollection="votes" outputElement="=vote" />'
        "</bpmn:extensionElements><bpmn:completionCondition>=numberOfCompletedInstances &gt;= 2"
        "</bpmn:completionCondition></bpmn:multiInstanceLoopCharacteristics>"
    )
    sub = (
        '<bpmn:subProcess id="ask">' + loop + '<bpmn:startEvent id="as" />'
        '<bpmn:scriptTask id="v"><bpmn:extensionElements><zeebe:script expression="=town + &quot;:yes&quot;" '
        'resultVariable="vote" /></bpmn:extensionElements></bpmn:scriptTask>'
        + service_task("hold", "mi.hold")
        + '<bpmn:endEvent id="ae" />'
        + chain("as", "v", "hold", "ae")
        + "</bpmn:subProcess>"
    )
    xml = bpmn(
        "mi-sub", '<bpmn:startEvent id="s" />' + sub + '<bpmn:endEvent id="e" />' + chain("s", "ask", "e")
    )
    await zeebe.deploy(misub__bpmn=xml)
    released: list[str] = []

    async def hold(town: str) -> dict[str, Any]:
        released.append(town)
        return {}

    zeebe.worker(mi__hold=hold)
    result = await zeebe.client.run_process_with_result(
        "mi-sub", {"towns": ["xiji", "sangcun", "chengtou"]}, timeout=10_000
    )
    votes: Any = result.variables["votes"]
    assert len(votes) == 3
    # The condition is checked after every completion: the body ends at exactly two, the third is cut off.
    assert len([v for v in votes if v is not None]) == 2
    assert all(v is None or v.endswith(":yes") for v in votes)


async def test_call_activity_with_output_mappings_and_no_propagation(zeebe: Target) -> None:
    """propagateAllParentVariables=false passes only input mappings; output mappings pick what returns."""
    child = bpmn(
        "child-narrow",
        '<bpmn:startEvent id="cs" />'
        '<bpmn:scriptTask id="calc"><bpmn:extensionElements><zeebe:script expression="=if secret = null then '
        'given * 2 else -1" resultVariable="answer" /></bpmn:extensionElements></bpmn:scriptTask>'
        '<bpmn:endEvent id="ce" />' + chain("cs", "calc", "ce"),
    )
    call = (
        '<bpmn:callActivity id="call"><bpmn:extensionElements>'
        '<zeebe:calledElement processId="child-narrow" propagateAllParentVariables="false" />'
        '<zeebe:ioMapping><zeebe:input source="=base" target="given" />'
        '<zeebe:output source="=answer" target="result" /></zeebe:ioMapping>'
        "</bpmn:extensionElements></bpmn:callActivity>"
    )
    parent = bpmn(
        "parent-narrow",
        '<bpmn:startEvent id="s" />' + call + '<bpmn:endEvent id="e" />' + chain("s", "call", "e"),
    )
    await zeebe.deploy(childn__bpmn=child, parentn__bpmn=parent)
    result = await zeebe.client.run_process_with_result(
        "parent-narrow", {"base": 21, "secret": "x"}, timeout=10_000
    )
    assert result.variables == {"base": 21, "secret": "x", "result": 42}


async def test_acceptance_case_flow(zeebe: Target) -> None:
    """A case flow with a gateway, a parallel fork/join, an error boundary, a message and a timer ends as Zeebe would."""
    server = zeebe.require_embedded("moves the engine clock")
    boundary = (
        '<bpmn:boundaryEvent id="invalid" attachedToRef="validate">'
        '<bpmn:errorEventDefinition errorRef="err" /></bpmn:boundaryEvent>'
    )
    catch = (
        '<bpmn:intermediateCatchEvent id="supplemented"><bpmn:messageEventDefinition messageRef="msg" />'
        "</bpmn:intermediateCatchEvent>"
    )
    timer = (
        '<bpmn:intermediateCatchEvent id="cooldown"><bpmn:timerEventDefinition>'
        '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">=cooldown</bpmn:timeDuration>'
        "</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>"
    )
    body = (
        '<bpmn:startEvent id="s" />'
        + service_task("validate", "case.validate")
        + boundary
        + '<bpmn:exclusiveGateway id="complete" default="f_incomplete" />'
        + catch
        + '<bpmn:exclusiveGateway id="merge" /><bpmn:parallelGateway id="fork" /><bpmn:parallelGateway id="join" />'
        + service_task("stamp", "case.stamp")
        + service_task("notify", "case.notify")
        + timer
        + '<bpmn:endEvent id="issued" /><bpmn:endEvent id="refused" />'
        + chain("s", "validate", "complete")
        + flow("f_complete", "complete", "merge", "=count(missing) = 0")
        + flow("f_incomplete", "complete", "supplemented")
        + chain("supplemented", "merge", "fork")
        + flow("f_stamp", "fork", "stamp")
        + flow("f_notify", "fork", "notify")
        + chain("stamp", "join")
        + chain("notify", "join")
        + chain("join", "cooldown", "issued")
        + chain("invalid", "refused")
    )
    message = (
        '<bpmn:message id="msg" name="materials-supplemented"><bpmn:extensionElements>'
        '<zeebe:subscription correlationKey="=caseNumber" /></bpmn:extensionElements></bpmn:message>'
        '<bpmn:error id="err" errorCode="APPLICATION_INVALID" />'
    )
    xml = bpmn("case-flow", body).replace("</bpmn:definitions>", message + "</bpmn:definitions>")
    await zeebe.deploy(caseflow__bpmn=xml)

    async def validate(materials: list[str], valid: bool) -> dict[str, Any]:
        if not valid:
            raise BusinessError("APPLICATION_INVALID")
        return {"missing": [m for m in ("form", "id") if m not in materials]}

    async def stamp() -> dict[str, Any]:
        return {"sealed": True}

    async def notify() -> dict[str, Any]:
        return {"notified": True}

    zeebe.worker(case__validate=validate, case__stamp=stamp, case__notify=notify)
    common = {"cooldown": "PT1H"}
    refused = await zeebe.client.run_process_with_result(
        "case-flow", {**common, "caseNumber": "A", "materials": [], "valid": False}, timeout=10_000
    )
    assert "sealed" not in refused.variables
    incomplete = asyncio.create_task(
        zeebe.client.run_process_with_result(
            "case-flow", {**common, "caseNumber": "B", "materials": ["form"], "valid": True}, timeout=15_000
        )
    )
    complete = asyncio.create_task(
        zeebe.client.run_process_with_result(
            "case-flow",
            {**common, "caseNumber": "C", "materials": ["form", "id"], "valid": True},
            timeout=15_000,
        )
    )
    state = server.engine.processor.state
    await wait_for(lambda: len(state.subscriptions) == 1, message="case B to wait for 补正")
    await wait_for(lambda: len(state.timers) == 1, message="case C to reach its timer")
    await zeebe.client.publish_message("materials-supplemented", "B", {"materials": ["form", "id"]})
    await wait_for(lambda: len(state.timers) == 2, message="case B to reach its timer")
    zeebe.advance_clock(3_600_000 + 1)
    b, c = await asyncio.wait_for(asyncio.gather(incomplete, complete), 10)
    for result in (b, c):
        assert result.variables["sealed"] is True
        assert result.variables["notified"] is True
    assert b.variables["missing"] == ["id"]
    assert c.variables["missing"] == []
