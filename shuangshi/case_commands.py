"""``shuangshi case``, ``seal`` and ``ledger``: the work ledger, sealed documents and seals, read offline.

These commands need no engine: they read the ledger database and the files of a data dir, as the workers
write them. ``--data-dir`` (``SHUANGSHI_DATA_DIR``, default ``data``) and ``--ledger-url``
(``SHUANGSHI_LEDGER_URL``, default ``sqlite:///<data dir>/ledger.sqlite3``) are resolved by
:class:`workers.settings.WorkerSettings`, so they mean what they mean to the workers; so does
``SHUANGSHI_SEAL_KEY_DIR`` (default ``<data dir>/seals``). Nothing here writes: a ledger that does not exist
is reported (exit 2), never created, and seal keys are never generated.

- ``case show`` is the applicant's 进度查询: one case's status, deadlines, the names and times of its events
  and the decision with its seal, re-verified now against the stored sealed document. It reads only the
  ledger (which holds no personal data) and the seal of the decision, never process variables or the
  content of a document.
- ``seal verify`` checks a sealed document file (``<data dir>/documents/*.json``) against the registered keys.
- ``ledger verify`` recomputes the hash chain. ``ledger report`` is ``shuangshi report``
  (:mod:`shuangshi.report_commands`), mounted here by :mod:`shuangshi.cli`.

Exit codes: 0 done (valid, intact); 1 the answer is negative (no such case, an invalid seal, a broken
chain); 2 the command could not do its work (no ledger, unreadable file, bad option).
"""

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final

import typer
from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from shuangshi.output import fail, out, print_json

if TYPE_CHECKING:
    from workers.catalog.models import Catalog
    from workers.ledger import CaseView, Ledger, RecordedEvent
    from workers.seal import DocumentStore, KeyStore
    from workers.settings import WorkerSettings

__all__ = [
    "EVENT_NAMES",
    "STATUS_NAMES",
    "case_app",
    "case_progress",
    "ledger_app",
    "seal_app",
]

case_app = typer.Typer(help="办件: a case's progress (进度查询) from the work ledger.", no_args_is_help=True)
seal_app = typer.Typer(help="Electronic seals (电子印章): check a sealed document.", no_args_is_help=True)
ledger_app = typer.Typer(
    help="The work ledger (工作台账): check its hash chain, report per town × item.", no_args_is_help=True
)


@case_app.callback()
def _case_group() -> None:
    """办件: a case's progress (进度查询) from the work ledger."""


@seal_app.callback()
def _seal_group() -> None:
    """Electronic seals (电子印章): check a sealed document."""


#: Chinese names of the case statuses of the ledger's projection.
STATUS_NAMES: Final[Mapping[str, str]] = {
    "in-progress": "办理中",
    "completed": "已办结（准予）",
    "rejected": "已办结（不予批准）",
    "not-accepted": "不予受理",
    "withdrawn": "已撤回",
}
#: Chinese names of the ledger events the processes record; an event not listed is shown by its name.
EVENT_NAMES: Final[Mapping[str, str]] = {
    "registered": "登记办件",
    "accepted": "受理",
    "materials-requested": "一次性告知补正材料",
    "supplemented": "补正材料已提交",
    "sla.scheduled": "计算办理时限",
    "sla.paused": "补正期间暂停计时",
    "forwarded": "转区级部门办理",
    "sealed": "加盖电子印章",
    "seal-verified": "核验镇级印章（见章发证）",
    "seal-rejected": "镇级印章核验未通过，退回",
    "decided": "作出决定",
    "not-accepted": "不予受理",
    "withdrawn": "撤回申请",
    "alert-yellow": "黄色预警",
    "alert-red": "红色预警",
    "alert-returned": "退回提醒",
    "rectification-alert-yellow": "整改临期预警",
    "rectification-alert-red": "整改超期督办",
    "closed": "流程结束",
    "spotcheck-drawn": "双随机抽查抽中",
    "spotcheck-finding": "双随机抽查检查结果",
    "rated": "申请人评价（好差评）",
    "followup.scheduled": "计算整改期限",
    "rectified": "差评整改完成",
}
_OUTCOME_NAMES: Final[Mapping[str, str]] = {
    "approved": "准予",
    "rejected": "不予批准",
    "not-accepted": "不予受理",
}
_COUNTER_NAMES: Final[Mapping[str, str]] = {"town": "镇便民服务中心窗口", "district": "区政务服务大厅窗口"}
_DOCUMENTS_DIR: Final = "documents"

