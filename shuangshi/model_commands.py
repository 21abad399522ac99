"""``lint`` and ``deploy``: check the diagrams and forms, and deploy them to a Zeebe gateway.

``deploy`` runs the same checks as ``lint`` first and deploys nothing while any fails; then it sends
every diagram and form in one DeployResource request, so they land together or not at all.
"""

import asyncio
import json
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.markup import escape
from rich.table import Table

from shuangshi.output import err, fail, out

# gRPC, pyzeebe and the FEEL parser load only when these commands run, not for every command.
if TYPE_CHECKING:
    import grpc
    from pyzeebe.grpc_internals.types import DeployResourceResponse

    from shuangshi.lint import LintResult

DEFAULT_ZEEBE_ADDRESS = "127.0.0.1:26500"


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


PathsArgument = Annotated[
    list[Path] | None,
    typer.Argument(
        help="Diagrams (.bpmn), forms (.form) or folders holding them (default: bpmn/ and forms/).",
        show_default=False,
    ),
]
FormatOption = Annotated[
    OutputFormat, typer.Option("--format", help="'json' prints one JSON document for machines.")
]


def _lint_or_exit(paths: list[Path] | None, output: OutputFormat) -> "LintResult":
    from shuangshi.lint import LintError, lint_models  # noqa: PLC0415 - see TYPE_CHECKING above

    try:
        return lint_models(paths or None)
    except LintError as exc:
        if output is OutputFormat.json:
            typer.echo(json.dumps({"ok": False, "error": str(exc)}, ensure_ascii=False))
        fail(f"cannot lint: {exc}", 2)


def _print_problems(result: "LintResult") -> None:
    for problem in result.problems:
        typer.echo(problem.line())


def _summary(result: "LintResult") -> str:
    checked = f"{len(result.diagrams)} diagram(s), {len(result.forms)} form(s)"
    if not result.problems:
        return f"✓ no problems in {checked}"
    files = len({problem.file for problem in result.problems})
    verdict = "✗" if result.failed else "✓"
    return f"{verdict} {len(result.problems)} problem(s) in {files} file(s); checked {checked}"


