"""``shuangshi tasks``, ``incidents`` and ``instances``: the REST v2 API for people at a terminal.

Every call goes through the official Camunda SDK (:mod:`shuangshi.rest_client`), configured from the
environment it reads, so the same commands serve the embedded engine and a Camunda 8 cluster. The REST
address is ``--rest-address``, else ``CAMUNDA_REST_ADDRESS`` (or ``ZEEBE_REST_ADDRESS``), else
``http://127.0.0.1:8080``; a bare ``HOST:PORT`` means ``http://HOST:PORT``.

Output: rich tables by default, ``--json`` for machines; keys always as strings. Neither shows variable
values (they may hold personal data): user tasks are reduced to their metadata, and ID and phone
numbers in incident messages are masked (table and JSON).
Exit codes: 0 done, 1 the API refused (its problem detail is printed), 2 bad input or no connection.
"""

import json
import os
import re
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from shuangshi.output import err, fail, out, print_json
from workers.logging import mask_text

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from camunda_orchestration_sdk import CamundaAsyncClient

    from shuangshi.rest_client import Found

T = TypeVar("T")

DEFAULT_REST_ADDRESS = "http://127.0.0.1:8080"
REST_ADDRESS_VARIABLES = ("CAMUNDA_REST_ADDRESS", "ZEEBE_REST_ADDRESS")
_KEY_RE = re.compile(r"-?[0-9]{1,25}")

tasks_app = typer.Typer(
    help="User tasks: list the work waiting for people, complete it.", no_args_is_help=True
)
incidents_app = typer.Typer(help="Incidents: list what is stuck, resolve it.", no_args_is_help=True)
instances_app = typer.Typer(help="Process instances: list them by process and state.", no_args_is_help=True)


class UserTaskState(StrEnum):
    CREATED = "CREATED"
    ASSIGNING = "ASSIGNING"
    UPDATING = "UPDATING"
    COMPLETING = "COMPLETING"
    COMPLETED = "COMPLETED"
    CANCELING = "CANCELING"
    CANCELED = "CANCELED"
    FAILED = "FAILED"


class IncidentState(StrEnum):
    ACTIVE = "ACTIVE"
    PENDING = "PENDING"
    RESOLVED = "RESOLVED"
    MIGRATED = "MIGRATED"


class ProcessInstanceState(StrEnum):
    ACTIVE = "ACTIVE"
    COMPLETED = "COMPLETED"
    TERMINATED = "TERMINATED"
    SUSPENDED = "SUSPENDED"


# ---------------------------------------------------------------------------------------------------
# Inputs


class VariablesError(ValueError):
    """A ``--var`` or ``--json-vars`` input cannot be used; the message says which and why."""


def parse_var(text: str) -> tuple[str, Any]:
    """``NAME=VALUE`` → (name, value): the value as JSON when it parses as JSON, else the text itself.

    ``approved=true`` gives True, ``count=3`` gives 3, ``note="x"`` gives "x", ``note=x`` gives "x",
    ``items=[1,2]`` a list. ``NaN`` and ``Infinity`` stay text (they are not JSON).
    """
    name, sep, raw = text.partition("=")
    name = name.strip()
    if not sep or not name:
        raise VariablesError(f"--var {text!r}: expected NAME=VALUE (e.g. approved=true)")
    try:
        value = json.loads(raw, parse_constant=_refuse_constant)
    except ValueError:
        value = raw
    return name, value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def load_json_vars(path: Path) -> dict[str, Any]:
    """The variables in a JSON file, which must hold one JSON object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"), parse_constant=_refuse_constant)
    except OSError as exc:
        raise VariablesError(f"--json-vars {path}: cannot read the file: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise VariablesError(f"--json-vars {path}: not UTF-8 text") from exc
    except ValueError as exc:
        raise VariablesError(f"--json-vars {path}: not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise VariablesError(
            f"--json-vars {path}: expected a JSON object of variables, got a JSON {_json_type(data)}"
        )
    return data


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return "number"


def completion_variables(var: list[str], json_vars: Path | None) -> dict[str, Any]:
    """``--json-vars`` first, then every ``--var`` on top (a ``--var`` wins over the file)."""
    variables = load_json_vars(json_vars) if json_vars is not None else {}
    for text in var:
        name, value = parse_var(text)
        variables[name] = value
    return variables


def resolve_rest_url(option: str | None, environ: Mapping[str, str] | None = None) -> str:
    """The REST base URL: the option, else the SDK's environment variables, else the local default."""
    env = os.environ if environ is None else environ
    address = option or next((env[name] for name in REST_ADDRESS_VARIABLES if env.get(name)), None)
    address = (address or DEFAULT_REST_ADDRESS).strip()
    return address if "://" in address else f"http://{address}"


