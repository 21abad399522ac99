"""``up``, ``workers``, ``submit`` and ``demo``: running the system and putting cases through it."""

import asyncio
import contextlib
import json
import os
import signal
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from shuangshi.output import err, fail, out, print_json
from workers.application.models import validate_application
from workers.application.samples import sample_application
from workers.catalog.loader import CatalogError, load_catalog
from workers.catalog.models import Catalog
from workers.logging import configure_logging, get_logger

DataDirOption = Annotated[
    Path,
    typer.Option(
        "--data-dir",
        envvar="SHUANGSHI_DATA_DIR",
        help="Folder for all state: engine/, ledger.sqlite3, seals/, documents/, outbox/.",
        file_okay=False,
    ),
]


def _catalog() -> Catalog:
    try:
        return load_catalog()
    except CatalogError as exc:
        fail(f"catalog error\n{exc}", 2)


def _stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def serve_system(
    data_dir: Path,
    grpc_address: str,
    rest_address: str | None,
    authenticator: Any,
    ledger_url: str | None,
) -> None:
    from shuangshi.system import running_system  # noqa: PLC0415 - the engine loads only when it runs

    log = get_logger("shuangshi.up")
    stop = _stop_event()
    async with running_system(
        data_dir,
        grpc_address=grpc_address,
        rest_address=rest_address,
        authenticator=authenticator,
        ledger_url=ledger_url,
    ) as system:
        deployed = [f"{p.bpmn_process_id}@v{p.version}" for p in system.deployment.processes]
        forms = [f"{f.form_id}@v{f.version}" for f in system.deployment.forms]
        log.info(
            "system.ready",
            grpc_address=system.grpc_address,
            rest_address=system.rest_address,
            data_dir=str(data_dir),
            processes=deployed,
            forms=forms,
        )
        err.print(
            f"[green]ready[/] ZEEBE_ADDRESS={system.grpc_address}  "
            f"CAMUNDA_REST_ADDRESS=http://{system.rest_address}  data: {data_dir}",
            highlight=False,
        )
        await stop.wait()
        log.info("system.stopping")
    log.info("system.stopped")


def _stop_signals() -> tuple[asyncio.Event, asyncio.Event]:
    """``stop`` on the first SIGTERM or SIGINT; ``force`` on the second (cuts the grace period short)."""
    stop, force = asyncio.Event(), asyncio.Event()
    log = get_logger("shuangshi.workers")

    def on_signal(sig: signal.Signals) -> None:
        log.info("workers.signal", signal=sig.name, action="force" if stop.is_set() else "stop")
        (force if stop.is_set() else stop).set()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig)
    return stop, force


def workers_command(
    data_dir: DataDirOption = Path("data"),
    log_level: Annotated[str, typer.Option("--log-level", envvar="SHUANGSHI_LOG_LEVEL")] = "INFO",
) -> None:
    """Run only the job workers against ZEEBE_ADDRESS (a real Camunda 8 cluster or a separate engine).

    Serves /healthz, /readyz and /metrics on SHUANGSHI_HTTP_HOST:SHUANGSHI_HTTP_PORT (127.0.0.1:9464).
    SIGTERM or Ctrl-C: no more jobs are taken, the jobs in hand finish within
    SHUANGSHI_SHUTDOWN_GRACE_SECONDS (a second signal cuts that short). Exit codes: 0 all jobs finished,
    1 the worker failed, 2 bad settings, 3 jobs were abandoned when the grace period ran out.
    """
    from pydantic import ValidationError  # noqa: PLC0415 - pydantic-settings loads only when needed

    from workers.app import serve_workers  # noqa: PLC0415
    from workers.logging import json_for_format  # noqa: PLC0415
    from workers.settings import WorkerSettings  # noqa: PLC0415

    try:
        settings = WorkerSettings(data_dir=data_dir, log_level=log_level)
        configure_logging(settings.log_level, json=json_for_format(settings.log_format))
    except ValidationError as exc:
        problems = "\n".join(
            f"  {'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors(include_input=False, include_url=False)
        )
        fail(f"invalid settings\n{problems}", 2)
    except ValueError as exc:
        fail(str(exc), 2)

    async def main() -> int:
        stop, force = _stop_signals()
        return await serve_workers(settings, stop, force=force)

    try:
        code = asyncio.run(main())
    except (ValueError, OSError) as exc:  # settings that do not work: bad combination, port taken, ...
        fail(settings.redact(str(exc)), 2)
    except Exception as exc:  # noqa: BLE001 - no traceback with locals: they may hold a database URL
        get_logger("shuangshi.workers").error(
            "workers.start_failed", error=type(exc).__name__, detail=settings.redact(str(exc))[:500]
        )
        raise typer.Exit(1) from None
    raise typer.Exit(code)