# ---------------------------------------------------------------------------------------------------
# Options and the shared plumbing

DataDirOption = Annotated[
    Path,
    typer.Option(
        "--data-dir",
        envvar="SHUANGSHI_DATA_DIR",
        help="The system's data folder: ledger.sqlite3, seals/, documents/.",
        file_okay=False,
    ),
]
LedgerUrlOption = Annotated[
    str | None,
    typer.Option(
        "--ledger-url",
        envvar="SHUANGSHI_LEDGER_URL",
        help="Ledger database (sqlite:///FILE or postgresql://…); default: the SQLite file in the data dir.",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _quiet_logging() -> None:
    """The seal and ledger code log through structlog; keep that off stdout and below what we print."""
    from workers.logging import configure_logging  # noqa: PLC0415 - structlog set-up only when a command runs

    configure_logging("ERROR")


def _settings(data_dir: Path, ledger_url: str | None) -> "WorkerSettings":
    """The workers' settings for this data dir and ledger URL: paths resolve as the workers resolve them."""
    from workers.settings import WorkerSettings  # noqa: PLC0415 - pydantic-settings loads only when needed

    if ledger_url:
        return WorkerSettings(data_dir=data_dir, ledger_url=ledger_url)
    return WorkerSettings(data_dir=data_dir)


def _catalog() -> "Catalog":
    from workers.catalog.loader import CatalogError, load_catalog  # noqa: PLC0415 - YAML loads only when needed

    try:
        return load_catalog()
    except CatalogError as exc:
        fail(f"catalog error\n{exc}", 2)


@contextmanager
def _open_ledger(settings: "WorkerSettings") -> Iterator["Ledger"]:
    """The ledger of these settings, read-only in use; exit 2 when there is none (nothing is created)."""
    # SQLAlchemy, alembic and openpyxl take a second to import: only the commands that read the ledger pay.
    from sqlalchemy import inspect  # noqa: PLC0415
    from sqlalchemy.engine import make_url  # noqa: PLC0415
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError  # noqa: PLC0415

    from workers.ledger import Ledger  # noqa: PLC0415

    url = settings.resolved_ledger_url
    try:
        parsed = make_url(url)
    except ArgumentError:
        fail(f"--ledger-url: {url!r} is not a database URL (sqlite:///FILE or postgresql://…)", 2)
    shown = parsed.render_as_string(hide_password=True)
    database = parsed.database if parsed.get_backend_name() == "sqlite" else None
    # Connecting would create an empty database file: look first.
    if database and database != ":memory:" and not Path(database).is_file():
        fail(
            f"no ledger at {database}: nothing has been recorded with this data dir yet "
            "(start the system with 'shuangshi up', or give --data-dir or --ledger-url)",
            2,
        )
    try:
        ledger = Ledger(url)
    except ValueError as exc:
        fail(f"--ledger-url: {exc}", 2)
    try:
        try:
            has_ledger = inspect(ledger.engine).has_table("ledger_head")
        except SQLAlchemyError as exc:
            fail(f"cannot open the ledger {shown}: {_first_line(exc)}", 2)
        if not has_ledger:
            fail(
                f"the database {shown} holds no ledger yet (the workers create it when the system starts)",
                2,
            )
        try:
            yield ledger
        except SQLAlchemyError as exc:
            fail(f"cannot read the ledger {shown}: {_first_line(exc)}", 2)
    finally:
        ledger.close()


def _first_line(exc: BaseException) -> str:
    cause = getattr(exc, "orig", None) or exc
    return str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__


def _china_time(moment: datetime) -> datetime:
    from workers.ledger import CHINA_TZ  # noqa: PLC0415 - see _open_ledger

    return moment.astimezone(CHINA_TZ)


def _iso(moment: datetime | None) -> str | None:
    """An instant in China time, ISO 8601 to the second with its offset (``2021-07-05T09:00:00+08:00``)."""
    return None if moment is None else _china_time(moment).isoformat(timespec="seconds")


def _iso_text(value: object) -> str | None:
    """A date-time from an event payload in China time; the text as it is when it does not parse."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    return value if moment.utcoffset() is None else _iso(moment)


# ---------------------------------------------------------------------------------------------------
# case show


def _name(lookup: Any, code: str) -> str | None:
    """The catalog name of a code, or None when the catalog does not know it (a retired code)."""
    try:
        name: str = lookup(code).name
    except KeyError:
        return None
    return name


def case_progress(
    view: "CaseView", catalog: "Catalog", *, keys: "KeyStore", documents: "DocumentStore"
) -> dict[str, Any]:
    """The 进度查询 of one case as JSON-ready data, camelCase keys, times ISO 8601 in China time.

    Keys: ``caseNumber``, ``itemCode``/``itemName``, ``townCode``/``townName``,
    ``departmentCode``/``departmentName``, ``counter``, ``mode``/``modeName``, ``status``, ``acceptedAt``,
    ``closedAt``, ``onTime``, ``deadlines`` {``dueAt``, ``paused`` (now waiting for 补正),
    ``supplementDeadline`` (of the last pause, else null)}, ``events`` [{``event``, ``at``}] and
    ``decision`` (null until decided) {``outcome``, ``kind``, ``documentNo``, ``decidedAt``, ``seal``
    {``owner``, ``ownerKind``, ``ownerName``, ``sealId``, ``fingerprint``, ``verified``, ``reason``}}.

    Only the ledger's facts about this case and the seal of its decision: event names and times (no
    actors, no payloads). The seal is the one the ledger's ``sealed`` event recorded for the decision's
    document number; ``verified`` says that the stored document carries exactly that seal, belongs to this
    case and verifies now against the owner's registered key.
    """
    paused_events = [e for e in view.events if e.event == "sla.paused"]
    last_sla = next((e for e in reversed(view.events) if e.event in {"sla.scheduled", "sla.paused"}), None)
    paused = view.status == "in-progress" and last_sla is not None and last_sla.event == "sla.paused"
    return {
        "caseNumber": view.case_number,
        "itemCode": view.item_code,
        "itemName": _name(catalog.item, view.item_code),
        "townCode": view.town_code,
        "townName": _name(catalog.town, view.town_code),
        "departmentCode": view.department_code,
        "departmentName": _name(catalog.department, view.department_code),
        "counter": view.counter,
        "mode": view.mode,
        "modeName": _name(catalog.mode, view.mode),
        "status": view.status,
        "acceptedAt": _iso(view.accepted_at),
        "closedAt": _iso(view.closed_at),
        "onTime": view.on_time,
        "deadlines": {
            "dueAt": _iso(view.due_at),
            "paused": paused,
            "supplementDeadline": (
                _iso_text(paused_events[-1].payload.get("supplementDeadline")) if paused_events else None
            ),
        },
        "events": [{"event": e.event, "at": _iso(e.occurred_at)} for e in view.events],
        "decision": _decision(view, catalog, keys, documents),
    }


def _decision(
    view: "CaseView", catalog: "Catalog", keys: "KeyStore", documents: "DocumentStore"
) -> dict[str, Any] | None:
    # The first decision closes the case (the projection's rule), so it is the one shown.
    decided = next((e for e in view.events if e.event == "decided"), None)
    if decided is None:
        return None
    number = decided.payload.get("documentNo")
    document_no = number if isinstance(number, str) and number else None
    # A document number may be sealed again (DocumentStore.load gives the last one): the last seal counts.
    sealed = next(
        (
            e
            for e in reversed(view.events)
            if e.event == "sealed" and document_no is not None and e.payload.get("documentNo") == document_no
        ),
        None,
    )
    kind = sealed.payload.get("kind") if sealed is not None else None
    return {
        "outcome": decided.payload.get("outcome"),
        "kind": kind if isinstance(kind, str) else None,
        "documentNo": document_no,
        "decidedAt": _iso(decided.occurred_at),
        "seal": _decision_seal(view, document_no, sealed, catalog, keys, documents),
    }


def _decision_seal(
    view: "CaseView",
    document_no: str | None,
    sealed: "RecordedEvent | None",
    catalog: "Catalog",
    keys: "KeyStore",
    documents: "DocumentStore",
) -> dict[str, Any]:
    """The seal the ledger recorded on the decision, and whether the stored document verifies with it."""
    payload = sealed.payload if sealed is not None else {}
    seal_id = payload.get("sealId")
    seal_id = seal_id if isinstance(seal_id, str) else None
    fingerprint = payload.get("fingerprint")
    fingerprint = fingerprint if isinstance(fingerprint, str) else None
    owner_kind, owner = _seal_owner(seal_id)
    owner_name: str | None = None
    if owner is not None:
        owner_name = _name(catalog.town if owner_kind == "town" else catalog.department, owner)
    seal: dict[str, Any] = {
        "owner": owner,
        "ownerKind": owner_kind,
        "ownerName": owner_name,
        "sealId": seal_id,
        "fingerprint": fingerprint,
        "verified": False,
        "reason": "",
    }
    if document_no is None:
        seal["reason"] = "决定未记录文书编号。The decision in the ledger names no document number."
    elif owner is None or fingerprint is None:
        seal["reason"] = (
            f"工作台账中没有文书 {document_no} 的盖章记录。"
            f"The ledger records no seal on document {document_no}."
        )
    else:
        seal["verified"], seal["reason"] = _verify_stored(
            documents, keys, case_number=view.case_number, document_no=document_no, recorded=seal
        )
    return seal


def _seal_owner(seal_id: str | None) -> tuple[str | None, str | None]:
    """``seal:town:xiji`` → (``town``, ``xiji``); (None, None) for anything else."""
    parts = seal_id.split(":") if seal_id else []
    if len(parts) == 3 and parts[0] == "seal" and parts[1] in {"town", "district"} and parts[2]:
        return parts[1], parts[2]
    return None, None


def _verify_stored(
    documents: "DocumentStore",
    keys: "KeyStore",
    *,
    case_number: str,
    document_no: str,
    recorded: Mapping[str, Any],
) -> tuple[bool, str]:
    """Load the stored document and check its seal: valid, the seal the ledger recorded, this case's."""
    from pydantic import ValidationError  # noqa: PLC0415 - loaded by the seal package anyway

    from workers.seal import DocumentNotFoundError, SealKeyError, verify  # noqa: PLC0415 - see _open_ledger

    try:
        stored = documents.load(document_no)
    except DocumentNotFoundError:
        return False, (
            f"未找到已盖章的文书 {document_no}。The sealed document {document_no} is not stored in "
            f"{documents.directory}."
        )
    except OSError as exc:
        return False, f"无法读取文书 {document_no}。Cannot read the sealed document: {exc.strerror or exc}."
    except (ValueError, ValidationError):  # never the pydantic text: it quotes the document's values
        return False, (
            f"文书 {document_no} 不是完整的电子签章文件。The stored document {document_no} is not a "
            "well-formed sealed document."
        )
    try:
        result = verify(stored, keys, expected_owner=str(recorded["owner"]))
    except SealKeyError as exc:
        return False, f"印章密钥不可用。The seal keys cannot be used: {exc}"
    if not result.valid:
        return False, result.reason
    if (stored.seal.seal_id, stored.seal.fingerprint) != (recorded["sealId"], recorded["fingerprint"]):
        return False, (
            "文书上的印章与工作台账记录的印章不一致。The stored document carries another seal (id or key "
            "fingerprint) than the one the ledger recorded."
        )
    if stored.document.get("caseNumber") != case_number:
        return False, (
            f"文书 {document_no} 不属于办件 {case_number}。The stored document belongs to another case."
        )
    return True, result.reason


def _cell(value: object) -> Text:
    """Data as plain text, never read as rich markup."""
    return Text("" if value is None else str(value))


def _when(value: object) -> str:
    """An ISO date-time of the progress data as ``2021-07-05 09:00`` (China time); empty when absent."""
    if not isinstance(value, str) or not value:
        return ""
    try:
        return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return value


def _named(name: object, code: object) -> str:
    return f"{name}（{code}）" if name else str(code)


def _case_panel(progress: Mapping[str, Any]) -> Panel:
    deadlines = progress["deadlines"]
    status = STATUS_NAMES.get(progress["status"], progress["status"])
    if deadlines["paused"]:
        status += "（补正中，暂停计时）"
    rows: list[tuple[str, str]] = [
        ("办件编号", progress["caseNumber"]),
        ("事项", _named(progress["itemName"], progress["itemCode"])),
        ("承接镇", _named(progress["townName"], progress["townCode"])),
        ("区级实施部门", _named(progress["departmentName"], progress["departmentCode"])),
        ("受理窗口", _COUNTER_NAMES.get(progress["counter"], progress["counter"])),
        ("调整方式", _named(progress["modeName"], progress["mode"])),
        ("办理状态", status),
        ("受理时间", _when(progress["acceptedAt"])),
        ("办理时限", _when(deadlines["dueAt"]) or "尚未计算"),
    ]
    if deadlines["supplementDeadline"]:
        rows.append(("补正期限", _when(deadlines["supplementDeadline"])))
    if progress["closedAt"]:
        rows.append(("办结时间", _when(progress["closedAt"])))
        on_time = progress["onTime"]
        rows.append(("是否按期", "是" if on_time else "否" if on_time is False else "未知"))
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    for label, value in rows:
        grid.add_row(label, _cell(value))
    events = Table(title="办理过程", title_justify="left", show_lines=False)
    events.add_column("序号", justify="right", no_wrap=True)
    events.add_column("时间", no_wrap=True)
    events.add_column("环节")
    for index, entry in enumerate(progress["events"], start=1):
        name = EVENT_NAMES.get(entry["event"])
        label = f"{name}（{entry['event']}）" if name else entry["event"]
        events.add_row(str(index), _when(entry["at"]), _cell(label))
    return Panel(Group(grid, Text(""), events), title="办件进度查询", title_align="left", expand=False)


def _decision_panel(decision: Mapping[str, Any]) -> Panel:
    seal = decision["seal"]
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    grid.add_row("决定", _cell(_OUTCOME_NAMES.get(str(decision["outcome"]), decision["outcome"])))
    grid.add_row("决定时间", _when(decision["decidedAt"]))
    grid.add_row("文书编号", _cell(decision["documentNo"]))
    grid.add_row("电子印章", _cell(_named(seal["ownerName"], seal["owner"]) if seal["owner"] else ""))
    grid.add_row("印章编号", _cell(seal["sealId"]))
    grid.add_row("密钥指纹", _cell(seal["fingerprint"]))
    verdict = Text("✓ 有效", style="bold green") if seal["verified"] else Text("✗ 无效", style="bold red")
    grid.add_row("印章核验", verdict)
    grid.add_row("", _cell(seal["reason"]))
    return Panel(grid, title="决定与电子印章", title_align="left", expand=False)


@case_app.command("show")
def case_show(
    case_number: Annotated[str, typer.Argument(help="办件编号, e.g. XJ-20210705-0001.")],
    as_json: JsonOption = False,
    data_dir: DataDirOption = Path("data"),
    ledger_url: LedgerUrlOption = None,
) -> None:
    """进度查询: a case's status, deadlines, events and decision, its seal re-verified now; exit 1 if unknown.

    Shows that one case only, from the ledger (which holds no personal data): event names and times, never
    actors, payload values, process variables or a document's content.
    """
    from workers.seal import DocumentStore, KeyStore  # noqa: PLC0415 - cryptography loads only when needed

    _quiet_logging()
    catalog = _catalog()
    settings = _settings(data_dir, ledger_url)
    with _open_ledger(settings) as ledger:
        view = ledger.case(case_number)
    if view is None:
        fail(f"no such case: {case_number}", 1)
    progress = case_progress(
        view,
        catalog,
        keys=KeyStore(settings.resolved_seal_key_dir, generate_missing=False),
        documents=DocumentStore(settings.data_dir / _DOCUMENTS_DIR),
    )
    if as_json:
        print_json(progress)
        return
    out.print(_case_panel(progress))
    if progress["decision"] is not None:
        out.print(_decision_panel(progress["decision"]))
    else:
        out.print("尚未作出决定。", highlight=False)


# ---------------------------------------------------------------------------------------------------
# seal verify


@seal_app.command("verify")
def seal_verify(
    file: Annotated[Path, typer.Argument(help="A sealed document (JSON), e.g. data/documents/123.json.")],
    expect_owner: Annotated[
        str | None,
        typer.Option("--expect-owner", help="The town or department code whose seal it must be (e.g. xiji)."),
    ] = None,
    key_dir: Annotated[
        Path | None,
        typer.Option(
            "--key-dir",
            help="Folder of the owners' public keys (<owner>.pub); wins over --data-dir.",
            file_okay=False,
            show_default=False,
        ),
    ] = None,
    data_dir: DataDirOption = Path("data"),
    as_json: JsonOption = False,
) -> None:
    """Check a sealed document against the registered seal keys: exit 0 valid, 1 invalid, 2 unreadable."""
    from workers.seal import KeyStore, SealedDocument, SealKeyError, verify  # noqa: PLC0415 - see case_show

    _quiet_logging()
    try:
        content = file.read_bytes()
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or exc}", 2)
    keys_path = key_dir if key_dir is not None else _settings(data_dir, None).resolved_seal_key_dir
    if not keys_path.is_dir():
        fail(f"no seal keys at {keys_path}: give --key-dir, or the --data-dir whose seals/ signed it", 2)
    try:
        result = verify(content, KeyStore(keys_path, generate_missing=False), expected_owner=expect_owner)
    except SealKeyError as exc:
        fail(f"the seal keys at {keys_path} cannot be used: {exc}", 2)
    document_no: str | None = None
    if result.code != "malformed":
        document_no = SealedDocument.from_json(content).document_no
    if as_json:
        print_json(
            {
                "file": str(file),
                "valid": result.valid,
                "code": result.code,
                "reason": result.reason,
                "owner": result.owner,
                "sealId": result.seal_id,
                "fingerprint": result.fingerprint,
                "documentNo": document_no,
            }
        )
    else:
        if result.valid:
            out.print(Text.assemble(("valid", "bold green"), f" {file}"))
        else:
            out.print(Text.assemble(("invalid", "bold red"), f" ({result.code}) {file}"))
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column()
        for label, value in (
            ("reason", result.reason),
            ("owner", result.owner),
            ("seal id", result.seal_id),
            ("fingerprint", result.fingerprint),
            ("document", document_no),
        ):
            grid.add_row(label, _cell(value if value is not None else "-"))
        out.print(grid)
    if not result.valid:
        raise typer.Exit(1)


