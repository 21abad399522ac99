"""What a case accepted at a town's counter passes through in a delegation diagram.

:func:`analyse_town_path` reads the BPMN of a mode's process (and of the processes its call
activities call) and answers two questions for ``shuangshi audit only-decrease``:

- **Human steps**: the most user tasks (and manual tasks) a town-counter case can pass on its way from
  the start event to an *approving end*, each element counted once.
- **Deadlines**: which due dates, timers and variable mappings on that way fix a deadline by
  themselves instead of taking it from the SLA variables that ``sla.schedule`` computes from the
  catalog's ``timeLimitDays``.

Definitions (the README text of the audit repeats them for process owners):

- A **town-counter case** has the variables ``counter = "town"`` and the item's ``itemCode``,
  ``mode``, ``departmentCode``, ``itemName`` and ``timeLimitDays``. Nothing else is known, so a
  gateway condition that reads any other variable (the clerk's ``conclusion``, ``townCode``, …) may go
  either way; one that reads only known variables is evaluated with the engine's FEEL and a flow whose
  condition is false is not taken (for an exclusive gateway: nor are the flows after the first true
  one, nor the default flow once one condition is true).
- An **approving end** is a none, terminate or message end event of the mode's process (not of a
  subprocess or called process) reached after a ``seal.stamp`` task whose ``document`` header is
  ``decision``, i.e. after the 准予决定书 is sealed.
- The **town path** is every element on some way from the start to an approving end. Call
  activities and embedded subprocesses are entered (the called process's elements count as the
  case's own). Boundary events and event subprocesses are on the way only when, once triggered, the
  case can still reach an approving end (the 退回 after a failed seal check is; a reminder timer
  whose branch ends at its own end event is not).
- **Loops count once**: the elements of a loop (补正, 退回) are all on the way of a case that goes
  round it once, so the count is taken on the strongly connected components of the town path, each
  user task once however often the loop may run.
- **Parallel branches**: at a parallel gateway (or an inclusive gateway or an activity that may
  take several flows at once) the case passes every branch, so every user task between the fork
  and the point where all branches meet again is added (an upper bound when a branch itself holds
  alternatives).
"""

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal
from xml.etree import ElementTree as ET

from engine.clock import datetime_to_ms
from engine.feel import FeelError, FeelSyntaxError, compile_expression, to_json_value
from engine.timeutil import TimerFormatError, parse_cycle, parse_datetime, parse_duration

__all__ = [
    "DEADLINE_VARIABLES",
    "DeadlineFinding",
    "DiagramError",
    "HumanStep",
    "ProcessDefinition",
    "TownPath",
    "analyse_town_path",
    "called_process_ids",
    "parse_processes",
]

BPMN: Final = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
ZEEBE: Final = "{http://camunda.org/schema/zeebe/1.0}"

HUMAN_TASKS: Final = frozenset({"userTask", "manualTask"})
_EVENTS: Final = frozenset(
    {"startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent"}
)
_ACTIVITIES: Final = frozenset(
    {
        "task",
        "userTask",
        "manualTask",
        "serviceTask",
        "sendTask",
        "receiveTask",
        "scriptTask",
        "businessRuleTask",
        "callActivity",
        "subProcess",
        "transaction",
        "adHocSubProcess",
    }
)
_GATEWAYS: Final = frozenset(
    {"exclusiveGateway", "inclusiveGateway", "parallelGateway", "eventBasedGateway", "complexGateway"}
)
_FLOW_NODES: Final = _EVENTS | _ACTIVITIES | _GATEWAYS
_CONTAINERS: Final = frozenset({"subProcess", "transaction", "adHocSubProcess", "callActivity"})
# End events whose completion lets the scope complete normally (error, escalation, signal and
# compensation ends throw instead; what catches them is reached through boundary events).
_THROWING_END: Final = frozenset(
    {
        "errorEventDefinition",
        "escalationEventDefinition",
        "signalEventDefinition",
        "compensateEventDefinition",
    }
)

#: The variables ``sla.schedule`` sets from the catalog's time limit; a due date or timer that is
#: exactly one of them takes its deadline from the catalog.
SLA_VARIABLES: Final = frozenset({"slaDueAt", "slaWarnAt", "supplementDeadline"})
#: Variables that carry the deadline; a diagram that writes one of them decides the deadline itself.
DEADLINE_VARIABLES: Final = frozenset({"timeLimitDays", "sla", "slaDueAt", "slaWarnAt"})

