"""Conformance: errors, messages, timers and event subprocesses through pyzeebe."""

import asyncio
from typing import Any

import pytest
from pyzeebe.errors import BusinessError, MessageAlreadyExistsError

from engine.clock import ms_to_datetime
from tests.engine.conftest import Target, bpmn, chain, flow, service_task, wait_for

pytestmark = pytest.mark.asyncio


def message_catch(event_id: str, name: str, correlation: str) -> tuple[str, str]:
    """An intermediate message catch event and the message element it refers to."""
    return (
        f'<bpmn:intermediateCatchEvent id="{event_id}"><bpmn:messageEventDefinition messageRef="msg_{event_id}" />'
        f"</bpmn:intermediateCatchEvent>"
    ), (
        f'<bpmn:message id="msg_{event_id}" name="{name}"><bpmn:extensionElements>'
        f'<zeebe:subscription correlationKey="{correlation}" /></bpmn:extensionElements></bpmn:message>'
    )


def bpmn_with_messages(process_id: str, body: str, messages: str) -> str:
    xml = bpmn(process_id, body)
    return xml.replace("</bpmn:definitions>", messages + "</bpmn:definitions>")


async def test_error_boundary_catches_a_thrown_error(zeebe: Target) -> None:
    """A BPMN error thrown by a worker is caught by the matching boundary, whose flow is taken."""
    boundary = (
        '<bpmn:boundaryEvent id="on_invalid" attachedToRef="check">'
        '<bpmn:errorEventDefinition errorRef="err_invalid" /></bpmn:boundaryEvent>'
    )
    xml = bpmn(
        "errors",
        '<bpmn:startEvent id="s" />'
        + service_task("check", "err.check")
        + boundary
        + service_task("reject", "err.reject")
        + '<bpmn:endEvent id="ok" /><bpmn:endEvent id="rejected" />'
        + chain("s", "check", "ok")
        + chain("on_invalid", "reject", "rejected"),
    ).replace(
        "</bpmn:definitions>",
        '<bpmn:error id="err_invalid" errorCode="APPLICATION_INVALID" /></bpmn:definitions>',
    )
    await zeebe.deploy(errors__bpmn=xml)

    async def check() -> dict[str, Any]:
        raise BusinessError("APPLICATION_INVALID", "invalid id number")

    async def reject() -> dict[str, Any]:
        return {"rejected": True}

    zeebe.worker(err__check=check, err__reject=reject)
    result = await zeebe.client.run_process_with_result("errors", {}, timeout=10_000)
    assert result.variables == {"rejected": True}


async def test_uncaught_error_raises_an_incident(zeebe: Target) -> None:
    """An error code nobody catches becomes an UNHANDLED_ERROR_EVENT incident on the job."""
    server = zeebe.require_embedded("reads incidents from the engine state")
    xml = bpmn(
        "uncaught",
        '<bpmn:startEvent id="s" />'
        + service_task("t", "unc.work")
        + '<bpmn:endEvent id="e" />'
        + chain("s", "t", "e"),
    )
    await zeebe.deploy(uncaught__bpmn=xml)
    thrown = asyncio.Event()

    async def work() -> dict[str, Any]:
        thrown.set()
        raise BusinessError("NOBODY", "nobody listens")

    zeebe.worker(unc__work=work)
    response = await zeebe.client.run_process("uncaught", {})
    await asyncio.wait_for(thrown.wait(), 10)
    state = server.engine.processor.state

    def incident() -> Any:
        found = [
            i for i in state.incidents.values() if i.process_instance_key == response.process_instance_key
        ]
        return found[0] if found else None

    found = await wait_for(incident, message="the incident")
    assert found.error_type == "UNHANDLED_ERROR_EVENT"
    assert "NOBODY" in found.error_message


