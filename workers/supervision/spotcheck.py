"""双随机、一公开: a random, reproducible draw of closed cases and of the inspectors who check them.

**Candidates.** The cases of the ledger closed in the period (``closed_at`` in China time) with a decision
of either outcome or a refusal: status ``completed`` (准予), ``rejected`` (不予批准) or ``not-accepted``
(不予受理). Withdrawn and open cases are not checkable. Cases accepted at either counter take part. The
candidate list is bounded by the ledger row the draw saw (``ledgerHead``): a case counts when its first
closing event has an id up to that row, so the list can be rebuilt exactly later, whatever was recorded
since.

**The draw** (algorithm ``sha256-town-strata-v1``), with ``seed`` a text chosen for the draw:

1. Candidates are grouped by town (the case's ``townCode``). From a town with ``N`` candidates,
   ``ceil(ratio × N)`` are drawn (exact arithmetic), so every town with candidates has at least one case
   checked and each town at least the ratio; the whole draw is the sum over towns.
2. Each candidate's draw key is ``SHA-256(seed + "\\n" + caseNumber)`` (UTF-8, hex); in each town the
   cases with the smallest keys are drawn.
3. The drawn cases, in case-number order, each get an inspector: among those whose ``affiliation`` is
   neither the case's town nor its department, the one with the fewest cases so far in this draw; ties go
   to the smallest ``SHA-256(seed + "\\n" + caseNumber + "\\n" + inspectorId)``. A case no inspector may
   check stops the draw before anything is written.

Only SHA-256 and sorting are involved, so anyone with the published candidates, inspectors and seed can
redo the draw with any tool. The digests recorded with the draw are SHA-256 of RFC 8785 (JCS) JSON: the
candidate list (``caseNumber``, ``itemCode``, ``townCode``, ``departmentCode`` per case, sorted by case
number), the inspectors (``id``, ``name``, ``affiliation``, sorted by id) and the inputs
(``{"candidates": […], "inspectors": […]}``).

**Recording.** One ledger event ``spotcheck-drawn`` per drawn case (payload: :class:`DrawnPayload`), one
``spotcheck-finding`` per finding (:class:`FindingPayload`), both through :meth:`Ledger.record_event`. A
draw id is used once: drawing it again with the same inputs writes nothing (or only the events an
interrupted run did not write) and returns the recorded draw; other inputs are refused.
"""

import hashlib
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Annotated, Final, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    JsonValue,
    StringConstraints,
    TypeAdapter,
    ValidationError,
)
from pydantic.alias_generators import to_camel
from sqlalchemy import func, select

from workers.ledger.models import CaseEvent, CaseEventRow, CaseRow, LedgerHead, RecordedEvent
from workers.ledger.service import CHINA_TZ, Ledger, PersonalDataError, recorded_event, sanitize_payload
from workers.supervision.inspectors import Inspector, InspectorPool, sha256_of
from workers.supervision.periods import Period, PeriodError, parse_period

__all__ = [
    "ALGORITHM",
    "CHECKABLE_STATUSES",
    "DRAWN_EVENT",
    "FINDING_EVENT",
    "Assignment",
    "Candidate",
    "DrawConflictError",
    "DrawOutcome",
    "DrawPlan",
    "DrawnPayload",
    "FindingPayload",
    "FindingResult",
    "NoEligibleInspectorError",
    "Ratio",
    "RecordedAssignment",
    "RecordedDraw",
    "RecordedFinding",
    "SpotCheckError",
    "SpotCheckInputError",
    "Stratum",
    "VerifyReport",
    "candidates_in",
    "check_seed",
    "default_draw_id",
    "draw",
    "draw_key",
    "inspector_key",
    "parse_ratio",
    "plan_draw",
    "record_finding",
    "recorded_draw",
    "spot_check_events",
    "verify_draw",
]