#: Enumerating ways through the town path stops here (a diagram this branched is refused).
MAX_WAYS: Final = 100_000

_DAY_MS: Final = 86_400_000
# Two reference instants: a deadline that moves with the case's start is relative (its length is
# measured), one that does not is an absolute date (it cannot be compared with a number of days).
_REFERENCE_STARTS: Final = (
    datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
    datetime(2027, 6, 7, 9, 0, tzinfo=UTC),
)


class DiagramError(Exception):
    """A diagram cannot be analysed: not XML, a called process missing, a FEEL syntax error, …"""


@dataclass(frozen=True)
class ProcessDefinition:
    """One executable process: its ``bpmn:process`` element and where it was read (file or gateway)."""

    process_id: str
    element: ET.Element
    origin: str


@dataclass(frozen=True)
class HumanStep:
    """A user task (or manual task) on the town path; ``ref`` is ``element`` or ``process:element``."""

    ref: str
    element_id: str
    process_id: str
    name: str
    kind: str


@dataclass(frozen=True)
class DeadlineFinding:
    """An element on the town path that fixes a deadline itself.

    ``days`` is the length it gives, in calendar days from the case's start (``None``: it cannot be
    expressed as a length, e.g. a fixed date or an expression over other variables).
    """

    ref: str
    what: str
    expression: str
    days: int | None


@dataclass(frozen=True)
class TownPath:
    """The result for one process and one item's variables.

    ``steps`` holds the human steps of the way with the most of them, in the order of that way;
    ``None`` when no way leads from the start to an approving end.
    """

    process_id: str
    steps: tuple[HumanStep, ...] | None
    deadlines: tuple[DeadlineFinding, ...]
    origin: str

    @property
    def count(self) -> int | None:
        return None if self.steps is None else len(self.steps)


# --------------------------------------------------------------------------------------------------
# Reading diagrams


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_processes(xml: str | bytes, origin: str) -> list[ProcessDefinition]:
    """The executable processes of a BPMN document; :class:`DiagramError` when it is not usable XML."""
    data = xml.encode("utf-8") if isinstance(xml, str) else xml
    if b"<!DOCTYPE" in data:
        raise DiagramError(f"{origin}: a document with <!DOCTYPE is refused (as the engine does)")
    try:
        root = ET.fromstring(data)  # noqa: S314 - no DOCTYPE, so no entity expansion
    except ET.ParseError as exc:
        raise DiagramError(f"{origin}: not well-formed XML: {exc}") from exc
    if root.tag != f"{BPMN}definitions":
        raise DiagramError(f"{origin}: not a BPMN document (root element {_local(root.tag)!r})")
    processes = []
    for element in root.findall(f"{BPMN}process"):
        process_id = element.get("id")
        if process_id and element.get("isExecutable", "false") == "true":
            processes.append(ProcessDefinition(process_id, element, origin))
    return processes


def _zeebe(element: ET.Element, name: str) -> ET.Element | None:
    extensions = element.find(f"{BPMN}extensionElements")
    return None if extensions is None else extensions.find(f"{ZEEBE}{name}")


def _headers(element: ET.Element) -> dict[str, str]:
    headers = _zeebe(element, "taskHeaders")
    if headers is None:
        return {}
    return {h.get("key", ""): h.get("value", "") for h in headers.findall(f"{ZEEBE}header")}


def _event_definitions(element: ET.Element) -> set[str]:
    return {_local(child.tag) for child in element if _local(child.tag).endswith("EventDefinition")}


def _called_process_id(element: ET.Element, where: str, context: Mapping[str, Any]) -> str:
    called = _zeebe(element, "calledElement")
    raw = (called.get("processId") if called is not None else None) or ""
    if not raw.startswith("="):
        if not raw:
            raise DiagramError(f"{where}: call activity without zeebe:calledElement processId")
        return raw
    value = _evaluate(raw[1:], context, where)
    if not isinstance(value, str) or not value:
        raise DiagramError(
            f"{where}: the called process id {raw!r} depends on variables a town-counter case does not have"
        )
    return value