def lint_command(paths: PathsArgument = None, output: FormatOption = OutputFormat.text) -> None:
    """Check diagrams and forms: bpmnlint with Camunda 8.8 compatibility, the form schema, FEEL
    syntax and job types. Exit 1 when anything is wrong, 2 when the checks cannot run."""
    result = _lint_or_exit(paths, output)
    if output is OutputFormat.json:
        typer.echo(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
    else:
        _print_problems(result)
        typer.echo(_summary(result))
    if result.failed:
        raise typer.Exit(1)


# --- deploy ----------------------------------------------------------------------------------------


class DeployError(Exception):
    """The deployment did not happen; ``exit_code`` 1 when the gateway refused it, 2 when unreachable."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class DeployedResource:
    kind: Literal["process", "form"]
    id: str
    version: int
    key: int
    resource_name: str

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "id": self.id,
            "version": self.version,
            "key": self.key,
            "file": self.resource_name,
        }


def gateway_channel(address: str) -> "grpc.aio.Channel":
    """The gRPC channel to the Zeebe gateway at ``address``, secured as the workers' settings say
    (plaintext by default; TLS or OAuth client credentials from ``CAMUNDA_*``/``ZEEBE_*`` variables)."""
    from workers.connection import create_channel  # noqa: PLC0415 - see TYPE_CHECKING above
    from workers.settings import WorkerSettings  # noqa: PLC0415

    return create_channel(WorkerSettings(zeebe_address=address))


def _deployed(response: "DeployResourceResponse") -> list[DeployedResource]:
    from pyzeebe.grpc_internals.types import DeployResourceResponse  # noqa: PLC0415

    resources: list[DeployedResource] = []
    for item in response.deployments:
        if isinstance(item, DeployResourceResponse.ProcessMetadata):
            resources.append(
                DeployedResource(
                    "process",
                    item.bpmn_process_id,
                    item.version,
                    item.process_definition_key,
                    item.resource_name,
                )
            )
        elif isinstance(item, DeployResourceResponse.FormMetadata):
            resources.append(
                DeployedResource("form", item.form_id, item.version, item.form_key, item.resource_name)
            )
    return resources


def _grpc_detail(exc: BaseException) -> str:
    import grpc  # noqa: PLC0415 - see TYPE_CHECKING above

    cause = exc.__cause__ if exc.__cause__ is not None else exc
    if isinstance(cause, grpc.aio.AioRpcError):
        return f"{cause.code().name}: {cause.details()}"
    grpc_error = getattr(exc, "grpc_error", None)
    if isinstance(grpc_error, grpc.aio.AioRpcError):
        return f"{grpc_error.code().name}: {grpc_error.details()}"
    return str(exc) or type(exc).__name__


async def deploy_files(
    files: list[Path], address: str, *, timeout_s: float = 10.0
) -> tuple[int, list[DeployedResource]]:
    """Deploy ``files`` in one DeployResource request; returns the deployment key and what it holds."""
    import grpc  # noqa: PLC0415 - see TYPE_CHECKING above
    from pyzeebe import ZeebeClient  # noqa: PLC0415
    from pyzeebe.errors import ProcessInvalidError, PyZeebeError  # noqa: PLC0415

    channel = gateway_channel(address)
    try:
        client = ZeebeClient(channel, max_connection_retries=1)
        try:
            response = await asyncio.wait_for(client.deploy_resource(*files), timeout_s)
        except ProcessInvalidError as exc:
            raise DeployError(
                f"the gateway at {address} refused the deployment: {_grpc_detail(exc)}", 1
            ) from exc
        except TimeoutError as exc:
            raise DeployError(
                f"no answer from the Zeebe gateway at {address} within {timeout_s:g} s "
                "(check --address / ZEEBE_ADDRESS and that the gateway is running)",
                2,
            ) from exc
        except PyZeebeError as exc:
            raise DeployError(
                f"cannot deploy to the Zeebe gateway at {address}: {_grpc_detail(exc)}", 2
            ) from exc
        except grpc.aio.AioRpcError as exc:
            raise DeployError(
                f"cannot deploy to the Zeebe gateway at {address}: {_grpc_detail(exc)}", 2
            ) from exc
    finally:
        await channel.close()
    return response.key, _deployed(response)


def _deployed_table(resources: list[DeployedResource]) -> Table:
    table = Table("kind", "id", "version", "key", "file", title="deployed")
    for resource in resources:
        table.add_row(
            resource.kind,
            escape(resource.id),
            str(resource.version),
            str(resource.key),
            escape(resource.resource_name),
        )
    return table


def deploy_command(
    paths: PathsArgument = None,
    address: Annotated[
        str,
        typer.Option("--address", envvar="ZEEBE_ADDRESS", help="The Zeebe gateway (HOST:PORT) to deploy to."),
    ] = DEFAULT_ZEEBE_ADDRESS,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.1, help="Seconds to wait for the gateway's answer.")
    ] = 10.0,
    output: FormatOption = OutputFormat.text,
) -> None:
    """Lint, then deploy every diagram and form in one request; nothing is deployed if a check fails."""
    result = _lint_or_exit(paths, output)
    if result.failed:
        if output is OutputFormat.json:
            typer.echo(json.dumps({**result.to_json(), "deployed": None}, ensure_ascii=False, indent=2))
        else:
            _print_problems(result)
            typer.echo(_summary(result))
        fail(f"nothing deployed to {address}: fix the problem(s) above first", 1)
    try:
        key, resources = asyncio.run(deploy_files(list(result.files), address, timeout_s=timeout))
    except DeployError as exc:
        if output is OutputFormat.json:
            typer.echo(json.dumps({"ok": False, "error": str(exc)}, ensure_ascii=False))
        fail(str(exc), exc.exit_code)
    if output is OutputFormat.json:
        document: dict[str, Any] = {
            "ok": True,
            "address": address,
            "deploymentKey": key,
            "deployed": [resource.to_json() for resource in resources],
        }
        typer.echo(json.dumps(document, ensure_ascii=False, indent=2))
        return
    out.print(_deployed_table(resources))
    processes = sum(1 for r in resources if r.kind == "process")
    err.print(
        f"[green]deployed[/] {processes} process(es) and {len(resources) - processes} form(s) "
        f"from {len(result.files)} file(s) to {escape(address)} in deployment {key}",
        highlight=False,
    )
