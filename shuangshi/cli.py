"""The ``shuangshi`` command line: the composition root of the engine and the workers."""

import asyncio
import json
import signal
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from engine.clock import ControlledClock, SystemClock
from engine.server import start_engine
from workers.application.models import validate_application
from workers.catalog.loader import CatalogError, load_catalog
from workers.catalog.models import Catalog
from workers.logging import configure_logging, get_logger

app = typer.Typer(
    name="shuangshi",
    help="双十镇精准定向赋权: delegated administrative items as BPMN processes.",
    no_args_is_help=True,
    add_completion=False,
)

# Off a terminal (pipes, CI logs) rich would wrap at 80 columns; keep lines whole there.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, soft_wrap=True, width=None if sys.stderr.isatty() else 200)

CatalogOption = Annotated[
    Path | None,
    typer.Option("--catalog", help="Catalog YAML to use instead of config/catalog.yaml.", dir_okay=False),
]


def _load(path: Path | None) -> Catalog:
    try:
        return load_catalog(path)
    except CatalogError as exc:
        err.print(f"[bold red]catalog error[/]\n{escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from exc


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))


def _catalog_table(catalog: Catalog) -> Table:
    table = Table(title="山亭区“双十镇”精准定向赋权事项清单", show_lines=False)
    for header in (
        "序号",
        "事项编码",
        "事项名称",
        "区级实施部门",
        "事项类型",
        "调整方式",
        "下放范围",
        "时限(工作日)",
    ):
        table.add_column(header, overflow="fold", no_wrap=header in {"序号", "事项编码"})
    for item in catalog.items:
        mode = catalog.mode(item.mode)
        department = catalog.department(item.department_code)
        limit = f"{item.time_limit_days} (原 {item.baseline.time_limit_days})"
        table.add_row(
            str(item.seq),
            item.code,
            item.name,
            department.name,
            item.type,
            mode.name,
            "、".join(item.scope) or "全部",
            limit,
        )
    return table


@app.command()
def catalog(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    catalog_path: CatalogOption = None,
) -> None:
    """Show the 13 delegated items, the 9 towns, the departments and the delegation modes."""
    data = _load(catalog_path)
    if as_json:
        _print_json(data.to_public_dict())
        return
    out.print(_catalog_table(data))
    towns = "、".join(f"{t.name}({t.code})" for t in data.towns)
    out.print(f"承接镇: {towns}")


@app.command("validate-application")
def validate_application_command(
    file: Annotated[Path, typer.Argument(help="Application JSON (camelCase fields).", dir_okay=False)],
    catalog_path: CatalogOption = None,
) -> None:
    """Check an application against the catalog and the field rules; exit 1 if anything is wrong."""
    data = _load(catalog_path)
    try:
        payload = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        err.print(f"[bold red]cannot read {escape(str(file))}[/]: {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from exc
    if not isinstance(payload, dict):
        err.print(f"[bold red]{file}[/]: the application must be a JSON object", highlight=False)
        raise typer.Exit(2)
    problems = validate_application(payload, data)
    if not problems:
        out.print(f"[green]OK[/] {file}: no problems")
        return
    for problem in problems:
        out.print(f"[red]✗[/] {escape(problem.path)}: {escape(problem.message)}", highlight=False)
    out.print(f"{len(problems)} problem(s) in {file}")
    raise typer.Exit(1)


class ClockMode(StrEnum):
    system = "system"
    controlled = "controlled"


DEFAULT_DATA_DIR = Path("data")


async def _run_engine(data_dir: Path, grpc_address: str, clock_mode: ClockMode) -> None:
    clock = ControlledClock() if clock_mode is ClockMode.controlled else SystemClock()
    server = await start_engine(data_dir, grpc_address, clock)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log = get_logger("shuangshi.engine")
    log.info(
        "engine.ready",
        grpc_address=server.grpc_address,
        data_dir=str(data_dir),
        clock=clock_mode.value,
    )
    await stop.wait()
    log.info("engine.stopping")
    await server.stop()
    log.info("engine.stopped")


@app.command()
def engine(
    grpc_address: Annotated[
        str, typer.Option("--grpc-address", help="Where the Zeebe gateway gRPC API listens (HOST:PORT).")
    ] = "127.0.0.1:26500",
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="Folder for the engine's SQLite state.", file_okay=False)
    ] = DEFAULT_DATA_DIR / "engine",
    clock: Annotated[
        ClockMode, typer.Option("--clock", help="'controlled': the clock moves only through the clock API.")
    ] = ClockMode.system,
    log_level: Annotated[str, typer.Option("--log-level")] = "INFO",
) -> None:
    """Run the embedded Zeebe-compatible engine in the foreground until SIGTERM or Ctrl-C."""
    configure_logging(log_level)
    try:
        asyncio.run(_run_engine(data_dir, grpc_address, clock))
    except ValueError as exc:
        err.print(f"[bold red]{escape(str(exc))}[/]", highlight=False)
        raise typer.Exit(2) from exc


@app.command()
def up(
    grpc_address: Annotated[
        str, typer.Option("--grpc-address", help="Where the Zeebe gateway gRPC API listens (HOST:PORT).")
    ] = "127.0.0.1:26500",
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="Folder for the engine's SQLite state.", file_okay=False)
    ] = DEFAULT_DATA_DIR / "engine",
    catalog_path: CatalogOption = None,
) -> None:
    """Run the system on the embedded engine: check the catalog, then serve the engine until Ctrl-C."""
    configure_logging("INFO")
    data = _load(catalog_path)
    counts = {
        mode.name: len(items) for mode, items in ((data.mode(m), i) for m, i in data.items_by_mode().items())
    }
    summary = "、".join(f"{name} {count} 项" for name, count in counts.items())
    err.print(
        f"[green]catalog[/] {len(data.items)} items ({summary}), {len(data.towns)} towns", highlight=False
    )
    err.print(
        "[yellow]Job workers and the REST API are not part of this build yet: "
        "the engine runs alone (connect pyzeebe clients to it).[/]",
        highlight=False,
    )
    try:
        asyncio.run(_run_engine(data_dir, grpc_address, ClockMode.system))
    except ValueError as exc:
        err.print(f"[bold red]{escape(str(exc))}[/]", highlight=False)
        raise typer.Exit(2) from exc
