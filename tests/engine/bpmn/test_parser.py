"""The BPMN parser: supported constructs become the model, everything else is rejected by id."""

from itertools import pairwise

import pytest

from engine.bpmn.model import (
    BpmnValidationError,
    ElementType,
    EventType,
    Expression,
    Process,
    TimerKind,
)
from engine.bpmn.parser import parse_bpmn

NAMESPACES = (
    'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" '
    'xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" '
    'xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" '
    'xmlns:modeler="http://camunda.org/schema/modeler/1.0" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'id="Definitions_1" targetNamespace="http://bpmn.io/schema/bpmn" '
    'modeler:executionPlatform="Camunda Cloud" modeler:executionPlatformVersion="8.6.0"'
)

START = '<bpmn:startEvent id="start" />'
END = '<bpmn:endEvent id="end" />'


def document(body: str, definitions: str = "", *, process_id: str = "p", executable: bool = True) -> bytes:
    """A definitions document with one process holding ``body`` and extra root elements."""
    flag = "true" if executable else "false"
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions {NAMESPACES}>\n'
        f'<bpmn:process id="{process_id}" name="The process" isExecutable="{flag}">\n'
        f"{body}\n</bpmn:process>\n"
        f"{definitions}\n</bpmn:definitions>\n"
    ).encode()


def parse(body: str, definitions: str = "") -> Process:
    resource = parse_bpmn("test.bpmn", document(body, definitions))
    assert len(resource.processes) == 1
    return resource.processes[0]


def problems_of(xml: bytes) -> list[str]:
    with pytest.raises(BpmnValidationError) as info:
        parse_bpmn("test.bpmn", xml)
    assert info.value.resource_name == "test.bpmn"
    return info.value.problems


def problems(body: str, definitions: str = "") -> list[str]:
    return problems_of(document(body, definitions))


def assert_rejected(body: str, element_id: str, *fragments: str, definitions: str = "") -> None:
    found = problems(body, definitions)
    matching = [p for p in found if f"'{element_id}'" in p and all(f in p for f in fragments)]
    assert matching, found


def flow(source: str, target: str, condition: str | None = None, flow_id: str | None = None) -> str:
    flow_id = flow_id or f"f_{source}_{target}"
    if condition is None:
        return f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}" />'
    return (
        f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}">'
        f'<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{condition}</bpmn:conditionExpression>'
        "</bpmn:sequenceFlow>"
    )


def chain(*ids: str) -> str:
    """Sequence flows ``f_a_b`` linking ``ids`` in order."""
    return "".join(flow(a, b) for a, b in pairwise(ids))


def ext(*zeebe: str) -> str:
    return f"<bpmn:extensionElements>{''.join(zeebe)}</bpmn:extensionElements>"


def node(tag: str, node_id: str, *zeebe: str, body: str = "", attrs: str = "") -> str:
    """A flow node with the given zeebe extension elements and inner XML."""
    extensions = ext(*zeebe) if zeebe else ""
    return f'<bpmn:{tag} id="{node_id}"{attrs}>{extensions}{body}</bpmn:{tag}>'


def mi(*zeebe: str, body: str = "") -> str:
    """A multi-instance marker with zeebe extension elements."""
    return node("multiInstanceLoopCharacteristics", "mi", *zeebe, body=body)


def service(task_id: str, job_type: str = "work", extra: str = "", body: str = "") -> str:
    return (
        f'<bpmn:serviceTask id="{task_id}" name="Task {task_id}">'
        f"{ext(f'<zeebe:taskDefinition type={job_type!r} />', extra)}{body}</bpmn:serviceTask>"
    )


def around(*nodes: str) -> str:
    """``start -> node ids... -> end`` with the nodes given as XML (ids read from ``id=``)."""
    ids = [node.split('id="', 1)[1].split('"', 1)[0] for node in nodes]
    return START + "".join(nodes) + END + chain("start", *ids, "end")


CYCLE = "<bpmn:timerEventDefinition><bpmn:timeCycle>R/PT1M</bpmn:timeCycle></bpmn:timerEventDefinition>"


def error_boundary(event_id: str, attached_to: str) -> str:
    return node(
        "boundaryEvent",
        event_id,
        body="<bpmn:errorEventDefinition />",
        attrs=f' attachedToRef="{attached_to}"',
    )


MESSAGE = (
    '<bpmn:message id="Msg" name="order-paid">'
    '<bpmn:extensionElements><zeebe:subscription correlationKey="=orderId" /></bpmn:extensionElements>'
    "</bpmn:message>"
)
UNKEYED_MESSAGE = '<bpmn:message id="Plain" name="plain" />'
ERRORS = (
    '<bpmn:error id="Err" name="Failed" errorCode="failed" />'
    '<bpmn:error id="DynErr" errorCode="=code" />'
    '<bpmn:error id="NoCode" name="no code" />'
)


# -- supported constructs --------------------------------------------------------------------------


def test_minimal_process_builds_scope_flows_and_names() -> None:
    """A start → service task → end process links flows, scope children and names."""
    process = parse(
        "<bpmn:documentation>What it does</bpmn:documentation>"
        '<bpmn:startEvent id="start" name="Begin" />'
        + service("task")
        + '<bpmn:endEvent id="end" />'
        + chain("start", "task", "end")
    )
    assert process.id == "p"
    assert process.name == "The process"
    assert process.none_start == "start"
    root = process.root
    assert root.type == ElementType.PROCESS
    assert root.children == ("start", "task", "end")
    assert root.start_event == "start"
    assert root.documentation == "What it does"
    assert list(process.elements) == ["p", "start", "task", "end"]
    task = process.element("task")
    assert task.type == ElementType.SERVICE_TASK
    assert task.name == "Task task"
    assert task.parent == "p"
    assert task.incoming == ("f_start_task",)
    assert task.outgoing == ("f_task_end",)
    assert process.element("start").name == "Begin"
    assert process.flow("f_start_task").source == "start"
    assert process.flow("f_task_end").target == "end"
    assert process.element("end").event_type == EventType.NONE


