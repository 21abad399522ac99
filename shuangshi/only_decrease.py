"""The 只减不增 audit: delegation may only reduce steps, time limits and materials.

The catalog loader checks the values the catalog *declares*; this audit checks what the diagrams
and the application check *do*, for every item in its mode, against the item's district baseline:

========================  ======================================================================
measure                   delegated value
========================  ======================================================================
``steps``                 human steps a town-counter case passes in the deployed diagram
                          (:mod:`shuangshi.town_path`)
``steps-declared``        the catalog's ``steps``
``time-limit``            the catalog's ``timeLimitDays`` (what ``case.register`` hands to
                          ``sla.schedule``)
``time-limit-diagram``    the longest deadline a due date, timer or mapping on the town path fixes
                          by itself (calendar days); the catalog's limit when all take
                          ``slaDueAt``/``slaWarnAt``
``materials``             the catalog's materials of the item (must be a subset of the baseline)
``materials-required``    the materials the application check (``workers.application``) asks for
                          when an application comes with none
========================  ======================================================================

Each gets a status: 减少, 持平, 增加, or 无法核验 when the delegated value cannot be established
(no approving way through the diagram, a deadline at a fixed date, …). 增加 and 无法核验 fail.
"""

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from shuangshi.town_path import (
    DiagramError,
    ProcessDefinition,
    TownPath,
    analyse_town_path,
    called_process_ids,
    parse_processes,
)
from workers.application.samples import sample_application
from workers.application.service import check
from workers.catalog.loader import CatalogError, default_catalog_path, load_catalog
from workers.catalog.models import Catalog, Item, Mode
from workers.registry import ErrorCode

__all__ = [
    "AuditError",
    "AuditReport",
    "Finding",
    "ItemAudit",
    "Measure",
    "Status",
    "audit",
    "display_path",
    "load_catalog_for_audit",
    "processes_from_folder",
    "processes_from_gateway",
]


class AuditError(Exception):
    """The audit cannot run: a folder or the gateway cannot be read, a process is missing, …"""


class Status(StrEnum):
    decreased = "decreased"
    unchanged = "unchanged"
    increased = "increased"
    unverifiable = "unverifiable"

    @property
    def label(self) -> str:
        return _STATUS_LABELS[self]

    @property
    def fails(self) -> bool:
        return self in {Status.increased, Status.unverifiable}


_STATUS_LABELS: Final = {
    Status.decreased: "减少",
    Status.unchanged: "持平",
    Status.increased: "增加",
    Status.unverifiable: "无法核验",
}


class Measure(StrEnum):
    steps = "steps"
    steps_declared = "steps-declared"
    time_limit = "time-limit"
    time_limit_diagram = "time-limit-diagram"
    materials = "materials"
    materials_required = "materials-required"

    @property
    def label(self) -> str:
        return _MEASURE_LABELS[self]


_MEASURE_LABELS: Final = {
    Measure.steps: "办理环节（流程图）",
    Measure.steps_declared: "办理环节（目录）",
    Measure.time_limit: "承诺时限（目录，工作日）",
    Measure.time_limit_diagram: "时限（流程图）",
    Measure.materials: "申请材料（目录）",
    Measure.materials_required: "必交材料（校验）",
}


@dataclass(frozen=True)
class Finding:
    """One measure of one item: the baseline, the delegated value and what it means.

    ``elements`` are the element ids behind the value (the counted user tasks, the deadline
    elements); ``extra`` the material ids that are not in the baseline.
    """

    measure: Measure
    baseline: int
    delegated: int | None
    status: Status
    detail: str
    elements: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()
    values: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "measure": self.measure.value,
            "label": self.measure.label,
            "baseline": self.baseline,
            "delegated": self.delegated,
            "status": self.status.value,
            "statusLabel": self.status.label,
            "detail": self.detail,
            "elements": list(self.elements),
            "extraMaterials": list(self.extra),
            "materials": list(self.values),
        }


@dataclass(frozen=True)
class ItemAudit:
    seq: int
    code: str
    name: str
    mode: str
    mode_name: str
    process_id: str | None
    findings: tuple[Finding, ...]

    @property
    def failures(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.status.fails)

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "code": self.code,
            "name": self.name,
            "mode": self.mode,
            "modeName": self.mode_name,
            "bpmnProcessId": self.process_id,
            "measures": [finding.to_json() for finding in self.findings],
        }