# ---------------------------------------------------------------------------------------------------
# ledger verify / report


@ledger_app.command("verify")
def ledger_verify(
    data_dir: DataDirOption = Path("data"),
    ledger_url: LedgerUrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Recompute the ledger's hash chain; exit 1 naming every edited, deleted or inserted row."""
    _quiet_logging()
    with _open_ledger(_settings(data_dir, ledger_url)) as ledger:
        report = ledger.verify()
    if as_json:
        print_json(report.model_dump(mode="json", by_alias=True))
    elif report.ok:
        out.print(
            f"[green]OK[/] ledger verified: {_rows(report.checked)} checked, hash chain intact "
            f"(head {report.head_hash})",
            highlight=False,
        )
    else:
        for problem in report.problems:
            out.print(Text.assemble(("✗ ", "red"), problem))
        out.print(f"{len(report.problems)} problem(s) in {_rows(report.checked)} checked", highlight=False)
    if not report.ok:
        raise typer.Exit(1)


def _rows(count: int) -> str:
    return f"{count} row" if count == 1 else f"{count} rows"


def _town_code(catalog: "Catalog", town: str) -> str:
    """A town given by code (``xiji``) or name (``西集镇``) as its code; exit 2 if the catalog has neither."""
    found = next((entry for entry in catalog.towns if town in {entry.code, entry.name}), None)
    if found is None:
        known = ", ".join(f"{t.code} ({t.name})" for t in catalog.towns)
        fail(f"--town: unknown town {town!r}; known: {known}", 2)
    return found.code