async def test_error_end_event_in_subprocess_is_caught_on_its_boundary(zeebe: Target) -> None:
    """An error end event inside a subprocess is caught by the subprocess's error boundary."""
    sub = (
        '<bpmn:subProcess id="sub"><bpmn:startEvent id="ss" />'
        '<bpmn:endEvent id="fail"><bpmn:errorEventDefinition errorRef="err_x" /></bpmn:endEvent>'
        + chain("ss", "fail")
        + "</bpmn:subProcess>"
    )
    boundary = '<bpmn:boundaryEvent id="caught" attachedToRef="sub"><bpmn:errorEventDefinition /></bpmn:boundaryEvent>'
    script = (
        '<bpmn:scriptTask id="mark"><bpmn:extensionElements><zeebe:script expression="=&quot;caught&quot;" '
        'resultVariable="outcome" /></bpmn:extensionElements></bpmn:scriptTask>'
    )
    xml = bpmn(
        "sub-error",
        '<bpmn:startEvent id="s" />'
        + sub
        + boundary
        + script
        + '<bpmn:endEvent id="e1" /><bpmn:endEvent id="e2" />'
        "" + chain("s", "sub", "e1") + chain("caught", "mark", "e2"),
    ).replace("</bpmn:definitions>", '<bpmn:error id="err_x" errorCode="X" /></bpmn:definitions>')
    await zeebe.deploy(suberr__bpmn=xml)
    result = await zeebe.client.run_process_with_result("sub-error", {}, timeout=10_000)
    assert result.variables == {"outcome": "caught"}


async def test_message_catch_correlates_by_key_and_merges_variables(zeebe: Target) -> None:
    """A published message reaches only the instance waiting with its correlation key."""
    catch, message = message_catch("wait", "materials-supplemented", "=caseNumber")
    xml = bpmn_with_messages(
        "supplement",
        '<bpmn:startEvent id="s" />' + catch + '<bpmn:endEvent id="e" />' + chain("s", "wait", "e"),
        message,
    )
    await zeebe.deploy(supplement__bpmn=xml)
    first = asyncio.create_task(
        zeebe.client.run_process_with_result("supplement", {"caseNumber": "XJ-1"}, timeout=15_000)
    )
    second = asyncio.create_task(
        zeebe.client.run_process_with_result("supplement", {"caseNumber": "XJ-2"}, timeout=15_000)
    )
    # Buffered for a minute, the message waits for XJ-2's subscription however the two race.
    await zeebe.client.publish_message(
        "materials-supplemented", "XJ-2", {"supplied": ["id_card"]}, time_to_live_in_milliseconds=60_000
    )
    done = await asyncio.wait_for(second, 10)
    assert done.variables == {"caseNumber": "XJ-2", "supplied": ["id_card"]}
    assert not first.done()
    await zeebe.client.publish_message("materials-supplemented", "XJ-1", {})
    assert (await asyncio.wait_for(first, 10)).variables == {"caseNumber": "XJ-1"}


async def test_buffered_message_correlates_when_the_instance_arrives(zeebe: Target) -> None:
    """A message with a time to live waits in the buffer for a subscription opened later."""
    catch, message = message_catch("wait", "early", "=key")
    xml = bpmn_with_messages(
        "buffered",
        '<bpmn:startEvent id="s" />' + catch + '<bpmn:endEvent id="e" />' + chain("s", "wait", "e"),
        message,
    )
    await zeebe.deploy(buffered__bpmn=xml)
    await zeebe.client.publish_message(
        "early", "k1", {"from_buffer": True}, time_to_live_in_milliseconds=60_000
    )
    result = await zeebe.client.run_process_with_result("buffered", {"key": "k1"}, timeout=10_000)
    assert result.variables == {"key": "k1", "from_buffer": True}


async def test_duplicate_message_id_is_rejected_while_buffered(zeebe: Target) -> None:
    """Publishing the same messageId twice while the first is buffered answers ALREADY_EXISTS."""
    await zeebe.client.publish_message("dup", "k", {}, time_to_live_in_milliseconds=60_000, message_id="m-1")
    with pytest.raises(MessageAlreadyExistsError):
        await zeebe.client.publish_message(
            "dup", "k", {}, time_to_live_in_milliseconds=60_000, message_id="m-1"
        )