def test_service_task_definition_headers_and_mappings() -> None:
    """zeebe:taskDefinition, taskHeaders (in order) and ioMapping on a service task."""
    extra = (
        '<zeebe:taskHeaders><zeebe:header key="b" value="2" /><zeebe:header key="a" value="1" />'
        "</zeebe:taskHeaders>"
        '<zeebe:ioMapping><zeebe:input source="=order.id" target="orderId" />'
        '<zeebe:input source="fixed" target="mode" /><zeebe:input target="cleared" />'
        '<zeebe:output source="=result" target="order.result" /></zeebe:ioMapping>'
    )
    task_xml = (
        '<bpmn:serviceTask id="task">'
        + ext('<zeebe:taskDefinition type="=&quot;pay-&quot; + kind" retries="=2 + 3" />', extra)
        + "</bpmn:serviceTask>"
    )
    process = parse(around(task_xml, service("plain")))
    task = process.element("task")
    assert task.task_definition is not None
    assert task.task_definition.type.is_feel
    assert task.task_definition.retries.source == "=2 + 3"
    assert task.task_headers == (("b", "2"), ("a", "1"))
    assert [m.target for m in task.inputs] == ["orderId", "mode", "cleared"]
    assert task.inputs[0].source.is_feel
    assert task.inputs[1].source == Expression("fixed")
    assert task.inputs[2].source.is_feel  # no source: Zeebe maps null
    assert task.outputs[0].target == "order.result"
    plain = process.element("plain").task_definition
    assert plain is not None
    assert plain.type == Expression("work")
    assert plain.retries == Expression("3")


def test_send_task_is_job_based() -> None:
    """A send task carries a task definition like a service task."""
    process = parse(around(node("sendTask", "send", '<zeebe:taskDefinition type="mail" />')))
    send = process.element("send")
    assert send.type == ElementType.SEND_TASK
    assert send.task_definition is not None
    assert send.task_definition.type.source == "mail"


def test_camunda_user_task_with_form_assignment_schedule_priority() -> None:
    """A zeebe:userTask keeps its form, assignment, dates and priority."""
    user = (
        '<bpmn:userTask id="review">'
        + ext(
            "<zeebe:userTask />",
            '<zeebe:formDefinition formId="review-form" />',
            '<zeebe:assignmentDefinition assignee="=initiator" candidateGroups="clerks, heads" '
            'candidateUsers="=[&quot;a&quot;]" />',
            '<zeebe:taskSchedule dueDate="2030-01-01T10:00:00+08:00" followUpDate="=later" />',
            '<zeebe:priorityDefinition priority="70" />',
            '<zeebe:ioMapping><zeebe:output source="=approved" target="approved" /></zeebe:ioMapping>',
        )
        + "</bpmn:userTask>"
    )
    external = (
        '<bpmn:userTask id="external">'
        + ext("<zeebe:userTask />", '<zeebe:formDefinition externalReference="=formUrl" />')
        + "</bpmn:userTask>"
    )
    process = parse(around(user, external))
    definition = process.element("review").user_task
    assert process.element("review").type == ElementType.USER_TASK
    assert definition is not None
    assert definition.form_id == Expression("review-form")
    assert definition.assignee is not None
    assert definition.assignee.is_feel
    assert definition.candidate_groups == Expression("clerks, heads")
    assert definition.candidate_users is not None
    assert definition.due_date == Expression("2030-01-01T10:00:00+08:00")
    assert definition.follow_up_date is not None
    assert definition.follow_up_date.is_feel
    assert definition.priority == Expression("70")
    assert definition.external_reference is None
    assert process.element("review").outputs[0].target == "approved"
    other = process.element("external").user_task
    assert other is not None
    assert other.external_reference is not None
    assert other.external_reference.is_feel
    assert other.form_id is None


def test_script_tasks_feel_and_job_based() -> None:
    """zeebe:script gives a script definition; zeebe:taskDefinition makes a job-based script task."""
    feel = node("scriptTask", "calc", '<zeebe:script expression="=a + 1" resultVariable="b" />')
    job = node("scriptTask", "job", '<zeebe:taskDefinition type="groovy" retries="5" />')
    process = parse(around(feel, job))
    calc = process.element("calc")
    assert calc.type == ElementType.SCRIPT_TASK
    assert calc.script is not None
    assert calc.script.expression.is_feel
    assert calc.script.result_variable == "b"
    assert calc.task_definition is None
    scripted_job = process.element("job")
    assert scripted_job.type == ElementType.SCRIPT_TASK
    assert scripted_job.script is None
    assert scripted_job.task_definition is not None
    assert scripted_job.task_definition.retries == Expression("5")


def test_call_activity_called_element_and_propagation() -> None:
    """zeebe:calledElement: process id and propagation flags (both default to true)."""
    call = node("callActivity", "call", '<zeebe:calledElement processId="child" />')
    strict = (
        '<bpmn:callActivity id="strict">'
        + ext(
            '<zeebe:calledElement processId="=childId" propagateAllChildVariables="false" '
            'propagateAllParentVariables="false" bindingType="latest" />'
        )
        + "</bpmn:callActivity>"
    )
    process = parse(around(call, strict))
    called = process.element("call").called_element
    assert process.element("call").type == ElementType.CALL_ACTIVITY
    assert called is not None
    assert called.process_id == Expression("child")
    assert called.propagate_all_child_variables
    assert called.propagate_all_parent_variables
    other = process.element("strict").called_element
    assert other is not None
    assert other.process_id.is_feel
    assert not other.propagate_all_child_variables
    assert not other.propagate_all_parent_variables


def test_exclusive_gateway_conditions_and_default() -> None:
    """An exclusive gateway keeps its default flow; conditions are compiled FEEL."""
    process = parse(
        START
        + '<bpmn:exclusiveGateway id="gw" default="f_other" />'
        + service("big")
        + service("small")
        + END
        + flow("start", "gw")
        + flow("gw", "big", "=amount &gt; 100", "f_big")
        + flow("gw", "small", None, "f_other")
        + chain("big", "end")
        + chain("small", "end")
    )
    gateway = process.element("gw")
    assert gateway.type == ElementType.EXCLUSIVE_GATEWAY
    assert gateway.default_flow == "f_other"
    assert gateway.outgoing == ("f_big", "f_other")
    condition = process.flow("f_big").condition
    assert condition is not None
    assert condition.source == "=amount > 100"
    assert condition.is_feel
    assert process.flow("f_other").condition is None
    assert process.element("end").incoming == ("f_big_end", "f_small_end")


