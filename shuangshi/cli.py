"""The ``shuangshi`` command line: the composition root of the engine and the workers.

``catalog``, ``validate-application``, ``engine``, ``up`` and ``hash-password`` live here; ``tasks``,
``incidents`` and ``instances`` (the REST v2 API through the official Camunda SDK) in
:mod:`shuangshi.rest_commands`; ``lint`` and ``deploy`` in :mod:`shuangshi.model_commands`.
"""

import asyncio
import ipaddress
import json
import logging
import signal
import socket
import sys
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from engine.clock import ControlledClock, SystemClock
from engine.rest.auth import BasicAuthenticator, UsersFileError, hash_password
from shuangshi.audit_commands import audit_app
from shuangshi.case_commands import case_app, ledger_app, seal_app
from shuangshi.model_commands import deploy_command, lint_command
from shuangshi.output import err, fail, out, print_json
from shuangshi.rating_commands import portal_command, rate_command
from shuangshi.report_commands import report_command
from shuangshi.rest_commands import incidents_app, instances_app, tasks_app
from shuangshi.seal_commands import seal_keygen_command
from shuangshi.supervision_commands import evaluate_command, spotcheck_app
from shuangshi.system_commands import demo_command, serve_system, submit_command, workers_command
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
app.add_typer(tasks_app, name="tasks")
app.add_typer(incidents_app, name="incidents")
app.add_typer(instances_app, name="instances")
app.add_typer(case_app, name="case")
app.add_typer(seal_app, name="seal")
seal_app.command("keygen")(seal_keygen_command)
app.add_typer(ledger_app, name="ledger")
ledger_app.command("report", help="The same as 'shuangshi report' (its earlier name).")(report_command)
app.add_typer(audit_app, name="audit")
app.add_typer(spotcheck_app, name="spotcheck")

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
        print_json(data.to_public_dict())
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


class AuthMode(StrEnum):
    none = "none"
    basic = "basic"


DEFAULT_DATA_DIR = Path("data")


@dataclass(frozen=True)
class EngineSettings:
    """What ``engine`` and ``up`` start, checked: addresses parse, the users file loads."""

    data_dir: Path
    grpc_address: str
    rest_address: str | None
    clock: ClockMode
    auth: AuthMode
    authenticator: BasicAuthenticator | None


def _check_address(option: str, address: str) -> tuple[str, int]:
    from engine.server import split_address  # noqa: PLC0415 - gRPC, FastAPI: load them only to serve

    try:
        return split_address(address)
    except ValueError as exc:
        fail(f"{option}: {exc}", 2)


def _check_can_listen(option: str, address: str) -> None:
    """Fail early, with exit code 2, when the REST port is taken (the HTTP server would only log it)."""
    host, port = _check_address(option, address)
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.create_server((host, port), family=family):  # SO_REUSEADDR, as the server binds
            pass
    except OSError as exc:
        fail(f"{option} {address}: cannot listen there: {exc.strerror or exc}", 2)


def _engine_settings(
    *,
    data_dir: Path,
    grpc_address: str,
    rest_address: str,
    no_rest: bool,
    clock: ClockMode,
    auth: AuthMode,
    users_file: Path | None,
) -> EngineSettings:
    _check_address("--grpc-address", grpc_address)
    authenticator: BasicAuthenticator | None = None
    if auth is AuthMode.basic:
        if no_rest:
            fail("--auth basic protects the REST API; it cannot go with --no-rest", 2)
        if users_file is None:
            fail(
                "--auth basic needs --users-file FILE: a YAML or JSON file of users with their groups and "
                "password hashes (make a hash with 'shuangshi hash-password')",
                2,
            )
        try:
            authenticator = BasicAuthenticator.from_file(users_file)
        except UsersFileError as exc:
            fail(f"--users-file: {exc}", 2)
        if not authenticator.users:
            fail(f"--users-file: {users_file}: the 'users' list is empty, so nobody could sign in", 2)
    elif users_file is not None:
        fail("--users-file is only used with --auth basic", 2)
    if not no_rest:
        _check_can_listen("--rest-address", rest_address)
    return EngineSettings(
        data_dir, grpc_address, None if no_rest else rest_address, clock, auth, authenticator
    )


def _configure_engine_logging(level: str) -> None:
    try:
        configure_logging(level)
    except ValueError as exc:
        fail(f"--log-level: {exc}", 2)
    # The HTTP server announces itself at INFO ("Uvicorn running on …"); engine.ready says it all.
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        logging.getLogger("uvicorn.error").setLevel(logging.WARNING)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


