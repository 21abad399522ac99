"""The ``shuangshi`` command line as a user runs it: the installed console script."""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from workers.catalog.loader import default_catalog_path
from workers.domain.validators import id_number_check_digit

SHUANGSHI = str(Path(sys.executable).parent / "shuangshi")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SHUANGSHI, *args], capture_output=True, text=True, timeout=60, check=False)


def made_up_id_number() -> str:
    body = "370406" + "19900101" + "123"
    return body + id_number_check_digit(body)


def test_catalog_json_lists_the_notice_items_by_mode() -> None:
    """`catalog --json` gives 13 items (5/3/5 per mode), 9 towns, 6 departments and 3 modes."""
    result = run("catalog", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    items = data["items"]
    assert [i["seq"] for i in items] == list(range(1, 14))
    modes = [i["mode"] for i in items]
    assert modes.count("direct") == 5
    assert modes.count("substantive-review") == 3
    assert modes.count("window-forwarding") == 5
    assert {i["code"] for i in items} >= {"3700000117086", "3700000123026", "3700000715006"}
    item2 = next(i for i in items if i["seq"] == 2)
    assert item2["scope"] == ["转外就医备案"]
    assert item2["departmentName"] == "区医疗保障局"
    assert [t["name"] for t in data["towns"]] == [
        "西集镇",
        "桑村镇",
        "城头镇",
        "冯卯镇",
        "店子镇",
        "水泉镇",
        "徐庄镇",
        "北庄镇",
        "凫城镇",
    ]
    assert len(data["departments"]) == 6
    assert {m["bpmnProcessId"] for m in data["modes"]} == {
        "direct-delegation",
        "substantive-review",
        "window-forwarding",
    }


def test_catalog_table_shows_every_item() -> None:
    """The human table names all 13 items and the towns."""
    result = run("catalog")
    assert result.returncode == 0, result.stderr
    assert "凫城镇" in result.stdout
    assert result.stdout.count("37000") >= 13


def test_broken_catalog_names_file_line_and_field(tmp_path: Path) -> None:
    """A duplicated item code is reported with the file, the line and the field path; exit code 2."""
    text = default_catalog_path().read_text(encoding="utf-8")
    broken = text.replace('code: "3700002036017"', 'code: "3700002036027"', 1)
    assert broken != text
    path = tmp_path / "catalog.yaml"
    path.write_text(broken, encoding="utf-8")
    lines = [n for n, row in enumerate(broken.splitlines(), 1) if '"3700002036027"' in row]
    assert len(lines) == 2
    result = run("catalog", "--catalog", str(path))
    assert result.returncode == 2
    assert f"catalog.yaml:{lines[1]}" in result.stderr
    assert "items[2].code" in result.stderr
    assert "duplicate" in result.stderr
    assert f"first at line {lines[0]}" in result.stderr


def _application(**overrides: Any) -> dict[str, Any]:
    application: dict[str, Any] = {
        "applicant": {
            "kind": "person",
            "name": "王小明",
            "idNumber": made_up_id_number(),
            "mobile": "13800001234",
        },
        "itemCode": "3700000123026",
        "townCode": "xiji",
        "counter": "town",
        "materials": [
            "application_form",
            "spouses_identity",
            "household_register",
            "marriage_certificate",
            "children_status_proof",
        ],
        "fields": {"childrenCount": 2, "marriageDate": "2015-05-01", "remarried": False, "reason": "再生育"},
    }
    application.update(overrides)
    return application


def test_validate_application_accepts_a_complete_application(tmp_path: Path) -> None:
    """A complete 再生育审批 application passes with exit code 0."""
    path = tmp_path / "app.json"
    path.write_text(json.dumps(_application(), ensure_ascii=False), encoding="utf-8")
    result = run("validate-application", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no problems" in result.stdout


def test_validate_application_prints_every_problem(tmp_path: Path) -> None:
    """Missing materials, a bad ID number and an unknown town are all printed; exit code 1."""
    application = _application(townCode="nowhere", materials=["application_form"])
    application["applicant"]["idNumber"] = made_up_id_number()[:-1] + (
        "0" if made_up_id_number()[-1] != "0" else "1"
    )
    path = tmp_path / "app.json"
    path.write_text(json.dumps(application, ensure_ascii=False), encoding="utf-8")
    result = run("validate-application", str(path))
    assert result.returncode == 1
    out = result.stdout
    assert "applicant.idNumber" in out
    assert "check_digit" in out
    assert "townCode" in out
    assert "household_register" in out
    assert "problem(s)" in out


def test_validate_application_rejects_non_json(tmp_path: Path) -> None:
    """A file that is not JSON is refused with exit code 2 and the parser's reason."""
    path = tmp_path / "app.json"
    path.write_text("{not json", encoding="utf-8")
    result = run("validate-application", str(path))
    assert result.returncode == 2
    assert "cannot read" in result.stderr