def test_parallel_and_inclusive_gateways() -> None:
    """A parallel fork/join and an inclusive fork with conditions and a default."""
    process = parse(
        START
        + '<bpmn:parallelGateway id="fork" /><bpmn:parallelGateway id="join" />'
        + '<bpmn:inclusiveGateway id="inc" default="f_d" />'
        + service("a")
        + service("b")
        + service("c")
        + service("d")
        + END
        + chain("start", "fork", "a", "join")
        + chain("fork", "b", "join")
        + chain("join", "inc")
        + flow("inc", "c", "=x", "f_c")
        + flow("inc", "d", None, "f_d")
        + chain("c", "end")
        + chain("d", "end")
    )
    assert process.element("fork").type == ElementType.PARALLEL_GATEWAY
    assert process.element("join").incoming == ("f_a_join", "f_b_join")
    inclusive = process.element("inc")
    assert inclusive.type == ElementType.INCLUSIVE_GATEWAY
    assert inclusive.default_flow == "f_d"


def test_embedded_subprocess_is_a_scope() -> None:
    """An embedded subprocess lists its children and none start event; children point to it."""
    sub = (
        '<bpmn:subProcess id="sub" name="Inner">'
        + ext('<zeebe:ioMapping><zeebe:input source="=1" target="one" /></zeebe:ioMapping>')
        + '<bpmn:startEvent id="sub_start" />'
        + service("inner")
        + '<bpmn:endEvent id="sub_end" />'
        + chain("sub_start", "inner", "sub_end")
        + "</bpmn:subProcess>"
    )
    process = parse(around(sub))
    element = process.element("sub")
    assert element.type == ElementType.SUB_PROCESS
    assert element.is_scope
    assert element.children == ("sub_start", "inner", "sub_end")
    assert element.start_event == "sub_start"
    assert element.inputs[0].target == "one"
    assert process.element("inner").parent == "sub"
    assert process.root.children == ("start", "sub", "end")
    assert list(process.elements)[:3] == ["p", "start", "sub"]


def test_event_subprocesses_with_error_timer_and_message_starts() -> None:
    """Event subprocesses go to event_sub_processes; their start event sets interrupting."""

    def event_sub(sub_id: str, definition: str, interrupting: str = "") -> str:
        return (
            f'<bpmn:subProcess id="{sub_id}" triggeredByEvent="true">'
            f'<bpmn:startEvent id="{sub_id}_start"{interrupting}>{definition}</bpmn:startEvent>'
            f'<bpmn:endEvent id="{sub_id}_end" />{chain(f"{sub_id}_start", f"{sub_id}_end")}'
            "</bpmn:subProcess>"
        )

    process = parse(
        around(service("task"))
        + event_sub("on_error", '<bpmn:errorEventDefinition errorRef="Err" />')
        + event_sub(
            "on_timer",
            '<bpmn:timerEventDefinition><bpmn:timeDuration xsi:type="bpmn:tFormalExpression">PT5M'
            "</bpmn:timeDuration></bpmn:timerEventDefinition>",
            ' isInterrupting="false"',
        )
        + event_sub("on_message", '<bpmn:messageEventDefinition messageRef="Msg" />'),
        MESSAGE + ERRORS,
    )
    assert process.root.event_sub_processes == ("on_error", "on_timer", "on_message")
    assert "on_error" not in process.root.children
    on_error = process.element("on_error")
    assert on_error.type == ElementType.EVENT_SUB_PROCESS
    assert on_error.start_event == "on_error_start"
    assert on_error.children == ("on_error_start", "on_error_end")
    error_start = process.element("on_error_start")
    assert error_start.event_type == EventType.ERROR
    assert error_start.error is not None
    assert error_start.error.error_code == Expression("failed")
    assert error_start.interrupting
    timer_start = process.element("on_timer_start")
    assert timer_start.timer is not None
    assert timer_start.timer.kind == TimerKind.DURATION
    assert not timer_start.interrupting
    message_start = process.element("on_message_start")
    assert message_start.message is not None
    assert message_start.message.correlation_key is not None
    assert message_start.message.correlation_key.source == "=orderId"
    assert process.timer_starts == ()
    assert process.message_starts == ()


def test_process_timer_and_message_start_events() -> None:
    """Process-level timer and message starts are listed next to the none start event."""
    process = parse(
        START
        + '<bpmn:startEvent id="every"><bpmn:timerEventDefinition><bpmn:timeCycle>R3/PT10S</bpmn:timeCycle>'
        "</bpmn:timerEventDefinition></bpmn:startEvent>"
        + '<bpmn:startEvent id="once"><bpmn:timerEventDefinition>'
        "<bpmn:timeDate>2030-05-01T08:00:00Z</bpmn:timeDate></bpmn:timerEventDefinition></bpmn:startEvent>"
        + node("startEvent", "by_message", body='<bpmn:messageEventDefinition messageRef="Plain" />')
        + END
        + chain("start", "end")
        + chain("every", "end")
        + chain("once", "end")
        + chain("by_message", "end"),
        UNKEYED_MESSAGE,
    )
    assert process.none_start == "start"
    assert process.timer_starts == ("every", "once")
    assert process.message_starts == ("by_message",)
    every = process.element("every").timer
    assert every is not None
    assert every.kind == TimerKind.CYCLE
    assert every.expression == Expression("R3/PT10S")
    message = process.element("by_message").message
    assert message is not None
    assert message.name == Expression("plain")
    assert message.correlation_key is None
    assert process.root.start_event == "start"


def test_intermediate_catch_events() -> None:
    """Timer (duration/date) and message catch events with correlation keys and outputs."""
    timer = (
        '<bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition>'
        "<bpmn:timeDuration>=delay</bpmn:timeDuration></bpmn:timerEventDefinition>"
        "</bpmn:intermediateCatchEvent>"
    )
    message = (
        '<bpmn:intermediateCatchEvent id="paid">'
        + ext('<zeebe:ioMapping><zeebe:output source="=amount" target="paid" /></zeebe:ioMapping>')
        + '<bpmn:messageEventDefinition messageRef="Msg" /></bpmn:intermediateCatchEvent>'
    )
    process = parse(around(timer, message), MESSAGE)
    wait = process.element("wait")
    assert wait.type == ElementType.INTERMEDIATE_CATCH_EVENT
    assert wait.event_type == EventType.TIMER
    assert wait.timer is not None
    assert wait.timer.expression.is_feel
    paid = process.element("paid")
    assert paid.event_type == EventType.MESSAGE
    assert paid.message is not None
    assert paid.message.name == Expression("order-paid")
    assert paid.message.correlation_key is not None
    assert paid.message.correlation_key.source == "=orderId"
    assert paid.outputs[0].target == "paid"


