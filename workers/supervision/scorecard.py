"""用权评估: a scorecard per town of how the delegated power was used in a period.

The rules (weights, the mapping of each measure to 0-100, floors and the overall threshold) are data in
``config/supervision.yaml`` (:class:`SupervisionConfig`); the file documents them in Chinese.

**The cases of a town.** Cases of the town accepted at the counters named by ``counters`` (default: the
town's own counter). Its *closed cases* are those closed in the period (China time) with a decision or a
refusal — withdrawn cases are left out.

**Measures** (raw value → score):

``timeliness``
    % of closed cases closed by their due time (cases with no known due time are left out).
``rejection``
    % of closed cases with a negative decision (不予批准) or a refusal (不予受理).
``returns``
    % of closed cases whose town opinion went through the district's seal check (ledger events
    ``seal-verified`` or ``seal-rejected``) that were returned at least once (``seal-rejected``).
``satisfaction``
    The mean ``score`` (1-5) of the ``rated`` events of closed cases; other scores are not counted.
``spotcheck``
    % of closed cases with a spot-check finding (``spotcheck-finding``, any draw) where some finding is
    ``issue``.
``backlog``
    Cases of the town still open at the end of the period (or now, before it ends) past their due time,
    per 100 cases accepted in the period (at least 1 is used as the divisor).

Each score is ``100 × (raw − worst) / (best − worst)`` clipped to 0..100. A measure with nothing to measure
(no closed case, no seal check, no rating, no finding) is **无数据**: it is shown as such and left out of
the overall score, whose weights are renormalised over the measures that have data. The overall score is
the weighted mean. A town is flagged 督导 when the overall score is below ``threshold`` or a measure's
score is below its ``floor``; the reasons say which. A town with no case in the period (nothing accepted,
closed or overdue) is shown as 本期无办件, without scores or flags.
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Final, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator
from pydantic.alias_generators import to_camel
from ruamel.yaml.comments import CommentedMap
from sqlalchemy import select

from workers.catalog.loader import config_dir
from workers.catalog.models import Catalog
from workers.config_errors import ConfigFileError, FileProblem
from workers.ledger.models import CaseEventRow, CaseRow
from workers.ledger.service import Ledger
from workers.supervision.configfile import display_path, parse_yaml, read_text, validate_document
from workers.supervision.periods import Period
from workers.supervision.spotcheck import FINDING_EVENT

__all__ = [
    "MEASURES",
    "MEASURE_LABELS",
    "MEASURE_UNITS",
    "RATED_EVENT",
    "SUPERVISION_FILE_NAME",
    "CaseFacts",
    "EventFacts",
    "MeasureName",
    "MeasureResult",
    "MeasureRule",
    "Scorecard",
    "SupervisionConfig",
    "SupervisionConfigError",
    "TownScore",
    "compute_scorecard",
    "default_supervision_path",
    "evaluate",
    "ledger_facts",
    "load_supervision_config",
    "parse_supervision_config",
]

SUPERVISION_FILE_NAME: Final = "supervision.yaml"
RATED_EVENT: Final = "rated"
SEAL_REJECTED_EVENT: Final = "seal-rejected"
SEAL_VERIFIED_EVENT: Final = "seal-verified"
_FACT_EVENTS: Final = (RATED_EVENT, SEAL_REJECTED_EVENT, SEAL_VERIFIED_EVENT, FINDING_EVENT)
_MIN_RATING: Final = 1
_MAX_RATING: Final = 5

MeasureName = Literal["timeliness", "rejection", "returns", "satisfaction", "spotcheck", "backlog"]
MEASURES: Final[tuple[MeasureName, ...]] = (
    "timeliness",
    "rejection",
    "returns",
    "satisfaction",
    "spotcheck",
    "backlog",
)
MEASURE_LABELS: Final[Mapping[MeasureName, str]] = {
    "timeliness": "按期办结率",
    "rejection": "不予率",
    "returns": "退回率",
    "satisfaction": "好差评满意度",
    "spotcheck": "抽查问题率",
    "backlog": "超期积压",
}
MEASURE_UNITS: Final[Mapping[MeasureName, str]] = {
    "timeliness": "%",
    "rejection": "%",
    "returns": "%",
    "satisfaction": "分",
    "spotcheck": "%",
    "backlog": "件/百件",
}

Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
Score = Annotated[float, Field(strict=True, ge=0, le=100)]


# --------------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True)


class MeasureRule(_Model):
    """How one measure scores: its weight, the raw values worth 100 and 0 points, and its floor."""

    weight: Annotated[float, Field(strict=True, ge=0, le=1000)]
    best: Number
    worst: Number
    floor: Score | None = None

    @model_validator(mode="after")
    def _distinct_ends(self) -> Self:
        if self.best == self.worst:
            raise ValueError("best and worst must differ: they are the raw values worth 100 and 0 points")
        return self

    def score(self, raw: float) -> float:
        """The raw value on 0..100: linear between ``worst`` (0) and ``best`` (100), clipped."""
        return max(0.0, min(1.0, (raw - self.worst) / (self.best - self.worst))) * 100


class Measures(_Model):
    """The rule of each measure (all six are required)."""

    timeliness: MeasureRule
    rejection: MeasureRule
    returns: MeasureRule
    satisfaction: MeasureRule
    spotcheck: MeasureRule
    backlog: MeasureRule

    def rule(self, name: MeasureName) -> MeasureRule:
        """The rule of the measure with this name."""
        rule: MeasureRule = getattr(self, name)
        return rule


class SupervisionConfig(_Model):
    """``config/supervision.yaml``: which counters count, the overall threshold and the measure rules."""

    counters: Annotated[tuple[Literal["town", "district"], ...], Field(min_length=1)] = ("town",)
    threshold: Score
    measures: Measures

    @model_validator(mode="after")
    def _some_weight(self) -> Self:
        if not any(self.measures.rule(name).weight > 0 for name in MEASURES):
            raise ValueError("at least one measure needs a weight above 0")
        if len(set(self.counters)) != len(self.counters):
            raise ValueError("counters lists a counter twice")
        return self


class SupervisionConfigError(ConfigFileError):
    """``supervision.yaml`` could not be loaded; ``problems`` lists every problem, by line."""


def default_supervision_path() -> Path:
    """``supervision.yaml`` in the configuration folder (``SHUANGSHI_CONFIG_DIR`` or ``config/``)."""
    return config_dir() / SUPERVISION_FILE_NAME


def parse_supervision_config(text: str, file: str = "<supervision>") -> SupervisionConfig:
    """Validate the YAML text; :class:`SupervisionConfigError` names ``file:line: field``."""
    document = parse_yaml(text, file, SupervisionConfigError)
    if not isinstance(document, CommentedMap):
        raise SupervisionConfigError(
            [FileProblem(file, 1, "<root>", "expected a mapping with counters, threshold and measures")]
        )
    return validate_document(SupervisionConfig, document, file, SupervisionConfigError)


def load_supervision_config(path: Path | None = None) -> SupervisionConfig:
    """Read and validate ``supervision.yaml`` (default: :func:`default_supervision_path`)."""
    source = path if path is not None else default_supervision_path()
    return parse_supervision_config(
        read_text(source, SupervisionConfigError, "scorecard rules"), display_path(source)
    )


# --------------------------------------------------------------------------------------------------
# Facts from the ledger
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CaseFacts:
    """What the scorecard needs of a case (from the ledger's projection)."""

    case_number: str
    town_code: str
    counter: str
    status: str
    accepted_at: datetime
    due_at: datetime | None
    closed_at: datetime | None
    on_time: bool | None


@dataclass(frozen=True, slots=True)
class EventFacts:
    """A ledger event the scorecard reads: seal checks, ratings and spot-check findings."""

    case_number: str
    event: str
    occurred_at: datetime
    payload: Mapping[str, JsonValue]


def ledger_facts(ledger: Ledger) -> tuple[list[CaseFacts], list[EventFacts]]:
    """Every case and every event the scorecard reads, from one snapshot of the ledger."""
    with ledger.snapshot() as session:
        cases = [
            CaseFacts(
                case_number=row.case_number,
                town_code=row.town_code,
                counter=row.counter,
                status=row.status,
                accepted_at=row.accepted_at,
                due_at=row.due_at,
                closed_at=row.closed_at,
                on_time=row.on_time,
            )
            for row in session.scalars(select(CaseRow))
        ]
        events = [
            EventFacts(row.case_number, row.event, row.occurred_at, row.payload)
            for row in session.scalars(
                select(CaseEventRow).where(CaseEventRow.event.in_(_FACT_EVENTS)).order_by(CaseEventRow.id)
            )
        ]
    return cases, events


# --------------------------------------------------------------------------------------------------
# The scorecard
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MeasureResult:
    """One measure of one town: raw value (``None``: 无数据), its basis, score and weight in the total."""

    name: MeasureName
    raw: float | None
    #: What the raw value was computed from, e.g. ``9/10 按期`` or ``3 条评价``.
    basis: str
    score: float | None
    weight: float
    #: The weight's share of the overall score after renormalisation (0 when excluded).
    share: float
    floor: float | None

    @property
    def label(self) -> str:
        """The measure's Chinese name."""
        return MEASURE_LABELS[self.name]

    @property
    def has_data(self) -> bool:
        """False when there was nothing to measure (shown as 无数据)."""
        return self.raw is not None


@dataclass(frozen=True, slots=True)
class TownScore:
    """The scorecard line of one town."""

    town_code: str
    town_name: str
    accepted: int
    closed: int
    overdue_open: int
    measures: tuple[MeasureResult, ...]
    overall: float | None
    flagged: bool
    reasons: tuple[str, ...]

    @property
    def has_cases(self) -> bool:
        """False for a town with nothing accepted, closed or overdue in the period (本期无办件)."""
        return bool(self.accepted or self.closed or self.overdue_open)

    def measure(self, name: MeasureName) -> MeasureResult:
        """The result of one measure."""
        return next(m for m in self.measures if m.name == name)


@dataclass(frozen=True, slots=True)
class Scorecard:
    """The scorecard of a period: the rules used, the instant the backlog was taken at, one line per town."""

    period: Period
    config: SupervisionConfig
    as_of: datetime
    towns: tuple[TownScore, ...]


def _percent(part: int, whole: int) -> float | None:
    return None if whole == 0 else 100 * part / whole


def _ratings(events: Iterable[EventFacts]) -> list[float]:
    scores: list[float] = []
    for event in events:
        value = event.payload.get("score")
        if (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and _MIN_RATING <= value <= _MAX_RATING
        ):
            scores.append(float(value))
    return scores


def _town_raw(
    cases: Sequence[CaseFacts],
    events_by_case: Mapping[str, Sequence[EventFacts]],
    period: Period,
    as_of: datetime,
) -> tuple[dict[MeasureName, tuple[float | None, str]], int, int, int]:
    """Raw values and their basis for one town's cases, and its accepted, closed and overdue counts."""
    closed = [
        c
        for c in cases
        if c.closed_at is not None and period.contains(c.closed_at) and c.status != "withdrawn"
    ]
    accepted = sum(1 for c in cases if period.contains(c.accepted_at))
    overdue = sum(
        1
        for c in cases
        if c.accepted_at < as_of
        and (c.closed_at is None or c.closed_at >= as_of)
        and c.due_at is not None
        and c.due_at < as_of
    )

    def events(case: CaseFacts, name: str) -> list[EventFacts]:
        return [e for e in events_by_case.get(case.case_number, ()) if e.event == name]

    timed = [c for c in closed if c.on_time is not None]
    on_time = sum(1 for c in timed if c.on_time)
    refused = sum(1 for c in closed if c.status in {"rejected", "not-accepted"})
    seal_checked = [c for c in closed if events(c, SEAL_VERIFIED_EVENT) or events(c, SEAL_REJECTED_EVENT)]
    returned = sum(1 for c in seal_checked if events(c, SEAL_REJECTED_EVENT))
    ratings = [score for c in closed for score in _ratings(events(c, RATED_EVENT))]
    results = {c.case_number: [e.payload.get("result") for e in events(c, FINDING_EVENT)] for c in closed}
    checked = {number: found for number, found in results.items() if {"pass", "issue"} & set(found)}
    issues = sum(1 for found in checked.values() if "issue" in found)
    active = bool(accepted or closed or overdue)
    raw: dict[MeasureName, tuple[float | None, str]] = {
        "timeliness": (_percent(on_time, len(timed)), f"{on_time}/{len(timed)} 按期"),
        "rejection": (_percent(refused, len(closed)), f"{refused}/{len(closed)} 不予"),
        "returns": (_percent(returned, len(seal_checked)), f"{returned}/{len(seal_checked)} 退回"),
        "satisfaction": (sum(ratings) / len(ratings) if ratings else None, f"{len(ratings)} 条评价"),
        "spotcheck": (_percent(issues, len(checked)), f"{issues}/{len(checked)} 发现问题"),
        "backlog": (
            100 * overdue / max(accepted, 1) if active else None,
            f"{overdue} 件超期/{accepted} 件受理",
        ),
    }
    return raw, accepted, len(closed), overdue


def _town_score(
    code: str,
    name: str,
    cases: Sequence[CaseFacts],
    events_by_case: Mapping[str, Sequence[EventFacts]],
    period: Period,
    config: SupervisionConfig,
    as_of: datetime,
) -> TownScore:
    raw, accepted, closed, overdue = _town_raw(cases, events_by_case, period, as_of)
    scored = {
        name: (value, basis, None if value is None else config.measures.rule(name).score(value))
        for name, (value, basis) in raw.items()
    }
    total_weight = sum(config.measures.rule(n).weight for n, (_, _, s) in scored.items() if s is not None)
    measures = tuple(
        MeasureResult(
            name=measure,
            raw=value,
            basis=basis,
            score=score,
            weight=config.measures.rule(measure).weight,
            share=config.measures.rule(measure).weight / total_weight
            if score is not None and total_weight
            else 0.0,
            floor=config.measures.rule(measure).floor,
        )
        for measure in MEASURES
        for value, basis, score in [scored[measure]]
    )
    overall = sum(m.score * m.share for m in measures if m.score is not None) if total_weight else None
    reasons: list[str] = []
    if overall is not None and overall < config.threshold:
        reasons.append(f"总分 {overall:.1f} 低于督导线 {config.threshold:g}")
    for measure in measures:
        if measure.score is not None and measure.floor is not None and measure.score < measure.floor:
            shown = f"{measure.raw:.1f}{MEASURE_UNITS[measure.name]}"
            reasons.append(f"{measure.label} {shown} 得分 {measure.score:.1f} 低于下限 {measure.floor:g}")
    return TownScore(
        town_code=code,
        town_name=name,
        accepted=accepted,
        closed=closed,
        overdue_open=overdue,
        measures=measures,
        overall=overall,
        flagged=bool(reasons),
        reasons=tuple(reasons),
    )


def compute_scorecard(
    catalog: Catalog,
    config: SupervisionConfig,
    period: Period,
    cases: Iterable[CaseFacts],
    events: Iterable[EventFacts],
    *,
    now: datetime,
) -> Scorecard:
    """The scorecard of every catalog town (and any other town code the ledger holds) for ``period``.

    The backlog is taken at the end of the period, or at ``now`` when the period has not ended.
    """
    if now.tzinfo is None:
        raise ValueError("compute_scorecard needs an aware 'now'")
    as_of = min(period.end, now.astimezone(UTC))
    by_town: dict[str, list[CaseFacts]] = defaultdict(list)
    for case in cases:
        if case.counter in config.counters:
            by_town[case.town_code].append(case)
    events_by_case: dict[str, list[EventFacts]] = defaultdict(list)
    for event in events:
        events_by_case[event.case_number].append(event)
    towns = [(town.code, town.name) for town in catalog.towns]
    towns += [(code, code) for code in sorted(set(by_town) - {code for code, _ in towns})]
    return Scorecard(
        period=period,
        config=config,
        as_of=as_of,
        towns=tuple(
            _town_score(code, name, by_town.get(code, []), events_by_case, period, config, as_of)
            for code, name in towns
        ),
    )


def evaluate(
    ledger: Ledger,
    catalog: Catalog,
    config: SupervisionConfig,
    period: Period,
    *,
    now: datetime | None = None,
) -> Scorecard:
    """The scorecard of ``period`` from the ledger."""
    cases, events = ledger_facts(ledger)
    return compute_scorecard(catalog, config, period, cases, events, now=now or datetime.now(UTC))