async def test_expired_message_does_not_correlate(zeebe: Target) -> None:
    """After its time to live a buffered message is gone."""
    server = zeebe.require_embedded("moves the engine clock")
    await zeebe.client.publish_message("late", "k", {}, time_to_live_in_milliseconds=1_000)
    zeebe.advance_clock(2_000)
    await wait_for(lambda: not server.engine.processor.state.messages, message="the message to expire")


async def test_timer_catch_fires_when_the_clock_moves(zeebe: Target) -> None:
    """An intermediate timer waits until the engine clock passes its due date."""
    server = zeebe.require_embedded("moves the engine clock")
    timer = (
        '<bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition>'
        '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">P1D</bpmn:timeDuration>'
        "</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>"
    )
    xml = bpmn(
        "timer", '<bpmn:startEvent id="s" />' + timer + '<bpmn:endEvent id="e" />' + chain("s", "wait", "e")
    )
    await zeebe.deploy(timer__bpmn=xml)
    run = asyncio.create_task(zeebe.client.run_process_with_result("timer", {}, timeout=15_000))
    await wait_for(lambda: server.engine.processor.state.timers, message="the timer")
    zeebe.advance_clock(23 * 3_600_000)
    # A command through the one writer: the scheduler queued any due timer before it, so it has fired by now.
    await zeebe.client.publish_message("barrier", "none", time_to_live_in_milliseconds=0)
    assert server.engine.processor.state.timers
    assert not run.done()
    zeebe.advance_clock(2 * 3_600_000)
    result = await asyncio.wait_for(run, 10)
    assert result.variables == {}


async def test_timer_boundaries_interrupting_and_not(zeebe: Target) -> None:
    """A non-interrupting timer warns while the task goes on; an interrupting one cancels it."""
    server = zeebe.require_embedded("moves the engine clock")
    warn = (
        '<bpmn:boundaryEvent id="warn" attachedToRef="work" cancelActivity="false"><bpmn:timerEventDefinition>'
        '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">=warnAfter</bpmn:timeDuration>'
        "</bpmn:timerEventDefinition></bpmn:boundaryEvent>"
    )
    overdue = (
        '<bpmn:boundaryEvent id="overdue" attachedToRef="work"><bpmn:timerEventDefinition>'
        '<bpmn:timeDate xsi:type="bpmn:tFormalExpression">=deadline</bpmn:timeDate>'
        "</bpmn:timerEventDefinition></bpmn:boundaryEvent>"
    )
    xml = bpmn(
        "deadlines",
        '<bpmn:startEvent id="s" />'
        + service_task("work", "dl.work")
        + warn
        + overdue
        + service_task("alert", "dl.alert")
        + '<bpmn:endEvent id="done" /><bpmn:endEvent id="warned" /><bpmn:endEvent id="late" />'
        + chain("s", "work", "done")
        + chain("warn", "alert", "warned")
        + flow("f_late", "overdue", "late"),
    )
    await zeebe.deploy(deadlines__bpmn=xml)
    alerts: list[str] = []

    async def alert() -> dict[str, Any]:
        alerts.append("yellow")
        return {}

    zeebe.worker(dl__alert=alert)
    assert zeebe.clock is not None
    deadline = ms_to_datetime(zeebe.clock.now_ms() + 2 * 86_400_000).isoformat().replace("+00:00", "Z")
    run = asyncio.create_task(
        zeebe.client.run_process_with_result(
            "deadlines", {"warnAfter": "P1D", "deadline": deadline}, timeout=15_000
        )
    )
    await wait_for(lambda: len(server.engine.processor.state.timers) == 2, message="both boundary timers")
    zeebe.advance_clock(86_400_000 + 1_000)
    await wait_for(lambda: alerts == ["yellow"], message="the yellow warning")
    assert not run.done()
    zeebe.advance_clock(86_400_000)
    result = await asyncio.wait_for(run, 10)
    assert "warnAfter" in result.variables
    assert not [j for j in server.engine.processor.state.jobs.values() if j.type == "dl.work"]


