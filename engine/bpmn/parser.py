"""Parse BPMN 2.0 XML (as the Camunda 8 modeler writes it) into the immutable ``model``.

``parse_bpmn`` deploys every ``bpmn:process`` with ``isExecutable="true"``. It validates the whole
resource first and reports every problem at once (``BpmnValidationError``): each problem names the
element id, its BPMN tag and the reason. Constructs that do not execute (lanes, annotations, data
objects, DI, other vendors' extensions) are ignored; anything that would execute is either fully
supported or rejected, so the processor never meets an element it does not know.

Documents with a ``<!DOCTYPE`` are refused before they are parsed (no entity expansion).
The work is linear in the size of the document: every XML element is visited a bounded number of
times and all cross references go through dictionaries.
"""

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Final
from xml.etree import ElementTree as ET
from xml.etree.ElementTree import Element as XmlElement
from xml.parsers import expat

from engine.bpmn.model import (
    BpmnValidationError,
    CalledElement,
    Element,
    ElementType,
    ErrorDefinition,
    EventType,
    Expression,
    LoopCharacteristics,
    Mapping,
    MessageDefinition,
    ParsedResource,
    Process,
    ScriptDefinition,
    SequenceFlow,
    TaskDefinition,
    TimerDefinition,
    TimerKind,
    UserTaskDefinition,
)
from engine.feel import FeelError, compile_expression
from engine.timeutil import TimerFormatError, parse_cycle, parse_datetime, parse_duration

__all__ = ["BPMN_NS", "ZEEBE_NS", "parse_bpmn"]

BPMN_NS: Final = "http://www.omg.org/spec/BPMN/20100524/MODEL"
ZEEBE_NS: Final = "http://camunda.org/schema/zeebe/1.0"
_BPMN: Final = "{" + BPMN_NS + "}"
_ZEEBE: Final = "{" + ZEEBE_NS + "}"

_TASKS: Final = frozenset({"serviceTask", "sendTask", "userTask", "scriptTask"})
_ACTIVITIES: Final = _TASKS | {"subProcess", "callActivity"}
_EVENTS: Final = frozenset(
    {"startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent"}
)
_GATEWAYS: Final = frozenset({"exclusiveGateway", "parallelGateway", "inclusiveGateway"})
_SUPPORTED_NODES: Final = _ACTIVITIES | _EVENTS | _GATEWAYS

_ACTIVITY_TYPES: Final = frozenset(
    {
        ElementType.SERVICE_TASK,
        ElementType.SEND_TASK,
        ElementType.USER_TASK,
        ElementType.SCRIPT_TASK,
        ElementType.SUB_PROCESS,
        ElementType.CALL_ACTIVITY,
    }
)

# Flow nodes that BPMN defines but the embedded engine does not execute.
_UNSUPPORTED_NODES: Final = {
    "task": "undefined tasks (bpmn:task) are not supported by the embedded engine",
    "manualTask": "manual tasks are not supported by the embedded engine",
    "receiveTask": "receive tasks are not supported by the embedded engine",
    "businessRuleTask": "business rule tasks (DMN) are not supported by the embedded engine",
    "complexGateway": "complex gateways are not supported by the embedded engine",
    "eventBasedGateway": "event-based gateways are not supported by the embedded engine",
    "transaction": "transaction subprocesses are not supported by the embedded engine",
    "adHocSubProcess": "ad-hoc subprocesses are not supported by the embedded engine",
    "callChoreography": "choreographies are not supported by the embedded engine",
    "choreographyTask": "choreographies are not supported by the embedded engine",
    "subChoreography": "choreographies are not supported by the embedded engine",
}

# Contents of a process or subprocess that do not execute.
_IGNORED_IN_SCOPE: Final = frozenset(
    {
        "laneSet",
        "textAnnotation",
        "association",
        "dataObject",
        "dataObjectReference",
        "dataStoreReference",
        "documentation",
        "extensionElements",
        "group",
        "category",
        "property",
    }
)

# Children of a flow node that describe the node itself (not the contents of a subprocess).
_OWN_CHILDREN: Final = frozenset(
    {
        "documentation",
        "extensionElements",
        "incoming",
        "outgoing",
        "property",
        "dataInputAssociation",
        "dataOutputAssociation",
        "multiInstanceLoopCharacteristics",
        "standardLoopCharacteristics",
    }
)

_UNSUPPORTED_EVENT_DEFINITIONS: Final = {
    "signalEventDefinition": "signal events are not supported by the embedded engine",
    "escalationEventDefinition": "escalation events are not supported by the embedded engine",
    "compensateEventDefinition": "compensation events are not supported by the embedded engine",
    "linkEventDefinition": "link events are not supported by the embedded engine",
    "conditionalEventDefinition": "conditional events are not supported by the embedded engine",
    "cancelEventDefinition": "cancel events are not supported by the embedded engine",
}
_EVENT_DEFINITIONS: Final = frozenset(
    {
        "timerEventDefinition",
        "messageEventDefinition",
        "errorEventDefinition",
        "terminateEventDefinition",
        *_UNSUPPORTED_EVENT_DEFINITIONS,
    }
)

# zeebe: extension elements that never change execution.
_IGNORED_ZEEBE: Final = frozenset({"properties", "linkedResources", "versionTag"})
_REJECTED_ZEEBE: Final = {
    "executionListeners": "execution listeners (zeebe:executionListeners) are not supported",
    "taskListeners": "task listeners (zeebe:taskListeners) are not supported",
}
_JOB: Final = frozenset({"taskDefinition", "taskHeaders", "ioMapping"})
_ALLOWED_ZEEBE: Final = {
    "serviceTask": _JOB,
    "sendTask": _JOB,
    "scriptTask": _JOB | {"script"},
    "userTask": frozenset(
        {
            "userTask",
            "formDefinition",
            "assignmentDefinition",
            "taskSchedule",
            "priorityDefinition",
            "ioMapping",
            "taskHeaders",
        }
    ),
    "callActivity": frozenset({"calledElement", "ioMapping"}),
    "subProcess": frozenset({"ioMapping"}),
    "startEvent": frozenset({"ioMapping", "formDefinition"}),
    "endEvent": _JOB,
    "intermediateThrowEvent": _JOB,
    "intermediateCatchEvent": frozenset({"ioMapping"}),
    "boundaryEvent": frozenset({"ioMapping"}),
    "exclusiveGateway": frozenset(),
    "parallelGateway": frozenset(),
    "inclusiveGateway": frozenset(),
}
_EVENT_TYPES: Final = {
    "startEvent": ElementType.START_EVENT,
    "endEvent": ElementType.END_EVENT,
    "intermediateCatchEvent": ElementType.INTERMEDIATE_CATCH_EVENT,
    "intermediateThrowEvent": ElementType.INTERMEDIATE_THROW_EVENT,
    "boundaryEvent": ElementType.BOUNDARY_EVENT,
}
_TIMER_CHILDREN: Final = {
    "timeDuration": TimerKind.DURATION,
    "timeDate": TimerKind.DATE,
    "timeCycle": TimerKind.CYCLE,
}
_TRUE: Final = frozenset({"true", "1"})
_BOOLEANS: Final = frozenset({"true", "false", "1", "0"})