ALGORITHM: Final = "sha256-town-strata-v1"
DRAWN_EVENT: Final = "spotcheck-drawn"
FINDING_EVENT: Final = "spotcheck-finding"
#: Case statuses whose decision (or refusal) can be checked.
CHECKABLE_STATUSES: Final = ("completed", "rejected", "not-accepted")
#: The events that close a case in the ledger's projection (the first one wins).
_CLOSING_EVENTS: Final = ("decided", "not-accepted", "withdrawn")
_NOTE_MAX: Final = 500
_SEED_MAX: Final = 128

FindingResult = Literal["pass", "issue"]
DrawId = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", min_length=1, max_length=64)
]
_DRAW_ID: Final = TypeAdapter(DrawId)


class SpotCheckError(ValueError):
    """The draw or finding is refused (a rule of the spot check says no); nothing was written."""


class SpotCheckInputError(SpotCheckError):
    """A value given for the draw or finding is malformed; nothing was written."""


class NoEligibleInspectorError(SpotCheckError):
    """Some drawn case has no inspector outside its town and department; nothing was written."""


class DrawConflictError(SpotCheckError):
    """The draw id was used with other inputs, or the recorded draw does not match its inputs."""


# --------------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ratio:
    """The share of candidates to draw, exact (``5%`` is ``Fraction(1, 20)``), and its canonical text."""

    value: Fraction
    text: str


def parse_ratio(text: str) -> Ratio:
    """``5%``, ``12.5%`` or ``0.05`` as a :class:`Ratio` in (0, 1]; :class:`SpotCheckInputError` otherwise."""
    raw = text.strip()
    percent = raw.endswith("%")
    try:
        number = Decimal(raw.removesuffix("%").strip())
    except InvalidOperation:
        raise SpotCheckInputError(
            f"ratio {text!r}: expected a percentage (5%) or a fraction (0.05)"
        ) from None
    if not number.is_finite():
        raise SpotCheckInputError(f"ratio {text!r}: expected a finite number")
    percentage = number if percent else number * 100
    if not 0 < percentage <= 100:
        raise SpotCheckInputError(f"ratio {text!r}: must be more than 0% and at most 100%")
    return Ratio(Fraction(percentage) / 100, f"{percentage.normalize():f}%")


def check_seed(seed: str) -> str:
    """The seed as given, when the ledger can record it: 1 to 128 characters, no personal data."""
    if not seed.strip() or len(seed) > _SEED_MAX or any(not char.isprintable() for char in seed):
        raise SpotCheckInputError(f"seed: 1 to {_SEED_MAX} printable characters, got {len(seed)}")
    try:
        sanitize_payload({"seed": seed})
    except PersonalDataError:
        raise SpotCheckInputError(
            "seed: reads as an ID number, a mobile number or an e-mail address, which the ledger refuses "
            "to record; write the numbers with spaces or letters between them"
        ) from None
    return seed


def default_draw_id(period: Period) -> str:
    """The draw id when none is given: one draw per period, ``SC-2026Q3``."""
    return f"SC-{period.label}"


@dataclass(frozen=True, slots=True)
class Candidate:
    """A checkable case: its codes, status and closing time, from the ledger's projection."""

    case_number: str
    item_code: str
    town_code: str
    department_code: str
    mode: str
    counter: Literal["town", "district"]
    status: str
    closed_at: datetime

    def canonical(self) -> dict[str, str]:
        """The case as it enters the candidates digest."""
        return {
            "caseNumber": self.case_number,
            "itemCode": self.item_code,
            "townCode": self.town_code,
            "departmentCode": self.department_code,
        }


