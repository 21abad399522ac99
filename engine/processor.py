"""The command processor: the only code that changes engine state.

Like a Zeebe partition it applies one command at a time. Each public method is a command: it checks
its preconditions first (raising ``Rejection`` before anything changed), then mutates the in-memory
``State`` and appends records. BPMN execution inside a command runs on an agenda (a FIFO of small
steps) until every token rests in a wait state: a job, a user task, a timer, a message subscription,
a joining gateway, or a called process. The caller (``engine.runtime``) persists the changes of a
batch of commands in one transaction before it answers any of them.
"""

import functools
import hashlib
import heapq
import json
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from engine.bpmn.model import (
    BpmnValidationError,
    Element,
    ElementType,
    EventType,
    Expression,
    Process,
    TimerKind,
)
from engine.bpmn.parser import parse_bpmn
from engine.clock import Clock, ms_to_datetime
from engine.feel import FeelError, to_json_value
from engine.state import (
    ElementInstance,
    FormDefinition,
    Incident,
    InstanceInfo,
    Job,
    Message,
    ProcessDefinition,
    Record,
    State,
    Subscription,
    Timer,
    UserTask,
)
from engine.timeutil import TimerFormatError, parse_cycle, parse_datetime, parse_duration

MI_BODY = ElementType.MULTI_INSTANCE_BODY.value
JOB_ELEMENT_TYPES = {
    ElementType.SERVICE_TASK,
    ElementType.SEND_TASK,
    ElementType.SCRIPT_TASK,
    ElementType.END_EVENT,
    ElementType.INTERMEDIATE_THROW_EVENT,
}


class RejectionType(StrEnum):
    """Why a command was refused; the gateways map these to gRPC and HTTP status codes."""

    NOT_FOUND = "NOT_FOUND"
    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    INVALID_STATE = "INVALID_STATE"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    FORBIDDEN = "FORBIDDEN"


class Rejection(Exception):  # noqa: N818 - Zeebe's own name for a refused command
    """A command refused before it changed anything."""

    def __init__(self, rejection_type: RejectionType, message: str) -> None:
        super().__init__(message)
        self.type = rejection_type
        self.message = message


class ErrorType(StrEnum):
    """Incident error types, named as Zeebe names them."""

    JOB_NO_RETRIES = "JOB_NO_RETRIES"
    UNHANDLED_ERROR_EVENT = "UNHANDLED_ERROR_EVENT"
    CONDITION_ERROR = "CONDITION_ERROR"
    EXTRACT_VALUE_ERROR = "EXTRACT_VALUE_ERROR"
    IO_MAPPING_ERROR = "IO_MAPPING_ERROR"
    CALLED_ELEMENT_ERROR = "CALLED_ELEMENT_ERROR"
    FORM_NOT_FOUND = "FORM_NOT_FOUND"


class IncidentRaised(Exception):  # noqa: N818 - a signal inside the processor, never leaves it
    def __init__(self, error_type: ErrorType, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


@dataclass(slots=True)
class Effects:
    """What a batch changed that someone outside the processor waits for."""

    job_types: set[str] = field(default_factory=set)
    ended_instances: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)
    schedule_changed: bool = False


@dataclass(frozen=True, slots=True)
class DeployedProcess:
    bpmn_process_id: str
    version: int
    key: int
    resource_name: str


@dataclass(frozen=True, slots=True)
class DeployedForm:
    form_id: str
    version: int
    key: int
    resource_name: str


@dataclass(frozen=True, slots=True)
class DeploymentResult:
    key: int
    processes: list[DeployedProcess]
    forms: list[DeployedForm]


@dataclass(frozen=True, slots=True)
class ActivatedJob:
    job: Job
    variables: dict[str, Any]


def _json_object(text: str | None, field_name: str) -> dict[str, Any]:
    """Parse a variables document as Zeebe does: empty means none, anything but an object is refused."""
    if text is None or not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise Rejection(
            RejectionType.INVALID_ARGUMENT,
            f"Property '{field_name}' is invalid: expected a JSON document, but it does not parse: {exc}",
        ) from exc
    if not isinstance(value, dict):
        kind = type(value).__name__.upper().replace("LIST", "ARRAY")
        raise Rejection(
            RejectionType.INVALID_ARGUMENT,
            f"Property '{field_name}' is invalid: expected document to be a root level object, "
            f"but was '{kind}'",
        )
    return value


def parse_variables(text: str | None, field_name: str = "variables") -> dict[str, Any]:
    return _json_object(text, field_name)


