"""``shuangshi spotcheck`` (双随机、一公开) and ``shuangshi evaluate`` (用权评估), from the ledger.

Like ``case`` and ``ledger`` these need no engine: they read (and, for ``draw`` and ``finding``, append to)
the work ledger of ``--data-dir`` / ``--ledger-url``. The rules are in :mod:`workers.supervision`.

- ``spotcheck draw`` draws closed cases of a period and assigns inspectors, reproducibly from a seed, and
  records one ``spotcheck-drawn`` event per drawn case; the same draw again writes nothing.
- ``spotcheck verify`` redoes a recorded draw from its inputs and compares.
- ``spotcheck publish`` writes the public list (公示) of a draw: CSV, HTML or JSON.
- ``spotcheck finding`` records the assigned inspector's finding on a drawn case (once).
- ``evaluate`` prints the scorecard per town (table, CSV, JSON or XLSX), rules from
  ``config/supervision.yaml``.

Exit codes: 0 done; 1 refused or negative (no eligible inspector, a draw id used with other inputs, a
finding by someone else, a draw that does not verify); 2 bad input (period, ratio, files, no ledger).
"""

import json
import sys
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.table import Table
from rich.text import Text

from shuangshi.case_commands import (
    DataDirOption,
    LedgerUrlOption,
    _catalog,
    _open_ledger,
    _quiet_logging,
    _settings,
)
from shuangshi.output import err, fail, out, print_json

if TYPE_CHECKING:
    from workers.catalog.models import Catalog
    from workers.supervision.inspectors import InspectorPool
    from workers.supervision.periods import Period
    from workers.supervision.scorecard import Scorecard, SupervisionConfig
    from workers.supervision.spotcheck import RecordedDraw

__all__ = ["evaluate_command", "spotcheck_app"]

spotcheck_app = typer.Typer(
    help="双随机、一公开: draw closed cases and inspectors at random, publish, record findings.",
    no_args_is_help=True,
)

PeriodOption = Annotated[
    str, typer.Option("--period", help="A year (2026), a quarter (2026Q3) or a month (2026-09), China time.")
]
InspectorsOption = Annotated[
    Path,
    typer.Option(
        "--inspectors", help="The inspectors file, YAML or CSV: id, name, affiliation.", dir_okay=False
    ),
]
DrawIdOption = Annotated[str, typer.Option("--draw", help="The draw id, e.g. SC-2026Q3.")]


def _period(text: str) -> "Period":
    from workers.supervision.periods import PeriodError, parse_period  # noqa: PLC0415 - see _open_ledger

    try:
        return parse_period(text)
    except PeriodError as exc:
        fail(f"--period: {exc}", 2)


def _pool(path: Path, catalog: "Catalog") -> "InspectorPool":
    from workers.supervision.inspectors import InspectorsFileError, load_inspectors  # noqa: PLC0415

    try:
        return load_inspectors(path, catalog)
    except InspectorsFileError as exc:
        fail(f"--inspectors: the inspectors file has problems\n{exc}", 2)


def _refused(exc: Exception) -> NoReturn:
    """A spot-check error as the exit: 2 for malformed input, 1 for a rule that says no."""
    from workers.supervision.spotcheck import SpotCheckInputError  # noqa: PLC0415

    fail(str(exc), 2 if isinstance(exc, SpotCheckInputError) else 1)


def _cell(value: object) -> Text:
    return Text("" if value is None else str(value))


# ---------------------------------------------------------------------------------------------------
# spotcheck draw / verify