def test_intermediate_throw_events() -> None:
    """A none throw event passes through; a message throw event is job-based."""
    none = '<bpmn:intermediateThrowEvent id="milestone" />'
    message = (
        '<bpmn:intermediateThrowEvent id="notify">'
        + ext(
            '<zeebe:taskDefinition type="notify" />',
            '<zeebe:taskHeaders><zeebe:header key="k" value="v" /></zeebe:taskHeaders>',
        )
        + "<bpmn:messageEventDefinition /></bpmn:intermediateThrowEvent>"
    )
    process = parse(around(none, message))
    assert process.element("milestone").event_type == EventType.NONE
    notify = process.element("notify")
    assert notify.type == ElementType.INTERMEDIATE_THROW_EVENT
    assert notify.event_type == EventType.MESSAGE
    assert notify.task_definition is not None
    assert notify.task_headers == (("k", "v"),)


def test_end_events() -> None:
    """None, terminate, error (static or FEEL code) and job-based message end events."""
    process = parse(
        START
        + '<bpmn:parallelGateway id="fork" />'
        + '<bpmn:endEvent id="done" />'
        + '<bpmn:endEvent id="kill"><bpmn:terminateEventDefinition /></bpmn:endEvent>'
        + '<bpmn:endEvent id="fail"><bpmn:errorEventDefinition errorRef="Err" /></bpmn:endEvent>'
        + '<bpmn:endEvent id="dyn"><bpmn:errorEventDefinition errorRef="DynErr" /></bpmn:endEvent>'
        + '<bpmn:endEvent id="send">'
        + ext('<zeebe:taskDefinition type="send" />')
        + "<bpmn:messageEventDefinition /></bpmn:endEvent>"
        + chain("start", "fork")
        + "".join(chain("fork", end) for end in ("done", "kill", "fail", "dyn", "send")),
        ERRORS,
    )
    assert process.element("done").event_type == EventType.NONE
    assert process.element("kill").event_type == EventType.TERMINATE
    fail = process.element("fail")
    assert fail.event_type == EventType.ERROR
    assert fail.error is not None
    assert fail.error.error_code == Expression("failed")
    dyn = process.element("dyn").error
    assert dyn is not None
    assert dyn.error_code is not None
    assert dyn.error_code.is_feel
    send = process.element("send")
    assert send.event_type == EventType.MESSAGE
    assert send.task_definition is not None


def test_boundary_events() -> None:
    """Timer, error and message boundary events attach to their activity in document order."""

    def boundary(event_id: str, definition: str, cancel: str = "") -> str:
        return node(
            "boundaryEvent", event_id, body=definition, attrs=f' attachedToRef="task"{cancel}'
        ) + chain(event_id, "end")

    process = parse(
        around(service("task"))
        + boundary(
            "timeout",
            "<bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration>"
            "</bpmn:timerEventDefinition>",
        )
        + boundary(
            "remind",
            "<bpmn:timerEventDefinition><bpmn:timeCycle>R/PT10M</bpmn:timeCycle></bpmn:timerEventDefinition>",
            ' cancelActivity="false"',
        )
        + boundary("any_error", "<bpmn:errorEventDefinition />")
        + boundary("failed", '<bpmn:errorEventDefinition errorRef="Err" />')
        + boundary("cancelled", '<bpmn:messageEventDefinition messageRef="Msg" />'),
        MESSAGE + ERRORS,
    )
    task = process.element("task")
    assert task.boundary_events == ("timeout", "remind", "any_error", "failed", "cancelled")
    timeout = process.element("timeout")
    assert timeout.type == ElementType.BOUNDARY_EVENT
    assert timeout.attached_to == "task"
    assert timeout.interrupting
    assert timeout.parent == "p"
    assert timeout.outgoing == ("f_timeout_end",)
    remind = process.element("remind")
    assert not remind.interrupting
    assert remind.timer is not None
    assert remind.timer.kind == TimerKind.CYCLE
    catch_all = process.element("any_error").error
    assert catch_all is not None
    assert catch_all.error_code is None
    failed = process.element("failed").error
    assert failed is not None
    assert failed.error_code == Expression("failed")
    cancelled = process.element("cancelled").message
    assert cancelled is not None
    assert cancelled.correlation_key is not None
    assert "timeout" in process.root.children


def test_multi_instance_loop_characteristics() -> None:
    """Multi-instance on a task: collection, element, output and completion condition."""
    loop = (
        '<bpmn:multiInstanceLoopCharacteristics isSequential="true">'
        + ext(
            '<zeebe:loopCharacteristics inputCollection="=items" inputElement="item" '
            'outputCollection="results" outputElement="=result" />'
        )
        + "<bpmn:completionCondition>=numberOfCompletedInstances &gt;= 2</bpmn:completionCondition>"
        + "</bpmn:multiInstanceLoopCharacteristics>"
    )
    parallel = (
        "<bpmn:multiInstanceLoopCharacteristics>"
        + ext('<zeebe:loopCharacteristics inputCollection="=[1, 2]" />')
        + "</bpmn:multiInstanceLoopCharacteristics>"
    )
    process = parse(around(service("each", body=loop), service("fan", body=parallel)))
    characteristics = process.element("each").loop
    assert characteristics is not None
    assert characteristics.sequential
    assert characteristics.input_collection.is_feel
    assert characteristics.input_element == "item"
    assert characteristics.output_collection == "results"
    assert characteristics.output_element is not None
    assert characteristics.output_element.is_feel
    assert characteristics.completion_condition is not None
    fan = process.element("fan").loop
    assert fan is not None
    assert not fan.sequential
    assert fan.input_element is None
    assert fan.output_collection is None