@dataclass(frozen=True)
class AuditReport:
    """The whole audit: where the diagrams came from, every item's findings, catalog load problems."""

    source: str
    origins: Mapping[str, str]
    items: tuple[ItemAudit, ...]
    catalog_problems: tuple[str, ...] = ()

    @property
    def failed(self) -> bool:
        return any(item.failures for item in self.items)

    def to_json(self) -> dict[str, Any]:
        failures = [
            {
                "code": item.code,
                "name": item.name,
                "mode": item.mode,
                "bpmnProcessId": item.process_id,
                **finding.to_json(),
            }
            for item in self.items
            for finding in item.failures
        ]
        return {
            "ok": not self.failed and not self.catalog_problems,
            "source": self.source,
            "processes": dict(self.origins),
            "items": [item.to_json() for item in self.items],
            "failures": failures,
            "catalogProblems": list(self.catalog_problems),
        }


# --------------------------------------------------------------------------------------------------
# Inputs


def load_catalog_for_audit(path: Path | None) -> tuple[Catalog, tuple[str, ...]]:
    """The catalog and the loader's problems with it.

    A catalog the loader refuses only for cross-entry reasons (among them its own 只减不增 checks) is
    still audited, so the report shows the increase next to the diagrams' values; a catalog that
    does not even have the right shape raises :class:`CatalogError`.
    """
    source = path if path is not None else default_catalog_path()
    try:
        return load_catalog(source), ()
    except CatalogError as refused:
        problems = tuple(str(problem) for problem in refused.problems)
        try:
            data = YAML(typ="safe").load(source.read_text(encoding="utf-8"))
            catalog = Catalog.model_validate(
                data, by_alias=True, by_name=False, context={"skip_cross_checks": True}
            )
        except (OSError, UnicodeDecodeError, YAMLError, ValidationError):
            raise refused from None
        return catalog, problems


def processes_from_folder(folder: Path) -> dict[str, ProcessDefinition]:
    """Every executable process in the ``*.bpmn`` files of ``folder`` (as ``shuangshi deploy`` sends them)."""
    if not folder.is_dir():
        raise AuditError(f"{folder}: no such folder (give the folder of the .bpmn files with --bpmn)")
    files = sorted(folder.glob("*.bpmn"))
    if not files:
        raise AuditError(f"{folder}: no .bpmn files in it")
    found: dict[str, ProcessDefinition] = {}
    for file in files:
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise AuditError(f"{file}: cannot read it: {exc.strerror or exc}") from exc
        for process in parse_processes(data, display_path(file)):
            if process.process_id in found:
                raise AuditError(
                    f"process {process.process_id!r} is in both {found[process.process_id].origin} "
                    f"and {process.origin}"
                )
            found[process.process_id] = process
    return found