class _DoctypeFoundError(Exception):
    pass


class _PrologEndError(Exception):
    pass


def _has_doctype(data: bytes) -> bool:
    """Whether the prolog declares a DTD; expat stops at the root element, so this is cheap."""

    def on_doctype(*_: object) -> None:
        raise _DoctypeFoundError

    def on_root(*_: object) -> None:
        raise _PrologEndError

    scanner = expat.ParserCreate()
    scanner.StartDoctypeDeclHandler = on_doctype
    scanner.StartElementHandler = on_root
    try:
        scanner.Parse(data, True)  # noqa: FBT003 (pyexpat takes isfinal positionally)
    except _DoctypeFoundError:
        return True
    except (_PrologEndError, expat.ExpatError):
        return False
    return False


def _parse_xml(resource_name: str, data: bytes) -> XmlElement:
    if _has_doctype(data):
        raise BpmnValidationError(
            resource_name,
            ["the document declares a DOCTYPE: DTDs and entity declarations are not allowed in BPMN"],
        )
    try:
        # The prolog was checked above: without a DTD there are no entities to expand.
        return ET.fromstring(data)  # noqa: S314
    except ET.ParseError as exc:
        line, column = exc.position
        reason = expat.errors.messages.get(exc.code, str(exc))
        raise BpmnValidationError(
            resource_name, [f"XML is not well-formed at line {line}, column {column + 1}: {reason}"]
        ) from exc


def _split(tag: object) -> tuple[str, str]:
    """``(namespace, local name)`` of a tag; comments and processing instructions give ``("", "")``."""
    if not isinstance(tag, str):
        return "", ""
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        return namespace, local
    return "", tag


def _bpmn_children(xml_element: XmlElement) -> Iterable[tuple[str, XmlElement]]:
    for child in xml_element:
        namespace, local = _split(child.tag)
        if namespace == BPMN_NS:
            yield local, child


def _zeebe_child(xml_element: XmlElement, name: str) -> XmlElement | None:
    """The first ``zeebe:<name>`` inside the ``bpmn:extensionElements`` of an element."""
    for local, child in _bpmn_children(xml_element):
        if local == "extensionElements":
            found = child.find(_ZEEBE + name)
            if found is not None:
                return found
    return None


def _label(element_id: str | None, local: str) -> str:
    return f"Element '{element_id}' (bpmn:{local})" if element_id else f"Element without id (bpmn:{local})"


def _attr(xml_element: XmlElement, name: str) -> str | None:
    """An attribute value, with empty or blank values treated as absent."""
    value = xml_element.get(name)
    if value is None or not value.strip():
        return None
    return value


@dataclass
class _Own:
    """The children of a flow node that describe the node itself."""

    documentation: str | None = None
    zeebe: dict[str, XmlElement] = field(default_factory=dict)
    event_definitions: list[tuple[str, XmlElement]] = field(default_factory=list)
    loop: XmlElement | None = None
    inline_script: bool = False


@dataclass
class _Scope:
    kind: ElementType  # PROCESS, SUB_PROCESS or EVENT_SUB_PROCESS
    children: list[str] = field(default_factory=list)
    event_sub_processes: list[str] = field(default_factory=list)
    start_events: list[str] = field(default_factory=list)