def test_non_executing_constructs_are_ignored() -> None:
    """Collaboration, lanes, annotations, data objects, DI and foreign extensions do not matter."""
    body = (
        '<bpmn:laneSet id="lanes"><bpmn:lane id="lane1">'
        "<bpmn:flowNodeRef>start</bpmn:flowNodeRef></bpmn:lane>"
        "</bpmn:laneSet>"
        + ext(
            '<zeebe:versionTag value="1.0" />',
            '<zeebe:properties><zeebe:property name="a" value="b" /></zeebe:properties>',
            '<other:thing xmlns:other="urn:other" />',
        )
        + '<bpmn:textAnnotation id="note"><bpmn:text>hello</bpmn:text></bpmn:textAnnotation>'
        + '<bpmn:association id="assoc" sourceRef="task" targetRef="note" />'
        + '<bpmn:dataObject id="data" /><bpmn:dataObjectReference id="dataRef" dataObjectRef="data" />'
        + '<bpmn:dataStoreReference id="store" />'
        + '<bpmn:group id="grp" categoryValueRef="cv" />'
        + START
        + '<bpmn:serviceTask id="task">'
        + ext(
            '<zeebe:taskDefinition type="work" />',
            '<zeebe:linkedResources><zeebe:linkedResource resourceId="r" linkName="l" />'
            "</zeebe:linkedResources>",
            '<zeebe:properties><zeebe:property name="x" value="y" /></zeebe:properties>',
        )
        + '<bpmn:property id="prop" name="__targetRef_placeholder" />'
        + '<bpmn:dataInputAssociation id="dia"><bpmn:sourceRef>dataRef</bpmn:sourceRef>'
        "<bpmn:targetRef>prop</bpmn:targetRef></bpmn:dataInputAssociation>"
        + "</bpmn:serviceTask>"
        + END
        + chain("start", "task", "end")
    )
    definitions = (
        '<bpmn:collaboration id="collab"><bpmn:participant id="part" processRef="p" />'
        '<bpmn:participant id="other_part" processRef="other" /></bpmn:collaboration>'
        '<bpmn:category id="cat"><bpmn:categoryValue id="cv" value="g" /></bpmn:category>'
        '<bpmn:process id="other" isExecutable="false">'
        '<bpmn:receiveTask id="ignored_receive" /></bpmn:process>'
        '<bpmndi:BPMNDiagram id="diagram"><bpmndi:BPMNPlane id="plane" bpmnElement="collab">'
        '<bpmndi:BPMNShape id="shape" bpmnElement="task"><dc:Bounds x="1" y="2" width="3" height="4" />'
        "</bpmndi:BPMNShape></bpmndi:BPMNPlane></bpmndi:BPMNDiagram>"
    )
    process = parse(body, definitions)
    assert process.root.children == ("start", "task", "end")
    assert set(process.elements) == {"p", "start", "task", "end"}


def test_every_executable_process_is_deployed() -> None:
    """A file with two executable processes yields both, in document order."""
    second = (
        (f'<bpmn:process id="q" isExecutable="true">{START}{END}{chain("start", "end")}</bpmn:process>')
        .replace('id="start"', 'id="q_start"')
        .replace('id="end"', 'id="q_end"')
        .replace('sourceRef="start" targetRef="end"', 'sourceRef="q_start" targetRef="q_end"')
        .replace('id="f_start_end"', 'id="q_flow"')
    )
    resource = parse_bpmn("two.bpmn", document(START + END + chain("start", "end"), second))
    assert resource.resource_name == "two.bpmn"
    assert [p.id for p in resource.processes] == ["p", "q"]
    assert resource.processes[1].none_start == "q_start"


# -- rejected constructs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "reason"),
    [
        ("receiveTask", "receive tasks are not supported"),
        ("manualTask", "manual tasks are not supported"),
        ("task", "undefined tasks"),
        ("businessRuleTask", "business rule tasks"),
        ("complexGateway", "complex gateways"),
        ("eventBasedGateway", "event-based gateways"),
        ("transaction", "transaction subprocesses"),
        ("adHocSubProcess", "ad-hoc subprocesses"),
        ("choreographyTask", "choreographies"),
        ("somethingNew", "bpmn:somethingNew is not supported"),
    ],
)
def test_unsupported_flow_nodes_are_rejected(tag: str, reason: str) -> None:
    """Each unsupported flow node is named with its id and tag."""
    found = problems(around(f'<bpmn:{tag} id="x" />'))
    assert len(found) == 1, found
    assert found[0].startswith(f"Element 'x' (bpmn:{tag}): unsupported element: ")
    assert reason in found[0]


@pytest.mark.parametrize(
    ("definition", "reason"),
    [
        ('<bpmn:signalEventDefinition signalRef="s" />', "signal events"),
        ('<bpmn:escalationEventDefinition escalationRef="e" />', "escalation events"),
        ("<bpmn:compensateEventDefinition />", "compensation events"),
        ('<bpmn:linkEventDefinition name="l" />', "link events"),
        ("<bpmn:conditionalEventDefinition />", "conditional events"),
    ],
)
def test_unsupported_event_definitions_are_rejected(definition: str, reason: str) -> None:
    """Signal, escalation, compensation, link and conditional events are rejected."""
    assert_rejected(
        around(f'<bpmn:intermediateThrowEvent id="ev">{definition}</bpmn:intermediateThrowEvent>'),
        "ev",
        "bpmn:intermediateThrowEvent",
        reason,
    )


def test_job_based_user_task_is_rejected() -> None:
    """A user task without zeebe:userTask is job-based and rejected with the fix."""
    found = problems(around('<bpmn:userTask id="approve" />'))
    assert found == [
        "Element 'approve' (bpmn:userTask): job-based user tasks are not supported; add zeebe:userTask"
    ]