def display_path(path: Path) -> str:
    """``path`` relative to the working directory when below it, else as given."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def processes_from_gateway(
    url: str, process_ids: Sequence[str], timeout: float
) -> dict[str, ProcessDefinition]:
    """The latest deployed version of each process (and of the processes they call) through the REST API.

    Uses the Camunda SDK (search process definitions by id, latest version; then their XML), so it reads
    the embedded engine and a Camunda 8 cluster alike.
    """
    # The SDK takes seconds to import: only when a gateway is audited.
    from camunda_orchestration_sdk import CamundaAsyncClient, ProcessDefinitionKey  # noqa: PLC0415
    from camunda_orchestration_sdk.models.process_definition_search_query import (  # noqa: PLC0415
        ProcessDefinitionSearchQuery,
    )
    from camunda_orchestration_sdk.models.process_definition_search_query_filter import (  # noqa: PLC0415
        ProcessDefinitionSearchQueryFilter,
    )

    from shuangshi.rest_client import Connection, RestCommandError, run  # noqa: PLC0415

    async def fetch(client: CamundaAsyncClient) -> dict[str, ProcessDefinition]:
        found: dict[str, ProcessDefinition] = {}
        pending = list(process_ids)
        while pending:
            process_id = pending.pop(0)
            if process_id in found:
                continue
            query = ProcessDefinitionSearchQuery(
                filter_=ProcessDefinitionSearchQueryFilter(
                    process_definition_id=process_id, is_latest_version=True
                )
            )
            result = await client.search_process_definitions(data=query)
            versions = [d for d in result.items if str(d.process_definition_id) == process_id]
            if not versions:
                raise AuditError(f"process {process_id!r} is not deployed at {url}")
            latest = max(versions, key=lambda d: int(d.version))
            key = str(latest.process_definition_key)
            xml = await client.get_process_definition_xml(ProcessDefinitionKey(key))
            origin = f"{url}: {process_id} version {latest.version} (key {key})"
            definition = next((p for p in parse_processes(xml, origin) if p.process_id == process_id), None)
            if definition is None:
                raise AuditError(f"{origin}: its XML holds no executable process {process_id!r}")
            found[process_id] = definition
            pending.extend(sorted(called_process_ids(definition)))
        return found

    try:
        return run(Connection(url, timeout), fetch)
    except RestCommandError as exc:
        # The shared REST helper's connection hint names the REST commands' option; here it is --gateway.
        message = exc.message.replace("set --rest-address or CAMUNDA_REST_ADDRESS", "check --gateway")
        raise AuditError(f"cannot read the deployed processes: {message}") from exc


# --------------------------------------------------------------------------------------------------
# The audit


def _compare(baseline: int, delegated: int) -> Status:
    if delegated > baseline:
        return Status.increased
    return Status.unchanged if delegated == baseline else Status.decreased


def _context(catalog: Catalog, item: Item, mode: Mode) -> dict[str, Any]:
    """The variables a town-counter case of ``item`` has when its gateways are passed."""
    context: dict[str, Any] = {
        "counter": "town",
        "itemCode": item.code,
        "itemName": item.name,
        "mode": mode.code,
        "departmentCode": item.department_code,
        "timeLimitDays": item.time_limit_days,
    }
    with contextlib.suppress(KeyError):  # an unknown department is the loader's finding
        context["departmentName"] = catalog.department(item.department_code).name
    return context


def _steps(item: Item, path: TownPath | None, problem: str | None) -> Finding:
    baseline = item.baseline.steps
    if path is None or path.steps is None:
        reason = problem or (
            f"流程 {path.process_id if path else '?'} 中没有镇窗口受理的办件从开始到准予办结"
            "（加盖准予决定书后的结束事件）的路径"
        )
        return Finding(Measure.steps, baseline, None, Status.unverifiable, reason)
    refs = tuple(step.ref for step in path.steps)
    names = "、".join(f"{step.ref}（{step.name}）" if step.name else step.ref for step in path.steps)
    detail = f"计入的人工环节：{names or '无'}"
    return Finding(Measure.steps, baseline, len(refs), _compare(baseline, len(refs)), detail, refs)


def _time_from_diagram(item: Item, path: TownPath | None, problem: str | None) -> Finding:
    baseline = item.baseline.time_limit_days
    limit = item.time_limit_days
    if path is None:
        return Finding(Measure.time_limit_diagram, baseline, None, Status.unverifiable, problem or "")
    if not path.deadlines:
        detail = "到期时间均取自 slaDueAt、slaWarnAt（按目录时限）"
        return Finding(Measure.time_limit_diagram, baseline, limit, _compare(baseline, limit), detail)
    parts = []
    for deadline in path.deadlines:
        length = "无法换算为天数" if deadline.days is None else f"{deadline.days} 天（日历日）"
        parts.append(f"{deadline.ref} {deadline.what} {deadline.expression} → {length}")
    detail = "流程图自定时限：" + "；".join(parts)
    refs = tuple(dict.fromkeys(deadline.ref for deadline in path.deadlines))
    if any(deadline.days is None for deadline in path.deadlines):
        return Finding(Measure.time_limit_diagram, baseline, None, Status.unverifiable, detail, refs)
    longest = max([limit, *(deadline.days for deadline in path.deadlines if deadline.days is not None)])
    return Finding(Measure.time_limit_diagram, baseline, longest, _compare(baseline, longest), detail, refs)


def _materials(measure: Measure, item: Item, ids: Sequence[str]) -> Finding:
    baseline = item.baseline.materials
    extra = tuple(m for m in ids if m not in baseline)
    if extra:
        status = Status.increased
        detail = f"原标准之外的材料：{'、'.join(extra)}"
    else:
        status = Status.unchanged if set(ids) == set(baseline) else Status.decreased
        dropped = [m for m in baseline if m not in ids]
        detail = "均在原标准内" + (f"；不再要求：{'、'.join(dropped)}" if dropped else "")
    return Finding(measure, len(baseline), len(ids), status, detail, extra=extra, values=tuple(ids))


def _required_materials(catalog: Catalog, item: Item) -> Finding:
    """What the application check asks for: run it on an application that comes with no material."""
    baseline = item.baseline.materials
    if not catalog.towns:
        return Finding(
            Measure.materials_required, len(baseline), None, Status.unverifiable, "目录中没有承接镇"
        )
    application = sample_application(catalog, item.code, catalog.towns[0].code, "town")
    application["materials"] = []
    outcome = check(catalog, application, [])
    if outcome.error is None:
        required: list[str] = []
    elif outcome.error is ErrorCode.MATERIALS_INCOMPLETE:
        required = [str(m["id"]) for m in outcome.variables["missingMaterials"]]
    else:
        reasons = "；".join(outcome.variables.get("invalidReasons", []))
        return Finding(
            Measure.materials_required,
            len(baseline),
            None,
            Status.unverifiable,
            f"申请校验未给出缺少的材料：{reasons}",
        )
    return _materials(Measure.materials_required, item, required)


@dataclass
class _Paths:
    """Town paths by (process, item): the diagrams are analysed once per item's variables."""

    processes: Mapping[str, ProcessDefinition]
    cache: dict[tuple[str, str], TownPath] = field(default_factory=dict)

    def of(self, process_id: str, item: Item, context: Mapping[str, Any]) -> TownPath:
        key = (process_id, item.code)
        if key not in self.cache:
            self.cache[key] = analyse_town_path(self.processes, process_id, context)
        return self.cache[key]


