"""``shuangshi seal keygen``: production seal keys per town and department, written once with safe modes.

The command runs in-process through typer's runner on the ``shuangshi`` app itself; the keys it writes
are then used through a production :class:`KeyStore` (no generation).
"""

import json
import stat
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from shuangshi.cli import app
from workers.catalog.loader import load_catalog
from workers.logging import reset_logging
from workers.seal import InsecureKeyFileError, KeyStore, fingerprint
from workers.seal.keygen import KeyFilesExistError, generate_keys


@pytest.fixture(autouse=True)
def _fresh_logging() -> None:
    reset_logging()


def keygen(*args: str) -> Result:
    return CliRunner().invoke(app, ["seal", "keygen", *args])


def owners() -> list[str]:
    catalog = load_catalog()
    return [town.code for town in catalog.towns] + [department.code for department in catalog.departments]


def written(result: Result) -> list[dict[str, Any]]:
    assert result.exit_code == 0, result.output
    rows: list[dict[str, Any]] = json.loads(result.stdout)["written"]
    return rows


def test_keygen_writes_one_pair_per_town_and_department_with_safe_modes(tmp_path: Path) -> None:
    """15 pairs (9 towns, 6 departments): .key 0400, .pub 0444, folder 0700, usable without generation."""
    key_dir = tmp_path / "seals"
    rows = written(keygen(str(key_dir), "--json"))
    assert [row["owner"] for row in rows] == owners()
    assert len(rows) == 15
    assert {row["kind"] for row in rows[:9]} == {"town"}
    assert {row["kind"] for row in rows[9:]} == {"district"}
    assert rows[0]["name"] == "西集镇"
    assert stat.S_IMODE(key_dir.stat().st_mode) == 0o700
    store = KeyStore(key_dir, generate_missing=False)
    for row in rows:
        private = key_dir / f"{row['owner']}.key"
        assert stat.S_IMODE(private.stat().st_mode) == 0o400
        assert stat.S_IMODE((key_dir / f"{row['owner']}.pub").stat().st_mode) == 0o444
        key = store.private_key(row["owner"])
        assert fingerprint(key.public_key()) == row["fingerprint"] == store.fingerprint(row["owner"])
        signature = key.sign(b"seal")
        store.public_key(row["owner"]).verify(signature, b"seal")


def test_keygen_refuses_to_overwrite_and_writes_nothing(tmp_path: Path) -> None:
    """A second run exits 1 naming the existing files and leaves every key as it was."""
    key_dir = tmp_path / "seals"
    written(keygen(str(key_dir), "--json"))
    before = {path.name: path.read_bytes() for path in key_dir.iterdir()}
    (key_dir / "rsj.key").chmod(0o600)
    (key_dir / "rsj.key").unlink()
    (key_dir / "rsj.pub").unlink()
    result = keygen(str(key_dir))
    assert result.exit_code == 1
    assert "refusing to overwrite" in result.output
    assert "xiji.key" in result.output
    assert "Nothing was written" in result.output
    assert not (key_dir / "rsj.key").exists(), "a refused run must not write the missing owner either"
    assert {name: data for name, data in before.items() if not name.startswith("rsj.")} == {
        path.name: path.read_bytes() for path in key_dir.iterdir()
    }


def test_only_missing_adds_keys_for_owners_without_any(tmp_path: Path) -> None:
    """--only-missing writes the owners that have no pair and keeps the others' keys."""
    key_dir = tmp_path / "seals"
    first = {row["owner"]: row["fingerprint"] for row in written(keygen(str(key_dir), "--json"))}
    for suffix in ("key", "pub"):
        (key_dir / f"xzsp.{suffix}").unlink()
    again = written(keygen(str(key_dir), "--only-missing", "--json"))
    assert [row["owner"] for row in again] == ["xzsp"]
    assert again[0]["fingerprint"] != first["xzsp"]
    store = KeyStore(key_dir, generate_missing=False)
    assert store.fingerprint("xiji") == first["xiji"]
    assert written(keygen(str(key_dir), "--only-missing", "--json")) == []


def test_only_missing_refuses_half_a_pair(tmp_path: Path) -> None:
    """A .pub without its .key is never completed with a new key that would not match it."""
    key_dir = tmp_path / "seals"
    written(keygen(str(key_dir), "--owner", "xiji", "--json"))
    (key_dir / "xiji.key").unlink()
    result = keygen(str(key_dir), "--only-missing")
    assert result.exit_code == 1
    assert "half a key pair" in result.output
    assert "xiji.pub" in result.output
    assert not (key_dir / "xiji.key").exists()


def test_owner_option_limits_the_run_and_unknown_owners_exit_2(tmp_path: Path) -> None:
    """--owner writes only those owners; a code the catalog does not know is refused before writing."""
    key_dir = tmp_path / "seals"
    rows = written(keygen(str(key_dir), "--owner", "shuiquan", "--owner", "rsj", "--json"))
    assert [(row["owner"], row["kind"]) for row in rows] == [("shuiquan", "town"), ("rsj", "district")]
    assert sorted(path.name for path in key_dir.iterdir()) == [
        "rsj.key",
        "rsj.pub",
        "shuiquan.key",
        "shuiquan.pub",
    ]
    result = keygen(str(tmp_path / "other"), "--owner", "nowhere")
    assert result.exit_code == 2
    assert "nowhere" in result.output
    assert not (tmp_path / "other").exists()


def test_generated_private_keys_pass_the_key_store_permission_check(tmp_path: Path) -> None:
    """The key store accepts the 0400 files keygen writes and still refuses one readable by others."""
    generate_keys(tmp_path, ["xiji"])
    KeyStore(tmp_path, generate_missing=False).private_key("xiji")
    (tmp_path / "xiji.key").chmod(0o444)
    with pytest.raises(InsecureKeyFileError):
        KeyStore(tmp_path, generate_missing=False).private_key("xiji")


def test_generate_keys_checks_owner_codes_before_writing(tmp_path: Path) -> None:
    """Invalid or repeated owner codes raise ValueError and nothing is created."""
    with pytest.raises(ValueError, match="invalid seal owner code"):
        generate_keys(tmp_path / "a", ["xiji", "../etc"])
    with pytest.raises(ValueError, match="more than once"):
        generate_keys(tmp_path / "b", ["xiji", "xiji"])
    assert not (tmp_path / "a").exists()
    assert not (tmp_path / "b").exists()
    generate_keys(tmp_path / "c", ["xiji"])
    with pytest.raises(KeyFilesExistError) as raised:
        generate_keys(tmp_path / "c", ["xiji"])
    assert raised.value.existing == (tmp_path / "c" / "xiji.key", tmp_path / "c" / "xiji.pub")