@pytest.mark.parametrize(
    ("node", "element_id", "fragment"),
    [
        (
            node(
                "scriptTask",
                "s",
                '<zeebe:script expression="=1" resultVariable="r" />',
                '<zeebe:taskDefinition type="w" />',
            ),
            "s",
            "not both",
        ),
        (
            node(
                "userTask",
                "u",
                "<zeebe:userTask />",
                '<zeebe:formDefinition formId="f" externalReference="https://x" />',
            ),
            "u",
            "both formId and externalReference",
        ),
        (
            node(
                "userTask",
                "u",
                "<zeebe:userTask />",
                '<zeebe:formDefinition formKey="camunda-forms:bpmn:f" />',
            ),
            "u",
            "formKey",
        ),
        (
            node("scriptTask", "s", body="<bpmn:script>x = 1</bpmn:script>", attrs=' scriptFormat="groovy"'),
            "s",
            "inline scripts",
        ),
        ('<bpmn:scriptTask id="s" />', "s", "missing zeebe:script"),
        (
            node("scriptTask", "s", '<zeebe:script expression="a" resultVariable="b" />'),
            "s",
            "must be a FEEL expression",
        ),
        ('<bpmn:serviceTask id="t" />', "t", "missing zeebe:taskDefinition"),
        ('<bpmn:sendTask id="t" />', "t", "missing zeebe:taskDefinition"),
        (
            service(
                "t",
                extra='<zeebe:executionListeners><zeebe:executionListener eventType="start" type="x" />'
                "</zeebe:executionListeners>",
            ),
            "t",
            "execution listeners",
        ),
        (node("userTask", "u", "<zeebe:userTask />", "<zeebe:taskListeners />"), "u", "task listeners"),
        (service("t", body="<bpmn:standardLoopCharacteristics />"), "t", "standard loops"),
        (
            node("callActivity", "c", '<zeebe:calledElement processId="x" bindingType="deployment" />'),
            "c",
            "bindingType 'deployment'",
        ),
        ('<bpmn:callActivity id="c" />', "c", "missing zeebe:calledElement"),
        (
            node("intermediateThrowEvent", "m", body="<bpmn:messageEventDefinition />"),
            "m",
            "needs zeebe:taskDefinition",
        ),
        (
            node("intermediateCatchEvent", "c", body=CYCLE),
            "c",
            "bpmn:timeCycle timers are not supported",
        ),
        (
            node("intermediateCatchEvent", "c", body='<bpmn:messageEventDefinition messageRef="Plain" />'),
            "c",
            "correlationKey",
        ),
        (
            node("intermediateCatchEvent", "c", body='<bpmn:messageEventDefinition messageRef="Nope" />'),
            "c",
            "messageRef 'Nope'",
        ),
        ('<bpmn:intermediateCatchEvent id="c" />', "c", "needs a timer or message"),
        (service("t", body="<bpmn:multiInstanceLoopCharacteristics />"), "t", "zeebe:loopCharacteristics"),
        (
            service(
                "t", body=mi('<zeebe:loopCharacteristics inputCollection="=xs" outputCollection="ys" />')
            ),
            "t",
            "must be set together",
        ),
        (
            service("t", body=mi('<zeebe:loopCharacteristics inputCollection="xs" />')),
            "t",
            "inputCollection must be a FEEL expression",
        ),
        (
            service(
                "t",
                body="<bpmn:multiInstanceLoopCharacteristics><bpmn:loopCardinality>3</bpmn:loopCardinality></bpmn:multiInstanceLoopCharacteristics>",
            ),
            "t",
            "loopCardinality",
        ),
        ('<bpmn:serviceTask id="t" isForCompensation="true" />', "t", "compensation handlers"),
        (
            '<bpmn:exclusiveGateway id="g">' + ext("<zeebe:ioMapping />") + "</bpmn:exclusiveGateway>",
            "g",
            "zeebe:ioMapping is not supported on bpmn:exclusiveGateway",
        ),
        (
            node("serviceTask", "t", '<zeebe:taskDefinition type="w" retries="many" />'),
            "t",
            "'many' is not an integer",
        ),
        (
            node("userTask", "u", "<zeebe:userTask />", '<zeebe:priorityDefinition priority="500" />'),
            "u",
            "500 is not between 0 and 100",
        ),
        (
            node("userTask", "u", "<zeebe:userTask />", '<zeebe:taskSchedule dueDate="tomorrow" />'),
            "u",
            "zeebe:taskSchedule dueDate",
        ),
    ],
)
def test_unsupported_element_configurations_are_rejected(node: str, element_id: str, fragment: str) -> None:
    """Unsupported or incomplete configurations name the element and the construct."""
    assert_rejected(around(node), element_id, fragment, definitions=UNKEYED_MESSAGE)


def test_process_level_io_mapping_is_rejected() -> None:
    """zeebe:ioMapping directly on the process is not allowed."""
    body = ext('<zeebe:ioMapping><zeebe:input source="=1" target="a" /></zeebe:ioMapping>') + around()
    assert_rejected(body, "p", "bpmn:process", "zeebe:ioMapping")


def test_gateway_rules_are_enforced() -> None:
    """Joining inclusive, conditional parallel flows, conditions out of tasks, missing conditions."""
    found = problems(
        START
        + '<bpmn:parallelGateway id="fork" />'
        + service("a")
        + service("b")
        + '<bpmn:inclusiveGateway id="join" />'
        + '<bpmn:exclusiveGateway id="xor" />'
        + END
        + '<bpmn:endEvent id="end2" />'
        + chain("start", "fork")
        + flow("fork", "a", "=true", "f_cond_parallel")
        + chain("fork", "b")
        + flow("a", "join", "=x", "f_cond_task")
        + chain("b", "join", "xor")
        + flow("xor", "end", "=y", "f_yes")
        + flow("xor", "end2", None, "f_no")
    )
    assert any("'join'" in p and "joining inclusive gateway is not supported" in p for p in found), found
    assert any("'f_cond_parallel'" in p and "parallel gateway 'fork'" in p for p in found), found
    assert any("'f_cond_task'" in p and "bpmn:serviceTask 'a'" in p for p in found), found
    assert any("'xor'" in p and "'f_no' has no condition" in p for p in found), found
    assert len(found) == 4, found


def test_condition_must_be_feel() -> None:
    """A sequence flow condition without '=' is rejected."""
    body = (
        START
        + '<bpmn:exclusiveGateway id="gw" />'
        + END
        + chain("start", "gw")
        + flow("gw", "end", "amount > 1", "f_static")
    )
    assert_rejected(body, "f_static", "bpmn:sequenceFlow", "must be a FEEL expression")


def test_default_flow_must_leave_the_gateway() -> None:
    """A default flow that is not an outgoing flow of the gateway is rejected."""
    body = START + '<bpmn:exclusiveGateway id="gw" default="elsewhere" />' + END + chain("start", "gw", "end")
    assert_rejected(body, "gw", "default flow 'elsewhere'")