async def test_event_subprocesses_message_non_interrupting_and_timer_interrupting(zeebe: Target) -> None:
    """A non-interrupting message subprocess runs beside the main flow; an interrupting timer ends it."""
    server = zeebe.require_embedded("moves the engine clock")
    _, message = message_catch("note", "note-added", "=caseNumber")
    note_esp = (
        '<bpmn:subProcess id="on_note" triggeredByEvent="true">'
        '<bpmn:startEvent id="note_start" isInterrupting="false"><bpmn:messageEventDefinition messageRef="msg_note" />'
        "</bpmn:startEvent>" + service_task("record_note", "esp.note") + '<bpmn:endEvent id="note_end" />'
        "" + chain("note_start", "record_note", "note_end") + "</bpmn:subProcess>"
    )
    timeout_esp = (
        '<bpmn:subProcess id="on_timeout" triggeredByEvent="true">'
        '<bpmn:startEvent id="timeout_start"><bpmn:timerEventDefinition>'
        '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">PT1H</bpmn:timeDuration></bpmn:timerEventDefinition>'
        "</bpmn:startEvent>" + service_task("close", "esp.close") + '<bpmn:endEvent id="timeout_end" />'
        "" + chain("timeout_start", "close", "timeout_end") + "</bpmn:subProcess>"
    )
    xml = bpmn_with_messages(
        "esp",
        '<bpmn:startEvent id="s" />'
        + service_task("main", "esp.main")
        + '<bpmn:endEvent id="e" />'
        + chain("s", "main", "e")
        + note_esp
        + timeout_esp,
        message,
    )
    await zeebe.deploy(esp__bpmn=xml)
    notes: list[str] = []

    async def note(text: str) -> dict[str, Any]:
        notes.append(text)
        return {}

    async def close() -> dict[str, Any]:
        return {"closed": True}

    zeebe.worker(esp__note=note, esp__close=close)
    run = asyncio.create_task(
        zeebe.client.run_process_with_result("esp", {"caseNumber": "C1"}, timeout=15_000)
    )
    await wait_for(
        lambda: any(j.type == "esp.main" for j in server.engine.processor.state.jobs.values()),
        message="main job",
    )
    await zeebe.client.publish_message("note-added", "C1", {"text": "first"})
    await zeebe.client.publish_message("note-added", "C1", {"text": "second"})
    await wait_for(lambda: sorted(notes) == ["first", "second"], message="both notes")
    assert not run.done()
    zeebe.advance_clock(3_600_000 + 1)
    result = await asyncio.wait_for(run, 10)
    assert result.variables["closed"] is True
    assert not [j for j in server.engine.processor.state.jobs.values() if j.type == "esp.main"]


async def test_message_boundary_interrupts_the_task(zeebe: Target) -> None:
    """A message boundary event cancels the task it is attached to and takes its own flow."""
    server = zeebe.require_embedded("checks that the interrupted job is gone")
    boundary = (
        '<bpmn:boundaryEvent id="withdrawn" attachedToRef="review">'
        '<bpmn:messageEventDefinition messageRef="msg_w" /></bpmn:boundaryEvent>'
    )
    message = (
        '<bpmn:message id="msg_w" name="application-withdrawn"><bpmn:extensionElements>'
        '<zeebe:subscription correlationKey="=caseNumber" /></bpmn:extensionElements></bpmn:message>'
    )
    xml = bpmn_with_messages(
        "withdraw",
        '<bpmn:startEvent id="s" />'
        + service_task("review", "wd.review")
        + boundary
        + '<bpmn:endEvent id="done" /><bpmn:endEvent id="gone" />'
        + chain("s", "review", "done")
        + chain("withdrawn", "gone"),
        message,
    )
    await zeebe.deploy(withdraw__bpmn=xml)
    run = asyncio.create_task(
        zeebe.client.run_process_with_result("withdraw", {"caseNumber": "W1"}, timeout=15_000)
    )
    state = server.engine.processor.state
    await wait_for(lambda: any(j.type == "wd.review" for j in state.jobs.values()), message="the review job")
    await zeebe.client.publish_message("application-withdrawn", "W1", {"reason": "applicant"})
    result = await asyncio.wait_for(run, 10)
    assert result.variables == {"caseNumber": "W1", "reason": "applicant"}
    assert not [j for j in state.jobs.values() if j.type == "wd.review"]