def candidates_in(ledger: Ledger, period: Period, *, up_to: int | None = None) -> tuple[list[Candidate], int]:
    """The checkable cases closed in ``period`` whose closing event is at or before ledger row ``up_to``
    (default: the ledger's last row), sorted by case number; and the bound used."""
    closing = (
        select(CaseEventRow.case_number, func.min(CaseEventRow.id).label("closing_id"))
        .where(CaseEventRow.event.in_(_CLOSING_EVENTS))
        .group_by(CaseEventRow.case_number)
        .subquery()
    )
    statement = (
        select(CaseRow, closing.c.closing_id)
        .join(closing, closing.c.case_number == CaseRow.case_number)
        .where(
            CaseRow.status.in_(CHECKABLE_STATUSES),
            CaseRow.closed_at >= period.start,
            CaseRow.closed_at < period.end,
        )
    )
    with ledger.snapshot() as session:
        head = session.scalar(select(LedgerHead.last_id).where(LedgerHead.id == 1)) or 0
        bound = head if up_to is None else up_to
        rows = session.execute(statement).all()
    candidates = [
        Candidate(
            case_number=row.case_number,
            item_code=row.item_code,
            town_code=row.town_code,
            department_code=row.department_code,
            mode=row.mode,
            counter="district" if row.counter == "district" else "town",
            status=row.status,
            closed_at=row.closed_at,
        )
        for row, closing_id in rows
        if closing_id <= bound
    ]
    return sorted(candidates, key=lambda c: c.case_number), bound


# --------------------------------------------------------------------------------------------------
# The draw itself (pure)
# --------------------------------------------------------------------------------------------------