class Processor:
    """Applies commands to the state. Not thread-safe: exactly one caller, the runtime's writer."""

    def __init__(self, state: State, clock: Clock) -> None:
        self.state = state
        self.clock = clock
        self.effects = Effects()
        self._agenda: deque[Callable[[], None]] = deque()
        self._models: dict[int, Process] = {}
        self._due: list[tuple[int, str, int]] = []
        self._rebuild_schedule()

    # ------------------------------------------------------------------------------------------
    # infrastructure
    # ------------------------------------------------------------------------------------------
    def take_effects(self) -> Effects:
        effects, self.effects = self.effects, Effects()
        return effects

    def model(self, definition_key: int) -> Process:
        model = self._models.get(definition_key)
        if model is None:
            definition = self.state.processes[definition_key]
            parsed = parse_bpmn(definition.resource_name, definition.xml.encode())
            for process in parsed.processes:
                if process.id == definition.bpmn_process_id:
                    model = process
            if model is None:  # pragma: no cover - a stored definition always parses to itself
                raise RuntimeError(f"definition {definition_key} lost process {definition.bpmn_process_id}")
            self._models[definition_key] = model
        return model

    def element_of(self, ei: ElementInstance) -> Element:
        return self.model(ei.process_definition_key).element(ei.element_id)

    def _record(
        self, value_type: str, intent: str, key: int, process_instance_key: int | None, value: dict[str, Any]
    ) -> None:
        state = self.state
        state.append(
            Record(
                state.next_position, key, value_type, intent, process_instance_key, self.clock.now_ms(), value
            )
        )
        state.next_position += 1

    def _run(self) -> None:
        agenda = self._agenda
        while agenda:
            agenda.popleft()()

    def _schedule(self, due_ms: int, kind: str, key: int) -> None:
        heapq.heappush(self._due, (due_ms, kind, key))
        self.effects.schedule_changed = True

    def _rebuild_schedule(self) -> None:
        self._due = []
        for timer in self.state.timers.values():
            self._due.append((timer.due_ms, "timer", timer.key))
        for job in self.state.jobs.values():
            if job.state == "ACTIVATED":
                self._due.append((job.deadline_ms, "job-deadline", job.key))
            elif job.state == "BACKOFF":
                self._due.append((job.backoff_until_ms, "job-backoff", job.key))
        for message in self.state.messages.values():
            self._due.append((message.deadline_ms, "message", message.key))
        heapq.heapify(self._due)

    def _due_is_current(self, due_ms: int, kind: str, key: int) -> bool:
        state = self.state
        if kind == "timer":
            timer = state.timers.get(key)
            return timer is not None and timer.due_ms == due_ms
        if kind == "job-deadline":
            job = state.jobs.get(key)
            return job is not None and job.state == "ACTIVATED" and job.deadline_ms == due_ms
        if kind == "job-backoff":
            job = state.jobs.get(key)
            return job is not None and job.state == "BACKOFF" and job.backoff_until_ms == due_ms
        message = state.messages.get(key)
        return message is not None and message.deadline_ms == due_ms

    def next_due_ms(self) -> int | None:
        due = self._due
        while due and not self._due_is_current(*due[0]):
            heapq.heappop(due)
        return due[0][0] if due else None

    # ------------------------------------------------------------------------------------------
    # variables and expressions
    # ------------------------------------------------------------------------------------------
    def scope_chain(self, scope_key: int) -> list[int]:
        chain: list[int] = []
        elements = self.state.elements
        key: int | None = scope_key
        while key is not None:
            chain.append(key)
            ei = elements.get(key)
            key = ei.flow_scope_key if ei is not None else None
        return chain

    def visible_variables(self, scope_key: int) -> dict[str, Any]:
        variables = self.state.variables
        merged: dict[str, Any] = {}
        for key in reversed(self.scope_chain(scope_key)):
            local = variables.get(key)
            if local:
                merged.update(local)
        return merged

    def _evaluate(self, expression: Expression, context: dict[str, Any]) -> Any:
        if expression.feel is None:
            return expression.source
        try:
            value = expression.feel.evaluate(context, now=self.clock.now())
        except FeelError as exc:
            raise IncidentRaised(
                ErrorType.EXTRACT_VALUE_ERROR, f"Failed to evaluate expression '{expression.source}': {exc}"
            ) from exc
        return to_json_value(value)

    def _evaluate_string(self, expression: Expression, context: dict[str, Any], what: str) -> str:
        value = self._evaluate(expression, context)
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise IncidentRaised(
                ErrorType.EXTRACT_VALUE_ERROR,
                f"Expected {what} '{expression.source}' to be a string or a number, "
                f"but was {_feel_type(value)}",
            )
        return value if isinstance(value, str) else _number_text(value)

    def _evaluate_list(self, expression: Expression | None, context: dict[str, Any], what: str) -> list[str]:
        if expression is None:
            return []
        value = self._evaluate(expression, context)
        if value is None:
            return []
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return list(value)
        raise IncidentRaised(
            ErrorType.EXTRACT_VALUE_ERROR,
            f"Expected {what} '{expression.source}' to be a list of strings, but was {_feel_type(value)}",
        )

    def _set_local(self, scope_key: int, name: str, value: Any, process_instance_key: int) -> None:
        existed = name in self.state.variables.get(scope_key, {})
        self.state.set_variable(scope_key, name, value)
        self._record(
            "VARIABLE",
            "UPDATED" if existed else "CREATED",
            scope_key,
            process_instance_key,
            {"name": name, "scopeKey": scope_key, "value": value},
        )

    def _merge_propagating(
        self, start_scope_key: int, values: dict[str, Any], process_instance_key: int
    ) -> None:
        """Write each variable where it already exists on the way up, else at the process root."""
        if not values:
            return
        chain = self.scope_chain(start_scope_key)
        variables = self.state.variables
        for name, value in values.items():
            target = chain[-1]
            for key in chain:
                if name in variables.get(key, {}):
                    target = key
                    break
            self._set_local(target, name, value, process_instance_key)

    def _assign(self, results: dict[str, Any], target: str, value: Any, context: dict[str, Any]) -> None:
        """Output/input mapping targets may be paths (``a.b``): merge into the existing context."""
        if "." not in target:
            results[target] = value
            return
        head, *rest = target.split(".")
        base = results.get(head, context.get(head))
        root: dict[str, Any] = dict(base) if isinstance(base, dict) else {}
        node = root
        for part in rest[:-1]:
            child = node.get(part)
            node[part] = dict(child) if isinstance(child, dict) else {}
            node = node[part]
        node[rest[-1]] = value
        results[head] = root

    def _evaluate_mappings(
        self, mappings: Iterable[Any], context: dict[str, Any], kind: str
    ) -> dict[str, Any]:
        results: dict[str, Any] = {}
        for mapping in mappings:
            try:
                value = self._evaluate(mapping.source, {**context, **results})
            except IncidentRaised as exc:
                raise IncidentRaised(
                    ErrorType.IO_MAPPING_ERROR,
                    f"Failed to evaluate {kind} mapping to '{mapping.target}': {exc}",
                ) from exc
            self._assign(results, mapping.target, value, context)
        return results

    # ------------------------------------------------------------------------------------------
    # deployment
    # ------------------------------------------------------------------------------------------
    def deploy(self, resources: list[tuple[str, bytes]]) -> DeploymentResult:
        if not resources:
            raise Rejection(
                RejectionType.INVALID_ARGUMENT, "Expected to deploy at least one resource, but none given"
            )
        state = self.state
        problems: list[str] = []
        parsed_processes: list[tuple[str, bytes, Process]] = []
        parsed_forms: list[tuple[str, bytes, str]] = []
        seen_ids: dict[str, str] = {}
        for name, content in resources:
            lower = name.lower()
            if lower.endswith((".bpmn", ".xml")):
                try:
                    parsed = parse_bpmn(name, content)
                except BpmnValidationError as exc:
                    problems.append(str(exc))
                    continue
                for process in parsed.processes:
                    if process.id in seen_ids:
                        problems.append(
                            f"'{name}': duplicate process id '{process.id}' "
                            f"(also in '{seen_ids[process.id]}')"
                        )
                    seen_ids[process.id] = name
                    parsed_processes.append((name, content, process))
            elif lower.endswith(".form"):
                form_id = _form_id(name, content, problems)
                if form_id is not None:
                    parsed_forms.append((name, content, form_id))
            else:
                problems.append(f"'{name}': unsupported resource type (expected .bpmn or .form)")
        if problems:
            joined = "\n".join(problems)
            raise Rejection(
                RejectionType.INVALID_ARGUMENT,
                f"Expected to deploy new resources, but encountered the following errors:\n{joined}",
            )

        deployment_key = state.new_key()
        deployed: list[DeployedProcess] = []
        for name, content, process in parsed_processes:
            checksum = hashlib.sha256(content).hexdigest()
            latest_key = state.latest_process.get(process.id)
            latest = state.processes.get(latest_key) if latest_key is not None else None
            if latest is not None and latest.checksum == checksum and latest.resource_name == name:
                deployed.append(DeployedProcess(process.id, latest.version, latest.key, name))
                continue
            definition = ProcessDefinition(
                key=state.new_key(),
                bpmn_process_id=process.id,
                version=(latest.version + 1) if latest is not None else 1,
                resource_name=name,
                checksum=checksum,
                xml=content.decode("utf-8"),
                deployment_key=deployment_key,
                name=process.name,
            )
            state.put(definition)
            self._models[definition.key] = process
            self._record(
                "PROCESS",
                "CREATED",
                definition.key,
                None,
                {"bpmnProcessId": process.id, "version": definition.version, "resourceName": name},
            )
            self._replace_start_timers(latest, definition, process)
            deployed.append(DeployedProcess(process.id, definition.version, definition.key, name))
        forms: list[DeployedForm] = []
        for name, content, form_id in parsed_forms:
            checksum = hashlib.sha256(content).hexdigest()
            latest_form_key = state.latest_form.get(form_id)
            latest_form = state.forms.get(latest_form_key) if latest_form_key is not None else None
            if latest_form is not None and latest_form.checksum == checksum:
                forms.append(DeployedForm(form_id, latest_form.version, latest_form.key, name))
                continue
            form = FormDefinition(
                key=state.new_key(),
                form_id=form_id,
                version=(latest_form.version + 1) if latest_form is not None else 1,
                resource_name=name,
                checksum=checksum,
                schema=content.decode("utf-8"),
                deployment_key=deployment_key,
            )
            state.put(form)
            self._record("FORM", "CREATED", form.key, None, {"formId": form_id, "version": form.version})
            forms.append(DeployedForm(form_id, form.version, form.key, name))
        self._record("DEPLOYMENT", "CREATED", deployment_key, None, {"resources": [n for n, _ in resources]})
        return DeploymentResult(deployment_key, deployed, forms)

    def _replace_start_timers(
        self, previous: ProcessDefinition | None, new: ProcessDefinition, model: Process
    ) -> None:
        state = self.state
        if previous is not None:
            for timer in [t for t in state.timers.values() if t.process_definition_key == previous.key]:
                if timer.element_instance_key is None:
                    state.remove(timer)
        for start_id in model.timer_starts:
            element = model.element(start_id)
            try:
                self._create_timer(element, None, None, new.key, {})
            except IncidentRaised as exc:  # a start timer has no instance to carry an incident
                self._record(
                    "TIMER", "REJECTED", new.key, None, {"elementId": start_id, "reason": exc.message}
                )

    # ------------------------------------------------------------------------------------------
    # process instances
    # ------------------------------------------------------------------------------------------
    def find_definition(self, bpmn_process_id: str, version: int, definition_key: int) -> ProcessDefinition:
        state = self.state
        if definition_key > 0:
            found = state.processes.get(definition_key)
            if found is None:
                raise Rejection(
                    RejectionType.NOT_FOUND,
                    f"Expected to find process definition with key '{definition_key}', but none found",
                )
            return found
        if not bpmn_process_id:
            raise Rejection(
                RejectionType.INVALID_ARGUMENT,
                "Expected either 'bpmnProcessId' or 'processDefinitionKey' to be set, but neither is",
            )
        if version > 0:
            for definition in state.processes.values():
                if definition.bpmn_process_id == bpmn_process_id and definition.version == version:
                    return definition
            raise Rejection(
                RejectionType.NOT_FOUND,
                f"Expected to find process definition with process ID '{bpmn_process_id}' and version "
                f"'{version}', but none found",
            )
        latest = state.latest_process.get(bpmn_process_id)
        if latest is None:
            raise Rejection(
                RejectionType.NOT_FOUND,
                f"Expected to find process definition with process ID '{bpmn_process_id}', but none found",
            )
        return state.processes[latest]

    def create_instance(
        self,
        bpmn_process_id: str = "",
        version: int = -1,
        definition_key: int = 0,
        variables: dict[str, Any] | None = None,
        start_element: str | None = None,
    ) -> InstanceInfo:
        definition = self.find_definition(bpmn_process_id, version, definition_key)
        model = self.model(definition.key)
        if start_element is None and model.none_start is None:
            raise Rejection(
                RejectionType.INVALID_ARGUMENT,
                f"Expected to create instance of process '{definition.bpmn_process_id}' with a none start "
                "event, but it has no such event",
            )
        info = self._new_instance(definition, variables or {}, start_element or model.none_start, None)
        self._run()
        return info

    def _new_instance(
        self,
        definition: ProcessDefinition,
        variables: dict[str, Any],
        start_element: str | None,
        parent: ElementInstance | None,
    ) -> InstanceInfo:
        state = self.state
        key = state.new_key()
        now = self.clock.now_ms()
        info = InstanceInfo(
            key=key,
            bpmn_process_id=definition.bpmn_process_id,
            process_definition_key=definition.key,
            version=definition.version,
            state="ACTIVE",
            start_ms=now,
            parent_process_instance_key=parent.process_instance_key if parent else None,
            parent_element_instance_key=parent.key if parent else None,
        )
        state.put(info)
        root = ElementInstance(
            key=key,
            process_instance_key=key,
            process_definition_key=definition.key,
            element_id=definition.bpmn_process_id,
            element_type=ElementType.PROCESS.value,
            flow_scope_key=None,
            parent_element_instance_key=parent.key if parent else None,
            created_ms=now,
        )
        state.put(root)
        for name, value in variables.items():
            self._set_local(key, name, value, key)
        self._agenda.append(lambda: self._activate_process(key, start_element))
        return info

    def _activate_process(self, key: int, start_element: str | None) -> None:
        root = self.state.elements.get(key)
        if root is None:
            return
        root.state = "ACTIVATED"
        self.state.touch(root)
        self._element_record(root, "ELEMENT_ACTIVATED")
        model = self.model(root.process_definition_key)
        try:
            self._open_event_subprocess_triggers(root, model.root)
        except IncidentRaised as exc:
            self._raise_incident(root, exc)
            return
        if start_element is not None:
            self._spawn(model.element(start_element), root)

    def cancel_instance(self, key: int) -> None:
        root = self.state.elements.get(key)
        if root is None or root.flow_scope_key is not None:
            raise Rejection(
                RejectionType.NOT_FOUND,
                f"Expected to cancel a process instance with key '{key}', but no such process was found",
            )
        if root.parent_element_instance_key is not None:
            raise Rejection(
                RejectionType.INVALID_STATE,
                f"Expected to cancel a process instance with key '{key}', but it is created by a parent "
                "process instance. Cannot cancel child process instance directly, only the root",
            )
        self._terminate(root)
        self._run()

    # ------------------------------------------------------------------------------------------
    # element lifecycle
    # ------------------------------------------------------------------------------------------
    def _element_record(self, ei: ElementInstance, intent: str) -> None:
        self._record(
            "PROCESS_INSTANCE",
            intent,
            ei.key,
            ei.process_instance_key,
            {
                "elementId": ei.element_id,
                "bpmnElementType": ei.element_type,
                "flowScopeKey": ei.flow_scope_key if ei.flow_scope_key is not None else -1,
                "processDefinitionKey": ei.process_definition_key,
            },
        )

    def _spawn(
        self,
        element: Element,
        flow_scope: ElementInstance,
        *,
        inner: bool = False,
        pending: dict[str, Any] | None = None,
    ) -> ElementInstance:
        """Create the instance of ``element`` in ``flow_scope`` now and queue its activation."""
        state = self.state
        element_type = MI_BODY if element.loop is not None and not inner else element.type.value
        ei = ElementInstance(
            key=state.new_key(),
            process_instance_key=flow_scope.process_instance_key,
            process_definition_key=flow_scope.process_definition_key,
            element_id=element.id,
            element_type=element_type,
            flow_scope_key=flow_scope.key,
            pending_variables=pending,
            created_ms=self.clock.now_ms(),
        )
        state.put(ei)
        key = ei.key
        self._agenda.append(lambda: self._activate(key))
        return ei

    def _activate(self, key: int) -> None:
        ei = self.state.elements.get(key)
        if ei is None or ei.state != "ACTIVATING":
            return
        element = self.element_of(ei)
        try:
            if ei.element_type == MI_BODY:
                self._activate_multi_instance(ei, element)
            else:
                if element.inputs:
                    context = self.visible_variables(ei.key)
                    for name, value in self._evaluate_mappings(element.inputs, context, "input").items():
                        self._set_local(ei.key, name, value, ei.process_instance_key)
                self._behave(ei, element)
        except IncidentRaised as exc:
            self._raise_incident(ei, exc)

    def _mark_activated(self, ei: ElementInstance) -> None:
        ei.state = "ACTIVATED"
        self.state.touch(ei)
        self._element_record(ei, "ELEMENT_ACTIVATED")

    def _behave(self, ei: ElementInstance, element: Element) -> None:
        kind = element.type
        if element.task_definition is not None and kind in JOB_ELEMENT_TYPES:
            self._mark_activated(ei)
            self._open_boundary_events(ei, element)
            self._create_job(ei, element)
        elif kind == ElementType.USER_TASK:
            self._mark_activated(ei)
            self._open_boundary_events(ei, element)
            self._create_user_task(ei, element)
        elif kind == ElementType.SCRIPT_TASK and element.script is not None:
            self._mark_activated(ei)
            value = self._evaluate(element.script.expression, self.visible_variables(ei.key))
            ei.pending_variables = {element.script.result_variable: value}
            self._complete(ei)
        elif kind in {ElementType.EXCLUSIVE_GATEWAY, ElementType.INCLUSIVE_GATEWAY}:
            flows = self._choose_flows(ei, element)
            self._mark_activated(ei)
            self._complete(ei, flows)
        elif kind == ElementType.INTERMEDIATE_CATCH_EVENT:
            self._mark_activated(ei)
            if element.event_type == EventType.TIMER:
                self._create_timer(element, ei, ei.process_instance_key, ei.process_definition_key, None)
            else:
                self._open_subscription(element, ei, owner=ei)
        elif kind in {ElementType.SUB_PROCESS, ElementType.EVENT_SUB_PROCESS}:
            self._mark_activated(ei)
            if kind == ElementType.SUB_PROCESS:
                self._open_boundary_events(ei, element)
                self._open_event_subprocess_triggers(ei, element)
                if element.start_event is None:  # pragma: no cover - the parser requires one
                    raise IncidentRaised(ErrorType.EXTRACT_VALUE_ERROR, "subprocess has no none start event")
                self._spawn(self.model(ei.process_definition_key).element(element.start_event), ei)
        elif kind == ElementType.CALL_ACTIVITY:
            self._call(ei, element)
        elif kind == ElementType.END_EVENT and element.event_type == EventType.ERROR:
            self._mark_activated(ei)
            if element.error is None or element.error.error_code is None:  # pragma: no cover - parser
                raise IncidentRaised(ErrorType.EXTRACT_VALUE_ERROR, "error end event without error code")
            code = self._evaluate_string(
                element.error.error_code, self.visible_variables(ei.key), "error code"
            )
            self._throw_error(ei, code, "", {}, job=None)
        elif kind == ElementType.END_EVENT and element.event_type == EventType.TERMINATE:
            self._mark_activated(ei)
            scope = self._flow_scope(ei)
            for child_key in list(self.state.children.get(scope.key, ())):
                if child_key != ei.key:
                    self._terminate(self.state.elements[child_key])
            scope.joins = {}
            self.state.touch(scope)
            self._complete(ei)
        else:
            # start events, none end/throw events, parallel gateways, triggered boundary events
            self._mark_activated(ei)
            self._complete(ei)

    def _flow_scope(self, ei: ElementInstance) -> ElementInstance:
        if ei.flow_scope_key is None:  # pragma: no cover - only the root has none
            raise RuntimeError("the process root has no flow scope")
        return self.state.elements[ei.flow_scope_key]

    def _choose_flows(self, ei: ElementInstance, element: Element) -> list[str]:
        model = self.model(ei.process_definition_key)
        context = self.visible_variables(ei.key)
        chosen: list[str] = []
        for flow_id in element.outgoing:
            flow = model.flow(flow_id)
            if flow.condition is None or flow_id == element.default_flow:
                continue
            try:
                value = self._evaluate(flow.condition, context)
            except IncidentRaised as exc:
                raise IncidentRaised(ErrorType.CONDITION_ERROR, exc.message) from exc
            if value is True:
                chosen.append(flow_id)
                if element.type == ElementType.EXCLUSIVE_GATEWAY:
                    return chosen
            elif value is not False and value is not None:
                raise IncidentRaised(
                    ErrorType.CONDITION_ERROR,
                    f"Expected result of the expression '{flow.condition.source}' to be 'BOOLEAN', "
                    f"but was {_feel_type(value)}",
                )
        if chosen:
            return chosen
        if element.default_flow is not None:
            return [element.default_flow]
        unconditioned = [f for f in element.outgoing if model.flow(f).condition is None]
        if len(element.outgoing) == 1 and unconditioned:
            return unconditioned
        raise IncidentRaised(
            ErrorType.CONDITION_ERROR,
            f"Expected at least one condition to evaluate to true, or to have a default flow "
            f"(gateway '{element.id}')",
        )

    def _complete(self, ei: ElementInstance, flows: list[str] | None = None) -> None:
        """Leave the element: apply outputs, close its events, take its outgoing flows."""
        state = self.state
        element = self.element_of(ei)
        try:
            self._apply_outputs(ei, element)
        except IncidentRaised as exc:
            ei.state = "COMPLETING"
            state.touch(ei)
            self._raise_incident(ei, exc)
            return
        self._close_owned(ei.key)
        if ei.element_type == ElementType.PROCESS.value:
            self._complete_process(ei)
            return
        flow_scope = self._flow_scope(ei)
        if flow_scope.element_type == MI_BODY and ei.element_type != MI_BODY:
            self._finish_mi_inner(flow_scope, ei, element)
            return
        state.drop_scope_variables(ei.key)
        state.remove(ei)
        self._element_record(ei, "ELEMENT_COMPLETED")
        if flows is None:
            flows = [] if element.type == ElementType.EVENT_SUB_PROCESS else list(element.outgoing)
        model = self.model(ei.process_definition_key)
        for flow_id in flows:
            self._take_flow(model, flow_id, flow_scope)
        if not flows:
            self._check_scope(flow_scope)

    def _apply_outputs(self, ei: ElementInstance, element: Element) -> None:
        pending = ei.pending_variables
        if ei.element_type == MI_BODY:
            loop = element.loop
            if loop is not None and loop.output_collection:
                collected = self.state.variables.get(ei.key, {}).get(loop.output_collection)
                self._merge_propagating(
                    self._flow_scope(ei).key, {loop.output_collection: collected}, ei.process_instance_key
                )
            return
        if ei.element_type == ElementType.PROCESS.value:
            return
        if element.outputs:
            context = self.visible_variables(ei.key)
            if pending:
                context.update(pending)
            results = self._evaluate_mappings(element.outputs, context, "output")
            self._merge_propagating(self._flow_scope(ei).key, results, ei.process_instance_key)
        elif pending:
            called = element.called_element
            if called is None or called.propagate_all_child_variables:
                self._merge_propagating(ei.key, pending, ei.process_instance_key)
        ei.pending_variables = None

    def _take_flow(self, model: Process, flow_id: str, scope: ElementInstance) -> None:
        flow = model.flow(flow_id)
        target = model.element(flow.target)
        self._record(
            "PROCESS_INSTANCE",
            "SEQUENCE_FLOW_TAKEN",
            scope.key,
            scope.process_instance_key,
            {"elementId": flow_id, "source": flow.source, "target": flow.target},
        )
        if target.type == ElementType.PARALLEL_GATEWAY and len(target.incoming) > 1:
            arrived = scope.joins.setdefault(target.id, {})
            arrived[flow_id] = arrived.get(flow_id, 0) + 1
            self.state.touch(scope)
            if all(arrived.get(f, 0) > 0 for f in target.incoming):
                for incoming in target.incoming:
                    arrived[incoming] -= 1
                    if not arrived[incoming]:
                        del arrived[incoming]
                if not arrived:
                    del scope.joins[target.id]
                self._spawn(target, scope)
            return
        self._spawn(target, scope)

    def _check_scope(self, scope: ElementInstance) -> None:
        """A scope with no active children and no waiting tokens is done."""
        if scope.element_type == MI_BODY or scope.state != "ACTIVATED":
            return
        if self.state.children.get(scope.key) or any(scope.joins.values()):
            return
        key = scope.key

        def complete_scope() -> None:
            current = self.state.elements.get(key)
            if current is not None and current.state == "ACTIVATED" and not self.state.children.get(key):
                self._complete(current)

        self._agenda.append(complete_scope)

    def _complete_process(self, root: ElementInstance) -> None:
        state = self.state
        variables = dict(state.variables.get(root.key, {}))
        state.drop_scope_variables(root.key)
        state.remove(root)
        self._element_record(root, "ELEMENT_COMPLETED")
        info = state.instances[root.key]
        info.state = "COMPLETED"
        info.end_ms = self.clock.now_ms()
        state.touch(info)
        self.effects.ended_instances.append((root.key, "COMPLETED", variables))
        if root.parent_element_instance_key is not None:
            call = state.elements.get(root.parent_element_instance_key)
            if call is not None:
                call.pending_variables = variables
                call.called_instance_key = None
                self._complete(call)

    def _terminate(self, ei: ElementInstance) -> None:
        """Terminate an element and everything inside it (children first), cleaning up what it owned."""
        state = self.state
        for child_key in list(state.children.get(ei.key, ())):
            child = state.elements.get(child_key)
            if child is not None:
                self._terminate(child)
        if ei.job_key is not None:
            job = state.jobs.get(ei.job_key)
            if job is not None:
                state.remove(job)
                self._record("JOB", "CANCELED", job.key, job.process_instance_key, self._job_snapshot(job))
        if ei.user_task_key is not None:
            task = state.user_tasks.get(ei.user_task_key)
            if task is not None and task.state == "CREATED":
                task.state = "CANCELED"
                task.completed_ms = self.clock.now_ms()
                state.touch(task)
                self._record("USER_TASK", "CANCELED", task.key, task.process_instance_key, {})
        if ei.called_instance_key is not None:
            child_root = state.elements.get(ei.called_instance_key)
            if child_root is not None:
                self._terminate(child_root)
        self._close_owned(ei.key)
        info = state.instances.get(ei.process_instance_key)
        if info is not None and info.has_incident:  # only then can an active incident belong to ei
            for incident in [i for i in state.incidents.values() if i.element_instance_key == ei.key]:
                if incident.state == "ACTIVE":
                    self._mark_incident_resolved(incident)
        state.drop_scope_variables(ei.key)
        state.remove(ei)
        self._element_record(ei, "ELEMENT_TERMINATED")
        if ei.element_type == ElementType.PROCESS.value:
            info = state.instances[ei.key]
            info.state = "TERMINATED"
            info.end_ms = self.clock.now_ms()
            state.touch(info)
            self.effects.ended_instances.append((ei.key, "TERMINATED", {}))

    def _close_owned(self, owner_key: int) -> None:
        """Remove the timers and message subscriptions an element instance opened (indexed by owner)."""
        state = self.state
        for kind, key in list(state.owned.get(owner_key, ())):
            entity = state.entities[kind].get(key)
            if entity is not None:
                state.remove(entity)

    # ------------------------------------------------------------------------------------------
    # multi-instance
    # ------------------------------------------------------------------------------------------
    def _activate_multi_instance(self, body: ElementInstance, element: Element) -> None:
        loop = element.loop
        if loop is None:  # pragma: no cover - bodies exist only for loops
            raise RuntimeError("multi-instance body without loop characteristics")
        items = self._evaluate(loop.input_collection, self.visible_variables(body.key))
        if not isinstance(items, list):
            raise IncidentRaised(
                ErrorType.EXTRACT_VALUE_ERROR,
                f"Expected result of the expression '{loop.input_collection.source}' to be 'ARRAY', "
                f"but was {_feel_type(items)}",
            )
        body.mi_items = items
        self._mark_activated(body)
        if loop.output_collection:
            self._set_local(body.key, loop.output_collection, [None] * len(items), body.process_instance_key)
        self._open_boundary_events(body, element)
        if not items:
            self._complete(body)
            return
        for _ in range(1 if loop.sequential else len(items)):
            self._spawn_mi_inner(body, element)

    def _spawn_mi_inner(self, body: ElementInstance, element: Element) -> None:
        loop = element.loop
        items = body.mi_items or []
        index = body.mi_started
        body.mi_started += 1
        self.state.touch(body)
        inner = self._spawn(element, body, inner=True)
        inner.loop_counter = index + 1
        self._set_local(inner.key, "loopCounter", index + 1, inner.process_instance_key)
        if loop is not None and loop.input_element:
            self._set_local(inner.key, loop.input_element, items[index], inner.process_instance_key)

    def _finish_mi_inner(self, body: ElementInstance, inner: ElementInstance, element: Element) -> None:
        state = self.state
        loop = element.loop
        if loop is not None and loop.output_collection and loop.output_element is not None:
            value = self._evaluate(loop.output_element, self.visible_variables(inner.key))
            collected = list(state.variables.get(body.key, {}).get(loop.output_collection) or [])
            index = (inner.loop_counter or 1) - 1
            if index < len(collected):
                collected[index] = value
            self._set_local(body.key, loop.output_collection, collected, body.process_instance_key)
        state.drop_scope_variables(inner.key)
        state.remove(inner)
        self._element_record(inner, "ELEMENT_COMPLETED")
        body.mi_completed += 1
        state.touch(body)
        total = len(body.mi_items or [])
        if loop is not None and loop.completion_condition is not None:
            context = self.visible_variables(body.key)
            active = len(state.children.get(body.key, ()))
            context.update(
                numberOfInstances=total,
                numberOfCompletedInstances=body.mi_completed,
                numberOfActiveInstances=active,
            )
            if self._evaluate(loop.completion_condition, context) is True:
                for child_key in list(state.children.get(body.key, ())):
                    self._terminate(state.elements[child_key])
                self._complete(body)
                return
        if loop is not None and loop.sequential and body.mi_started < total:
            self._spawn_mi_inner(body, element)
        elif not state.children.get(body.key):
            self._complete(body)

    # ------------------------------------------------------------------------------------------
    # call activities
    # ------------------------------------------------------------------------------------------
    def _call(self, ei: ElementInstance, element: Element) -> None:
        called = element.called_element
        if called is None:  # pragma: no cover - the parser requires it
            raise RuntimeError("call activity without called element")
        context = self.visible_variables(ei.key)
        process_id = self._evaluate_string(called.process_id, context, "called process id")
        latest = self.state.latest_process.get(process_id)
        if latest is None:
            raise IncidentRaised(
                ErrorType.CALLED_ELEMENT_ERROR,
                f"Expected process with BPMN process id '{process_id}' to be deployed, but not found.",
            )
        definition = self.state.processes[latest]
        child_model = self.model(definition.key)
        if child_model.none_start is None:
            raise IncidentRaised(
                ErrorType.CALLED_ELEMENT_ERROR,
                f"Expected process '{process_id}' to have a none start event, but it has none.",
            )
        if called.propagate_all_parent_variables:
            variables = context
        else:
            variables = dict(self.state.variables.get(ei.key, {}))
        self._mark_activated(ei)
        self._open_boundary_events(ei, element)
        info = self._new_instance(definition, variables, child_model.none_start, ei)
        ei.called_instance_key = info.key
        self.state.touch(ei)

    # ------------------------------------------------------------------------------------------
    # events: timers, messages, boundaries, event subprocesses
    # ------------------------------------------------------------------------------------------
    def _open_boundary_events(self, ei: ElementInstance, element: Element) -> None:
        model = self.model(ei.process_definition_key)
        for boundary_id in element.boundary_events:
            boundary = model.element(boundary_id)
            if boundary.event_type == EventType.TIMER:
                self._create_timer(boundary, ei, ei.process_instance_key, ei.process_definition_key, None)
            elif boundary.event_type == EventType.MESSAGE:
                self._open_subscription(boundary, ei, owner=ei)

    def _open_event_subprocess_triggers(self, scope: ElementInstance, element: Element) -> None:
        model = self.model(scope.process_definition_key)
        for esp_id in element.event_sub_processes:
            esp = model.element(esp_id)
            if esp.start_event is None:
                continue
            start = model.element(esp.start_event)
            if start.event_type == EventType.TIMER:
                self._create_timer(
                    start, scope, scope.process_instance_key, scope.process_definition_key, None
                )
            elif start.event_type == EventType.MESSAGE:
                self._open_subscription(start, scope, owner=scope)

    def _create_timer(
        self,
        element: Element,
        owner: ElementInstance | None,
        process_instance_key: int | None,
        definition_key: int,
        context: dict[str, Any] | None,
    ) -> None:
        timer_def = element.timer
        if timer_def is None:  # pragma: no cover - parser guarantees
            raise RuntimeError(f"timer event '{element.id}' without definition")
        if context is None:
            context = self.visible_variables(owner.key) if owner is not None else {}
        raw = self._evaluate(timer_def.expression, context)
        now = self.clock.now_ms()
        repetitions = 1
        interval: str | None = None
        try:
            text = raw if isinstance(raw, str) else json.dumps(raw)
            if timer_def.kind == TimerKind.DURATION:
                due = parse_duration(text).add_to(now)
            elif timer_def.kind == TimerKind.DATE:
                due = parse_datetime(text)
            else:
                cycle = parse_cycle(text)
                due = cycle.first_due(now)
                repetitions = cycle.repetitions
                interval = text.split("/")[-1]
        except TimerFormatError as exc:
            raise IncidentRaised(
                ErrorType.EXTRACT_VALUE_ERROR, f"Timer of '{element.id}' cannot be scheduled: {exc}"
            ) from exc
        timer = Timer(
            key=self.state.new_key(),
            due_ms=due,
            element_id=element.id,
            process_definition_key=definition_key,
            element_instance_key=owner.key if owner is not None else None,
            process_instance_key=process_instance_key,
            repetitions=repetitions,
            interval=interval,
        )
        self.state.put(timer)
        self._schedule(due, "timer", timer.key)
        self._record(
            "TIMER",
            "CREATED",
            timer.key,
            process_instance_key,
            {"elementId": element.id, "dueDate": due, "repetitions": repetitions},
        )

    def _trigger_timer(self, timer: Timer) -> None:
        state = self.state
        model = self.model(timer.process_definition_key)
        element = model.element(timer.element_id)
        self._record("TIMER", "TRIGGERED", timer.key, timer.process_instance_key, {"elementId": element.id})
        repeat = timer.repetitions != 1 and timer.interval is not None
        if repeat and timer.interval is not None:
            timer.repetitions = timer.repetitions - 1 if timer.repetitions > 0 else -1
            timer.due_ms = parse_duration(timer.interval).add_to(timer.due_ms)
            state.touch(timer)
            self._schedule(timer.due_ms, "timer", timer.key)
        if timer.element_instance_key is None:
            if not repeat:
                state.remove(timer)
            definition = state.processes[timer.process_definition_key]
            self._new_instance(definition, {}, element.id, None)
            return
        owner = state.elements.get(timer.element_instance_key)
        if owner is None:
            state.remove(timer)
            return
        if not repeat or element.interrupting:
            state.remove(timer)
        self._trigger_event(owner, element, {})

    def _trigger_event(self, owner: ElementInstance, element: Element, variables: dict[str, Any]) -> None:
        """A timer or message arrived for a catch event, a boundary event or an event subprocess."""
        if element.type == ElementType.INTERMEDIATE_CATCH_EVENT:
            owner.pending_variables = variables or None
            self._complete(owner)
        elif element.type == ElementType.BOUNDARY_EVENT:
            self._trigger_boundary(owner, element, pending=variables or None)
        else:
            self._trigger_event_subprocess(owner, element, pending=variables or None)

    def _trigger_boundary(
        self,
        activity: ElementInstance,
        boundary: Element,
        *,
        pending: dict[str, Any] | None = None,
        local: dict[str, Any] | None = None,
    ) -> None:
        scope = self._flow_scope(activity)
        if boundary.interrupting:
            self._terminate(activity)
        event = self._spawn(boundary, scope, pending=pending)
        for name, value in (local or {}).items():
            self._set_local(event.key, name, value, event.process_instance_key)

    def _trigger_event_subprocess(
        self,
        scope: ElementInstance,
        start: Element,
        *,
        pending: dict[str, Any] | None = None,
        local: dict[str, Any] | None = None,
    ) -> None:
        state = self.state
        if scope.interrupted:
            return
        model = self.model(scope.process_definition_key)
        if start.parent is None:  # pragma: no cover - parser guarantees
            raise RuntimeError("event subprocess start without parent")
        esp = model.element(start.parent)
        if start.interrupting:
            for child_key in list(state.children.get(scope.key, ())):
                self._terminate(state.elements[child_key])
            scope.joins = {}
            scope.interrupted = True
            state.touch(scope)
            self._close_owned(scope.key)
        esp_instance = ElementInstance(
            key=state.new_key(),
            process_instance_key=scope.process_instance_key,
            process_definition_key=scope.process_definition_key,
            element_id=esp.id,
            element_type=ElementType.EVENT_SUB_PROCESS.value,
            flow_scope_key=scope.key,
            created_ms=self.clock.now_ms(),
        )
        state.put(esp_instance)
        self._mark_activated(esp_instance)
        event = self._spawn(start, esp_instance, pending=pending)
        for name, value in (local or {}).items():
            self._set_local(event.key, name, value, event.process_instance_key)

    def _open_subscription(self, element: Element, anchor: ElementInstance, owner: ElementInstance) -> None:
        message = element.message
        if message is None:  # pragma: no cover - parser guarantees
            raise RuntimeError(f"message event '{element.id}' without message")
        context = self.visible_variables(anchor.key)
        name = self._evaluate_string(message.name, context, "message name")
        if message.correlation_key is None:  # pragma: no cover - parser requires it here
            raise RuntimeError(f"message event '{element.id}' without correlation key")
        try:
            correlation_key = self._evaluate_string(message.correlation_key, context, "correlation key")
        except IncidentRaised as exc:
            raise IncidentRaised(
                ErrorType.EXTRACT_VALUE_ERROR,
                f"Failed to extract the correlation key for '{element.id}': {exc.message}",
            ) from exc
        subscription = Subscription(
            key=self.state.new_key(),
            message_name=name,
            correlation_key=correlation_key,
            element_id=element.id,
            element_instance_key=owner.key,
            process_instance_key=owner.process_instance_key,
            process_definition_key=owner.process_definition_key,
            interrupting=element.interrupting,
        )
        self.state.put(subscription)
        self._record(
            "PROCESS_MESSAGE_SUBSCRIPTION",
            "CREATED",
            subscription.key,
            owner.process_instance_key,
            {"messageName": name, "correlationKey": correlation_key, "elementId": element.id},
        )
        now = self.clock.now_ms()
        for buffered in list(self.state.messages.values()):
            if (
                buffered.name == name
                and buffered.correlation_key == correlation_key
                and buffered.deadline_ms > now
                and owner.process_instance_key not in buffered.correlated_instances
            ):
                key = subscription.key
                message_key = buffered.key
                self._agenda.append(functools.partial(self._correlate_buffered, key, message_key))
                break

    def _correlate_buffered(self, subscription_key: int, message_key: int) -> None:
        subscription = self.state.subscriptions.get(subscription_key)
        message = self.state.messages.get(message_key)
        if subscription is None or message is None:
            return
        self._correlate(subscription, message.key, message.variables)
        message.correlated_instances.append(subscription.process_instance_key)
        self.state.touch(message)

    def _correlate(self, subscription: Subscription, message_key: int, variables: dict[str, Any]) -> None:
        state = self.state
        owner = state.elements.get(subscription.element_instance_key)
        if owner is None:
            state.remove(subscription)
            return
        element = self.model(subscription.process_definition_key).element(subscription.element_id)
        if subscription.interrupting or element.type == ElementType.INTERMEDIATE_CATCH_EVENT:
            state.remove(subscription)
        self._record(
            "PROCESS_MESSAGE_SUBSCRIPTION",
            "CORRELATED",
            subscription.key,
            subscription.process_instance_key,
            {"messageName": subscription.message_name, "messageKey": message_key, "elementId": element.id},
        )
        self._trigger_event(owner, element, variables)

    def publish_message(
        self, name: str, correlation_key: str, ttl_ms: int, message_id: str, variables: dict[str, Any]
    ) -> int:
        state = self.state
        if not name:
            raise Rejection(RejectionType.INVALID_ARGUMENT, "Expected 'name' to be a non-empty message name")
        if ttl_ms < 0:
            raise Rejection(RejectionType.INVALID_ARGUMENT, "Expected 'timeToLive' to be zero or positive")
        now = self.clock.now_ms()
        if message_id:
            for buffered in state.messages.values():
                if (
                    buffered.message_id == message_id
                    and buffered.name == name
                    and buffered.correlation_key == correlation_key
                    and buffered.deadline_ms > now
                ):
                    raise Rejection(
                        RejectionType.ALREADY_EXISTS,
                        f"Expected to publish a new message with id '{message_id}', but a message with that "
                        "id was already published",
                    )
        key = state.new_key()
        self._record(
            "MESSAGE",
            "PUBLISHED",
            key,
            None,
            {"name": name, "correlationKey": correlation_key, "timeToLive": ttl_ms, "messageId": message_id},
        )
        correlated: list[int] = []
        for sub_key in list(state.subscriptions_by_message.get((name, correlation_key), {})):
            subscription = state.subscriptions.get(sub_key)
            if subscription is None or subscription.process_instance_key in correlated:
                continue
            correlated.append(subscription.process_instance_key)
            self._correlate(subscription, key, variables)
        for definition_key in list(state.latest_process.values()):
            model = self.model(definition_key)
            for start_id in model.message_starts:
                start = model.element(start_id)
                if start.message is not None and start.message.name.source == name:
                    info = self._new_instance(state.processes[definition_key], variables, start_id, None)
                    correlated.append(info.key)
        if ttl_ms > 0:
            message = Message(
                key=key,
                name=name,
                correlation_key=correlation_key,
                deadline_ms=now + ttl_ms,
                variables=variables,
                message_id=message_id,
                correlated_instances=correlated,
            )
            state.put(message)
            self._schedule(message.deadline_ms, "message", key)
        self._run()
        return key

    def correlate_message(
        self, name: str, correlation_key: str, variables: dict[str, Any]
    ) -> tuple[int, int]:
        """Correlate a message now, without buffering it; answer its key and the first instance it reached.

        Like ``publish_message`` it triggers the open subscriptions of that name and correlation key
        (one per process instance) and starts instances at matching message start events. When
        nothing waits for the message it is refused (NOT_FOUND) and nothing is kept.
        """
        state = self.state
        if not name:
            raise Rejection(RejectionType.INVALID_ARGUMENT, "Expected 'name' to be a non-empty message name")
        waiting = [
            sub_key
            for sub_key in state.subscriptions_by_message.get((name, correlation_key), {})
            if sub_key in state.subscriptions
        ]
        starts: list[tuple[int, str]] = []
        for definition_key in list(state.latest_process.values()):
            model = self.model(definition_key)
            for start_id in model.message_starts:
                message = model.element(start_id).message
                if message is not None and message.name.source == name:
                    starts.append((definition_key, start_id))
        if not waiting and not starts:
            raise Rejection(
                RejectionType.NOT_FOUND,
                f"Expected to find subscription for message with name '{name}' and correlation key "
                f"'{correlation_key}', but none was found",
            )
        key = state.new_key()
        self._record(
            "MESSAGE_CORRELATION", "CORRELATING", key, None, {"name": name, "correlationKey": correlation_key}
        )
        reached: list[int] = []
        for sub_key in waiting:
            subscription = state.subscriptions.get(sub_key)
            if subscription is None or subscription.process_instance_key in reached:
                continue
            reached.append(subscription.process_instance_key)
            self._correlate(subscription, key, variables)
        for definition_key, start_id in starts:
            info = self._new_instance(state.processes[definition_key], variables, start_id, None)
            reached.append(info.key)
        self._record(
            "MESSAGE_CORRELATION",
            "CORRELATED",
            key,
            reached[0],
            {"name": name, "correlationKey": correlation_key, "processInstanceKey": reached[0]},
        )
        self._run()
        return key, reached[0]

    # ------------------------------------------------------------------------------------------
    # errors and incidents
    # ------------------------------------------------------------------------------------------
    def _find_error_catch(
        self, thrower: ElementInstance, code: str
    ) -> tuple[ElementInstance, Element] | None:
        state = self.state
        current: ElementInstance | None = thrower
        first = True
        while current is not None:
            model = self.model(current.process_definition_key)
            element = model.element(current.element_id)
            is_inner = (
                current.flow_scope_key is not None
                and state.elements[current.flow_scope_key].element_type == MI_BODY
                and current.element_type != MI_BODY
            )
            if element.is_scope and not (first and element.type == ElementType.END_EVENT):
                for esp_id in element.event_sub_processes:
                    esp = model.element(esp_id)
                    if esp.start_event is None:
                        continue
                    start = model.element(esp.start_event)
                    if start.event_type == EventType.ERROR and self._error_matches(start, code):
                        return current, start
            if not is_inner and element.type != ElementType.END_EVENT:
                for boundary_id in element.boundary_events:
                    boundary = model.element(boundary_id)
                    if boundary.event_type == EventType.ERROR and self._error_matches(boundary, code):
                        return current, boundary
            first = False
            if current.flow_scope_key is not None:
                current = state.elements[current.flow_scope_key]
            elif current.parent_element_instance_key is not None:
                current = state.elements.get(current.parent_element_instance_key)
            else:
                current = None
        return None

    def _error_matches(self, catch: Element, code: str) -> bool:
        if catch.error is None or catch.error.error_code is None:
            return True
        return catch.error.error_code.source == code

    def _throw_error(
        self, thrower: ElementInstance, code: str, message: str, variables: dict[str, Any], job: Job | None
    ) -> None:
        found = self._find_error_catch(thrower, code)
        if found is None:
            raise IncidentRaised(
                ErrorType.UNHANDLED_ERROR_EVENT,
                f"Expected to throw an error event with the code '{code}' with message '{message}', "
                "but it was not caught. No error events are available in the scope.",
            )
        catcher, catch = found
        self._record(
            "ERROR",
            "CAUGHT",
            thrower.key,
            thrower.process_instance_key,
            {"errorCode": code, "errorMessage": message, "catchElementId": catch.id},
        )
        if job is not None and job.key in self.state.jobs:
            self.state.remove(job)
            owner = self.state.elements.get(job.element_instance_key)
            if owner is not None:
                owner.job_key = None
        if catch.type == ElementType.BOUNDARY_EVENT:
            self._trigger_boundary(catcher, catch, local=variables)
        else:
            self._trigger_event_subprocess(catcher, catch, local=variables)

    def _raise_incident(self, ei: ElementInstance, exc: IncidentRaised, job: Job | None = None) -> None:
        state = self.state
        definition = state.processes[ei.process_definition_key]
        incident = Incident(
            key=state.new_key(),
            error_type=exc.error_type.value,
            error_message=exc.message,
            process_instance_key=ei.process_instance_key,
            process_definition_key=ei.process_definition_key,
            bpmn_process_id=definition.bpmn_process_id,
            element_id=ei.element_id,
            element_instance_key=ei.key,
            job_key=job.key if job is not None else None,
            created_ms=self.clock.now_ms(),
        )
        state.put(incident)
        self._record(
            "INCIDENT",
            "CREATED",
            incident.key,
            ei.process_instance_key,
            {"errorType": incident.error_type, "errorMessage": exc.message, "elementId": ei.element_id},
        )
        self._set_instance_incident_flag(ei.process_instance_key)

    def _set_instance_incident_flag(self, process_instance_key: int) -> None:
        info = self.state.instances.get(process_instance_key)
        if info is None:
            return
        flag = any(
            i.state == "ACTIVE" and i.process_instance_key == process_instance_key
            for i in self.state.incidents.values()
        )
        if info.has_incident != flag:
            info.has_incident = flag
            self.state.touch(info)

    def _mark_incident_resolved(self, incident: Incident) -> None:
        incident.state = "RESOLVED"
        self.state.touch(incident)
        self._record("INCIDENT", "RESOLVED", incident.key, incident.process_instance_key, {})
        self._set_instance_incident_flag(incident.process_instance_key)

    def resolve_incident(self, key: int) -> None:
        state = self.state
        incident = state.incidents.get(key)
        if incident is None or incident.state != "ACTIVE":
            raise Rejection(
                RejectionType.NOT_FOUND,
                f"Expected to resolve incident with key '{key}', but no such incident was found",
            )
        self._mark_incident_resolved(incident)
        if incident.job_key is not None:
            job = state.jobs.get(incident.job_key)
            if job is not None:
                if job.retries <= 0:
                    ei = state.elements[job.element_instance_key]
                    self._raise_incident(
                        ei,
                        IncidentRaised(
                            ErrorType.JOB_NO_RETRIES, job.error_message or "No more retries left."
                        ),
                        job,
                    )
                else:
                    state.set_job_state(job, "ACTIVATABLE")
                    self.effects.job_types.add(job.type)
            return
        stuck = state.elements.get(incident.element_instance_key)
        if stuck is None:
            return
        if stuck.state == "ACTIVATING":
            self._agenda.append(functools.partial(self._activate, stuck.key))
        elif stuck.state == "COMPLETING":
            self._agenda.append(functools.partial(self._complete, stuck))
        elif stuck.state == "ACTIVATED" and stuck.element_type == ElementType.END_EVENT.value:
            self._agenda.append(functools.partial(self._retry_error_end, stuck.key))
        self._run()

    def _retry_error_end(self, key: int) -> None:
        ei = self.state.elements.get(key)
        if ei is None:
            return
        element = self.element_of(ei)
        try:
            self._behave_error_end(ei, element)
        except IncidentRaised as exc:
            self._raise_incident(ei, exc)

    def _behave_error_end(self, ei: ElementInstance, element: Element) -> None:
        if element.error is None or element.error.error_code is None:  # pragma: no cover - parser
            return
        code = self._evaluate_string(element.error.error_code, self.visible_variables(ei.key), "error code")
        self._throw_error(ei, code, "", {}, job=None)

    # ------------------------------------------------------------------------------------------
    # jobs
    # ------------------------------------------------------------------------------------------
    def _create_job(self, ei: ElementInstance, element: Element) -> None:
        definition = element.task_definition
        if definition is None:  # pragma: no cover - guarded by the caller
            raise RuntimeError("job element without task definition")
        context = self.visible_variables(ei.key)
        job_type = self._evaluate_string(definition.type, context, "job type")
        retries_value = self._evaluate(definition.retries, context)
        try:
            retries = int(retries_value)
        except (TypeError, ValueError) as exc:
            raise IncidentRaised(
                ErrorType.EXTRACT_VALUE_ERROR,
                f"Expected retries '{definition.retries.source}' to be a number, "
                f"but was {_feel_type(retries_value)}",
            ) from exc
        model_definition = self.state.processes[ei.process_definition_key]
        job = Job(
            key=self.state.new_key(),
            type=job_type,
            process_instance_key=ei.process_instance_key,
            element_instance_key=ei.key,
            process_definition_key=ei.process_definition_key,
            bpmn_process_id=model_definition.bpmn_process_id,
            process_definition_version=model_definition.version,
            element_id=ei.element_id,
            custom_headers=dict(element.task_headers),
            retries=retries,
            created_ms=self.clock.now_ms(),
        )
        self.state.put(job)
        ei.job_key = job.key
        self.state.touch(ei)
        self.effects.job_types.add(job_type)
        self._record(
            "JOB", "CREATED", job.key, job.process_instance_key, {"type": job_type, "retries": retries}
        )

    def _job_snapshot(self, job: Job) -> dict[str, Any]:
        """All of a job, for the record that ends it: the REST job search lists ended jobs from these."""
        return {
            "type": job.type,
            "elementId": job.element_id,
            "elementInstanceKey": job.element_instance_key,
            "processDefinitionKey": job.process_definition_key,
            "bpmnProcessId": job.bpmn_process_id,
            "processDefinitionVersion": job.process_definition_version,
            "customHeaders": dict(job.custom_headers),
            "retries": job.retries,
            "worker": job.worker,
            "deadline": job.deadline_ms,
            "errorCode": job.error_code,
            "errorMessage": job.error_message,
            "created": job.created_ms,
        }

    def activate_jobs(
        self, job_type: str, worker: str, timeout_ms: int, max_jobs: int, fetch_variables: list[str]
    ) -> list[ActivatedJob]:
        if not job_type:
            raise Rejection(RejectionType.INVALID_ARGUMENT, "Expected 'type' to be a non-empty job type")
        if max_jobs < 1:
            raise Rejection(RejectionType.INVALID_ARGUMENT, "Expected 'maxJobsToActivate' to be at least 1")
        if timeout_ms < 1:
            raise Rejection(RejectionType.INVALID_ARGUMENT, "Expected 'timeout' to be at least 1 ms")
        state = self.state
        ready = state.activatable.get(job_type)
        if not ready:
            return []
        now = self.clock.now_ms()
        activated: list[ActivatedJob] = []
        for key in list(ready)[:max_jobs]:
            job = state.jobs[key]
            job.worker = worker
            job.deadline_ms = now + timeout_ms
            state.set_job_state(job, "ACTIVATED")
            self._schedule(job.deadline_ms, "job-deadline", key)
            variables = self.visible_variables(job.element_instance_key)
            if fetch_variables:
                variables = {name: variables[name] for name in fetch_variables if name in variables}
            activated.append(ActivatedJob(job, variables))
            self._record(
                "JOB", "ACTIVATED", key, job.process_instance_key, {"type": job_type, "worker": worker}
            )
        return activated

    def _job_for(self, key: int, action: str, allowed: tuple[str, ...]) -> Job:
        job = self.state.jobs.get(key)
        if job is None:
            raise Rejection(
                RejectionType.NOT_FOUND,
                f"Expected to {action} job with key '{key}', but no such job was found",
            )
        if job.state not in allowed:
            raise Rejection(
                RejectionType.INVALID_STATE,
                f"Expected to {action} job with key '{key}', but it is in state '{job.state}'",
            )
        return job

    def complete_job(self, key: int, variables: dict[str, Any]) -> None:
        job = self._job_for(key, "complete", ("ACTIVATABLE", "ACTIVATED"))
        state = self.state
        state.remove(job)
        self._record("JOB", "COMPLETED", key, job.process_instance_key, self._job_snapshot(job))
        ei = state.elements.get(job.element_instance_key)
        if ei is None:  # pragma: no cover - terminating an element removes its job
            return
        ei.job_key = None
        ei.pending_variables = variables or None
        self._complete(ei)
        self._run()

    def fail_job(
        self, key: int, retries: int, message: str, backoff_ms: int, variables: dict[str, Any]
    ) -> None:
        job = self._job_for(key, "fail", ("ACTIVATABLE", "ACTIVATED"))
        state = self.state
        job.retries = retries
        job.error_message = message
        job.worker = ""
        ei = state.elements[job.element_instance_key]
        for name, value in variables.items():
            self._set_local(ei.key, name, value, ei.process_instance_key)
        self._record(
            "JOB",
            "FAILED",
            key,
            job.process_instance_key,
            {"type": job.type, "retries": retries, "message": message},
        )
        if retries > 0:
            if backoff_ms > 0:
                job.backoff_until_ms = self.clock.now_ms() + backoff_ms
                state.set_job_state(job, "BACKOFF")
                self._schedule(job.backoff_until_ms, "job-backoff", key)
            else:
                state.set_job_state(job, "ACTIVATABLE")
                self.effects.job_types.add(job.type)
        else:
            state.set_job_state(job, "FAILED")
            self._raise_incident(
                ei, IncidentRaised(ErrorType.JOB_NO_RETRIES, message or "No more retries left."), job
            )

    def throw_error(self, key: int, code: str, message: str, variables: dict[str, Any]) -> None:
        if not code:
            raise Rejection(
                RejectionType.INVALID_ARGUMENT, "Expected 'errorCode' to be a non-empty error code"
            )
        job = self._job_for(key, "throw an error for", ("ACTIVATABLE", "ACTIVATED"))
        state = self.state
        ei = state.elements[job.element_instance_key]
        self._record(
            "JOB",
            "ERROR_THROWN",
            key,
            job.process_instance_key,
            {**self._job_snapshot(job), "errorCode": code, "errorMessage": message},
        )
        try:
            self._throw_error(ei, code, message, variables, job)
        except IncidentRaised as exc:
            job.error_code = code
            job.error_message = message
            state.set_job_state(job, "ERROR_THROWN")
            self._raise_incident(ei, exc, job)
        self._run()

    def update_job_retries(self, key: int, retries: int) -> None:
        if retries < 1:
            raise Rejection(
                RejectionType.INVALID_ARGUMENT, f"Expected 'retries' to be at least 1, but was '{retries}'"
            )
        job = self._job_for(
            key, "update retries of", ("ACTIVATABLE", "ACTIVATED", "BACKOFF", "FAILED", "ERROR_THROWN")
        )
        job.retries = retries
        self.state.touch(job)
        self._record("JOB", "RETRIES_UPDATED", key, job.process_instance_key, {"retries": retries})

    def update_job_timeout(self, key: int, timeout_ms: int) -> None:
        job = self._job_for(key, "update the timeout of", ("ACTIVATED",))
        job.deadline_ms = self.clock.now_ms() + timeout_ms
        self.state.touch(job)
        self._schedule(job.deadline_ms, "job-deadline", key)
        self._record("JOB", "TIMEOUT_UPDATED", key, job.process_instance_key, {"deadline": job.deadline_ms})

    def update_job(self, key: int, retries: int | None, timeout_ms: int | None) -> None:
        """Change the retries and/or the timeout of a job; everything is checked before anything changes."""
        if retries is None and timeout_ms is None:
            raise Rejection(
                RejectionType.INVALID_ARGUMENT, "Expected 'changeset' to change 'retries' or 'timeout'"
            )
        if retries is not None and retries < 1:
            raise Rejection(
                RejectionType.INVALID_ARGUMENT, f"Expected 'retries' to be at least 1, but was '{retries}'"
            )
        if timeout_ms is not None:
            if timeout_ms < 1:
                raise Rejection(
                    RejectionType.INVALID_ARGUMENT,
                    f"Expected 'timeout' to be at least 1 ms, but was '{timeout_ms}'",
                )
            self._job_for(key, "update the timeout of", ("ACTIVATED",))
        if retries is not None:
            self.update_job_retries(key, retries)
        if timeout_ms is not None:
            self.update_job_timeout(key, timeout_ms)

    # ------------------------------------------------------------------------------------------
    # user tasks
    # ------------------------------------------------------------------------------------------
    def _create_user_task(self, ei: ElementInstance, element: Element) -> None:
        spec = element.user_task
        context = self.visible_variables(ei.key)
        form_key: int | None = None
        form_id: str | None = None
        external: str | None = None
        assignee: str | None = None
        due: str | None = None
        follow_up: str | None = None
        priority = 50
        groups: list[str] = []
        users: list[str] = []
        if spec is not None:
            if spec.form_id is not None:
                form_id = self._evaluate_string(spec.form_id, context, "form id")
                latest = self.state.latest_form.get(form_id)
                if latest is None:
                    raise IncidentRaised(
                        ErrorType.FORM_NOT_FOUND,
                        f"Expected to find a form with id '{form_id}', but no form with this id is found, "
                        "at least a form with this id should be available.",
                    )
                form_key = latest
            if spec.external_reference is not None:
                external = self._evaluate_string(spec.external_reference, context, "external form reference")
            if spec.assignee is not None:
                value = self._evaluate(spec.assignee, context)
                assignee = None if value in (None, "") else str(value)
            groups = self._evaluate_list(spec.candidate_groups, context, "candidate groups")
            users = self._evaluate_list(spec.candidate_users, context, "candidate users")
            due = self._evaluate_date(spec.due_date, context, "due date")
            follow_up = self._evaluate_date(spec.follow_up_date, context, "follow-up date")
            if spec.priority is not None:
                value = self._evaluate(spec.priority, context)
                if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
                    raise IncidentRaised(
                        ErrorType.EXTRACT_VALUE_ERROR,
                        f"Expected priority '{spec.priority.source}' to be a number between 0 and 100, "
                        f"but was {value!r}",
                    )
                priority = value
        definition = self.state.processes[ei.process_definition_key]
        task = UserTask(
            key=self.state.new_key(),
            element_instance_key=ei.key,
            process_instance_key=ei.process_instance_key,
            process_definition_key=ei.process_definition_key,
            bpmn_process_id=definition.bpmn_process_id,
            process_definition_version=definition.version,
            element_id=ei.element_id,
            name=element.name,
            form_key=form_key,
            form_id=form_id,
            external_form_reference=external,
            assignee=assignee,
            candidate_groups=groups,
            candidate_users=users,
            due_date=due,
            follow_up_date=follow_up,
            priority=priority,
            custom_headers=dict(element.task_headers),
            created_ms=self.clock.now_ms(),
        )
        self.state.put(task)
        ei.user_task_key = task.key
        self.state.touch(ei)
        self._record(
            "USER_TASK",
            "CREATED",
            task.key,
            ei.process_instance_key,
            {"elementId": ei.element_id, "candidateGroups": groups, "assignee": assignee},
        )

    def _evaluate_date(self, expression: Expression | None, context: dict[str, Any], what: str) -> str | None:
        if expression is None:
            return None
        value = self._evaluate(expression, context)
        if value in (None, ""):
            return None
        try:
            return ms_to_datetime(parse_datetime(str(value))).isoformat().replace("+00:00", "Z")
        except TimerFormatError as exc:
            raise IncidentRaised(ErrorType.EXTRACT_VALUE_ERROR, f"Invalid {what}: {exc}") from exc

    def user_task(self, key: int) -> UserTask:
        task = self.state.user_tasks.get(key)
        if task is None:
            raise Rejection(
                RejectionType.NOT_FOUND,
                f"Expected to find user task with key '{key}', but no such task was found",
            )
        return task

    def _open_user_task(self, key: int, action: str) -> UserTask:
        task = self.user_task(key)
        if task.state != "CREATED":
            raise Rejection(
                RejectionType.INVALID_STATE,
                f"Expected to {action} user task with key '{key}', but it is in state '{task.state}'",
            )
        return task

    def complete_user_task(self, key: int, variables: dict[str, Any], action: str = "complete") -> None:
        task = self._open_user_task(key, "complete")
        state = self.state
        task.state = "COMPLETED"
        task.completed_ms = self.clock.now_ms()
        state.touch(task)
        self._record("USER_TASK", "COMPLETED", key, task.process_instance_key, {"action": action})
        ei = state.elements.get(task.element_instance_key)
        if ei is None:  # pragma: no cover - terminating the element cancels the task first
            return
        ei.user_task_key = None
        ei.pending_variables = variables or None
        self._complete(ei)
        self._run()

    def assign_user_task(self, key: int, assignee: str | None, *, allow_override: bool = True) -> UserTask:
        task = self._open_user_task(key, "assign" if assignee else "unassign")
        if assignee and task.assignee and task.assignee != assignee and not allow_override:
            raise Rejection(
                RejectionType.INVALID_STATE,
                f"Expected to assign user task with key '{key}' to '{assignee}', but it is already assigned "
                f"to '{task.assignee}'",
            )
        task.assignee = assignee or None
        self.state.touch(task)
        self._record(
            "USER_TASK",
            "ASSIGNED" if assignee else "UNASSIGNED",
            key,
            task.process_instance_key,
            {"assignee": assignee},
        )
        return task

    def update_user_task(self, key: int, changes: dict[str, Any]) -> UserTask:
        task = self._open_user_task(key, "update")
        for name, value in changes.items():
            setattr(task, name, value)
        self.state.touch(task)
        self._record("USER_TASK", "UPDATED", key, task.process_instance_key, {"changed": sorted(changes)})
        return task

    # ------------------------------------------------------------------------------------------
    # variables
    # ------------------------------------------------------------------------------------------
    def set_variables(self, element_instance_key: int, variables: dict[str, Any], *, local: bool) -> int:
        ei = self.state.elements.get(element_instance_key)
        if ei is None:
            raise Rejection(
                RejectionType.NOT_FOUND,
                f"Expected to update variables for element with key '{element_instance_key}', but no such "
                "element was found",
            )
        if local:
            for name, value in variables.items():
                self._set_local(ei.key, name, value, ei.process_instance_key)
        else:
            self._merge_propagating(ei.key, variables, ei.process_instance_key)
        key = self.state.new_key()
        self._record("VARIABLE_DOCUMENT", "UPDATED", key, ei.process_instance_key, {"scopeKey": ei.key})
        return key

    # ------------------------------------------------------------------------------------------
    # time
    # ------------------------------------------------------------------------------------------
    def tick(self) -> None:
        """Fire whatever is due on the engine clock: timers, job time-outs, back-offs, message expiry."""
        state = self.state
        now = self.clock.now_ms()
        due = self._due
        while due and due[0][0] <= now:
            due_ms, kind, key = heapq.heappop(due)
            if not self._due_is_current(due_ms, kind, key):
                continue
            if kind == "timer":
                self._trigger_timer(state.timers[key])
            elif kind == "job-deadline":
                job = state.jobs[key]
                job.worker = ""
                state.set_job_state(job, "ACTIVATABLE")
                self.effects.job_types.add(job.type)
                self._record("JOB", "TIMED_OUT", key, job.process_instance_key, {"type": job.type})
            elif kind == "job-backoff":
                job = state.jobs[key]
                state.set_job_state(job, "ACTIVATABLE")
                self.effects.job_types.add(job.type)
                self._record(
                    "JOB", "RECURRED_AFTER_BACKOFF", key, job.process_instance_key, {"type": job.type}
                )
            else:
                message = state.messages[key]
                state.remove(message)
                self._record("MESSAGE", "EXPIRED", key, None, {"name": message.name})
            self._run()


def _form_id(name: str, content: bytes, problems: list[str]) -> str | None:
    try:
        schema = json.loads(content)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        problems.append(f"'{name}': the form is not valid JSON: {exc}")
        return None
    form_id = schema.get("id") if isinstance(schema, dict) else None
    if not isinstance(form_id, str) or not form_id:
        problems.append(f"'{name}': the form has no 'id' (Camunda forms are linked by their id)")
        return None
    return form_id


def _feel_type(value: Any) -> str:
    if value is None:
        return "'NULL'"
    if isinstance(value, bool):
        return "'BOOLEAN'"
    if isinstance(value, (int, float)):
        return "'NUMBER'"
    if isinstance(value, str):
        return "'STRING'"
    if isinstance(value, list):
        return "'ARRAY'"
    return "'OBJECT'"


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
