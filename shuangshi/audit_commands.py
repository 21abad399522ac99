"""``shuangshi audit only-decrease``: 只减不增 of the diagrams, the catalog and the application check.

By default it reads the diagrams ``shuangshi deploy`` deploys (``bpmn/`` of the resources root, or
``--bpmn DIR``); with ``--gateway URL`` the latest deployed version of each mode's process, and of the
processes it calls, through the Camunda REST API. Exit codes: 0 nothing increases, 1 something
increases or cannot be verified, 2 the audit cannot run (a missing folder or process, an unreachable
gateway, a catalog that does not load).
"""

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.markup import escape
from rich.table import Table

from shuangshi.lint import default_paths
from shuangshi.only_decrease import (
    AuditError,
    AuditReport,
    Status,
    audit,
    display_path,
    load_catalog_for_audit,
    processes_from_folder,
    processes_from_gateway,
)
from shuangshi.output import err, fail, out
from workers.catalog.loader import CatalogError

audit_app = typer.Typer(help="Audits of the processes against the notice's rules.", no_args_is_help=True)


class AuditFormat(StrEnum):
    table = "table"
    json = "json"


_STATUS_STYLE = {
    Status.decreased: "green",
    Status.unchanged: "",
    Status.increased: "bold red",
    Status.unverifiable: "bold red",
}


def _cannot_run(message: str, output: AuditFormat) -> NoReturn:
    if output is AuditFormat.json:
        typer.echo(json.dumps({"ok": False, "error": message}, ensure_ascii=False))
    fail(f"cannot audit: {message}", 2)


def _table(report: AuditReport) -> Table:
    table = Table(title=f"只减不增核查（镇窗口受理的办件）：{escape(report.source)}", show_lines=False)
    for header in ("序号", "事项编码", "事项名称", "调整方式", "指标", "原标准", "下放后", "结论", "说明"):
        table.add_column(header, overflow="fold", no_wrap=header in {"序号", "事项编码", "结论"})
    for item in report.items:
        for index, finding in enumerate(item.findings):
            first = index == 0
            style = _STATUS_STYLE[finding.status]
            status = f"[{style}]{finding.status.label}[/]" if style else finding.status.label
            table.add_row(
                str(item.seq) if first else "",
                item.code if first else "",
                escape(item.name) if first else "",
                escape(item.mode_name) if first else "",
                finding.measure.label,
                str(finding.baseline),
                "—" if finding.delegated is None else str(finding.delegated),
                status,
                escape(finding.detail),
                end_section=index == len(item.findings) - 1,
            )
    return table


def _failure_lines(report: AuditReport) -> list[str]:
    lines = []
    for item in report.items:
        for finding in item.failures:
            delegated = "—" if finding.delegated is None else str(finding.delegated)
            process = f"（{item.process_id}）" if item.process_id else ""
            lines.append(
                f"✗ {item.code} {item.name}｜{item.mode_name}{process}｜{finding.measure.label}："
                f"原标准 {finding.baseline}，下放后 {delegated} — {finding.status.label}；{finding.detail}"
            )
    return lines


@audit_app.command("only-decrease")
def only_decrease_command(
    bpmn: Annotated[
        Path | None,
        typer.Option(
            "--bpmn",
            help="Folder of the diagrams to audit (default: bpmn/, what `shuangshi deploy` deploys).",
            file_okay=False,
            show_default=False,
        ),
    ] = None,
    gateway: Annotated[
        str | None,
        typer.Option(
            "--gateway",
            help="Audit the latest deployed versions instead, through the Camunda REST API at this URL "
            "(HOST:PORT means http://HOST:PORT). Credentials come from the SDK's variables.",
            show_default=False,
        ),
    ] = None,
    catalog_path: Annotated[
        Path | None,
        typer.Option("--catalog", help="Catalog YAML to use instead of config/catalog.yaml.", dir_okay=False),
    ] = None,
    output: Annotated[
        AuditFormat, typer.Option("--format", help="'json' prints one JSON document for machines.")
    ] = AuditFormat.table,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.1, help="Seconds to wait for each request to --gateway.")
    ] = 10.0,
) -> None:
    """只减不增: per item, the human steps of the town path, the time limits and the materials against the
    district baseline. Exit 1 when anything increases or cannot be verified, 2 when the audit cannot run."""
    if bpmn is not None and gateway is not None:
        _cannot_run("give either --bpmn (diagram files) or --gateway (deployed versions), not both", output)
    try:
        catalog, catalog_problems = load_catalog_for_audit(catalog_path)
    except CatalogError as exc:
        _cannot_run(f"the catalog does not load:\n{exc}", output)
    try:
        if gateway is not None:
            url = gateway.strip() if "://" in gateway else f"http://{gateway.strip()}"
            used = {item.mode for item in catalog.items}
            process_ids = sorted({mode.bpmn_process_id for mode in catalog.modes if mode.code in used})
            processes = processes_from_gateway(url, process_ids, timeout)
            source = f"{url} 已部署的最新版本"
        else:
            folder = bpmn if bpmn is not None else default_paths()[0]
            processes = processes_from_folder(folder)
            source = f"{display_path(folder)}/"
        report = audit(catalog, processes, source=source, catalog_problems=catalog_problems)
    except AuditError as exc:
        _cannot_run(str(exc), output)

    if output is AuditFormat.json:
        typer.echo(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
    else:
        out.print(_table(report))
        for process_id, origin in report.origins.items():
            out.print(f"流程图 {escape(process_id)}: {escape(origin)}", highlight=False)
        for line in _failure_lines(report):
            out.print(f"[red]{escape(line)}[/]", highlight=False)
        checked = (
            f"{len(report.items)} 项事项 × {len(report.items[0].findings) if report.items else 0} 项指标"
        )
        failures = sum(len(item.failures) for item in report.items)
        verdict = f"✗ {failures} 处增加或无法核验" if failures else "✓ 无增加（只减不增）"
        out.print(f"{verdict}；核查 {checked}", highlight=False)
    for problem in report.catalog_problems:
        err.print(f"[red]catalog: {escape(problem)}[/]", highlight=False)
    if report.failed:
        raise typer.Exit(1)
    if report.catalog_problems:
        fail("the catalog does not load (see above); the system would refuse to start with it", 2)