def called_process_ids(process: ProcessDefinition) -> set[str]:
    """Static ids of the processes the call activities of ``process`` call (for fetching them)."""
    found = set()
    for element in process.element.iter(f"{BPMN}callActivity"):
        called = _zeebe(element, "calledElement")
        raw = (called.get("processId") if called is not None else None) or ""
        if raw and not raw.startswith("="):
            found.add(raw)
    return found


def _evaluate(text: str, context: Mapping[str, Any], where: str, *, now: datetime | None = None) -> Any:
    """A FEEL expression (without the ``=``) as a JSON value; ``None`` when it fails at run time."""
    try:
        compiled = compile_expression(text)
    except FeelSyntaxError as exc:
        raise DiagramError(f"{where}: FEEL syntax error in {text!r}: {exc}") from exc
    try:
        return to_json_value(compiled.evaluate(context, now=now))
    except FeelError:
        return None


# --------------------------------------------------------------------------------------------------
# The flow graph of one process, call activities and subprocesses entered


@dataclass
class _Node:
    key: str
    element_id: str
    process: ProcessDefinition
    kind: str
    element: ET.Element | None  # None for the synthetic exit of a subprocess or call activity
    ref: str
    human: bool = False
    decision_seal: bool = False
    approving_end: bool = False


@dataclass
class _Graph:
    root: ProcessDefinition
    nodes: dict[str, _Node] = field(default_factory=dict)
    #: Sequence flows that may be taken, and the edges into and out of subprocesses / called processes.
    flows: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    #: From where an event may interrupt the way: to boundary events and event-subprocess starts.
    events: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    #: Nodes from which the case goes on along several flows at once.
    forks: set[str] = field(default_factory=set)
    #: Human steps an ad-hoc subprocess may run, by its node.
    ad_hoc: dict[str, set[str]] = field(default_factory=dict)
    #: Boundary event key → the key of the activity it is attached to.
    hosts: dict[str, str] = field(default_factory=dict)
    starts: list[str] = field(default_factory=list)

    def successors(self, key: str) -> Iterable[str]:
        yield from self.flows.get(key, ())
        yield from self.events.get(key, ())