def audit(
    catalog: Catalog,
    processes: Mapping[str, ProcessDefinition],
    *,
    source: str,
    catalog_problems: Sequence[str] = (),
) -> AuditReport:
    """Audit every item of ``catalog`` in its mode against its baseline; :class:`DiagramError` (an
    :class:`AuditError`) when a mode's process is missing or cannot be analysed."""
    paths = _Paths(processes)
    items = []
    for item in sorted(catalog.items, key=lambda i: i.seq):
        path: TownPath | None = None
        problem: str | None = None
        process_id: str | None = None
        mode_name = item.mode
        try:
            mode = catalog.mode(item.mode)
        except KeyError:
            problem = f"目录中没有调整方式 {item.mode!r}"
        else:
            mode_name = mode.name
            process_id = mode.bpmn_process_id
            if process_id not in processes:
                raise AuditError(
                    f"mode {mode.code} ({mode.name}) runs process {process_id!r}, which is not among "
                    f"the diagrams read ({source})"
                )
            try:
                path = paths.of(process_id, item, _context(catalog, item, mode))
            except DiagramError as exc:
                raise AuditError(str(exc)) from exc
        declared = [m.id for m in item.materials]
        findings = (
            _steps(item, path, problem),
            Finding(
                Measure.steps_declared,
                item.baseline.steps,
                item.steps,
                _compare(item.baseline.steps, item.steps),
                "目录 steps",
            ),
            Finding(
                Measure.time_limit,
                item.baseline.time_limit_days,
                item.time_limit_days,
                _compare(item.baseline.time_limit_days, item.time_limit_days),
                "目录 timeLimitDays",
            ),
            _time_from_diagram(item, path, problem),
            _materials(Measure.materials, item, declared),
            _required_materials(catalog, item),
        )
        items.append(ItemAudit(item.seq, item.code, item.name, item.mode, mode_name, process_id, findings))
    origins = {pid: processes[pid].origin for pid in sorted(processes)}
    return AuditReport(source, origins, tuple(items), tuple(catalog_problems))
