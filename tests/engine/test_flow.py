"""Conformance: process flow through pyzeebe — tasks, variables, gateways, subprocesses, call activities."""

import asyncio
from typing import Any

import pytest
from pyzeebe import Job
from pyzeebe.errors import ProcessDefinitionNotFoundError, ProcessInvalidError

from tests.engine.conftest import Target, bpmn, chain, flow, service_task

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