class _Builder:
    def __init__(
        self, processes: Mapping[str, ProcessDefinition], root_id: str, context: Mapping[str, Any]
    ) -> None:
        if root_id not in processes:
            raise DiagramError(f"no executable process {root_id!r} among the diagrams read")
        self.processes = processes
        self.context = context
        self.graph = _Graph(processes[root_id])

    def build(self) -> _Graph:
        root = self.graph.root
        starts, _ = self._scope(root.element, root, "", exit_key=None, calls=(root.process_id,))
        if not starts:
            raise DiagramError(f"{root.origin}: process {root.process_id!r} has no start event")
        self.graph.starts = starts
        return self.graph

    def _ref(self, process: ProcessDefinition, element_id: str) -> str:
        if process.process_id == self.graph.root.process_id:
            return element_id
        return f"{process.process_id}:{element_id}"

    def _add(
        self, key: str, element_id: str, process: ProcessDefinition, element: ET.Element | None
    ) -> _Node:
        kind = "exit" if element is None else _local(element.tag)
        node = _Node(key, element_id, process, kind, element, self._ref(process, element_id))
        if element is not None:
            node.human = kind in HUMAN_TASKS
            task = _zeebe(element, "taskDefinition")
            if task is not None and task.get("type") == "seal.stamp":
                node.decision_seal = _headers(element).get("document") == "decision"
        self.graph.nodes[key] = node
        return node

    def _scope(
        self,
        scope: ET.Element,
        process: ProcessDefinition,
        prefix: str,
        *,
        exit_key: str | None,
        calls: tuple[str, ...],
        completes_case: bool = True,
    ) -> tuple[list[str], list[str]]:
        """Add the scope's elements; return its start nodes and every node inside it (nested too).

        ``exit_key`` is where its normal ends lead (the subprocess's or call activity's exit); with
        ``None`` they end the case, and are approving ends when ``completes_case``.
        """
        graph = self.graph
        members: list[str] = []
        starts: list[str] = []
        event_subprocesses: list[ET.Element] = []
        boundaries: list[ET.Element] = []
        containers: dict[str, list[str]] = {}
        for child in scope:
            kind = _local(child.tag)
            if kind not in _FLOW_NODES:
                continue
            element_id = child.get("id", "")
            key = prefix + element_id
            where = f"{process.origin}: element {element_id!r}"
            if kind == "subProcess" and child.get("triggeredByEvent") == "true":
                event_subprocesses.append(child)
                continue
            node = self._add(key, element_id, process, child)
            members.append(key)
            if kind == "startEvent" and not _event_definitions(child):
                starts.append(key)
            elif kind == "boundaryEvent":
                boundaries.append(child)
            elif kind == "endEvent" and not _event_definitions(child) & _THROWING_END:
                if exit_key is not None:
                    graph.flows[key].append(exit_key)
                else:
                    node.approving_end = completes_case
            if kind in _CONTAINERS:
                inner = self._container(child, node, process, calls, where)
                containers[key] = inner
                members.extend(inner)
        if not starts and exit_key is None and scope is self.graph.root.element:
            starts = [prefix + c.get("id", "") for c in scope.findall(f"{BPMN}startEvent") if c.get("id")]
        self._flows(scope, process, prefix)
        for boundary in boundaries:
            key = prefix + boundary.get("id", "")
            host = prefix + boundary.get("attachedToRef", "")
            if host not in graph.nodes:
                raise DiagramError(
                    f"{process.origin}: boundary event {boundary.get('id')!r} is attached to unknown "
                    f"element {boundary.get('attachedToRef')!r}"
                )
            graph.hosts[key] = host
            for source in [host, *containers.get(host, [])]:
                graph.events[source].append(key)
        triggers = list(members)
        for esp in event_subprocesses:
            members.extend(self._event_subprocess(esp, process, prefix, triggers, exit_key, calls))
        return starts, members

    def _container(
        self, element: ET.Element, node: _Node, process: ProcessDefinition, calls: tuple[str, ...], where: str
    ) -> list[str]:
        """Enter a subprocess or call activity: entry → inner start(s), inner ends → its exit."""
        graph = self.graph
        exit_key = node.key + "#exit"
        self._add(exit_key, node.element_id, process, None)
        inner_prefix = node.key + "/"
        if node.kind == "callActivity":
            called_id = _called_process_id(element, where, self.context)
            if called_id in calls:
                raise DiagramError(f"{where}: calls process {called_id!r} recursively ({' → '.join(calls)})")
            called = self.processes.get(called_id)
            if called is None:
                raise DiagramError(
                    f"{where}: the call activity calls process {called_id!r}, "
                    "which is not among the diagrams read"
                )
            starts, inner = self._scope(
                called.element, called, inner_prefix, exit_key=exit_key, calls=(*calls, called_id)
            )
        else:
            starts, inner = self._scope(element, process, inner_prefix, exit_key=exit_key, calls=calls)
        if node.kind == "adHocSubProcess":
            # Its activities run in any order and any number: count every human step it holds.
            graph.ad_hoc[node.key] = {key for key in inner if graph.nodes[key].human}
            graph.flows[node.key].append(exit_key)
        else:
            graph.flows[node.key].extend(starts)
        return [*inner, exit_key]

    def _event_subprocess(
        self,
        element: ET.Element,
        process: ProcessDefinition,
        prefix: str,
        triggers: list[str],
        exit_key: str | None,
        calls: tuple[str, ...],
    ) -> list[str]:
        """An event subprocess may start from anywhere in its scope; an interrupting one then ends the
        scope (a non-interrupting one's own end is a dead end for the way)."""
        key = prefix + element.get("id", "")
        start = element.find(f"{BPMN}startEvent")
        interrupting = start is None or start.get("isInterrupting", "true") == "true"
        inner_prefix = key + "/"
        inner_starts = [inner_prefix + start.get("id", "")] if start is not None and start.get("id") else []
        if interrupting:
            _, inner = self._scope(element, process, inner_prefix, exit_key=exit_key, calls=calls)
        else:
            dead_end = key + "#exit"
            self._add(dead_end, element.get("id", ""), process, None)
            _, inner = self._scope(element, process, inner_prefix, exit_key=dead_end, calls=calls)
            inner.append(dead_end)
        # A start event inside an event subprocess carries an event definition, so _scope did not
        # list it as a start; it is triggered from every element of the enclosing scope.
        for source in triggers:
            self.graph.events[source].extend(inner_starts)
        return inner

    def _flows(self, scope: ET.Element, process: ProcessDefinition, prefix: str) -> None:
        graph = self.graph
        outgoing: dict[str, list[ET.Element]] = defaultdict(list)
        for flow in scope.findall(f"{BPMN}sequenceFlow"):
            outgoing[flow.get("sourceRef", "")].append(flow)
        for source_id, flows in outgoing.items():
            source_key = prefix + source_id
            source = graph.nodes.get(source_key)
            if source is None:
                raise DiagramError(f"{process.origin}: sequence flow from unknown element {source_id!r}")
            taken = self._taken(source, flows, process)
            start = source_key + "#exit" if source_key + "#exit" in graph.nodes else source_key
            for flow in taken:
                target = prefix + flow.get("targetRef", "")
                if target not in graph.nodes:
                    raise DiagramError(
                        f"{process.origin}: sequence flow {flow.get('id')!r} to unknown element "
                        f"{flow.get('targetRef')!r}"
                    )
                graph.flows[start].append(target)
            if len(taken) > 1 and source.kind not in {"exclusiveGateway", "eventBasedGateway"}:
                graph.forks.add(start)

    def _taken(self, source: _Node, flows: list[ET.Element], process: ProcessDefinition) -> list[ET.Element]:
        """The flows a town-counter case may take out of ``source``."""
        if source.kind not in {"exclusiveGateway", "inclusiveGateway"}:
            return [f for f in flows if self._condition(f, process) is not False]
        default_id = source.element.get("default") if source.element is not None else None
        default = [f for f in flows if f.get("id") == default_id]
        taken: list[ET.Element] = []
        some_true = False
        for flow in flows:
            if flow.get("id") == default_id:
                continue
            verdict = self._condition(flow, process)
            if verdict is True:
                taken.append(flow)
                some_true = True
                if source.kind == "exclusiveGateway":
                    break  # the first true condition wins
            elif verdict is None:
                taken.append(flow)
        return taken if some_true else [*taken, *default]

    def _condition(self, flow: ET.Element, process: ProcessDefinition) -> bool | None:
        """True or False when the condition reads only variables a town-counter case has; else None."""
        condition = flow.find(f"{BPMN}conditionExpression")
        if condition is None or not (condition.text or "").strip():
            return True
        text = (condition.text or "").strip()
        if not text.startswith("="):
            return None
        where = f"{process.origin}: sequence flow {flow.get('id')!r}"
        expression = text[1:]
        try:
            names = compile_expression(expression).names
        except FeelSyntaxError as exc:
            raise DiagramError(f"{where}: FEEL syntax error in {text!r}: {exc}") from exc
        if not names <= self.context.keys():
            return None
        return _evaluate(expression, self.context, where) is True


