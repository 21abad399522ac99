"""``case show``, ``seal verify`` and ``ledger verify`` on a small ledger built in tmp_path (``ledger report``:
tests/unit/test_report_command.py).

The ledger is written with the real :class:`Ledger` API, the decision is stamped with a real key store and
saved in the data dir's document store, as the workers do; the commands run in-process through typer's
runner on an app that mounts the sub-apps the way ``shuangshi.cli`` does.
"""

import json
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import typer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner, Result

from shuangshi.case_commands import case_app, ledger_app, seal_app
from workers.catalog.loader import load_catalog
from workers.ledger import CaseEvent, Counter, Ledger, default_ledger_url
from workers.logging import mask_text, reset_logging
from workers.seal import DocumentStore, KeyStore, document_number, stamp

app = typer.Typer()
app.add_typer(case_app, name="case")
app.add_typer(seal_app, name="seal")
app.add_typer(ledger_app, name="ledger")

DECIDED_CASE = "XJ-20210705-0001"
OPEN_CASE = "SP-20210706-0001"
DECISION_JOB_KEY = 2251799813685301
_OUR_VARIABLES = ("SHUANGSHI_",)
# A fixed key for 西集镇's seal: a generated key's hex fingerprint may hold a run of digits that reads as a
# mobile number, which the ledger refuses to record (see the fixture), so the tests would fail at random.
XIJI_SEED = bytes(range(32))


@dataclass(frozen=True)
class Built:
    """The data dir and what was put in it."""

    data_dir: Path
    decided_item: str
    open_item: str
    document_no: str
    fingerprint: str
    document_file: Path


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """The commands configure logging to the runner's stderr; put the defaults back afterwards."""
    yield
    reset_logging()