def _check_key(value: str | None) -> str | None:
    if value is not None and not _KEY_RE.fullmatch(value):
        raise typer.BadParameter(f"{value!r} is not a key (keys are numbers, e.g. 2251799813685249)")
    return value


# ---------------------------------------------------------------------------------------------------
# Options shared by the commands

RestAddressOption = Annotated[
    str | None,
    typer.Option(
        "--rest-address",
        help="REST API base URL (HOST:PORT means http://HOST:PORT). "
        f"Default: $CAMUNDA_REST_ADDRESS, else {DEFAULT_REST_ADDRESS}. "
        "Credentials come from the SDK's variables (CAMUNDA_AUTH_STRATEGY, CAMUNDA_BASIC_AUTH_*, OAuth).",
        show_default=False,
    ),
]
TimeoutOption = Annotated[float, typer.Option("--timeout", min=0.1, help="Seconds to wait for each request.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output (a JSON array).")]
LimitOption = Annotated[
    int, typer.Option("--limit", min=1, help="At most this many results; pages through them with cursors.")
]
PageSizeOption = Annotated[int, typer.Option("--page-size", min=1, max=1000, help="Results per request.")]
ProcessInstanceOption = Annotated[
    str | None,
    typer.Option(
        "--process-instance", help="Only those of this process instance (key).", callback=_check_key
    ),
]


def _call(
    rest_address: str | None, timeout: float, action: "Callable[[CamundaAsyncClient], Awaitable[T]]"
) -> T:
    from shuangshi.rest_client import Connection, RestCommandError, run  # noqa: PLC0415 - the SDK loads slowly

    try:
        return run(Connection(resolve_rest_url(rest_address), timeout), action)
    except RestCommandError as exc:
        fail(exc.message, exc.exit_code)


# ---------------------------------------------------------------------------------------------------
# Output