class _Reporter:
    """Collects problems, compiles expressions and checks static values, naming the element."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self._null: Expression | None = None

    def add(self, label: str, reason: str) -> None:
        self.problems.append(f"{label}: {reason}")

    def expression(self, label: str, where: str, text: str) -> Expression:
        """Static text, or FEEL when the (stripped) text starts with ``=``."""
        stripped = text.strip()
        if not stripped.startswith("="):
            return Expression(text)
        try:
            compiled = compile_expression(stripped[1:])
        except FeelError as exc:
            self.add(label, f"invalid FEEL expression in {where}: {exc}")
            return Expression(stripped)
        return Expression(stripped, compiled)

    def feel(self, label: str, where: str, text: str) -> Expression:
        """An expression that must be FEEL (``=`` prefix)."""
        if not text.strip().startswith("="):
            self.add(label, f"{where} must be a FEEL expression starting with '=' (got '{text.strip()}')")
            return Expression(text)
        return self.expression(label, where, text)

    def static_or_feel(
        self, label: str, where: str, text: str, check: Callable[[str], str | None]
    ) -> Expression:
        """An expression whose static form is validated by ``check`` (returns a reason or None)."""
        expression = self.expression(label, where, text)
        if not expression.is_feel:
            reason = check(text.strip())
            if reason:
                self.add(label, f"invalid {where}: {reason}")
        return expression

    def null(self) -> Expression:
        """FEEL ``null``: the source of a mapping without one (Zeebe sets the target to null)."""
        if self._null is None:
            self._null = Expression("=null", compile_expression("null"))
        return self._null

    def static_name(self, label: str, where: str, text: str | None, *, required: bool) -> str | None:
        """A variable name: static text, never an expression."""
        if text is None:
            if required:
                self.add(label, f"{where} is required")
            return None
        if text.strip().startswith("="):
            self.add(label, f"{where} must be a static variable name, not an expression ('{text}')")
        return text.strip()

    def boolean(self, label: str, where: str, text: str | None, *, default: bool) -> bool:
        if text is None:
            return default
        if text.strip() not in _BOOLEANS:
            self.add(label, f"{where} must be 'true' or 'false' (got '{text}')")
            return default
        return text.strip() in _TRUE


def _no_check(text: str) -> str | None:
    del text
    return None


def _check_duration(text: str) -> str | None:
    try:
        parse_duration(text)
    except TimerFormatError as exc:
        return str(exc)
    return None


def _check_date(text: str) -> str | None:
    try:
        parse_datetime(text)
    except TimerFormatError as exc:
        return str(exc)
    return None


def _check_cycle(text: str) -> str | None:
    if " " in text.strip():
        return (
            f"'{text}' looks like a cron expression: "
            "only ISO 8601 cycles (R[n]/[start/]duration) are supported"
        )
    try:
        parse_cycle(text)
    except TimerFormatError as exc:
        return str(exc)
    return None


def _check_int(low: int, high: int | None) -> Callable[[str], str | None]:
    def check(text: str) -> str | None:
        try:
            value = int(text)
        except ValueError:
            return f"'{text}' is not an integer"
        if value < low or (high is not None and value > high):
            upper = f" and {high}" if high is not None else ""
            return f"{value} is not between {low}{upper}" if upper else f"{value} is below {low}"
        return None

    return check


_TIMER_CHECKS: Final = {
    TimerKind.DURATION: _check_duration,
    TimerKind.DATE: _check_date,
    TimerKind.CYCLE: _check_cycle,
}
_TIMER_TAGS: Final = {kind: tag for tag, kind in _TIMER_CHILDREN.items()}


class _Definitions:
    """The root ``bpmn:definitions``: shared messages and errors, and the executable processes."""

    def __init__(self, root: XmlElement, reporter: _Reporter) -> None:
        self.root = root
        self.reporter = reporter
        self.messages: dict[str, XmlElement] = {}
        self.errors: dict[str, XmlElement] = {}
        self._keys: dict[str, str | None] = {}

    def parse(self) -> list[Process]:
        namespace, local = _split(self.root.tag)
        if namespace != BPMN_NS or local != "definitions":
            self.reporter.add(
                "Document", f"the root element must be bpmn:definitions (got '{self.root.tag}')"
            )
            return []
        self._check_duplicate_ids()
        executable: list[XmlElement] = []
        for local_name, child in _bpmn_children(self.root):
            if local_name == "message" and child.get("id"):
                self.messages[child.get("id", "")] = child
            elif local_name == "error" and child.get("id"):
                self.errors[child.get("id", "")] = child
            elif local_name == "process" and (child.get("isExecutable") or "").strip() in _TRUE:
                executable.append(child)
        if not executable:
            self.reporter.add(
                "Document",
                'no executable process: at least one bpmn:process must have isExecutable="true"',
            )
            return []
        return [_ProcessParser(self, process).parse() for process in executable]

    def correlation_key(self, message_id: str, xml_message: XmlElement) -> str | None:
        """The ``zeebe:subscription correlationKey`` text of a message (looked up once per message)."""
        if message_id not in self._keys:
            subscription = _zeebe_child(xml_message, "subscription")
            self._keys[message_id] = None if subscription is None else _attr(subscription, "correlationKey")
        return self._keys[message_id]

    def _check_duplicate_ids(self) -> None:
        seen: dict[str, str] = {}
        for xml_element in self.root.iter():
            namespace, local = _split(xml_element.tag)
            element_id = xml_element.get("id")
            if namespace != BPMN_NS or element_id is None:
                continue
            if element_id in seen:
                self.reporter.add(
                    _label(element_id, local),
                    f"duplicate id '{element_id}' (also used by bpmn:{seen[element_id]})",
                )
            else:
                seen[element_id] = local


class _ProcessParser:
    """One executable process: walks its scopes, then links flows, boundaries and start events."""

    def __init__(self, definitions: _Definitions, xml_process: XmlElement) -> None:
        self.definitions = definitions
        self.report = definitions.reporter
        self.xml = xml_process
        self.id = xml_process.get("id") or ""
        self.elements: dict[str, Element] = {}
        self.scopes: dict[str, _Scope] = {}
        # Every flow node of the process, supported or not, with its scope and BPMN tag.
        self.scope_of: dict[str, str] = {}
        self.tag_of: dict[str, str] = {}
        self.raw_flows: list[tuple[XmlElement, str]] = []
        self.attachments: list[tuple[str, str | None]] = []  # boundary event id, attachedToRef

    # -- walking ---------------------------------------------------------------------------------

    def parse(self) -> Process:
        label = _label(self.id or None, "process")
        if not self.id:
            self.report.add(label, "a process needs an id")
        own = self._own_children(self.xml, label, "process", is_scope=True)
        for name in own.zeebe:
            if name == "ioMapping":
                self.report.add(label, "input/output mappings (zeebe:ioMapping) on a process are not allowed")
            elif name in _REJECTED_ZEEBE:
                self.report.add(label, _REJECTED_ZEEBE[name])
            elif name not in _IGNORED_ZEEBE and name != "userTaskForm":
                self.report.add(label, f"zeebe:{name} is not supported on bpmn:process")
        self.elements[self.id] = Element(
            id=self.id,
            type=ElementType.PROCESS,
            name=self.xml.get("name"),
            documentation=own.documentation,
        )
        self.scopes[self.id] = _Scope(ElementType.PROCESS)
        self._walk(self.xml, self.id)
        incoming, outgoing, flows = self._link_flows()
        boundaries = self._link_boundaries()
        self._check_nodes(incoming, outgoing, flows)
        self._check_scopes()
        return self._finish(incoming, outgoing, flows, boundaries)

    def _walk(self, xml_scope: XmlElement, scope_id: str) -> None:
        for local, child in _bpmn_children(xml_scope):
            if local == "sequenceFlow":
                self.raw_flows.append((child, scope_id))
                continue
            if local in _IGNORED_IN_SCOPE or (local in _OWN_CHILDREN and scope_id != self.id):
                continue
            node_id = child.get("id")
            label = _label(node_id, local)
            if not node_id:
                self.report.add(label, f"a flow node needs an id (in '{scope_id}')")
                continue
            self.scope_of[node_id] = scope_id
            self.tag_of[node_id] = local
            if local in _UNSUPPORTED_NODES:
                self.report.add(label, f"unsupported element: {_UNSUPPORTED_NODES[local]}")
            elif local not in _SUPPORTED_NODES:
                self.report.add(
                    label, f"unsupported element: bpmn:{local} is not supported by the embedded engine"
                )
            else:
                self._node(child, local, node_id, scope_id, label)

    def _node(self, xml_node: XmlElement, local: str, node_id: str, scope_id: str, label: str) -> None:
        scope = self.scopes[scope_id]
        is_event_sub = local == "subProcess" and (xml_node.get("triggeredByEvent") or "") in _TRUE
        own = self._own_children(xml_node, label, local, is_scope=local == "subProcess")
        self._check_zeebe(label, local, own.zeebe, is_event_sub=is_event_sub)
        base = Element(
            id=node_id,
            type=ElementType.PROCESS,  # replaced by the builder below
            name=xml_node.get("name"),
            parent=scope_id,
            documentation=own.documentation,
        )
        if local in _ACTIVITIES:
            base = self._activity_common(xml_node, own, base, label, local, allow_loop=not is_event_sub)
        elif own.loop is not None:
            self.report.add(
                label, "multi-instance is only supported on tasks, subprocesses and call activities"
            )
        if local in _GATEWAYS:
            element = self._gateway(xml_node, base, local)
        elif local in _EVENTS:
            element = self._event(xml_node, own, base, label=label, scope=scope)
        elif local == "subProcess":
            element = self._sub_process(xml_node, base, node_id, is_event_sub=is_event_sub)
        else:
            element = self._task(own, base, label, local)
        self.elements[node_id] = element
        if element.type == ElementType.EVENT_SUB_PROCESS:
            scope.event_sub_processes.append(node_id)
        else:
            scope.children.append(node_id)
        if element.type == ElementType.START_EVENT:
            scope.start_events.append(node_id)

    def _own_children(self, xml_node: XmlElement, label: str, local: str, *, is_scope: bool) -> _Own:
        own = _Own()
        docs: list[str] = []
        is_event = local in _EVENTS
        for name, child in _bpmn_children(xml_node):
            if name == "documentation":
                docs.append(child.text or "")
            elif name == "extensionElements":
                self._collect_zeebe(child, label, own.zeebe)
            elif name in {
                "incoming",
                "outgoing",
                "property",
                "dataInputAssociation",
                "dataOutputAssociation",
            }:
                continue
            elif name in _EVENT_DEFINITIONS and is_event:
                own.event_definitions.append((name, child))
            elif name == "multiInstanceLoopCharacteristics" and local != "process":
                if own.loop is not None:
                    self.report.add(label, "more than one bpmn:multiInstanceLoopCharacteristics")
                own.loop = child
            elif name == "standardLoopCharacteristics" and local != "process":
                self.report.add(
                    label,
                    "standard loops (bpmn:standardLoopCharacteristics) are not supported; use multi-instance",
                )
            elif name == "script" and local == "scriptTask":
                own.inline_script = True
                self.report.add(
                    label,
                    "inline scripts (bpmn:script with a scriptFormat) are not supported; "
                    "use zeebe:script with a FEEL expression",
                )
            elif not is_scope:
                self.report.add(label, f"unsupported child element bpmn:{name}")
        if docs:
            own.documentation = "\n".join(docs)
        return own

    def _collect_zeebe(self, extension: XmlElement, label: str, into: dict[str, XmlElement]) -> None:
        for child in extension:
            namespace, name = _split(child.tag)
            if namespace != ZEEBE_NS:
                continue
            if name in into and name not in _IGNORED_ZEEBE:
                self.report.add(label, f"more than one zeebe:{name}")
            into.setdefault(name, child)

    def _check_zeebe(
        self, label: str, local: str, zeebe: dict[str, XmlElement], *, is_event_sub: bool
    ) -> None:
        allowed: frozenset[str] = frozenset() if is_event_sub else _ALLOWED_ZEEBE.get(local, frozenset())
        for name in zeebe:
            if name in _IGNORED_ZEEBE:
                continue
            if name in _REJECTED_ZEEBE:
                self.report.add(label, _REJECTED_ZEEBE[name])
            elif name not in allowed:
                where = "an event subprocess" if is_event_sub else f"bpmn:{local}"
                self.report.add(label, f"zeebe:{name} is not supported on {where}")

    # -- shared pieces ---------------------------------------------------------------------------

    def _mappings(
        self, label: str, zeebe: dict[str, XmlElement], *, inputs_allowed: bool = True
    ) -> tuple[tuple[Mapping, ...], tuple[Mapping, ...]]:
        io = zeebe.get("ioMapping")
        if io is None:
            return (), ()
        inputs: list[Mapping] = []
        outputs: list[Mapping] = []
        for child in io:
            namespace, name = _split(child.tag)
            if namespace != ZEEBE_NS or name not in {"input", "output"}:
                continue
            if name == "input" and not inputs_allowed:
                self.report.add(label, "input mappings (zeebe:input) are not supported on this element")
                continue
            target = _attr(child, "target")
            if target is None:
                self.report.add(label, f"zeebe:{name} needs a target")
                continue
            source = _attr(child, "source")
            where = f"zeebe:{name} source (target '{target.strip()}')"
            expression = (
                self.report.null() if source is None else self.report.expression(label, where, source)
            )
            (inputs if name == "input" else outputs).append(Mapping(expression, target.strip()))
        return tuple(inputs), tuple(outputs)

    def _task_definition(self, label: str, zeebe: dict[str, XmlElement]) -> TaskDefinition | None:
        definition = zeebe.get("taskDefinition")
        if definition is None:
            return None
        job_type = _attr(definition, "type")
        if job_type is None:
            self.report.add(label, "zeebe:taskDefinition needs a type")
            job_type = ""
        retries = _attr(definition, "retries") or "3"
        return TaskDefinition(
            type=self.report.expression(label, "zeebe:taskDefinition type", job_type),
            retries=self.report.static_or_feel(
                label, "zeebe:taskDefinition retries", retries, _check_int(0, None)
            ),
        )

    def _headers(self, label: str, zeebe: dict[str, XmlElement]) -> tuple[tuple[str, str], ...]:
        headers = zeebe.get("taskHeaders")
        if headers is None:
            return ()
        pairs: list[tuple[str, str]] = []
        for child in headers:
            namespace, name = _split(child.tag)
            if namespace != ZEEBE_NS or name != "header":
                continue
            key = child.get("key")
            if not key:
                self.report.add(label, "zeebe:header needs a key")
                continue
            pairs.append((key, child.get("value") or ""))
        return tuple(pairs)

    def _binding_type(self, label: str, xml_element: XmlElement, what: str) -> None:
        binding = _attr(xml_element, "bindingType")
        if binding is not None and binding.strip() != "latest":
            self.report.add(
                label, f"{what} bindingType '{binding}' is not supported (only 'latest' is supported)"
            )

    def _activity_common(
        self,
        xml_node: XmlElement,
        own: _Own,
        base: Element,
        label: str,
        local: str,
        *,
        allow_loop: bool,
    ) -> Element:
        if (xml_node.get("isForCompensation") or "") in _TRUE:
            self.report.add(label, "compensation handlers (isForCompensation) are not supported")
        if _attr(xml_node, "default") is not None:
            self.report.add(label, "default flows out of activities are not supported")
        loop = None
        if own.loop is not None:
            if allow_loop:
                loop = self._loop(label, own.loop)
            else:
                self.report.add(label, "an event subprocess cannot be multi-instance")
        inputs: tuple[Mapping, ...] = ()
        outputs: tuple[Mapping, ...] = ()
        if local != "subProcess" or allow_loop:
            inputs, outputs = self._mappings(label, own.zeebe)
        return replace(base, loop=loop, inputs=inputs, outputs=outputs)

    def _loop(self, label: str, xml_loop: XmlElement) -> LoopCharacteristics:
        sequential = self.report.boolean(label, "isSequential", xml_loop.get("isSequential"), default=False)
        completion: Expression | None = None
        zeebe: dict[str, XmlElement] = {}
        for name, child in _bpmn_children(xml_loop):
            if name == "completionCondition":
                text = (child.text or "").strip()
                if text:
                    completion = self.report.feel(label, "bpmn:completionCondition", text)
            elif name == "extensionElements":
                self._collect_zeebe(child, label, zeebe)
            elif name == "loopCardinality":
                self.report.add(
                    label,
                    "bpmn:loopCardinality is not supported; use zeebe:loopCharacteristics inputCollection",
                )
            elif name != "documentation":
                self.report.add(label, f"bpmn:{name} in multi-instance is not supported")
        characteristics = zeebe.get("loopCharacteristics")
        if characteristics is None:
            self.report.add(label, "multi-instance needs zeebe:loopCharacteristics with an inputCollection")
            return LoopCharacteristics(sequential=sequential, input_collection=Expression(""))
        collection = _attr(characteristics, "inputCollection")
        input_collection = Expression("")
        if collection is None:
            self.report.add(label, "zeebe:loopCharacteristics needs an inputCollection")
        else:
            input_collection = self.report.feel(
                label, "zeebe:loopCharacteristics inputCollection", collection
            )
        output_collection = self.report.static_name(
            label,
            "zeebe:loopCharacteristics outputCollection",
            _attr(characteristics, "outputCollection"),
            required=False,
        )
        output_element_text = _attr(characteristics, "outputElement")
        if (output_collection is None) != (output_element_text is None):
            self.report.add(
                label, "zeebe:loopCharacteristics outputCollection and outputElement must be set together"
            )
        return LoopCharacteristics(
            sequential=sequential,
            input_collection=input_collection,
            input_element=self.report.static_name(
                label,
                "zeebe:loopCharacteristics inputElement",
                _attr(characteristics, "inputElement"),
                required=False,
            ),
            output_collection=output_collection,
            output_element=None
            if output_element_text is None
            else self.report.feel(label, "zeebe:loopCharacteristics outputElement", output_element_text),
            completion_condition=completion,
        )

    # -- tasks, subprocesses, call activities ----------------------------------------------------

    def _task(self, own: _Own, base: Element, label: str, local: str) -> Element:
        zeebe = own.zeebe
        if local == "callActivity":
            return self._call_activity(base, label, zeebe)
        if local == "userTask":
            return self._user_task(base, label, zeebe)
        task_definition = self._task_definition(label, zeebe)
        headers = self._headers(label, zeebe)
        if local == "scriptTask":
            return self._script_task(base, label, own, task_definition, headers)
        if task_definition is None:
            self.report.add(label, "missing zeebe:taskDefinition (a job type is required)")
        element_type = ElementType.SERVICE_TASK if local == "serviceTask" else ElementType.SEND_TASK
        return replace(base, type=element_type, task_definition=task_definition, task_headers=headers)

    def _script_task(
        self,
        base: Element,
        label: str,
        own: _Own,
        task_definition: TaskDefinition | None,
        headers: tuple[tuple[str, str], ...],
    ) -> Element:
        xml_script = own.zeebe.get("script")
        script: ScriptDefinition | None = None
        if xml_script is not None and task_definition is not None:
            self.report.add(label, "a script task has either zeebe:script or zeebe:taskDefinition, not both")
        elif xml_script is not None:
            text = _attr(xml_script, "expression")
            expression = Expression("")
            if text is None:
                self.report.add(label, "zeebe:script needs an expression")
            else:
                expression = self.report.feel(label, "zeebe:script expression", text)
            result = self.report.static_name(
                label, "zeebe:script resultVariable", _attr(xml_script, "resultVariable"), required=True
            )
            script = ScriptDefinition(
                expression=expression,
                result_variable=result or "",
            )
        elif task_definition is None and not own.inline_script:
            self.report.add(
                label, "missing zeebe:script (a FEEL expression) or zeebe:taskDefinition (a job worker)"
            )
        return replace(
            base,
            type=ElementType.SCRIPT_TASK,
            task_definition=task_definition,
            task_headers=headers,
            script=script,
        )

    def _user_task(self, base: Element, label: str, zeebe: dict[str, XmlElement]) -> Element:
        if "userTask" not in zeebe:
            self.report.add(label, "job-based user tasks are not supported; add zeebe:userTask")
        values: dict[str, Expression | None] = {}

        def read(xml_element: XmlElement | None, attribute: str, check: Callable[[str], str | None]) -> None:
            if xml_element is None:
                return
            text = _attr(xml_element, attribute)
            if text is not None:
                tag = _split(xml_element.tag)[1]
                values[attribute] = self.report.static_or_feel(label, f"zeebe:{tag} {attribute}", text, check)

        form = zeebe.get("formDefinition")
        if form is not None:
            if _attr(form, "formKey") is not None:
                self.report.add(
                    label,
                    "zeebe:formDefinition formKey (embedded or legacy forms) is not supported; "
                    "use formId or externalReference",
                )
            if _attr(form, "formId") is not None and _attr(form, "externalReference") is not None:
                self.report.add(label, "zeebe:formDefinition has both formId and externalReference")
            self._binding_type(label, form, "zeebe:formDefinition")
        read(form, "formId", _no_check)
        read(form, "externalReference", _no_check)
        assignment = zeebe.get("assignmentDefinition")
        for attribute in ("assignee", "candidateGroups", "candidateUsers"):
            read(assignment, attribute, _no_check)
        schedule = zeebe.get("taskSchedule")
        read(schedule, "dueDate", _check_date)
        read(schedule, "followUpDate", _check_date)
        read(zeebe.get("priorityDefinition"), "priority", _check_int(0, 100))
        return replace(
            base,
            type=ElementType.USER_TASK,
            task_headers=self._headers(label, zeebe),
            user_task=UserTaskDefinition(
                form_id=values.get("formId"),
                external_reference=values.get("externalReference"),
                assignee=values.get("assignee"),
                candidate_groups=values.get("candidateGroups"),
                candidate_users=values.get("candidateUsers"),
                due_date=values.get("dueDate"),
                follow_up_date=values.get("followUpDate"),
                priority=values.get("priority"),
            ),
        )

    def _call_activity(self, base: Element, label: str, zeebe: dict[str, XmlElement]) -> Element:
        called = zeebe.get("calledElement")
        if called is None:
            self.report.add(label, "missing zeebe:calledElement (the called process id is required)")
            return replace(base, type=ElementType.CALL_ACTIVITY)
        process_id = _attr(called, "processId")
        if process_id is None:
            self.report.add(label, "zeebe:calledElement needs a processId")
        self._binding_type(label, called, "zeebe:calledElement")
        return replace(
            base,
            type=ElementType.CALL_ACTIVITY,
            called_element=CalledElement(
                process_id=self.report.expression(label, "zeebe:calledElement processId", process_id or ""),
                propagate_all_child_variables=self.report.boolean(
                    label,
                    "zeebe:calledElement propagateAllChildVariables",
                    called.get("propagateAllChildVariables"),
                    default=True,
                ),
                propagate_all_parent_variables=self.report.boolean(
                    label,
                    "zeebe:calledElement propagateAllParentVariables",
                    called.get("propagateAllParentVariables"),
                    default=True,
                ),
            ),
        )

    def _sub_process(
        self, xml_node: XmlElement, base: Element, node_id: str, *, is_event_sub: bool
    ) -> Element:
        kind = ElementType.EVENT_SUB_PROCESS if is_event_sub else ElementType.SUB_PROCESS
        self.scopes[node_id] = _Scope(kind)
        element = replace(base, type=kind)
        self.elements[node_id] = element  # before its children, so parents come first in the map
        self._walk(xml_node, node_id)
        return element

    # -- gateways --------------------------------------------------------------------------------

    def _gateway(self, xml_node: XmlElement, base: Element, local: str) -> Element:
        element_type = {
            "exclusiveGateway": ElementType.EXCLUSIVE_GATEWAY,
            "parallelGateway": ElementType.PARALLEL_GATEWAY,
            "inclusiveGateway": ElementType.INCLUSIVE_GATEWAY,
        }[local]
        default = _attr(xml_node, "default")
        if default is not None and element_type == ElementType.PARALLEL_GATEWAY:
            self.report.add(_label(base.id, local), "a parallel gateway cannot have a default flow")
            default = None
        return replace(base, type=element_type, default_flow=default)

    # -- events ----------------------------------------------------------------------------------

    def _event(self, xml_node: XmlElement, own: _Own, base: Element, *, label: str, scope: _Scope) -> Element:
        local = _split(xml_node.tag)[1]
        element_type = _EVENT_TYPES[local]
        definitions = own.event_definitions
        unsupported = [name for name, _ in definitions if name in _UNSUPPORTED_EVENT_DEFINITIONS]
        for name in unsupported:
            self.report.add(label, f"unsupported event: {_UNSUPPORTED_EVENT_DEFINITIONS[name]}")
        if len(definitions) > 1 and not unsupported:
            self.report.add(label, "events with more than one event definition are not supported")
        if unsupported or len(definitions) > 1:
            return replace(base, type=element_type)
        definition = definitions[0] if definitions else None
        inputs, outputs = self._mappings(
            label, own.zeebe, inputs_allowed=local not in {"startEvent", "boundaryEvent"}
        )
        element = replace(base, type=element_type, inputs=inputs, outputs=outputs)
        if local == "startEvent":
            return self._start_event(xml_node, element, label, definition, scope, own.zeebe)
        if local == "boundaryEvent":
            return self._boundary_event(xml_node, element, label, definition)
        if local == "intermediateCatchEvent":
            return self._catch_event(element, label, definition)
        return self._throw_event(element, label, local, own, definition)

    def _catch_event(
        self, element: Element, label: str, definition: tuple[str, XmlElement] | None
    ) -> Element:
        if definition is None:
            self.report.add(label, "an intermediate catch event needs a timer or message event definition")
            return element
        return self._catching(
            element,
            label,
            definition,
            timers={TimerKind.DURATION, TimerKind.DATE},
            where="an intermediate catch event",
            correlated=True,
        )

    def _catching(
        self,
        element: Element,
        label: str,
        definition: tuple[str, XmlElement],
        *,
        timers: set[TimerKind],
        where: str,
        correlated: bool,
        error: bool = False,
    ) -> Element:
        """Apply the event definition of a catching event (start, boundary, intermediate catch)."""
        name, xml_definition = definition
        if name == "timerEventDefinition":
            timer = self._timer(label, xml_definition, timers, where)
            return replace(element, event_type=EventType.TIMER, timer=timer)
        if name == "messageEventDefinition":
            message = self._message(label, xml_definition, correlation_key_required=correlated)
            return replace(element, event_type=EventType.MESSAGE, message=message)
        if name == "errorEventDefinition" and error:
            if not element.interrupting:
                self.report.add(label, f"an error event must be interrupting ({where})")
            return replace(
                element, event_type=EventType.ERROR, error=self._error(label, xml_definition, throw=False)
            )
        self.report.add(label, f"bpmn:{name} is not supported on {where}")
        return element

    def _start_event(
        self,
        xml_node: XmlElement,
        element: Element,
        label: str,
        definition: tuple[str, XmlElement] | None,
        scope: _Scope,
        zeebe: dict[str, XmlElement],
    ) -> Element:
        form = zeebe.get("formDefinition")
        if form is not None:
            # A start form (Tasklist's "start process" form) is metadata for the people who start a
            # case; it does not change execution. Only a process's none start event may carry one.
            form_id = form.get("formId")
            if scope.kind != ElementType.PROCESS or definition is not None:
                self.report.add(
                    label,
                    "a start form (zeebe:formDefinition) is only supported on a process's none start event",
                )
            elif not form_id:
                self.report.add(label, "a start form needs zeebe:formDefinition formId (linked Camunda form)")
            else:
                element = replace(element, extra={**element.extra, "startFormId": form_id})
        if scope.kind == ElementType.SUB_PROCESS:
            if definition is not None:
                self.report.add(label, "the start event of an embedded subprocess must be a none start event")
            return element
        if scope.kind == ElementType.PROCESS:
            if definition is None:
                return element
            return self._catching(
                element,
                label,
                definition,
                timers={TimerKind.CYCLE, TimerKind.DATE},
                where="a process start event (error start events only in event subprocesses)"
                if definition[0] == "errorEventDefinition"
                else "a process start event",
                correlated=False,
            )
        # The start event of an event subprocess.
        if definition is None:
            self.report.add(
                label, "the start event of an event subprocess must be a timer, message or error start event"
            )
            return element
        interrupting = self.report.boolean(
            label, "isInterrupting", xml_node.get("isInterrupting"), default=True
        )
        return self._catching(
            replace(element, interrupting=interrupting),
            label,
            definition,
            timers=set(TimerKind),
            where="an event subprocess start event",
            correlated=True,
            error=True,
        )

    def _boundary_event(
        self,
        xml_node: XmlElement,
        element: Element,
        label: str,
        definition: tuple[str, XmlElement] | None,
    ) -> Element:
        interrupting = self.report.boolean(
            label, "cancelActivity", xml_node.get("cancelActivity"), default=True
        )
        attached_to = _attr(xml_node, "attachedToRef")
        self.attachments.append((element.id, attached_to))
        element = replace(element, interrupting=interrupting, attached_to=attached_to)
        if attached_to is None:
            self.report.add(label, "a boundary event needs attachedToRef")
        if definition is None:
            self.report.add(label, "a boundary event needs a timer, message or error event definition")
            return element
        timers = {TimerKind.DURATION, TimerKind.DATE} | (set() if interrupting else {TimerKind.CYCLE})
        return self._catching(
            element,
            label,
            definition,
            timers=timers,
            where="an interrupting boundary event" if interrupting else "a non-interrupting boundary event",
            correlated=True,
            error=True,
        )

    def _throw_event(
        self, element: Element, label: str, local: str, own: _Own, definition: tuple[str, XmlElement] | None
    ) -> Element:
        name = definition[0] if definition else None
        task_definition = self._task_definition(label, own.zeebe)
        headers = self._headers(label, own.zeebe)
        if name != "messageEventDefinition" and (task_definition is not None or headers):
            self.report.add(
                label, "zeebe:taskDefinition only applies to message throw and message end events"
            )
        if definition is None:
            return element
        xml_definition = definition[1]
        if name == "messageEventDefinition":
            if task_definition is None:
                self.report.add(
                    label, "a message throw event needs zeebe:taskDefinition (it is executed by a job worker)"
                )
            message = None
            if _attr(xml_definition, "messageRef") is not None:
                message = self._message(label, xml_definition, correlation_key_required=False)
            return replace(
                element,
                event_type=EventType.MESSAGE,
                message=message,
                task_definition=task_definition,
                task_headers=headers,
            )
        if local == "endEvent" and name == "terminateEventDefinition":
            return replace(element, event_type=EventType.TERMINATE)
        if local == "endEvent" and name == "errorEventDefinition":
            return replace(
                element, event_type=EventType.ERROR, error=self._error(label, xml_definition, throw=True)
            )
        self.report.add(label, f"bpmn:{name} is not supported on bpmn:{local}")
        return element

    def _timer(
        self, label: str, xml_definition: XmlElement, allowed: set[TimerKind], where: str
    ) -> TimerDefinition | None:
        found = [
            (_TIMER_CHILDREN[name], child)
            for name, child in _bpmn_children(xml_definition)
            if name in _TIMER_CHILDREN
        ]
        if len(found) != 1:
            self.report.add(label, "a timer needs exactly one of timeDuration, timeDate or timeCycle")
            return None
        kind, child = found[0]
        tag = f"bpmn:{_TIMER_TAGS[kind]}"
        if kind not in allowed:
            self.report.add(label, f"{tag} timers are not supported on {where}")
            return None
        text = (child.text or "").strip()
        if not text:
            self.report.add(label, f"{tag} is empty")
            return None
        return TimerDefinition(kind, self.report.static_or_feel(label, tag, text, _TIMER_CHECKS[kind]))

    def _message(
        self, label: str, xml_definition: XmlElement, *, correlation_key_required: bool
    ) -> MessageDefinition | None:
        ref = _attr(xml_definition, "messageRef")
        if ref is None:
            self.report.add(label, "a message event needs a messageRef")
            return None
        xml_message = self.definitions.messages.get(ref)
        if xml_message is None:
            self.report.add(label, f"messageRef '{ref}' does not name a bpmn:message")
            return None
        name = _attr(xml_message, "name")
        if name is None:
            self.report.add(label, f"bpmn:message '{ref}' has no name")
            name = ""
        correlation_key: Expression | None = None
        if correlation_key_required:
            key = self.definitions.correlation_key(ref, xml_message)
            if key is None:
                self.report.add(
                    label, f"bpmn:message '{ref}' needs a zeebe:subscription correlationKey for this event"
                )
            else:
                correlation_key = self.report.expression(
                    label, f"zeebe:subscription correlationKey of bpmn:message '{ref}'", key
                )
        return MessageDefinition(
            name=self.report.expression(label, f"name of bpmn:message '{ref}'", name),
            correlation_key=correlation_key,
        )

    def _error(self, label: str, xml_definition: XmlElement, *, throw: bool) -> ErrorDefinition:
        ref = _attr(xml_definition, "errorRef")
        if ref is None:
            if throw:
                self.report.add(label, "an error end event needs an errorRef")
            return ErrorDefinition(None)
        xml_error = self.definitions.errors.get(ref)
        if xml_error is None:
            self.report.add(label, f"errorRef '{ref}' does not name a bpmn:error")
            return ErrorDefinition(None)
        code = _attr(xml_error, "errorCode")
        if code is None:
            if throw:
                self.report.add(label, f"bpmn:error '{ref}' has no errorCode")
            return ErrorDefinition(None)
        if not throw and code.strip().startswith("="):
            self.report.add(label, f"the errorCode of bpmn:error '{ref}' must be static on a catch event")
            return ErrorDefinition(Expression(code))
        return ErrorDefinition(self.report.expression(label, f"errorCode of bpmn:error '{ref}'", code))

    # -- linking ---------------------------------------------------------------------------------

    def _link_flows(
        self,
    ) -> tuple[dict[str, list[str]], dict[str, list[str]], dict[str, SequenceFlow]]:
        incoming: dict[str, list[str]] = defaultdict(list)
        outgoing: dict[str, list[str]] = defaultdict(list)
        flows: dict[str, SequenceFlow] = {}
        for xml_flow, scope_id in self.raw_flows:
            flow_id = xml_flow.get("id")
            label = _label(flow_id, "sequenceFlow")
            if not flow_id:
                self.report.add(label, f"a sequence flow needs an id (in '{scope_id}')")
                continue
            ends: list[str] = []
            for attribute in ("sourceRef", "targetRef"):
                ref = _attr(xml_flow, attribute)
                if ref is None:
                    self.report.add(label, f"{attribute} is required")
                elif ref not in self.scope_of:
                    self.report.add(label, f"{attribute} '{ref}' does not name a flow node of this process")
                elif self.scope_of[ref] != scope_id:
                    self.report.add(
                        label,
                        f"{attribute} '{ref}' is in scope '{self.scope_of[ref]}', not in '{scope_id}': "
                        "sequence flows cannot cross a subprocess boundary",
                    )
                else:
                    ends.append(ref)
            condition = self._condition(label, xml_flow)
            if len(ends) != 2:
                continue
            source, target = ends
            flows[flow_id] = SequenceFlow(flow_id, source, target, condition, xml_flow.get("name"))
            outgoing[source].append(flow_id)
            incoming[target].append(flow_id)
        return incoming, outgoing, flows

    def _condition(self, label: str, xml_flow: XmlElement) -> Expression | None:
        condition: Expression | None = None
        for name, child in _bpmn_children(xml_flow):
            if name == "conditionExpression":
                text = (child.text or "").strip()
                if text:
                    condition = self.report.feel(label, "bpmn:conditionExpression", text)
            elif name not in {"documentation", "extensionElements"}:
                self.report.add(label, f"unsupported child element bpmn:{name}")
        return condition

    def _link_boundaries(self) -> dict[str, list[str]]:
        boundaries: dict[str, list[str]] = defaultdict(list)
        for event_id, attached_to in self.attachments:
            if attached_to is None:
                continue
            label = _label(event_id, "boundaryEvent")
            activity = self.elements.get(attached_to)
            if attached_to not in self.scope_of:
                self.report.add(
                    label, f"attachedToRef '{attached_to}' does not name a flow node of this process"
                )
            elif activity is None:
                continue  # the activity itself was rejected
            elif activity.type not in _ACTIVITY_TYPES:
                self.report.add(
                    label,
                    f"attachedToRef '{attached_to}' is "
                    + (
                        "an event subprocess"
                        if activity.type == ElementType.EVENT_SUB_PROCESS
                        else f"a bpmn:{self.tag_of[attached_to]}"
                    )
                    + ": boundary events attach to tasks, subprocesses and call activities",
                )
            elif activity.parent != self.scope_of[event_id]:
                self.report.add(label, f"boundary event is not in the same scope as '{attached_to}'")
            else:
                boundaries[attached_to].append(event_id)
        for activity_id, event_ids in boundaries.items():
            self._check_unique_messages(
                _label(activity_id, self.tag_of[activity_id]), event_ids, "boundary events"
            )
        return boundaries

    def _check_unique_messages(self, label: str, event_ids: list[str], what: str) -> None:
        names: set[str] = set()
        for event_id in event_ids:
            message = self.elements[event_id].message
            if message is None or message.name.is_feel:
                continue
            if message.name.source in names:
                self.report.add(
                    label, f"two message {what} wait for the same message '{message.name.source}'"
                )
            names.add(message.name.source)

    # -- structure checks ------------------------------------------------------------------------

    def _check_nodes(
        self,
        incoming: dict[str, list[str]],
        outgoing: dict[str, list[str]],
        flows: dict[str, SequenceFlow],
    ) -> None:
        for element in self.elements.values():
            if element.type == ElementType.PROCESS:
                continue
            label = _label(element.id, self.tag_of[element.id])
            ins = incoming.get(element.id, [])
            outs = outgoing.get(element.id, [])
            if element.type in {ElementType.START_EVENT, ElementType.BOUNDARY_EVENT} and ins:
                self.report.add(label, "a start or boundary event cannot have incoming sequence flows")
            elif element.type == ElementType.EVENT_SUB_PROCESS and (ins or outs):
                self.report.add(label, "an event subprocess cannot have incoming or outgoing sequence flows")
            elif (
                element.type
                not in {
                    ElementType.START_EVENT,
                    ElementType.BOUNDARY_EVENT,
                    ElementType.EVENT_SUB_PROCESS,
                }
                and not ins
            ):
                self.report.add(label, "element is unreachable: no incoming sequence flow")
            if element.type == ElementType.END_EVENT and outs:
                self.report.add(label, "an end event cannot have outgoing sequence flows")
            if element.type == ElementType.BOUNDARY_EVENT and not outs:
                self.report.add(label, "a boundary event needs at least one outgoing sequence flow")
            self._check_outgoing(element, label, [flows[flow_id] for flow_id in outs], len(ins))

    def _check_outgoing(self, element: Element, label: str, outs: list[SequenceFlow], incoming: int) -> None:
        conditional = element.type in {ElementType.EXCLUSIVE_GATEWAY, ElementType.INCLUSIVE_GATEWAY}
        for flow in outs:
            if flow.condition is None:
                continue
            flow_label = _label(flow.id, "sequenceFlow")
            if element.type == ElementType.PARALLEL_GATEWAY:
                self.report.add(
                    flow_label,
                    f"a sequence flow out of parallel gateway '{element.id}' cannot have a condition",
                )
            elif not conditional:
                self.report.add(
                    flow_label,
                    f"conditional sequence flows out of bpmn:{self.tag_of[element.id]} '{element.id}' "
                    "are not supported (only out of exclusive and inclusive gateways)",
                )
        if element.type == ElementType.INCLUSIVE_GATEWAY and incoming > 1:
            self.report.add(label, "joining inclusive gateway is not supported (more than one incoming flow)")
        if element.type not in {
            ElementType.EXCLUSIVE_GATEWAY,
            ElementType.INCLUSIVE_GATEWAY,
            ElementType.PARALLEL_GATEWAY,
        }:
            return
        if not outs:
            self.report.add(label, "a gateway needs at least one outgoing sequence flow")
        if not conditional:
            return
        out_ids = {flow.id for flow in outs}
        if element.default_flow is not None and element.default_flow not in out_ids:
            self.report.add(
                label, f"default flow '{element.default_flow}' is not an outgoing flow of this gateway"
            )
        for flow in outs:
            if flow.id == element.default_flow and flow.condition is not None:
                self.report.add(label, f"default flow '{flow.id}' cannot have a condition")
            elif len(outs) > 1 and flow.id != element.default_flow and flow.condition is None:
                self.report.add(
                    label, f"outgoing flow '{flow.id}' has no condition and is not the default flow"
                )

    def _check_scopes(self) -> None:
        for scope_id, scope in self.scopes.items():
            label = _label(scope_id, "process" if scope.kind == ElementType.PROCESS else "subProcess")
            starts = [self.elements[start_id] for start_id in scope.start_events]
            nones = [start for start in starts if start.event_type == EventType.NONE]
            if scope.kind == ElementType.PROCESS:
                if not starts:
                    self.report.add(label, "a process needs at least one start event")
                if len(nones) > 1:
                    self.report.add(label, "a process can have at most one none start event")
                messages = [start.id for start in starts if start.event_type == EventType.MESSAGE]
                self._check_unique_messages(label, messages, "start events")
            elif scope.kind == ElementType.SUB_PROCESS and len(starts) != 1:
                self.report.add(
                    label, f"an embedded subprocess needs exactly one none start event (has {len(starts)})"
                )
            elif scope.kind == ElementType.EVENT_SUB_PROCESS and len(starts) != 1:
                self.report.add(
                    label, f"an event subprocess needs exactly one start event (has {len(starts)})"
                )

    # -- result ----------------------------------------------------------------------------------

    def _finish(
        self,
        incoming: dict[str, list[str]],
        outgoing: dict[str, list[str]],
        flows: dict[str, SequenceFlow],
        boundaries: dict[str, list[str]],
    ) -> Process:
        elements: dict[str, Element] = {}
        for element_id, element in self.elements.items():
            scope = self.scopes.get(element_id)
            start_event: str | None = None
            if scope is not None:
                if scope.kind == ElementType.EVENT_SUB_PROCESS:
                    start_event = scope.start_events[0] if scope.start_events else None
                else:
                    start_event = next(
                        (s for s in scope.start_events if self.elements[s].event_type == EventType.NONE), None
                    )
            elements[element_id] = replace(
                element,
                incoming=tuple(incoming.get(element_id, ())),
                outgoing=tuple(outgoing.get(element_id, ())),
                boundary_events=tuple(boundaries.get(element_id, ())),
                children=tuple(scope.children) if scope else (),
                event_sub_processes=tuple(scope.event_sub_processes) if scope else (),
                start_event=start_event,
            )
        root_starts = [elements[s] for s in self.scopes[self.id].start_events]
        return Process(
            id=self.id,
            name=self.xml.get("name"),
            elements=elements,
            flows=flows,
            none_start=elements[self.id].start_event,
            timer_starts=tuple(s.id for s in root_starts if s.event_type == EventType.TIMER),
            message_starts=tuple(s.id for s in root_starts if s.event_type == EventType.MESSAGE),
        )


def parse_bpmn(resource_name: str, xml: bytes) -> ParsedResource:
    """Parse and validate one BPMN resource; raise ``BpmnValidationError`` listing every problem."""
    root = _parse_xml(resource_name, xml)
    reporter = _Reporter()
    processes = _Definitions(root, reporter).parse()
    if reporter.problems:
        raise BpmnValidationError(resource_name, reporter.problems)
    return ParsedResource(resource_name=resource_name, processes=tuple(processes))