def _draw_table(recorded: "RecordedDraw", catalog: "Catalog") -> Table:
    from workers.supervision.export import PENDING, RESULT_NAMES  # noqa: PLC0415
    from workers.supervision.inspectors import affiliation_name  # noqa: PLC0415

    parameters = recorded.parameters
    table = Table(
        title=f"双随机抽查 {recorded.draw_id}（{recorded.period.title}，比例 {parameters.ratio}）",
        show_lines=False,
    )
    for header in ("办件编号", "事项", "承接镇", "区级实施部门", "检查人员", "所属单位", "检查结果"):
        table.add_column(header, overflow="fold")
    towns = {t.code: t.name for t in catalog.towns}
    departments = {d.code: d.name for d in catalog.departments}
    items = {i.code: i.name for i in catalog.items}
    for number in sorted(recorded.assignments):
        entry = recorded.assignments[number]
        finding = recorded.findings.get(number)
        table.add_row(
            _cell(number),
            _cell(items.get(entry.event.item_code, entry.event.item_code)),
            _cell(towns.get(entry.event.town_code, entry.event.town_code)),
            _cell(departments.get(entry.event.department_code, entry.event.department_code)),
            _cell(f"{entry.payload.inspector_name}（{entry.payload.inspector_id}）"),
            _cell(affiliation_name(catalog, entry.payload.inspector_affiliation)),
            _cell(RESULT_NAMES[finding.payload.result] if finding else PENDING),
        )
    return table


def _draw_summary(recorded: "RecordedDraw") -> dict[str, Any]:
    parameters = recorded.parameters
    return {
        "drawId": recorded.draw_id,
        "period": parameters.period,
        "ratio": parameters.ratio,
        "seed": parameters.seed,
        "algorithm": parameters.algorithm,
        "drawnAt": parameters.drawn_at.isoformat(),
        "ledgerHead": parameters.ledger_head,
        "candidates": parameters.candidates,
        "drawn": parameters.drawn,
        "digests": {
            "candidates": parameters.candidates_digest,
            "inspectors": parameters.inspectors_digest,
            "inputs": parameters.inputs_digest,
        },
        "cases": [
            {
                "caseNumber": number,
                "townCode": entry.event.town_code,
                "departmentCode": entry.event.department_code,
                "itemCode": entry.event.item_code,
                "inspectorId": entry.payload.inspector_id,
                "inspectorName": entry.payload.inspector_name,
                "inspectorAffiliation": entry.payload.inspector_affiliation,
            }
            for number, entry in sorted(recorded.assignments.items())
        ],
    }