def _when(value: Any) -> str:
    """An API timestamp in local time to the second; empty when absent."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone()
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _summary(found: "Found", noun: str) -> str:
    shown = len(found.items)
    text = f"{shown} {noun}{'' if shown == 1 else 's'}"
    if found.total > shown or found.total_is_lower_bound:
        bound = "at least " if found.total_is_lower_bound else ""
        text += f" of {bound}{found.total}; raise --limit to see more"
    return text


def _show(found: "Found", noun: str, table: Table) -> None:
    if not found.items:
        out.print(f"no {noun}s match", highlight=False)
        return
    out.print(table)
    err.print(_summary(found, noun), highlight=False)


def _table(*columns: str) -> Table:
    table = Table(show_lines=False)
    for column in columns:
        table.add_column(column, overflow="fold", no_wrap=column == "key")
    return table


def _add_row(table: Table, *cells: str) -> None:
    """Cells are server data: shown as plain text, never read as rich markup."""
    table.add_row(*(Text(cell) for cell in cells))


# ---------------------------------------------------------------------------------------------------
# tasks


@tasks_app.command("list")
def tasks_list(
    group: Annotated[
        str | None, typer.Option("--group", help="Only tasks with this candidate group.")
    ] = None,
    assignee: Annotated[
        str | None, typer.Option("--assignee", help="Only tasks assigned to this user.")
    ] = None,
    state: Annotated[UserTaskState | None, typer.Option("--state", help="Only tasks in this state.")] = None,
    process_instance: ProcessInstanceOption = None,
    limit: LimitOption = 100,
    page_size: PageSizeOption = 100,
    as_json: JsonOption = False,
    rest_address: RestAddressOption = None,
    timeout: TimeoutOption = 30.0,
) -> None:
    """List user tasks (metadata only, never their variables)."""
    from shuangshi.rest_client import Paging, search_user_tasks  # noqa: PLC0415 - the SDK loads slowly

    action = search_user_tasks(
        group=group,
        assignee=assignee,
        state=None if state is None else state.value,
        process_instance_key=process_instance,
        paging=Paging(limit, page_size),
    )
    found = _call(rest_address, timeout, action)
    if as_json:
        print_json(found.items)
        return
    table = _table(
        "key", "name", "state", "assignee", "candidate groups", "process", "instance", "created", "due"
    )
    for task in found.items:
        process = f"{task['processDefinitionId']} v{task['processDefinitionVersion']}"
        _add_row(
            table,
            _text(task["userTaskKey"]),
            _text(task["name"] or task["elementId"]),
            _text(task["state"]),
            _text(task["assignee"]),
            _text(task["candidateGroups"]),
            process,
            _text(task["processInstanceKey"]),
            _when(task["creationDate"]),
            _when(task["dueDate"]),
        )
    _show(found, "user task", table)


@tasks_app.command("complete")
def tasks_complete(
    key: Annotated[str, typer.Argument(help="The user task key.", callback=_check_key)],
    var: Annotated[
        list[str] | None,
        typer.Option(
            "--var",
            help='A variable NAME=VALUE; VALUE is read as JSON when it is JSON (true, 3, "x", [1]), '
            "else as text. Repeat for more.",
        ),
    ] = None,
    json_vars: Annotated[
        Path | None,
        typer.Option(
            "--json-vars", help="A JSON file holding an object of variables (--var wins).", dir_okay=False
        ),
    ] = None,
    action: Annotated[
        str | None,
        typer.Option("--action", help="The completion action recorded with the task (e.g. approve)."),
    ] = None,
    rest_address: RestAddressOption = None,
    timeout: TimeoutOption = 30.0,
) -> None:
    """Complete a user task, optionally with variables."""
    from shuangshi.rest_client import complete_user_task  # noqa: PLC0415 - the SDK loads slowly

    try:
        variables = completion_variables(var or [], json_vars)
    except VariablesError as exc:
        fail(str(exc), 2)
    _call(rest_address, timeout, complete_user_task(key, variables, action))
    names = ", ".join(sorted(variables))
    suffix = f" with {len(variables)} variable(s): {names}" if variables else ""
    out.print(f"[green]completed[/] user task {escape(key)}{escape(suffix)}", highlight=False)


# ---------------------------------------------------------------------------------------------------
# incidents


@incidents_app.command("list")
def incidents_list(
    process_instance: ProcessInstanceOption = None,
    state: Annotated[
        IncidentState | None,
        typer.Option("--state", help="Only incidents in this state."),
    ] = None,
    limit: LimitOption = 100,
    page_size: PageSizeOption = 100,
    as_json: JsonOption = False,
    rest_address: RestAddressOption = None,
    timeout: TimeoutOption = 30.0,
) -> None:
    """List incidents; ID and phone numbers in their messages are masked."""
    from shuangshi.rest_client import Paging, search_incidents  # noqa: PLC0415 - the SDK loads slowly

    action = search_incidents(
        process_instance_key=process_instance,
        state=None if state is None else state.value,
        paging=Paging(limit, page_size),
    )
    found = _call(rest_address, timeout, action)
    for incident in found.items:
        if isinstance(incident.get("errorMessage"), str):
            incident["errorMessage"] = mask_text(incident["errorMessage"])
    if as_json:
        print_json(found.items)
        return
    table = _table(
        "key", "state", "error type", "element", "process", "instance", "job", "created", "message"
    )
    for incident in found.items:
        _add_row(
            table,
            _text(incident["incidentKey"]),
            _text(incident["state"]),
            _text(incident["errorType"]),
            _text(incident["elementId"]),
            _text(incident["processDefinitionId"]),
            _text(incident["processInstanceKey"]),
            _text(incident.get("jobKey")),
            _when(incident["creationTime"]),
            _text(incident["errorMessage"]),
        )
    _show(found, "incident", table)


@incidents_app.command("resolve")
def incidents_resolve(
    key: Annotated[str, typer.Argument(help="The incident key.", callback=_check_key)],
    rest_address: RestAddressOption = None,
    timeout: TimeoutOption = 30.0,
) -> None:
    """Resolve an incident (for a job incident, give the job retries first)."""
    from shuangshi.rest_client import resolve_incident  # noqa: PLC0415 - the SDK loads slowly

    _call(rest_address, timeout, resolve_incident(key))
    out.print(f"[green]resolved[/] incident {escape(key)}", highlight=False)


# ---------------------------------------------------------------------------------------------------
# instances


@instances_app.command("list")
def instances_list(
    process_id: Annotated[
        str | None, typer.Option("--process-id", help="Only instances of this BPMN process id.")
    ] = None,
    state: Annotated[
        ProcessInstanceState | None,
        typer.Option("--state", help="Only instances in this state."),
    ] = None,
    limit: LimitOption = 100,
    page_size: PageSizeOption = 100,
    as_json: JsonOption = False,
    rest_address: RestAddressOption = None,
    timeout: TimeoutOption = 30.0,
) -> None:
    """List process instances (never their variables)."""
    from shuangshi.rest_client import Paging, search_process_instances  # noqa: PLC0415 - the SDK loads slowly

    action = search_process_instances(
        process_id=process_id,
        state=None if state is None else state.value,
        paging=Paging(limit, page_size),
    )
    found = _call(rest_address, timeout, action)
    if as_json:
        print_json(found.items)
        return
    table = _table("key", "process", "state", "incident", "started", "ended", "parent")
    for instance in found.items:
        _add_row(
            table,
            _text(instance["processInstanceKey"]),
            f"{instance['processDefinitionId']} v{instance['processDefinitionVersion']}",
            _text(instance["state"]),
            "yes" if instance.get("hasIncident") else "",
            _when(instance["startDate"]),
            _when(instance.get("endDate")),
            _text(instance.get("parentProcessInstanceKey")),
        )
    _show(found, "process instance", table)