async def test_error_event_subprocess_catches_and_ends_the_scope(zeebe: Target) -> None:
    """An error with no boundary is caught by the process's error event subprocess."""
    esp = (
        '<bpmn:subProcess id="on_error" triggeredByEvent="true">'
        '<bpmn:startEvent id="err_start"><bpmn:errorEventDefinition errorRef="err_any" /></bpmn:startEvent>'
        + service_task("cleanup", "esp.cleanup")
        + '<bpmn:endEvent id="err_end" />'
        + chain("err_start", "cleanup", "err_end")
        + "</bpmn:subProcess>"
    )
    xml = bpmn(
        "esp-error",
        '<bpmn:startEvent id="s" />'
        + service_task("t", "esp.fail")
        + '<bpmn:endEvent id="e" />'
        + chain("s", "t", "e")
        + esp,
    ).replace("</bpmn:definitions>", '<bpmn:error id="err_any" errorCode="BROKEN" /></bpmn:definitions>')
    await zeebe.deploy(esperr__bpmn=xml)

    async def fail() -> dict[str, Any]:
        raise BusinessError("BROKEN")

    async def cleanup() -> dict[str, Any]:
        return {"cleaned": True}

    zeebe.worker(esp__fail=fail, esp__cleanup=cleanup)
    result = await zeebe.client.run_process_with_result("esp-error", {}, timeout=10_000)
    assert result.variables == {"cleaned": True}


async def test_message_start_event_starts_an_instance(zeebe: Target) -> None:
    """Publishing the message of a message start event creates an instance with its variables."""
    server = zeebe.require_embedded("reads instances from the engine state")
    xml = bpmn(
        "by-message",
        '<bpmn:startEvent id="s"><bpmn:messageEventDefinition messageRef="m_start" /></bpmn:startEvent>'
        + service_task("t", "msgstart.work")
        + '<bpmn:endEvent id="e" />'
        + chain("s", "t", "e"),
    ).replace("</bpmn:definitions>", '<bpmn:message id="m_start" name="case-submitted" /></bpmn:definitions>')
    await zeebe.deploy(bymsg__bpmn=xml)
    got: list[str] = []

    async def work(caseNumber: str) -> dict[str, Any]:  # noqa: N803 - process variable name
        got.append(caseNumber)
        return {}

    zeebe.worker(msgstart__work=work)
    await zeebe.client.publish_message("case-submitted", "", {"caseNumber": "M-1"})
    await wait_for(lambda: got == ["M-1"], message="the started instance's job")
    infos = [i for i in server.engine.processor.state.instances.values() if i.bpmn_process_id == "by-message"]
    assert len(infos) == 1


async def test_timer_start_event_starts_instances_on_its_cycle(zeebe: Target) -> None:
    """A timer start cycle creates one instance per due time as the clock moves, then stops."""
    server = zeebe.require_embedded("moves the engine clock")
    xml = bpmn(
        "daily-report",
        '<bpmn:startEvent id="s"><bpmn:timerEventDefinition>'
        '<bpmn:timeCycle xsi:type="bpmn:tFormalExpression">R2/PT1H</bpmn:timeCycle></bpmn:timerEventDefinition>'
        '</bpmn:startEvent><bpmn:endEvent id="e" />' + chain("s", "e"),
    )
    await zeebe.deploy(daily__bpmn=xml)
    state = server.engine.processor.state

    def started() -> int:
        return len([i for i in state.instances.values() if i.bpmn_process_id == "daily-report"])

    assert started() == 0
    zeebe.advance_clock(3_600_000 + 1)
    await wait_for(lambda: started() == 1, message="the first timer start")
    zeebe.advance_clock(3_600_000)
    await wait_for(lambda: started() == 2, message="the second timer start")
    zeebe.advance_clock(3_600_000 * 5)
    await wait_for(lambda: not state.timers, message="the cycle to end")
    assert started() == 2