@spotcheck_app.command("draw")
def spotcheck_draw(
    period: PeriodOption,
    inspectors: InspectorsOption,
    seed: Annotated[
        str,
        typer.Option(
            "--seed", help="The draw's seed, a text chosen when drawing (e.g. a published lottery result)."
        ),
    ],
    ratio: Annotated[
        str,
        typer.Option("--ratio", help="Share of each town's closed cases to draw, rounded up: 5% or 0.05."),
    ] = "5%",
    draw_id: Annotated[
        str | None,
        typer.Option(
            "--draw-id",
            help="Name of the draw (default SC-<period>: one draw per period).",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    data_dir: DataDirOption = Path("data"),
    ledger_url: LedgerUrlOption = None,
) -> None:
    """Draw closed cases of a period at random and assign inspectors; record the draw in the ledger.

    Each town with closed cases gets ceil(ratio × its cases), at least one; an inspector never checks a case
    of their own town or department. The same draw again prints it and writes nothing.
    """
    from workers.supervision.spotcheck import (  # noqa: PLC0415 - see _open_ledger
        SpotCheckError,
        default_draw_id,
        draw,
        parse_ratio,
    )

    _quiet_logging()
    chosen = _period(period)
    try:
        share = parse_ratio(ratio)
    except SpotCheckError as exc:
        fail(f"--ratio: {exc}", 2)
    catalog = _catalog()
    pool = _pool(inspectors, catalog)
    settings = _settings(data_dir, ledger_url)
    name = draw_id or default_draw_id(chosen)
    now = datetime.now(UTC)
    with _open_ledger(settings) as ledger:
        try:
            outcome = draw(
                ledger,
                draw_id=name,
                period=chosen,
                ratio=share,
                seed=seed,
                pool=pool,
                actor=settings.supervisor_group,
                now=now,
            )
        except SpotCheckError as exc:
            _refused(exc)
    if now < chosen.end and outcome.new:
        err.print(
            f"[yellow]note[/]: {chosen.label} has not ended; cases closed after this draw are not candidates",
            highlight=False,
        )
    if as_json:
        print_json({**_draw_summary(outcome.recorded), "written": outcome.written, "new": outcome.new})
        return
    out.print(_draw_table(outcome.recorded, catalog))
    parameters = outcome.recorded.parameters
    town_names = {t.code: t.name for t in catalog.towns}
    strata = "、".join(
        f"{town_names.get(s.town_code, s.town_code)} {s.drawn}/{s.candidates}" for s in outcome.plan.strata
    )
    out.print(
        f"候选 {len(outcome.plan.candidates)} 件，抽中 {len(outcome.plan.assignments)} 件（{strata}）；"
        f"随机种子 {parameters.seed!r}；输入摘要 {parameters.inputs_digest}",
        highlight=False,
    )
    if outcome.new:
        out.print(f"[green]recorded[/] draw {name}: {outcome.written} ledger event(s)", highlight=False)
    elif outcome.written:
        out.print(
            f"[green]completed[/] draw {name}: {outcome.written} event(s) an interrupted run had not written",
            highlight=False,
        )
    else:
        out.print(
            f"draw {name} was already recorded on {parameters.drawn_at:%Y-%m-%d %H:%M}: nothing written",
            highlight=False,
        )


@spotcheck_app.command("verify")
def spotcheck_verify(
    draw_id: Annotated[str, typer.Argument(help="The draw id, e.g. SC-2026Q3.")],
    inspectors: InspectorsOption,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    data_dir: DataDirOption = Path("data"),
    ledger_url: LedgerUrlOption = None,
) -> None:
    """Redo a recorded draw from its inputs and compare; exit 1 if it does not give the recorded draw.

    The inputs are the ledger's candidates up to the row the draw saw, the recorded ratio and seed, and this
    inspectors file (its digest must be the recorded one).
    """
    from workers.supervision.spotcheck import SpotCheckError, verify_draw  # noqa: PLC0415

    _quiet_logging()
    catalog = _catalog()
    pool = _pool(inspectors, catalog)
    with _open_ledger(_settings(data_dir, ledger_url)) as ledger:
        try:
            report = verify_draw(ledger, draw_id, pool)
        except SpotCheckError as exc:
            _refused(exc)
    if as_json:
        print_json(
            {
                "drawId": draw_id,
                "ok": report.ok,
                "problems": list(report.problems),
                "notes": list(report.notes),
            }
        )
    elif report.ok:
        out.print(f"[green]OK[/] draw {draw_id} verified: {'; '.join(report.notes)}", highlight=False)
    else:
        for problem in report.problems:
            out.print(Text.assemble(("✗ ", "red"), problem))
        out.print(f"draw {draw_id} does not verify: {len(report.problems)} problem(s)", highlight=False)
    if not report.ok:
        raise typer.Exit(1)


# ---------------------------------------------------------------------------------------------------
# spotcheck publish / finding


class PublishFormat(StrEnum):
    csv = "csv"
    html = "html"
    json = "json"


@spotcheck_app.command("publish")
def spotcheck_publish(
    draw_id: DrawIdOption,
    output_format: Annotated[
        PublishFormat, typer.Option("--format", help="CSV (a row per drawn case), an HTML page, or JSON.")
    ] = PublishFormat.csv,
    output: Annotated[
        Path | None, typer.Option("--output", help="Write to this file (else stdout).", dir_okay=False)
    ] = None,
    inspectors: Annotated[
        Path | None,
        typer.Option(
            "--inspectors",
            help="JSON only: include this inspectors list (it must be the one the draw used), so the public "
            "can redo the draw.",
            dir_okay=False,
        ),
    ] = None,
    data_dir: DataDirOption = Path("data"),
    ledger_url: LedgerUrlOption = None,
) -> None:
    """The public list (公示) of a draw: drawn cases, inspectors, seed, digests and findings.

    No applicant data: the ledger holds none. JSON adds the candidate list (and the inspectors with
    --inspectors), so anyone can redo the draw.
    """
    from workers.supervision.export import (  # noqa: PLC0415
        PUBLIC_COLUMNS,
        public_document,
        public_rows,
        render_public_html,
        write_csv,
    )
    from workers.supervision.spotcheck import candidates_in, recorded_draw  # noqa: PLC0415

    _quiet_logging()
    if inspectors is not None and output_format is not PublishFormat.json:
        fail("--inspectors is for --format json (the list for redoing the draw)", 2)
    catalog = _catalog()
    pool = _pool(inspectors, catalog) if inspectors is not None else None
    with _open_ledger(_settings(data_dir, ledger_url)) as ledger:
        recorded = recorded_draw(ledger, draw_id)
        if recorded is None:
            fail(f"no draw {draw_id!r} in the ledger", 1)
        candidates, _ = candidates_in(ledger, recorded.period, up_to=recorded.parameters.ledger_head)
    if pool is not None and pool.digest != recorded.parameters.inspectors_digest:
        fail(
            f"--inspectors: {pool.source} is not the list draw {draw_id} used (digest {pool.digest}, "
            f"recorded {recorded.parameters.inspectors_digest})",
            1,
        )
    document = public_document(recorded, catalog, candidates, pool)
    try:
        if output_format is PublishFormat.csv:
            write_csv(PUBLIC_COLUMNS, public_rows(document), output if output is not None else sys.stdout)
        else:
            text = (
                render_public_html(document)
                if output_format is PublishFormat.html
                else json.dumps(document, ensure_ascii=False, indent=2) + "\n"
            )
            if output is None:
                sys.stdout.write(text)
            else:
                output.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror or exc}", 2)
    if output is not None:
        err.print(f"[green]wrote[/] {output} ({len(document['cases'])} drawn case(s))", highlight=False)


class FindingResultOption(StrEnum):
    passed = "pass"
    issue = "issue"


@spotcheck_app.command("finding")
def spotcheck_finding(
    case_number: Annotated[str, typer.Argument(help="办件编号 of a drawn case.")],
    draw_id: DrawIdOption,
    result: Annotated[
        FindingResultOption, typer.Option("--result", help="pass: no problem found; issue: a problem found.")
    ],
    note: Annotated[
        str, typer.Option("--note", help="What was checked and found (published; no personal data).")
    ],
    inspector: Annotated[str, typer.Option("--inspector", help="Your inspector id (the one assigned).")],
    data_dir: DataDirOption = Path("data"),
    ledger_url: LedgerUrlOption = None,
) -> None:
    """Record the assigned inspector's finding on a drawn case (one per case and draw)."""
    from workers.supervision.spotcheck import SpotCheckError, record_finding  # noqa: PLC0415

    _quiet_logging()
    with _open_ledger(_settings(data_dir, ledger_url)) as ledger:
        try:
            recorded = record_finding(
                ledger,
                draw_id=draw_id,
                case_number=case_number,
                result="pass" if result is FindingResultOption.passed else "issue",
                note=note,
                inspector_id=inspector,
            )
        except SpotCheckError as exc:
            _refused(exc)
    out.print(
        f"[green]recorded[/] finding {result.value} on {case_number} in {draw_id} (ledger row {recorded.id})",
        highlight=False,
    )


# ---------------------------------------------------------------------------------------------------
# evaluate


class EvaluateFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"
    xlsx = "xlsx"


def _supervision_config(path: Path | None) -> "SupervisionConfig":
    from workers.supervision.scorecard import SupervisionConfigError, load_supervision_config  # noqa: PLC0415

    try:
        return load_supervision_config(path)
    except SupervisionConfigError as exc:
        fail(f"scorecard rules have problems\n{exc}", 2)


def _measure_cell(raw: float | None, score: float | None, unit: str) -> Text:
    if raw is None or score is None:
        return Text("无数据", style="dim")
    return Text(f"{raw:.1f}{unit} → {score:.1f}")


def _scorecard_table(scorecard: "Scorecard") -> Table:
    from workers.supervision.scorecard import MEASURE_LABELS, MEASURE_UNITS, MEASURES  # noqa: PLC0415

    table = Table(title=f"用权评估（{scorecard.period.title}）", show_lines=False)
    table.add_column("镇", no_wrap=True)
    table.add_column("受理/办结", justify="right")
    for name in MEASURES:
        table.add_column(MEASURE_LABELS[name], justify="right")
    table.add_column("总分", justify="right")
    table.add_column("督导", overflow="fold")
    for town in scorecard.towns:
        counts = f"{town.accepted}/{town.closed}"
        if not town.has_cases:
            table.add_row(
                _cell(town.town_name),
                counts,
                *[Text("")] * len(MEASURES),
                Text("本期无办件", style="dim"),
                "",
            )
            continue
        cells = [_measure_cell(m.raw, m.score, MEASURE_UNITS[m.name]) for m in town.measures]
        overall = Text("无数据", style="dim") if town.overall is None else Text(f"{town.overall:.1f}")
        flag = Text("督导：" + "；".join(town.reasons), style="bold red") if town.flagged else Text("")
        table.add_row(_cell(town.town_name), counts, *cells, overall, flag)
    return table


def evaluate_command(
    period: Annotated[
        str | None,
        typer.Option(
            "--period",
            help="A year (2026), a quarter (2026Q3) or a month (2026-09); default: the current quarter.",
            show_default=False,
        ),
    ] = None,
    output_format: Annotated[
        EvaluateFormat, typer.Option("--format", help="A table, CSV, JSON, or an XLSX workbook.")
    ] = EvaluateFormat.table,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", help="Write CSV, JSON or XLSX to this file (CSV, JSON: else stdout).", dir_okay=False
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="Scorecard rules instead of config/supervision.yaml.", dir_okay=False),
    ] = None,
    data_dir: DataDirOption = Path("data"),
    ledger_url: LedgerUrlOption = None,
) -> None:
    """用权评估: a score per town for a period, with the towns to supervise (督导) flagged.

    Measures: timeliness, refusals, returns, 好差评, spot-check findings and overdue backlog, each 0-100,
    weighted by config/supervision.yaml; a measure without data is shown as 无数据 and left out.
    """
    from workers.ledger import CHINA_TZ  # noqa: PLC0415
    from workers.supervision.export import (  # noqa: PLC0415
        SCORECARD_HEADERS,
        scorecard_document,
        scorecard_rows,
        write_csv,
        write_scorecard_xlsx,
    )
    from workers.supervision.periods import Period  # noqa: PLC0415
    from workers.supervision.scorecard import evaluate  # noqa: PLC0415

    _quiet_logging()
    if output_format is EvaluateFormat.xlsx and output is None:
        fail("--format xlsx writes a workbook: give --output FILE.xlsx", 2)
    if output_format is EvaluateFormat.table and output is not None:
        fail("--output is for --format csv, json or xlsx", 2)
    now = datetime.now(UTC)
    chosen = _period(period) if period is not None else Period.quarter_of(now.astimezone(CHINA_TZ).date())
    rules = _supervision_config(config)
    catalog = _catalog()
    with _open_ledger(_settings(data_dir, ledger_url)) as ledger:
        scorecard = evaluate(ledger, catalog, rules, chosen, now=now)
    try:
        if output_format is EvaluateFormat.table:
            out.print(_scorecard_table(scorecard))
            flagged = [t.town_name for t in scorecard.towns if t.flagged]
            out.print(f"督导：{'、'.join(flagged)}" if flagged else "无督导对象", highlight=False)
        elif output_format is EvaluateFormat.csv:
            write_csv(
                SCORECARD_HEADERS, scorecard_rows(scorecard), output if output is not None else sys.stdout
            )
        elif output_format is EvaluateFormat.json:
            if output is None:
                print_json(scorecard_document(scorecard))
            else:
                output.write_text(
                    json.dumps(scorecard_document(scorecard), ensure_ascii=False, indent=2) + "\n",
                    encoding="utf-8",
                )
        elif output is not None:  # checked above: xlsx always has one
            write_scorecard_xlsx(scorecard, output)
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror or exc}", 2)
    if output is not None:
        err.print(f"[green]wrote[/] {output} ({len(scorecard.towns)} town(s))", highlight=False)