# --------------------------------------------------------------------------------------------------
# The town path and its human steps


_State = tuple[str, bool]  # node key, whether the 准予决定书 has been sealed on the way


def _town_states(graph: _Graph) -> tuple[set[_State], dict[_State, list[_State]], _State, set[_State]]:
    """States reachable from the start and able to reach an approving end, with their edges."""
    starts: list[_State] = [(key, False) for key in graph.starts]
    edges: dict[_State, list[_State]] = {}
    reached = set(starts)
    pending = list(starts)
    while pending:
        key, sealed = pending.pop()
        targets = [
            (successor, sealed or graph.nodes[successor].decision_seal) for successor in graph.successors(key)
        ]
        edges[(key, sealed)] = targets
        for target in targets:
            if target not in reached:
                reached.add(target)
                pending.append(target)
    ends = {state for state in reached if state[1] and graph.nodes[state[0]].approving_end}
    backwards: dict[_State, list[_State]] = defaultdict(list)
    for source, targets in edges.items():
        for target in targets:
            backwards[target].append(source)
    useful = set(ends)
    pending = list(ends)
    while pending:
        for source in backwards[pending.pop()]:
            if source not in useful:
                useful.add(source)
                pending.append(source)
    relevant = reached & useful
    start = next((s for s in starts if s in relevant), starts[0])
    return relevant, {s: [t for t in edges.get(s, []) if t in relevant] for s in relevant}, start, ends