def test_start_event_rules() -> None:
    """Process start timers, subprocess starts, event subprocess starts and start counts."""
    duration_start = (
        '<bpmn:startEvent id="soon"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1M</bpmn:timeDuration>'
        "</bpmn:timerEventDefinition></bpmn:startEvent>"
    )
    sub = (
        '<bpmn:subProcess id="sub"><bpmn:startEvent id="sub_start">'
        '<bpmn:messageEventDefinition messageRef="Msg" /></bpmn:startEvent></bpmn:subProcess>'
    )
    empty_sub = '<bpmn:subProcess id="empty" />'
    event_sub = (
        '<bpmn:subProcess id="es" triggeredByEvent="true"><bpmn:startEvent id="es_start" /></bpmn:subProcess>'
    )
    error_start = '<bpmn:startEvent id="err_start"><bpmn:errorEventDefinition /></bpmn:startEvent>'
    found = problems(
        around(sub, empty_sub)
        + duration_start
        + chain("soon", "end")
        + '<bpmn:startEvent id="start2" />'
        + chain("start2", "end")
        + error_start
        + chain("err_start", "end")
        + event_sub,
        MESSAGE,
    )
    expected = [
        ("'sub_start'", "embedded subprocess must be a none start event"),
        ("'empty'", "exactly one none start event (has 0)"),
        ("'soon'", "bpmn:timeDuration timers are not supported on a process start event"),
        ("'err_start'", "error start events only in event subprocesses"),
        ("'es_start'", "must be a timer, message or error start event"),
        ("'p'", "at most one none start event"),
    ]
    for element, fragment in expected:
        assert any(element in p and fragment in p for p in found), (element, fragment, found)


def test_message_names_must_be_unique_per_process_and_activity() -> None:
    """Two message start events, or two message boundary events of one task, need distinct messages."""
    by_message = '<bpmn:messageEventDefinition messageRef="Msg" />'
    found = problems(
        around(service("task"))
        + node("startEvent", "m1", body=by_message)
        + node("startEvent", "m2", body=by_message)
        + chain("m1", "end")
        + chain("m2", "end")
        + node("boundaryEvent", "b1", body=by_message, attrs=' attachedToRef="task"')
        + node("boundaryEvent", "b2", body=by_message, attrs=' attachedToRef="task"')
        + chain("b1", "end")
        + chain("b2", "end"),
        MESSAGE,
    )
    assert len(found) == 2, found
    assert found[0].startswith("Element 'task' (bpmn:serviceTask): two message boundary events")
    assert found[1].startswith("Element 'p' (bpmn:process): two message start events")


def test_process_without_start_event_is_rejected() -> None:
    """A process needs at least one start event."""
    assert_rejected(service("t"), "p", "at least one start event")


def test_boundary_event_rules() -> None:
    """Interrupting cycles, non-interrupting errors, bad attachments and missing outgoing flows."""
    timer = CYCLE
    found = problems(
        around(service("task"), '<bpmn:exclusiveGateway id="gw" />')
        + f'<bpmn:boundaryEvent id="cycle" attachedToRef="task">{timer}</bpmn:boundaryEvent>'
        + chain("cycle", "end")
        + '<bpmn:boundaryEvent id="soft_error" attachedToRef="task" cancelActivity="false">'
        "<bpmn:errorEventDefinition /></bpmn:boundaryEvent>"
        + chain("soft_error", "end")
        + error_boundary("on_gw", "gw")
        + chain("on_gw", "end")
        + error_boundary("lost", "nowhere")
        + chain("lost", "end")
        + error_boundary("dead_end", "task")
    )
    expected = [
        ("'cycle'", "bpmn:timeCycle timers are not supported on an interrupting boundary event"),
        ("'soft_error'", "must be interrupting"),
        ("'on_gw'", "is a bpmn:exclusiveGateway"),
        ("'lost'", "attachedToRef 'nowhere'"),
        ("'dead_end'", "at least one outgoing sequence flow"),
    ]
    for element, fragment in expected:
        assert any(element in p and fragment in p for p in found), (element, fragment, found)
    assert len(found) == len(expected), found


def test_flow_structure_rules() -> None:
    """Unreachable nodes, flows into starts and out of ends, unknown and cross-scope targets."""
    sub = (
        '<bpmn:subProcess id="sub"><bpmn:startEvent id="sub_start" /><bpmn:endEvent id="sub_end" />'
        + chain("sub_start", "sub_end")
        + "</bpmn:subProcess>"
    )
    found = problems(
        around(sub)
        + service("orphan")
        + chain("end", "start")
        + flow("sub", "ghost", None, "f_ghost")
        + flow("sub", "sub_end", None, "f_cross")
    )
    expected = [
        ("'orphan'", "element is unreachable: no incoming sequence flow"),
        ("'start'", "cannot have incoming sequence flows"),
        ("'end'", "an end event cannot have outgoing sequence flows"),
        ("'f_ghost'", "targetRef 'ghost' does not name a flow node"),
        ("'f_cross'", "cannot cross a subprocess boundary"),
    ]
    for element, fragment in expected:
        assert any(element in p and fragment in p for p in found), (element, fragment, found)


def test_duplicate_ids_are_rejected() -> None:
    """Two elements with the same id are reported."""
    found = problems(START + service("dup") + '<bpmn:endEvent id="dup" />' + chain("start", "dup"))
    assert any("'dup'" in p and "duplicate id 'dup' (also used by bpmn:serviceTask)" in p for p in found), (
        found
    )


def test_error_and_message_references() -> None:
    """Error end events need an error with a code; message refs must exist."""
    found = problems(
        START
        + '<bpmn:parallelGateway id="fork" />'
        + '<bpmn:endEvent id="no_ref"><bpmn:errorEventDefinition /></bpmn:endEvent>'
        + '<bpmn:endEvent id="no_code"><bpmn:errorEventDefinition errorRef="NoCode" /></bpmn:endEvent>'
        + '<bpmn:endEvent id="bad_ref"><bpmn:errorEventDefinition errorRef="Missing" /></bpmn:endEvent>'
        + '<bpmn:endEvent id="signal"><bpmn:signalEventDefinition /></bpmn:endEvent>'
        + chain("start", "fork")
        + "".join(chain("fork", end) for end in ("no_ref", "no_code", "bad_ref", "signal")),
        ERRORS,
    )
    expected = [
        ("'no_ref'", "needs an errorRef"),
        ("'no_code'", "bpmn:error 'NoCode' has no errorCode"),
        ("'bad_ref'", "errorRef 'Missing' does not name a bpmn:error"),
        ("'signal'", "signal events are not supported"),
    ]
    for element, fragment in expected:
        assert any(element in p and fragment in p for p in found), (element, fragment, found)
    assert len(found) == len(expected), found


