"""Immutable model of a deployed BPMN process: only what the processor executes.

The parser (``engine.bpmn.parser``) builds it from the XML and rejects every construct the engine
cannot execute, so the processor never meets an element it does not know. Expressions are kept as
``Expression`` values: either a static string or a compiled FEEL expression (attribute text that
starts with ``=``).
"""

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from engine.feel import CompiledExpression


@dataclass(frozen=True, slots=True)
class Expression:
    """A BPMN attribute value: static text, or FEEL when the text starts with ``=``."""

    source: str
    feel: CompiledExpression | None = None

    @property
    def is_feel(self) -> bool:
        return self.feel is not None


class ElementType(StrEnum):
    PROCESS = "PROCESS"
    START_EVENT = "START_EVENT"
    END_EVENT = "END_EVENT"
    INTERMEDIATE_CATCH_EVENT = "INTERMEDIATE_CATCH_EVENT"
    INTERMEDIATE_THROW_EVENT = "INTERMEDIATE_THROW_EVENT"
    BOUNDARY_EVENT = "BOUNDARY_EVENT"
    SERVICE_TASK = "SERVICE_TASK"
    SEND_TASK = "SEND_TASK"
    USER_TASK = "USER_TASK"
    SCRIPT_TASK = "SCRIPT_TASK"
    EXCLUSIVE_GATEWAY = "EXCLUSIVE_GATEWAY"
    PARALLEL_GATEWAY = "PARALLEL_GATEWAY"
    INCLUSIVE_GATEWAY = "INCLUSIVE_GATEWAY"
    SUB_PROCESS = "SUB_PROCESS"
    EVENT_SUB_PROCESS = "EVENT_SUB_PROCESS"
    CALL_ACTIVITY = "CALL_ACTIVITY"
    MULTI_INSTANCE_BODY = "MULTI_INSTANCE_BODY"


class EventType(StrEnum):
    NONE = "NONE"
    TIMER = "TIMER"
    MESSAGE = "MESSAGE"
    ERROR = "ERROR"
    TERMINATE = "TERMINATE"


class TimerKind(StrEnum):
    DURATION = "DURATION"
    DATE = "DATE"
    CYCLE = "CYCLE"


@dataclass(frozen=True, slots=True)
class Mapping:
    """One ``zeebe:input`` or ``zeebe:output``: evaluate ``source`` and write it to ``target``."""

    source: Expression
    target: str  # may be a dotted path (``a.b``) as Zeebe allows


@dataclass(frozen=True, slots=True)
class TaskDefinition:
    """``zeebe:taskDefinition`` of a job-worker element."""

    type: Expression
    retries: Expression  # default "3"


@dataclass(frozen=True, slots=True)
class TimerDefinition:
    kind: TimerKind
    expression: Expression  # ISO 8601 text or FEEL


@dataclass(frozen=True, slots=True)
class MessageDefinition:
    name: Expression
    correlation_key: Expression | None  # None only on message start events


@dataclass(frozen=True, slots=True)
class ErrorDefinition:
    error_code: Expression | None  # None: catch-all on a catch event; required on a throw event


@dataclass(frozen=True, slots=True)
class UserTaskDefinition:
    """``zeebe:userTask`` with its form, assignment and dates (all optional)."""

    form_id: Expression | None = None
    external_reference: Expression | None = None
    assignee: Expression | None = None
    candidate_groups: Expression | None = None
    candidate_users: Expression | None = None
    due_date: Expression | None = None
    follow_up_date: Expression | None = None
    priority: Expression | None = None


@dataclass(frozen=True, slots=True)
class CalledElement:
    process_id: Expression
    propagate_all_child_variables: bool = True
    propagate_all_parent_variables: bool = True


@dataclass(frozen=True, slots=True)
class ScriptDefinition:
    expression: Expression
    result_variable: str


@dataclass(frozen=True, slots=True)
class LoopCharacteristics:
    """Multi-instance: ``zeebe:loopCharacteristics`` on a task or subprocess."""

    sequential: bool
    input_collection: Expression
    input_element: str | None = None
    output_collection: str | None = None
    output_element: Expression | None = None
    completion_condition: Expression | None = None


@dataclass(frozen=True, slots=True)
class SequenceFlow:
    id: str
    source: str
    target: str
    condition: Expression | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Element:
    """One flow node (or the process itself) with everything the processor needs."""

    id: str
    type: ElementType
    name: str | None = None
    # The id of the enclosing scope element: the process id, a subprocess or an event subprocess.
    parent: str | None = None
    incoming: tuple[str, ...] = ()  # sequence flow ids
    outgoing: tuple[str, ...] = ()  # sequence flow ids
    inputs: tuple[Mapping, ...] = ()
    outputs: tuple[Mapping, ...] = ()
    event_type: EventType = EventType.NONE
    timer: TimerDefinition | None = None
    message: MessageDefinition | None = None
    error: ErrorDefinition | None = None
    task_definition: TaskDefinition | None = None
    task_headers: tuple[tuple[str, str], ...] = ()
    user_task: UserTaskDefinition | None = None
    called_element: CalledElement | None = None
    script: ScriptDefinition | None = None
    loop: LoopCharacteristics | None = None
    default_flow: str | None = None  # exclusive/inclusive gateways
    # Boundary events: the activity they are attached to and whether they interrupt it.
    attached_to: str | None = None
    interrupting: bool = True  # boundary events and event-subprocess start events
    # Activities: their boundary event ids. Scopes (process, subprocesses): their children.
    boundary_events: tuple[str, ...] = ()
    # Scopes: the none start event, the event subprocess ids, and the flow-node children.
    start_event: str | None = None
    event_sub_processes: tuple[str, ...] = ()
    children: tuple[str, ...] = ()
    documentation: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_scope(self) -> bool:
        return self.type in {ElementType.PROCESS, ElementType.SUB_PROCESS, ElementType.EVENT_SUB_PROCESS}


@dataclass(frozen=True, slots=True)
class Process:
    """One executable ``bpmn:process``: the element map and the flows between them."""

    id: str
    name: str | None
    elements: dict[str, Element]
    flows: dict[str, SequenceFlow]
    # Start events of the process itself by kind (none start event, timer starts, message starts).
    none_start: str | None = None
    timer_starts: tuple[str, ...] = ()
    message_starts: tuple[str, ...] = ()

    @property
    def root(self) -> Element:
        return self.elements[self.id]

    def element(self, element_id: str) -> Element:
        return self.elements[element_id]

    def flow(self, flow_id: str) -> SequenceFlow:
        return self.flows[flow_id]


@dataclass(frozen=True, slots=True)
class ParsedResource:
    """Every executable process of one BPMN resource (a file may hold several)."""

    resource_name: str
    processes: tuple[Process, ...]


class BpmnValidationError(Exception):
    """A resource the engine cannot execute: each problem names the element id and the reason."""

    def __init__(self, resource_name: str, problems: list[str]) -> None:
        self.resource_name = resource_name
        self.problems = problems
        joined = "\n".join(f"- {p}" for p in problems)
        super().__init__(f"'{resource_name}':\n{joined}")