def _components(states: set[_State], edges: Mapping[_State, list[_State]]) -> list[list[_State]]:
    """Strongly connected components (Tarjan, iterative), in reverse topological order."""
    index: dict[_State, int] = {}
    low: dict[_State, int] = {}
    on_stack: set[_State] = set()
    stack: list[_State] = []
    found: list[list[_State]] = []
    counter = 0
    for root in sorted(states):
        if root in index:
            continue
        work = [(root, iter(edges.get(root, [])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            state, successors = work[-1]
            advanced = False
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = counter
                    counter += 1
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(edges.get(successor, []))))
                    advanced = True
                    break
                if successor in on_stack:
                    low[state] = min(low[state], index[successor])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[state])
            if low[state] == index[state]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == state:
                        break
                found.append(component)
    return found


def _fork_steps(graph: _Graph, fork: str) -> set[str]:
    """Human steps between a fork and the first element every one of its branches reaches."""
    branches = list(graph.flows.get(fork, []))

    def reach(key: str, stop: str | None = None) -> set[str]:
        seen = {key}
        pending = [key]
        while pending:
            for successor in graph.flows.get(pending.pop(), []):
                if successor not in seen and successor != stop:
                    seen.add(successor)
                    pending.append(successor)
        return seen

    reachable = [reach(branch) for branch in branches]
    common = set.intersection(*reachable) if reachable else set()
    join = next((c for c in sorted(common) if common <= reach(c)), None)
    region: set[str] = set()
    for branch in branches:
        if branch != join:
            region |= reach(branch, join) - ({join} if join else set())
    return {key for key in region if graph.nodes[key].human}


def _human_steps(
    graph: _Graph,
    relevant: set[_State],
    edges: Mapping[_State, list[_State]],
    start: _State,
    ends: set[_State],
) -> tuple[HumanStep, ...] | None:
    if start not in relevant:
        return None
    components = _components(relevant, edges)
    component_of = {state: n for n, component in enumerate(components) for state in component}
    forks = {fork: _fork_steps(graph, fork) for fork in graph.forks}
    weights: list[set[str]] = []
    for component in components:
        keys: set[str] = set()
        for node_key, _ in component:
            if graph.nodes[node_key].human:
                keys.add(node_key)
            keys |= forks.get(node_key, set())
            keys |= graph.ad_hoc.get(node_key, set())
        weights.append(keys)
    following: dict[int, set[int]] = defaultdict(set)
    for state, targets in edges.items():
        for target in targets:
            if component_of[state] != component_of[target]:
                following[component_of[state]].add(component_of[target])
    final = {component_of[end] for end in ends if end in component_of}

    best: list[str] = []
    ways = 0

    def walk(component: int, collected: list[str]) -> None:
        nonlocal best, ways
        ways += 1
        if ways > MAX_WAYS:
            raise DiagramError(
                f"{graph.root.origin}: more than {MAX_WAYS} ways through process "
                f"{graph.root.process_id!r}; the audit cannot count its steps"
            )
        added = [key for key in sorted(weights[component]) if key not in collected]
        collected = [*collected, *added]
        if component in final and len(collected) > len(best):
            best = collected
        for successor in sorted(following[component]):
            walk(successor, collected)

    walk(component_of[start], [])
    steps = []
    for key in best:
        node = graph.nodes[key]
        name = node.element.get("name", "") if node.element is not None else ""
        steps.append(HumanStep(node.ref, node.element_id, node.process.process_id, name, node.kind))
    return tuple(steps)


# --------------------------------------------------------------------------------------------------
# Deadlines fixed by the diagram


def _deadline_length(kind: "_TimerKind", raw: str, context: Mapping[str, Any]) -> int | None:
    """Days from the case's start to the instant ``raw`` gives; None for a fixed date or no value.

    The SLA variables are set as ``sla.schedule`` would for the item's limit counted as calendar days.
    """
    limit = context.get("timeLimitDays")
    limit_days = limit if isinstance(limit, int) else 0
    instants = []
    for start in _REFERENCE_STARTS:
        start_ms = datetime_to_ms(start)
        variables = {
            **context,
            "slaDueAt": _iso(start_ms + limit_days * _DAY_MS),
            "slaWarnAt": _iso(start_ms + (limit_days - 1) * _DAY_MS),
        }
        value: Any = raw
        if raw.startswith("="):
            value = _evaluate(raw[1:], variables, "timer", now=start)
        if value is None:
            return None
        text = value if isinstance(value, str) else str(value)
        try:
            if kind == "duration":
                due = parse_duration(text).add_to(start_ms)
            elif kind == "date":
                due = parse_datetime(text)
            else:
                due = parse_cycle(text).first_due(start_ms)
        except TimerFormatError:
            return None
        instants.append(due - start_ms)
    if len(set(instants)) != 1:  # a fixed date: its distance changes with the start
        return None
    return math.ceil(instants[0] / _DAY_MS)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