# -- problems are collected and precise ------------------------------------------------------------


def test_all_problems_are_collected() -> None:
    """Two bad elements give two problems in one error, each naming its element."""
    with pytest.raises(BpmnValidationError) as info:
        parse_bpmn("bad.bpmn", document(around('<bpmn:receiveTask id="r" />', '<bpmn:manualTask id="m" />')))
    assert len(info.value.problems) == 2
    assert "'r' (bpmn:receiveTask)" in info.value.problems[0]
    assert "'m' (bpmn:manualTask)" in info.value.problems[1]
    assert "'bad.bpmn'" in str(info.value)


def test_file_without_executable_process_is_rejected() -> None:
    """A file whose processes are all non-executable cannot be deployed."""
    found = problems_of(document(around(service("t")), executable=False))
    assert found == [
        'Document: no executable process: at least one bpmn:process must have isExecutable="true"'
    ]


def test_malformed_xml_names_line_and_column() -> None:
    """XML that is not well-formed reports one problem with its line and column."""
    found = problems_of(b'<?xml version="1.0"?>\n<bpmn:definitions xmlns:bpmn="x">\n  <a></b>\n')
    assert len(found) == 1
    assert "XML is not well-formed at line 3, column 8" in found[0]
    assert "mismatched tag" in found[0]


def test_doctype_is_rejected() -> None:
    """A DOCTYPE (and with it any entity declaration) is refused before parsing."""
    xml = (
        b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>\n'
        + document(around()).split(b"\n", 1)[1].replace(b'name="The process"', b'name="&lol2;"')
    )
    found = problems_of(xml)
    assert len(found) == 1
    assert "DOCTYPE" in found[0]


def test_root_must_be_definitions() -> None:
    """A document whose root is not bpmn:definitions is rejected."""
    found = problems_of(b"<html><body /></html>")
    assert "root element must be bpmn:definitions" in found[0]


def test_invalid_feel_names_element_and_attribute() -> None:
    """A FEEL syntax error names the element, the attribute and the FEEL error."""
    task = (
        '<bpmn:serviceTask id="task">'
        + ext(
            '<zeebe:taskDefinition type="work" />',
            '<zeebe:ioMapping><zeebe:input source="=a +" target="b" /></zeebe:ioMapping>',
        )
        + "</bpmn:serviceTask>"
    )
    found = problems(around(task))
    assert len(found) == 1, found
    assert found[0].startswith(
        "Element 'task' (bpmn:serviceTask): invalid FEEL expression in zeebe:input source"
    )
    assert "target 'b'" in found[0]


@pytest.mark.parametrize(
    ("kind", "value", "fragment"),
    [
        ("timeDuration", "15 minutes", "not an ISO 8601 duration"),
        ("timeDuration", "PT", "not an ISO 8601 duration"),
        ("timeDate", "2030-01-01T10:00:00", "no time zone"),
        ("timeDate", "someday", "not an ISO 8601 date-time"),
    ],
)
def test_invalid_static_timer_values_are_rejected(kind: str, value: str, fragment: str) -> None:
    """Static ISO 8601 timer values are validated when deployed."""
    node = (
        f'<bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition>'
        f"<bpmn:{kind}>{value}</bpmn:{kind}></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>"
    )
    assert_rejected(around(node), "wait", f"invalid bpmn:{kind}", fragment)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [("R3/PT", "not an ISO 8601 duration"), ("RX/PT1M", "repetition count"), ("0 0 9 * * MON", "cron")],
)
def test_invalid_cycles_are_rejected(value: str, fragment: str) -> None:
    """Repeating intervals must be R[n]/[start/]duration."""
    node = (
        '<bpmn:startEvent id="tick"><bpmn:timerEventDefinition>'
        f"<bpmn:timeCycle>{value}</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:startEvent>"
    )
    assert_rejected(node + END + chain("tick", "end"), "tick", "invalid bpmn:timeCycle", fragment)


def test_large_document_parses() -> None:
    """A long chain of tasks parses (the parser is linear in the document size)."""
    count = 2000
    ids = [f"t{i}" for i in range(count)]
    process = parse(START + "".join(service(i) for i in ids) + END + chain("start", *ids, "end"))
    assert len(process.root.children) == count + 2
    assert process.element("t1999").outgoing == ("f_t1999_end",)


def test_start_form_on_the_process_none_start_event_is_kept() -> None:
    """A zeebe:formDefinition on the process's none start event is kept as its start form id."""
    xml = (
        '<?xml version="1.0"?><bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="d" targetNamespace="t">'
        '<bpmn:process id="p" isExecutable="true"><bpmn:startEvent id="s"><bpmn:extensionElements>'
        '<zeebe:formDefinition formId="application-intake" /></bpmn:extensionElements></bpmn:startEvent>'
        '<bpmn:endEvent id="e" /><bpmn:sequenceFlow id="f" sourceRef="s" targetRef="e" /></bpmn:process>'
        "</bpmn:definitions>"
    )
    (process,) = parse_bpmn("p.bpmn", xml.encode()).processes
    assert process.element("s").extra["startFormId"] == "application-intake"


def test_start_form_elsewhere_is_rejected() -> None:
    """A start form on a message start event is refused, naming the element."""
    xml = (
        '<?xml version="1.0"?><bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="d" targetNamespace="t">'
        '<bpmn:process id="p" isExecutable="true"><bpmn:startEvent id="s"><bpmn:extensionElements>'
        '<zeebe:formDefinition formId="x" /></bpmn:extensionElements>'
        '<bpmn:messageEventDefinition messageRef="m" /></bpmn:startEvent>'
        '<bpmn:endEvent id="e" /><bpmn:sequenceFlow id="f" sourceRef="s" targetRef="e" /></bpmn:process>'
        '<bpmn:message id="m" name="go" /></bpmn:definitions>'
    )
    with pytest.raises(BpmnValidationError) as info:
        parse_bpmn("p.bpmn", xml.encode())
    assert any("'s'" in p and "start form" in p for p in info.value.problems)