async def _run_engine(settings: EngineSettings) -> None:
    from engine.server import split_address, start_engine  # noqa: PLC0415 - see _check_address

    clock = ControlledClock() if settings.clock is ClockMode.controlled else SystemClock()
    server = await start_engine(
        settings.data_dir,
        settings.grpc_address,
        clock,
        rest_address=settings.rest_address,
        authenticator=settings.authenticator,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log = get_logger("shuangshi.engine")
    log.info(
        "engine.ready",
        grpc_address=server.grpc_address,
        rest_address=server.rest_address,
        auth=settings.auth.value,
        data_dir=str(settings.data_dir),
        clock=settings.clock.value,
    )
    if server.rest_address is not None and settings.authenticator is None:
        host, _ = split_address(server.rest_address)
        if not _is_loopback(host):
            log.warning(
                "engine.rest_unauthenticated",
                rest_address=server.rest_address,
                hint="anyone who reaches this address can act on every task; use --auth basic",
            )
    await stop.wait()
    log.info("engine.stopping")
    await server.stop()
    log.info("engine.stopped")


def _serve(settings: EngineSettings) -> None:
    try:
        asyncio.run(_run_engine(settings))
    except ValueError as exc:
        fail(str(exc), 2)


GrpcAddressOption = Annotated[
    str, typer.Option("--grpc-address", help="Where the Zeebe gateway gRPC API listens (HOST:PORT).")
]
RestAddressOption = Annotated[
    str,
    typer.Option(
        "--rest-address",
        help="Where the REST v2 API (Camunda SDK, forms) listens (HOST:PORT; port 0 picks a free one).",
    ),
]
NoRestOption = Annotated[bool, typer.Option("--no-rest", help="Serve gRPC only, no REST API.")]
AuthOption = Annotated[
    AuthMode,
    typer.Option("--auth", help="REST authentication: 'basic' checks users from --users-file."),
]
UsersFileOption = Annotated[
    Path | None,
    typer.Option(
        "--users-file",
        help="Users for --auth basic (YAML or JSON: username, passwordHash, groups).",
        dir_okay=False,
    ),
]
DataDirOption = Annotated[
    Path, typer.Option("--data-dir", help="Folder for the engine's SQLite state.", file_okay=False)
]
SystemDataDirOption = Annotated[
    Path,
    typer.Option(
        "--data-dir",
        envvar="SHUANGSHI_DATA_DIR",
        help="Folder for all state: engine/, ledger.sqlite3, seals/, documents/, outbox/.",
        file_okay=False,
    ),
]


@app.command()
def engine(
    grpc_address: GrpcAddressOption = "127.0.0.1:26500",
    rest_address: RestAddressOption = "127.0.0.1:8080",
    no_rest: NoRestOption = False,
    auth: AuthOption = AuthMode.none,
    users_file: UsersFileOption = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR / "engine",
    clock: Annotated[
        ClockMode, typer.Option("--clock", help="'controlled': the clock moves only through the clock API.")
    ] = ClockMode.system,
    log_level: Annotated[str, typer.Option("--log-level")] = "INFO",
) -> None:
    """Run the embedded Zeebe-compatible engine (gRPC and REST) in the foreground until SIGTERM or Ctrl-C."""
    settings = _engine_settings(
        data_dir=data_dir,
        grpc_address=grpc_address,
        rest_address=rest_address,
        no_rest=no_rest,
        clock=clock,
        auth=auth,
        users_file=users_file,
    )
    _configure_engine_logging(log_level)
    _serve(settings)


@app.command()
def up(
    grpc_address: GrpcAddressOption = "127.0.0.1:26500",
    rest_address: RestAddressOption = "127.0.0.1:8080",
    no_rest: NoRestOption = False,
    auth: AuthOption = AuthMode.none,
    users_file: UsersFileOption = None,
    data_dir: SystemDataDirOption = DEFAULT_DATA_DIR,
    ledger_url: Annotated[
        str | None,
        typer.Option(
            "--ledger-url", envvar="SHUANGSHI_LEDGER_URL", help="Ledger database (default: SQLite in DIR)."
        ),
    ] = None,
    catalog_path: CatalogOption = None,
) -> None:
    """Run the whole system: engine (gRPC + REST), bpmn/ and forms/ deployed, workers; until Ctrl-C."""
    data = _load(catalog_path)
    settings = _engine_settings(
        data_dir=data_dir,
        grpc_address=grpc_address,
        rest_address=rest_address,
        no_rest=no_rest,
        clock=ClockMode.system,
        auth=auth,
        users_file=users_file,
    )
    _configure_engine_logging("INFO")
    counts = {
        mode.name: len(items) for mode, items in ((data.mode(m), i) for m, i in data.items_by_mode().items())
    }
    summary = "、".join(f"{name} {count} 项" for name, count in counts.items())
    err.print(
        f"[green]catalog[/] {len(data.items)} items ({summary}), {len(data.towns)} towns", highlight=False
    )
    try:
        asyncio.run(
            serve_system(data_dir, grpc_address, settings.rest_address, settings.authenticator, ledger_url)
        )
    except (ValueError, FileNotFoundError) as exc:
        fail(str(exc), 2)


app.command("workers")(workers_command)
app.command("submit")(submit_command)
app.command("demo")(demo_command)
app.command("report")(report_command)
app.command("lint")(lint_command)
app.command("deploy")(deploy_command)
app.command("evaluate")(evaluate_command)
app.command("rate")(rate_command)
app.command("portal")(portal_command)


@app.command("hash-password")
def hash_password_command(
    from_stdin: Annotated[
        bool, typer.Option("--stdin", help="Read the password from the first line of standard input.")
    ] = False,
) -> None:
    """Print a pbkdf2_sha256 hash of a password, for the passwordHash of a user in --users-file."""
    if from_stdin:
        password = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    if not password:
        fail("the password is empty", 2)
    typer.echo(hash_password(password))