def _is_sla_reference(raw: str) -> bool:
    return raw.startswith("=") and raw[1:].strip() in SLA_VARIABLES


_TimerKind = Literal["date", "duration", "cycle"]
_TIMER_TAGS: Final[tuple[tuple[str, _TimerKind], ...]] = (
    ("timeDate", "date"),
    ("timeDuration", "duration"),
    ("timeCycle", "cycle"),
)


def _timer(element: ET.Element) -> tuple[_TimerKind, str] | None:
    timer = element.find(f"{BPMN}timerEventDefinition")
    if timer is None:
        return None
    for tag, kind in _TIMER_TAGS:
        value = timer.find(f"{BPMN}{tag}")
        if value is not None:
            return kind, (value.text or "").strip()
    return None


def _deadlines(graph: _Graph, on_way: set[str], context: Mapping[str, Any]) -> list[DeadlineFinding]:
    """Due dates, timers and deadline variables on the town path not taken from the SLA variables."""
    findings: list[DeadlineFinding] = []
    attached: dict[str, list[str]] = defaultdict(list)
    for boundary, host in graph.hosts.items():
        attached[host].append(boundary)
    checked: set[str] = set()
    for key in sorted(on_way):
        node = graph.nodes[key]
        element = node.element
        if element is None:
            continue
        schedule = _zeebe(element, "taskSchedule")
        due = schedule.get("dueDate") if schedule is not None else None
        if node.human and due and not _is_sla_reference(due):
            findings.append(DeadlineFinding(node.ref, "dueDate", due, _deadline_length("date", due, context)))
        for timer_key in [key, *attached.get(key, [])]:
            timer_node = graph.nodes[timer_key]
            if timer_key in checked or timer_node.element is None:
                continue
            checked.add(timer_key)
            timer = _timer(timer_node.element)
            if timer is not None and not _is_sla_reference(timer[1]):
                kind, raw = timer
                findings.append(
                    DeadlineFinding(
                        timer_node.ref, f"timer ({kind})", raw, _deadline_length(kind, raw, context)
                    )
                )
        findings.extend(_deadline_mappings(node, context))
    return findings


def _deadline_mappings(node: _Node, context: Mapping[str, Any]) -> list[DeadlineFinding]:
    """Input/output mappings and script results that write a deadline variable."""
    element = node.element
    if element is None:
        return []
    writes: list[tuple[str, str]] = []
    mapping = _zeebe(element, "ioMapping")
    if mapping is not None:
        entries = [*mapping.findall(f"{ZEEBE}input"), *mapping.findall(f"{ZEEBE}output")]
        writes.extend((entry.get("target", ""), entry.get("source", "")) for entry in entries)
    script = _zeebe(element, "script")
    if script is not None:
        writes.append((script.get("resultVariable", ""), script.get("expression", "")))
    findings = []
    for target, source in writes:
        if target not in DEADLINE_VARIABLES or source.strip() == f"={target}":
            continue
        days: int | None = None
        if target == "timeLimitDays":
            value = _evaluate(source[1:], context, node.ref) if source.startswith("=") else source
            days = value if isinstance(value, int) and not isinstance(value, bool) else None
            if days is None and isinstance(value, str) and value.isdigit():
                days = int(value)
        elif target in {"slaDueAt", "slaWarnAt"}:
            days = _deadline_length("date", source, context)
        findings.append(DeadlineFinding(node.ref, f"sets {target}", source, days))
    return findings


# --------------------------------------------------------------------------------------------------


def analyse_town_path(
    processes: Mapping[str, ProcessDefinition], process_id: str, context: Mapping[str, Any]
) -> TownPath:
    """Human steps and self-made deadlines of a town-counter case with ``context`` in ``process_id``."""
    graph = _Builder(processes, process_id, context).build()
    relevant, edges, start, ends = _town_states(graph)
    steps = _human_steps(graph, relevant, edges, start, ends)
    on_way = {key for key, _ in relevant}
    deadlines = _deadlines(graph, on_way, context)
    return TownPath(process_id, steps, tuple(deadlines), processes[process_id].origin)