def _sha256(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()


def draw_key(seed: str, case_number: str) -> str:
    """A case's draw key: ``SHA-256(seed + "\\n" + caseNumber)`` in hex; the smallest keys are drawn."""
    return _sha256(seed, case_number)


def inspector_key(seed: str, case_number: str, inspector_id: str) -> str:
    """The tie-break among equally loaded inspectors: ``SHA-256(seed\\ncaseNumber\\ninspectorId)``."""
    return _sha256(seed, case_number, inspector_id)


@dataclass(frozen=True, slots=True)
class Stratum:
    """One town's share of the draw: candidates and drawn cases."""

    town_code: str
    candidates: int
    drawn: int


@dataclass(frozen=True, slots=True)
class Assignment:
    """A drawn case, its draw key and the inspector who checks it."""

    candidate: Candidate
    draw_key: str
    inspector: Inspector


@dataclass(frozen=True, slots=True)
class DrawPlan:
    """The outcome of the algorithm on its inputs, before anything is recorded."""

    ratio: Ratio
    seed: str
    candidates: tuple[Candidate, ...]
    pool: InspectorPool
    strata: tuple[Stratum, ...]
    assignments: tuple[Assignment, ...]

    def canonical_candidates(self) -> list[dict[str, str]]:
        """The candidate list that is hashed (and published): sorted by case number."""
        return [candidate.canonical() for candidate in self.candidates]

    @property
    def candidates_digest(self) -> str:
        """SHA-256 of the canonical candidate list (RFC 8785 JSON)."""
        return sha256_of(self.canonical_candidates())

    @property
    def inspectors_digest(self) -> str:
        """SHA-256 of the canonical inspectors list (RFC 8785 JSON)."""
        return self.pool.digest

    @property
    def inputs_digest(self) -> str:
        """SHA-256 of ``{"candidates": […], "inspectors": […]}`` (RFC 8785 JSON)."""
        return sha256_of({"candidates": self.canonical_candidates(), "inspectors": self.pool.canonical()})

    def stratum(self, town_code: str) -> Stratum:
        """The stratum of a town that has candidates."""
        return next(s for s in self.strata if s.town_code == town_code)


def _eligible(inspectors: Iterable[Inspector], candidate: Candidate) -> list[Inspector]:
    own = {candidate.town_code, candidate.department_code}
    return [inspector for inspector in inspectors if inspector.affiliation not in own]


def plan_draw(candidates: Sequence[Candidate], pool: InspectorPool, ratio: Ratio, seed: str) -> DrawPlan:
    """Run the algorithm (see the module docstring); :class:`NoEligibleInspectorError` names every case
    that no inspector may check."""
    ordered = tuple(sorted(candidates, key=lambda c: c.case_number))
    if len({c.case_number for c in ordered}) != len(ordered):
        raise ValueError("the candidate list holds a case number twice")
    by_town: dict[str, list[Candidate]] = defaultdict(list)
    for candidate in ordered:
        by_town[candidate.town_code].append(candidate)
    strata: list[Stratum] = []
    drawn: list[tuple[Candidate, str]] = []
    for town_code in sorted(by_town):
        members = by_town[town_code]
        size = math.ceil(ratio.value * len(members))
        keyed = sorted(((draw_key(seed, c.case_number), c) for c in members), key=lambda pair: pair[0])
        drawn.extend((candidate, key) for key, candidate in keyed[:size])
        strata.append(Stratum(town_code, len(members), size))
    drawn.sort(key=lambda pair: pair[0].case_number)

    unassignable = [
        f"{candidate.case_number}（town {candidate.town_code}, department {candidate.department_code}）"
        for candidate, _ in drawn
        if not _eligible(pool.inspectors, candidate)
    ]
    if unassignable:
        raise NoEligibleInspectorError(
            "no inspector may check "
            + "; ".join(unassignable)
            + ": every listed inspector belongs to the case's own town or department. Add inspectors of "
            "other towns or departments to the inspectors file."
        )
    load: dict[str, int] = dict.fromkeys((i.id for i in pool.inspectors), 0)
    assignments: list[Assignment] = []
    for candidate, key in drawn:
        chosen = min(
            _eligible(pool.inspectors, candidate),
            key=lambda i: (load[i.id], inspector_key(seed, candidate.case_number, i.id), i.id),
        )
        load[chosen.id] += 1
        assignments.append(Assignment(candidate, key, chosen))
    return DrawPlan(ratio, seed, ordered, pool, tuple(strata), tuple(assignments))


# --------------------------------------------------------------------------------------------------
# Ledger events
# --------------------------------------------------------------------------------------------------


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", alias_generator=to_camel, populate_by_name=True)

    def to_payload(self) -> dict[str, JsonValue]:
        """The JSON payload of the ledger event (camelCase keys)."""
        return self.model_dump(mode="json", by_alias=True)


class DrawnPayload(_Payload):
    """Payload of ``spotcheck-drawn``: the draw's parameters and digests, and this case's inspector.

    The inspector's name and affiliation are those of the staff list (published with the draw); the
    ledger holds nothing about applicants.
    """

    draw_id: DrawId
    period: str
    ratio: str
    seed: str
    algorithm: str
    #: When the draw was made (China time) and the last ledger row it saw.
    drawn_at: AwareDatetime
    ledger_head: int
    #: Candidates and drawn cases in the whole draw and in this case's town.
    candidates: int
    drawn: int
    town_candidates: int
    town_drawn: int
    draw_key: str
    inspector_id: str
    inspector_name: str
    inspector_affiliation: str
    candidates_digest: str
    inspectors_digest: str
    inputs_digest: str


class FindingPayload(_Payload):
    """Payload of ``spotcheck-finding``: the inspector's result and note for a drawn case."""

    draw_id: DrawId
    result: FindingResult
    note: str
    inspector_id: str


@dataclass(frozen=True, slots=True)
class RecordedAssignment:
    """A drawn case as the ledger records it."""

    event: RecordedEvent
    payload: DrawnPayload

    @property
    def case_number(self) -> str:
        """The drawn case."""
        return self.event.case_number


@dataclass(frozen=True, slots=True)
class RecordedFinding:
    """A finding as the ledger records it."""

    event: RecordedEvent
    payload: FindingPayload


@dataclass(frozen=True, slots=True)
class RecordedDraw:
    """A draw read back from the ledger: its drawn cases (first event per case) and their findings."""

    draw_id: str
    assignments: Mapping[str, RecordedAssignment]
    findings: Mapping[str, RecordedFinding]
    #: Later ``spotcheck-drawn`` events for a case already drawn in this draw (a concurrent re-run).
    repeated: tuple[RecordedAssignment, ...] = ()

    @property
    def parameters(self) -> DrawnPayload:
        """The payload of the draw's first event: period, ratio, seed, digests, time and ledger bound."""
        return min(self.assignments.values(), key=lambda a: a.event.id).payload

    @property
    def period(self) -> Period:
        """The period the draw was made for."""
        return parse_period(self.parameters.period)


def spot_check_events(
    ledger: Ledger, names: Iterable[str] = (DRAWN_EVENT, FINDING_EVENT)
) -> list[RecordedEvent]:
    """The ledger's events of these names, in ledger order."""
    statement = select(CaseEventRow).where(CaseEventRow.event.in_(tuple(names))).order_by(CaseEventRow.id)
    with ledger.snapshot() as session:
        return [recorded_event(row) for row in session.scalars(statement)]


def recorded_draw(ledger: Ledger, draw_id: str) -> RecordedDraw | None:
    """The draw with this id as recorded, or ``None``; events whose payload does not parse are ignored."""
    assignments: dict[str, RecordedAssignment] = {}
    repeated: list[RecordedAssignment] = []
    findings: dict[str, RecordedFinding] = {}
    for event in spot_check_events(ledger):
        if event.payload.get("drawId") != draw_id:
            continue
        try:
            if event.event == DRAWN_EVENT:
                drawn = RecordedAssignment(event, DrawnPayload.model_validate(event.payload))
                if event.case_number in assignments:
                    repeated.append(drawn)
                else:
                    assignments[event.case_number] = drawn
            elif event.case_number not in findings:
                findings[event.case_number] = RecordedFinding(
                    event, FindingPayload.model_validate(event.payload)
                )
        except ValidationError:
            continue
    if not assignments:
        return None
    return RecordedDraw(draw_id, assignments, findings, tuple(repeated))


# --------------------------------------------------------------------------------------------------
# Draw, verify, finding
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DrawOutcome:
    """What ``draw`` did: the plan, the draw as now recorded, and how many events it wrote."""

    plan: DrawPlan
    recorded: RecordedDraw
    written: int
    #: False when the draw id had been recorded before (the same draw re-run).
    new: bool


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The comparison of a recorded draw with the draw redone from its inputs."""

    draw_id: str
    ok: bool
    problems: tuple[str, ...]
    plan: DrawPlan | None = None
    notes: tuple[str, ...] = field(default=())


def _compare(recorded: RecordedDraw, plan: DrawPlan) -> tuple[list[str], list[Assignment]]:
    """Problems of the recorded draw against the plan, and the plan's cases that have no event yet."""
    problems: list[str] = []
    parameters = recorded.parameters
    if parameters.algorithm != ALGORITHM:
        problems.append(
            f"the draw used algorithm {parameters.algorithm!r}; this software implements {ALGORITHM}"
        )
    if parameters.inspectors_digest != plan.inspectors_digest:
        problems.append(
            f"the inspectors file differs from the one the draw used (recorded digest "
            f"{parameters.inspectors_digest}, this file {plan.inspectors_digest})"
        )
    if parameters.candidates_digest != plan.candidates_digest:
        problems.append(
            f"the ledger's candidates for {parameters.period} up to row {parameters.ledger_head} differ from "
            f"those the draw used (recorded digest {parameters.candidates_digest}, now "
            f"{plan.candidates_digest}): check the ledger with 'shuangshi ledger verify'"
        )
    if problems:
        return problems, []
    planned = {a.candidate.case_number: a for a in plan.assignments}
    for case_number, entry in sorted(recorded.assignments.items()):
        expected = planned.get(case_number)
        if expected is None:
            problems.append(f"{case_number}: recorded as drawn, but the draw does not draw it")
        elif entry.payload.inspector_id != expected.inspector.id:
            problems.append(
                f"{case_number}: recorded inspector {entry.payload.inspector_id}, the draw assigns "
                f"{expected.inspector.id}"
            )
        elif entry.payload.inputs_digest != parameters.inputs_digest or entry.payload.seed != parameters.seed:
            problems.append(f"{case_number}: its event records other inputs than the draw's first event")
    for entry in recorded.repeated:
        first = recorded.assignments[entry.case_number]
        if entry.payload.inspector_id != first.payload.inspector_id:
            problems.append(
                f"{entry.case_number}: recorded twice with different inspectors "
                f"(ledger rows {first.event.id} and {entry.event.id})"
            )
    missing = [a for a in plan.assignments if a.candidate.case_number not in recorded.assignments]
    return problems, missing


def _drawn_event(
    assignment: Assignment,
    plan: DrawPlan,
    *,
    draw_id: str,
    period: Period,
    head: int,
    drawn_at: datetime,
    actor: str,
    now: datetime,
) -> CaseEvent:
    candidate = assignment.candidate
    stratum = plan.stratum(candidate.town_code)
    payload = DrawnPayload(
        draw_id=draw_id,
        period=period.label,
        ratio=plan.ratio.text,
        seed=plan.seed,
        algorithm=ALGORITHM,
        drawn_at=drawn_at.astimezone(CHINA_TZ),
        ledger_head=head,
        candidates=len(plan.candidates),
        drawn=len(plan.assignments),
        town_candidates=stratum.candidates,
        town_drawn=stratum.drawn,
        draw_key=assignment.draw_key,
        inspector_id=assignment.inspector.id,
        inspector_name=assignment.inspector.name,
        inspector_affiliation=assignment.inspector.affiliation,
        candidates_digest=plan.candidates_digest,
        inspectors_digest=plan.inspectors_digest,
        inputs_digest=plan.inputs_digest,
    )
    return CaseEvent(
        case_number=candidate.case_number,
        item_code=candidate.item_code,
        town_code=candidate.town_code,
        department_code=candidate.department_code,
        mode=candidate.mode,
        counter=candidate.counter,
        event=DRAWN_EVENT,
        actor=actor,
        occurred_at=now,
        payload=payload.to_payload(),
    )


def draw(
    ledger: Ledger,
    *,
    draw_id: str,
    period: Period,
    ratio: Ratio,
    seed: str,
    pool: InspectorPool,
    actor: str,
    now: datetime | None = None,
) -> DrawOutcome:
    """Draw (or re-run) ``draw_id`` and record one ``spotcheck-drawn`` event per drawn case.

    A first run draws over the cases closed in ``period`` up to the ledger's last row. A re-run with the
    same period, ratio and seed recomputes the draw over the recorded bound and the given inspectors: when
    it matches, nothing is written (or only the events an interrupted run left out); otherwise
    :class:`DrawConflictError`. Every check happens before the first write.
    """
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    _check_draw_id(draw_id)
    check_seed(seed)
    existing = recorded_draw(ledger, draw_id)
    if existing is not None:
        recorded = existing.parameters
        asked = (period.label, ratio.text, seed)
        if (recorded.period, recorded.ratio, recorded.seed) != asked:
            raise DrawConflictError(
                f"draw {draw_id} was made on {recorded.drawn_at:%Y-%m-%d %H:%M} for period "
                f"{recorded.period}, ratio {recorded.ratio}, seed {recorded.seed!r}; a draw is never "
                "redone with other inputs (give another --draw-id for a new round)"
            )
    candidates, head = candidates_in(
        ledger, period, up_to=None if existing is None else existing.parameters.ledger_head
    )
    if not candidates:
        raise SpotCheckError(
            f"no checkable case (准予, 不予批准 or 不予受理) closed in {period.label}: nothing to draw"
        )
    plan = plan_draw(candidates, pool, ratio, seed)
    if existing is None:
        todo, drawn_at = list(plan.assignments), moment
    else:
        problems, todo = _compare(existing, plan)
        if problems:
            raise DrawConflictError(
                f"draw {draw_id} is recorded, and these inputs do not give it:\n- " + "\n- ".join(problems)
            )
        drawn_at, head = existing.parameters.drawn_at, existing.parameters.ledger_head
    events = [
        _drawn_event(
            a, plan, draw_id=draw_id, period=period, head=head, drawn_at=drawn_at, actor=actor, now=moment
        )
        for a in todo
    ]
    for event in events:
        sanitize_payload(event.payload)  # PersonalDataError here, before the first write
    for event in events:
        ledger.record_event(event)
    final = recorded_draw(ledger, draw_id) if events else existing
    if final is None:  # pragma: no cover - the events were just recorded
        raise RuntimeError(f"draw {draw_id} was recorded but cannot be read back")
    return DrawOutcome(plan, final, len(events), existing is None)


def _check_draw_id(draw_id: str) -> None:
    try:
        _DRAW_ID.validate_python(draw_id)
    except ValidationError:
        raise SpotCheckInputError(
            f"draw id {draw_id!r}: up to 64 letters, digits, '.', '_', '-', starting with a letter or digit"
        ) from None


def verify_draw(ledger: Ledger, draw_id: str, pool: InspectorPool) -> VerifyReport:
    """Redo the recorded draw from its inputs (period, ratio, seed, ledger bound, these inspectors) and
    compare: digests, drawn cases and inspectors. :class:`SpotCheckError` when there is no such draw."""
    recorded = recorded_draw(ledger, draw_id)
    if recorded is None:
        raise SpotCheckError(f"no draw {draw_id!r} in the ledger")
    parameters = recorded.parameters
    try:
        period = parse_period(parameters.period)
        ratio = parse_ratio(parameters.ratio)
    except (PeriodError, SpotCheckInputError) as exc:
        return VerifyReport(draw_id, ok=False, problems=(f"the recorded draw is malformed: {exc}",))
    candidates, _ = candidates_in(ledger, period, up_to=parameters.ledger_head)
    try:
        plan = plan_draw(candidates, pool, ratio, parameters.seed)
    except NoEligibleInspectorError as exc:
        return VerifyReport(draw_id, ok=False, problems=(f"the draw cannot be redone with this file: {exc}",))
    problems, missing = _compare(recorded, plan)
    problems += [
        f"{a.candidate.case_number}: drawn, but its event is missing from the ledger" for a in missing
    ]
    note = (
        f"period {period.label}, ratio {ratio.text}, seed {parameters.seed!r}, ledger rows up to "
        f"{parameters.ledger_head}: {len(plan.candidates)} candidates, {len(plan.assignments)} drawn"
    )
    return VerifyReport(draw_id, ok=not problems, problems=tuple(problems), plan=plan, notes=(note,))


def record_finding(
    ledger: Ledger,
    *,
    draw_id: str,
    case_number: str,
    result: FindingResult,
    note: str,
    inspector_id: str,
    now: datetime | None = None,
) -> RecordedEvent:
    """Record the assigned inspector's finding on a drawn case, once per case and draw."""
    recorded = recorded_draw(ledger, draw_id)
    if recorded is None:
        raise SpotCheckError(f"no draw {draw_id!r} in the ledger")
    assignment = recorded.assignments.get(case_number)
    if assignment is None:
        raise SpotCheckError(f"case {case_number} was not drawn in {draw_id}: only drawn cases get findings")
    if assignment.payload.inspector_id != inspector_id:
        raise SpotCheckError(
            f"inspector {inspector_id} is not assigned to {case_number} in {draw_id}: its inspector is "
            f"{assignment.payload.inspector_id}"
        )
    if (previous := recorded.findings.get(case_number)) is not None:
        raise SpotCheckError(
            f"{case_number} already has a finding in {draw_id} ({previous.payload.result}, recorded "
            f"{previous.event.occurred_at.astimezone(CHINA_TZ):%Y-%m-%d %H:%M}): one per case and draw"
        )
    text = note.strip()
    if not text or len(text) > _NOTE_MAX:
        raise SpotCheckInputError(f"note: 1 to {_NOTE_MAX} characters, got {len(text)}")
    payload = FindingPayload(draw_id=draw_id, result=result, note=text, inspector_id=inspector_id)
    event = assignment.event
    try:
        return ledger.record_event(
            CaseEvent(
                case_number=case_number,
                item_code=event.item_code,
                town_code=event.town_code,
                department_code=event.department_code,
                mode=event.mode,
                counter=event.counter,
                event=FINDING_EVENT,
                actor=f"inspector:{inspector_id}",
                occurred_at=now or datetime.now(UTC),
                payload=payload.to_payload(),
            )
        )
    except PersonalDataError:
        raise SpotCheckInputError(
            "note: contains an ID number, a mobile number or an e-mail address; findings are published, "
            "so they are written without personal data (e.g. '申请人身份信息已核验')"
        ) from None