@pytest.fixture
def built(tmp_path: Path) -> Built:
    """Two cases: one of 西集镇 decided and sealed by the town, one accepted at the district and paused."""
    catalog = load_catalog()
    direct = catalog.items_by_mode()["direct"][0]
    forwarded = catalog.items_by_mode()["window-forwarding"][0]
    data_dir = tmp_path / "data"
    seals = data_dir / "seals"
    seals.mkdir(parents=True, mode=0o700)
    key_file = seals / "xiji.key"
    key_file.write_bytes(
        Ed25519PrivateKey.from_private_bytes(XIJI_SEED).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    key_file.chmod(0o600)
    keys = KeyStore(seals, generate_missing=False)
    documents = DocumentStore(data_dir / "documents")
    number = document_number("XJ", DECIDED_CASE, "decision")
    sealed = stamp(
        {"documentNo": number, "kind": "decision", "caseNumber": DECIDED_CASE, "outcome": "approved"},
        owner="xiji",
        owner_name="西集镇",
        owner_kind="town",
        signed_at=at("2021-07-08T10:00:00+08:00"),
        key_store=keys,
    )
    documents.save(DECISION_JOB_KEY, sealed)
    assert mask_text(sealed.seal.fingerprint) == sealed.seal.fingerprint  # the ledger would refuse it

    def event(
        case_number: str, item: str, town: str, counter: Counter, name: str, when: str, **payload: str
    ) -> None:
        entry = catalog.item(item)
        ledger.record_event(
            CaseEvent(
                case_number=case_number,
                item_code=item,
                town_code=town,
                department_code=entry.department_code,
                mode=entry.mode,
                counter=counter,
                event=name,
                actor="case.register" if name == "registered" else "ledger.record:test",
                occurred_at=at(when),
                payload=dict(payload),
            )
        )

    with Ledger(default_ledger_url(data_dir)) as ledger:
        ledger.migrate()
        a: tuple[str, str, str, Counter] = (DECIDED_CASE, direct.code, "xiji", "town")
        b: tuple[str, str, str, Counter] = (OPEN_CASE, forwarded.code, "sangcun", "district")
        event(*a, "registered", "2021-07-05T09:00:00+08:00")
        event(*b, "registered", "2021-07-06T09:00:00+08:00")
        event(*a, "sla.scheduled", "2021-07-05T09:00:01+08:00", dueAt="2021-07-19T17:00:00+08:00")
        event(*b, "sla.scheduled", "2021-07-06T09:00:01+08:00", dueAt="2021-07-20T17:00:00+08:00")
        event(*b, "sla.paused", "2021-07-07T10:00:00+08:00", supplementDeadline="2021-07-13T17:00:00+08:00")
        event(
            *a,
            "sealed",
            "2021-07-08T10:00:00+08:00",
            kind="decision",
            documentNo=number,
            sealId=sealed.seal.seal_id,
            fingerprint=sealed.seal.fingerprint,
        )
        event(*a, "decided", "2021-07-08T10:00:01+08:00", outcome="approved", documentNo=number)
    return Built(
        data_dir=data_dir,
        decided_item=direct.code,
        open_item=forwarded.code,
        document_no=number,
        fingerprint=sealed.seal.fingerprint,
        document_file=data_dir / "documents" / f"{DECISION_JOB_KEY}.json",
    )


def run(*args: str, **env: str) -> Result:
    """Invoke the commands in-process with this project's environment variables cleared, then ``env`` set."""
    environment: dict[str, str | None] = {k: None for k in os.environ if k.startswith(_OUR_VARIABLES)}
    environment.update(env)
    return CliRunner().invoke(app, list(args), env=environment)


def show_json(built: Built, case_number: str = DECIDED_CASE) -> dict[str, Any]:
    result = run("case", "show", case_number, "--json", "--data-dir", str(built.data_dir))
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def tamper(path: Path) -> None:
    """Change the decision's outcome in a sealed document file, leaving the seal as it was."""
    data = json.loads(path.read_text(encoding="utf-8"))
    data["document"]["outcome"] = "rejected"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


# ---------------------------------------------------------------------------------------------------
# case show


def test_case_show_json_gives_the_progress_and_a_verified_seal(built: Built) -> None:
    """`case show --json` of a decided case: catalog names, status, times in China time, events, seal verified."""
    data = show_json(built)
    assert data["caseNumber"] == DECIDED_CASE
    assert data["itemCode"] == built.decided_item
    assert data["itemName"] == load_catalog().item(built.decided_item).name
    assert (data["townCode"], data["townName"]) == ("xiji", "西集镇")
    assert (data["counter"], data["mode"], data["modeName"]) == ("town", "direct", "直接下放")
    assert data["status"] == "completed"
    assert data["acceptedAt"] == "2021-07-05T09:00:00+08:00"
    assert data["closedAt"] == "2021-07-08T10:00:01+08:00"
    assert data["onTime"] is True
    assert data["deadlines"] == {
        "dueAt": "2021-07-19T17:00:00+08:00",
        "paused": False,
        "supplementDeadline": None,
    }
    assert data["events"] == [
        {"event": "registered", "at": "2021-07-05T09:00:00+08:00"},
        {"event": "sla.scheduled", "at": "2021-07-05T09:00:01+08:00"},
        {"event": "sealed", "at": "2021-07-08T10:00:00+08:00"},
        {"event": "decided", "at": "2021-07-08T10:00:01+08:00"},
    ]
    decision = data["decision"]
    assert isinstance(decision, dict)
    assert (decision["outcome"], decision["kind"], decision["documentNo"]) == (
        "approved",
        "decision",
        built.document_no,
    )
    seal = decision["seal"]
    assert seal["owner"] == "xiji"
    assert seal["ownerKind"] == "town"
    assert seal["ownerName"] == "西集镇"
    assert seal["sealId"] == "seal:town:xiji"
    assert seal["fingerprint"] == built.fingerprint
    assert seal["verified"] is True, seal["reason"]


def test_case_show_json_shows_only_that_case_and_no_actors_or_payloads(built: Built) -> None:
    """The output names no other case and carries no actor or payload value of the ledger."""
    result = run("case", "show", DECIDED_CASE, "--json", "--data-dir", str(built.data_dir))
    assert result.exit_code == 0, result.output
    assert OPEN_CASE not in result.stdout
    assert "ledger.record:test" not in result.stdout
    assert "case.register" not in result.stdout
    assert all(set(entry) == {"event", "at"} for entry in json.loads(result.stdout)["events"])


def test_case_show_json_of_a_paused_case_gives_the_supplement_deadline(built: Built) -> None:
    """An open case paused for 补正: in progress, paused, supplementDeadline set, no decision yet."""
    data = show_json(built, OPEN_CASE)
    assert (data["status"], data["counter"], data["townName"]) == ("in-progress", "district", "桑村镇")
    assert data["deadlines"] == {
        "dueAt": "2021-07-20T17:00:00+08:00",
        "paused": True,
        "supplementDeadline": "2021-07-13T17:00:00+08:00",
    }
    assert data["closedAt"] is None
    assert data["onTime"] is None
    assert data["decision"] is None


def test_case_show_after_the_stored_document_was_changed_is_not_verified(built: Built) -> None:
    """Editing the stored decision file makes the seal fail its re-verification, with the reason."""
    tamper(built.document_file)
    seal = show_json(built)["decision"]["seal"]
    assert seal["verified"] is False
    assert "changed after stamping" in seal["reason"]


def test_case_show_without_the_stored_document_is_not_verified(built: Built) -> None:
    """A decision whose sealed document is missing from the data dir is reported as not verified."""
    built.document_file.unlink()
    seal = show_json(built)["decision"]["seal"]
    assert seal["verified"] is False
    assert built.document_no in seal["reason"]


def test_case_show_table_is_in_chinese(built: Built) -> None:
    """Without --json: a panel with the case, its events and the decision's seal, in Chinese."""
    result = run("case", "show", DECIDED_CASE, "--data-dir", str(built.data_dir))
    assert result.exit_code == 0, result.output
    for text in (
        "办件进度查询",
        DECIDED_CASE,
        "西集镇",
        "已办结（准予）",
        "登记办件",
        built.document_no,
        "✓ 有效",
    ):
        assert text in result.stdout


def test_case_show_reads_the_data_dir_from_the_environment(built: Built) -> None:
    """SHUANGSHI_DATA_DIR stands for --data-dir, as for the workers."""
    result = run("case", "show", DECIDED_CASE, "--json", SHUANGSHI_DATA_DIR=str(built.data_dir))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["decision"]["seal"]["verified"] is True


def test_case_show_of_an_unknown_case_exits_1(built: Built) -> None:
    """A case number the ledger does not know: exit 1, "no such case"."""
    result = run("case", "show", "XJ-20990101-0001", "--data-dir", str(built.data_dir))
    assert result.exit_code == 1
    assert "no such case" in result.stderr
    assert result.stdout == ""


def test_commands_without_a_ledger_exit_2_and_create_nothing(tmp_path: Path) -> None:
    """A data dir with no ledger: a clear message, exit 2, and no database file left behind."""
    empty = tmp_path / "empty"
    for args in (
        ("case", "show", DECIDED_CASE),
        ("ledger", "verify"),
    ):
        result = run(*args, "--data-dir", str(empty))
        assert result.exit_code == 2, result.output
        assert "no ledger" in result.stderr
    assert not empty.exists()


def test_a_database_without_ledger_tables_exits_2(tmp_path: Path) -> None:
    """--ledger-url naming an SQLite file that holds no ledger: exit 2."""
    database = tmp_path / "other.sqlite3"
    sqlite3.connect(database).close()
    result = run("ledger", "verify", "--ledger-url", f"sqlite:///{database}")
    assert result.exit_code == 2
    assert "holds no ledger" in result.stderr


# ---------------------------------------------------------------------------------------------------
# seal verify


def test_seal_verify_of_the_stored_document_is_valid(built: Built) -> None:
    """A stored sealed document verifies with the data dir's keys: exit 0, owner, seal id, fingerprint."""
    result = run("seal", "verify", str(built.document_file), "--data-dir", str(built.data_dir))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("valid")
    for text in ("xiji", "seal:town:xiji", built.fingerprint, built.document_no):
        assert text in result.stdout


def test_seal_verify_with_key_dir_and_expected_owner_as_json(built: Built) -> None:
    """--key-dir and --expect-owner of the right town; --json reports valid."""
    result = run(
        "seal",
        "verify",
        str(built.document_file),
        "--key-dir",
        str(built.data_dir / "seals"),
        "--expect-owner",
        "xiji",
        "--json",
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["valid"], data["code"], data["owner"]) == (True, "valid", "xiji")


def test_seal_verify_of_a_changed_document_exits_1_with_the_reason(built: Built) -> None:
    """A sealed document changed after stamping: invalid, signature-mismatch and its reason, exit 1."""
    tamper(built.document_file)
    result = run("seal", "verify", str(built.document_file), "--data-dir", str(built.data_dir))
    assert result.exit_code == 1
    assert result.stdout.startswith("invalid (signature-mismatch)")
    assert "changed after stamping" in result.stdout
    assert "seal:town:xiji" in result.stdout


def test_seal_verify_of_another_owner_exits_1(built: Built) -> None:
    """--expect-owner of another town: owner-mismatch, exit 1."""
    result = run(
        "seal",
        "verify",
        str(built.document_file),
        "--data-dir",
        str(built.data_dir),
        "--expect-owner",
        "sangcun",
    )
    assert result.exit_code == 1
    assert "owner-mismatch" in result.stdout


def test_seal_verify_of_a_file_that_is_not_json_exits_1(built: Built, tmp_path: Path) -> None:
    """A readable file that is not a sealed document is invalid (malformed), exit 1."""
    path = tmp_path / "note.json"
    path.write_text("not json", encoding="utf-8")
    result = run("seal", "verify", str(path), "--data-dir", str(built.data_dir))
    assert result.exit_code == 1
    assert "malformed" in result.stdout


def test_seal_verify_of_an_unreadable_file_exits_2(built: Built, tmp_path: Path) -> None:
    """A file that does not exist (or is a folder) cannot be read: exit 2."""
    for path in (tmp_path / "missing.json", tmp_path):
        result = run("seal", "verify", str(path), "--data-dir", str(built.data_dir))
        assert result.exit_code == 2, result.output
        assert "cannot read" in result.stderr


def test_seal_verify_without_keys_exits_2(built: Built, tmp_path: Path) -> None:
    """A key folder that does not exist: exit 2 rather than calling the seal invalid."""
    result = run("seal", "verify", str(built.document_file), "--key-dir", str(tmp_path / "nokeys"))
    assert result.exit_code == 2
    assert "no seal keys" in result.stderr


# ---------------------------------------------------------------------------------------------------
# ledger verify


def test_ledger_verify_of_an_intact_chain_exits_0(built: Built) -> None:
    """The chain as written verifies: all 7 rows checked."""
    result = run("ledger", "verify", "--data-dir", str(built.data_dir))
    assert result.exit_code == 0, result.output
    assert "7 rows checked" in result.stdout


def test_ledger_verify_names_a_row_edited_with_sql(built: Built) -> None:
    """A row changed behind the ledger's back (raw SQL): exit 1 naming that row."""
    with sqlite3.connect(built.data_dir / "ledger.sqlite3") as connection:
        connection.execute("UPDATE case_events SET event = 'withdrawn' WHERE id = 3")
    connection.close()
    result = run("ledger", "verify", "--data-dir", str(built.data_dir))
    assert result.exit_code == 1
    assert "row 3: hash mismatch" in result.stdout
    json_result = run("ledger", "verify", "--json", "--data-dir", str(built.data_dir))
    assert json_result.exit_code == 1
    assert json.loads(json_result.stdout)["ok"] is False