def _application(
    catalog: Catalog, item: str, town: str, counter: str, application_file: Path | None, sample: bool
) -> dict[str, Any]:
    try:
        catalog.item(item)
    except KeyError:
        fail(f"--item: unknown item code '{item}' (see 'shuangshi catalog')", 2)
    try:
        catalog.town(town)
    except KeyError:
        fail(f"--town: unknown town code '{town}' (see 'shuangshi catalog')", 2)
    if sample == (application_file is not None):
        fail("give exactly one of --application FILE and --sample", 2)
    if application_file is None:
        return sample_application(catalog, item, town, counter)  # type: ignore[arg-type]
    try:
        data = json.loads(application_file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        fail(f"--application: cannot read {application_file}: {exc}", 2)
    if not isinstance(data, dict):
        fail(f"--application: {application_file} must hold a JSON object", 2)
    data.update(itemCode=item, townCode=town, counter=counter)
    # Missing materials are for the process (一次性告知 and 补正); anything else is refused at the counter.
    problems = [p for p in validate_application(data, catalog) if p.rule != "materials.missing"]
    if problems:
        for problem in problems:
            err.print(f"✗ {problem.path}: {problem.message}", markup=False, highlight=False)
        fail(f"{len(problems)} problem(s) in {application_file}", 1)
    return data


def submit_command(
    item: Annotated[str, typer.Option("--item", help="事项编码 (13 digits).")],
    town: Annotated[str, typer.Option("--town", help="Town code, e.g. xiji.")],
    counter: Annotated[
        str, typer.Option("--counter", help="town or district: the counter that accepts the case.")
    ],
    application: Annotated[
        Path | None,
        typer.Option("--application", help="Application JSON (camelCase fields).", dir_okay=False),
    ] = None,
    sample: Annotated[
        bool, typer.Option("--sample", help="Build a valid sample application for the item.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    zeebe_address: Annotated[
        str, typer.Option("--zeebe-address", envvar="ZEEBE_ADDRESS")
    ] = "127.0.0.1:26500",
    rest_address: Annotated[
        str, typer.Option("--rest-address", envvar="CAMUNDA_REST_ADDRESS")
    ] = "http://127.0.0.1:8080",
) -> None:
    """Start a case; prints its process instance key and 办件编号."""
    if counter not in {"town", "district"}:
        fail("--counter: expected 'town' or 'district'", 2)
    catalog = _catalog()
    data = _application(catalog, item, town, counter, application, sample)
    from pyzeebe import ZeebeClient, create_insecure_channel  # noqa: PLC0415

    from shuangshi.cases import CaseTimeoutError, case_number, start_case  # noqa: PLC0415
    from shuangshi.rest_commands import resolve_rest_url  # noqa: PLC0415

    async def main() -> dict[str, str]:
        from camunda_orchestration_sdk import CamundaAsyncClient  # noqa: PLC0415

        channel = create_insecure_channel(grpc_address=zeebe_address)
        try:
            key = await start_case(ZeebeClient(channel), catalog, data)
        finally:
            await channel.close()
        os.environ.setdefault("CAMUNDA_AUTH_STRATEGY", "NONE")
        sdk = CamundaAsyncClient(configuration={"CAMUNDA_REST_ADDRESS": resolve_rest_url(rest_address)})
        try:
            number = await case_number(sdk, key)
        finally:
            await sdk.aclose()
        return {"processInstanceKey": str(key), "caseNumber": number}

    try:
        result = asyncio.run(main())
    except CaseTimeoutError as exc:
        fail(str(exc), 1)
    except Exception as exc:  # noqa: BLE001 - connection problems end the command with their reason
        fail(f"cannot submit: {type(exc).__name__}: {exc}", 2)
    if as_json:
        print_json(result)
    else:
        out.print(f"case {result['caseNumber']} started (process instance {result['processInstanceKey']})")


def demo_command(
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir", help="Keep the demo's state here (default: a temporary folder).", file_okay=False
        ),
    ] = None,
    town: Annotated[str, typer.Option("--town", help="Town the sample cases come from.")] = "xiji",
) -> None:
    """Run the system, submit a sample case for each of the 13 items (alternating counters), do the
    clerks' steps, print the 调度通报 of the demo's ledger (as 'shuangshi report') and verify the ledger."""
    from shuangshi.report_commands import print_tables, working_calendar  # noqa: PLC0415

    configure_logging("WARNING")
    catalog = _catalog()
    if town not in {known.code for known in catalog.towns}:
        fail(f"--town: unknown town code '{town}'; known: {', '.join(t.code for t in catalog.towns)}", 2)
    calendar = working_calendar()  # a bad holiday table stops the demo before it starts the system

    async def main(folder: Path) -> None:
        from camunda_orchestration_sdk import CamundaAsyncClient  # noqa: PLC0415
        from pyzeebe import ZeebeClient, create_insecure_channel  # noqa: PLC0415

        from shuangshi.cases import approve_case, case_number, finished, start_case  # noqa: PLC0415
        from shuangshi.system import running_system  # noqa: PLC0415
        from workers.ledger import Ledger  # noqa: PLC0415
        from workers.report import build_report  # noqa: PLC0415

        async with running_system(folder, grpc_address="127.0.0.1:0", rest_address="127.0.0.1:0") as system:
            channel = create_insecure_channel(grpc_address=system.grpc_address)
            zeebe = ZeebeClient(channel)
            sdk = CamundaAsyncClient(
                configuration={
                    "CAMUNDA_REST_ADDRESS": f"http://{system.rest_address}",
                    "CAMUNDA_AUTH_STRATEGY": "NONE",
                }
            )
            rows: list[tuple[str, str, str, str, str]] = []
            try:
                with Progress(
                    TextColumn("{task.description}"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TimeElapsedColumn(),
                    console=err,
                ) as progress:
                    bar = progress.add_task("办件", total=len(catalog.items))
                    for index, item in enumerate(catalog.items):
                        counter: Literal["town", "district"] = "town" if index % 2 == 0 else "district"
                        application = sample_application(
                            catalog, item.code, town, counter, sequence=index + 1
                        )
                        key = await start_case(zeebe, catalog, application)
                        number = await case_number(sdk, key)
                        progress.update(bar, description=f"{number} {item.name[:12]}")
                        await approve_case(sdk, key, item.mode, counter)
                        state = await finished(sdk, key)
                        rows.append((number, item.name, counter, catalog.mode(item.mode).name, state))
                        progress.advance(bar)
            finally:
                await sdk.aclose()
                await channel.close()
            cases = Table("办件编号", "事项", "受理窗口", "调整方式", "状态", title="演示办件")
            for row in rows:
                cases.add_row(*row)
            out.print(cases)
            with Ledger(system.settings.resolved_ledger_url) as ledger:
                print_tables(build_report(ledger, catalog=catalog, calendar=calendar))
                verification = ledger.verify()
            if not verification.ok:
                fail("ledger verification failed:\n" + "\n".join(verification.problems), 1)
            out.print(f"[green]ledger verified[/]: {verification.checked} events, hash chain intact")

    if data_dir is not None:
        asyncio.run(main(data_dir))
        return
    with (
        tempfile.TemporaryDirectory(prefix="shuangshi-demo-") as folder,
        contextlib.suppress(KeyboardInterrupt),
    ):
        asyncio.run(main(Path(folder)))
