"""The delegation catalog: the shipped YAML matches the notice; loading errors name file:line: field."""

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import ValidationError

from workers.catalog import Catalog, CatalogError, config_dir, load_catalog
from workers.catalog.loader import CONFIG_DIR_ENV, default_catalog_path

REPO_CONFIG = Path(__file__).resolve().parents[2] / "config"
CATALOG_TEXT = (REPO_CONFIG / "catalog.yaml").read_text(encoding="utf-8")

# 山政办发〔2021〕12号 附件, typed from the notice. Columns: 序号, 事项编码, 事项名称, 区级实施部门,
# 事项类型, 调整方式 (from the section heading), 备注.
NOTICE_TABLE = [
    (
        1,
        "3700000117086",
        "在城市建筑物、设施上张挂、张贴宣传品审批",
        "区行政审批服务局",
        "行政许可",
        "direct",
        "",
    ),
    (
        2,
        "3700002036027",
        "基本医疗保险参保人员异地就医备案",
        "区医疗保障局",
        "公共服务",
        "direct",
        "下放“转外就医备案”",
    ),
    (3, "3700002036017", "医疗保险参保和变更登记", "区医疗保障局", "公共服务", "direct", ""),
    (4, "3700002014071", "职业资格证书查询", "区人力资源和社会保障局", "公共服务", "direct", ""),
    (
        5,
        "3700002014020",
        "社会保险记录查询打印",
        "区人力资源和社会保障局",
        "公共服务",
        "direct",
        "下放“个人参保缴费证明查询打印”“待遇领取证明查询打印”",
    ),
    (6, "3700000123026", "再生育审批", "区行政审批服务局", "行政许可", "substantive-review", ""),
    (
        7,
        "3700002014028",
        "创业担保贷款、创业补贴服务",
        "区人力资源和社会保障局",
        "公共服务",
        "substantive-review",
        "下放“个人申请创业担保贷款资格审核”“一次性创业补贴申领”",
    ),
    (
        8,
        "3700002020021",
        "农村土地（不含草原、林地）承包经营以及有关合同管理和农村集体产权制度改革政策宣传咨询服务",
        "区农业农村局",
        "公共服务",
        "substantive-review",
        "",
    ),
    (
        9,
        "3700000131001",
        "公司（企业）登记",
        "区行政审批服务局",
        "行政许可",
        "window-forwarding",
        "前移“个人独资企业及分支机构设立、变更、注销登记”",
    ),
    (10, "3700000131002", "农民专业合作社登记", "区行政审批服务局", "行政许可", "window-forwarding", ""),
    (11, "3700000115036", "采伐林木许可审批", "区行政审批服务局", "行政许可", "window-forwarding", ""),
    (
        12,
        "3700000525001",
        "自然灾害生活救助资金和物资的给付",
        "区应急管理局",
        "行政给付",
        "window-forwarding",
        "",
    ),
    (13, "3700000715006", "不动产登记", "区自然资源局", "行政确认", "window-forwarding", ""),
]

WriteCatalog = Callable[[str], Path]


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    """The shipped catalog, loaded from the repository's config folder."""
    return load_catalog(REPO_CONFIG / "catalog.yaml")


@pytest.fixture
def write_catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> WriteCatalog:
    """Write catalog text to ``catalog.yaml`` in a temporary working directory; return its path."""
    monkeypatch.chdir(tmp_path)

    def write(text: str) -> Path:
        path = tmp_path / "catalog.yaml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


def edit(text: str, old: str, new: str, *, after: str = "") -> tuple[str, int]:
    """Replace the first ``old`` after the marker ``after``; return the new text and the 1-based line."""
    start = text.index(after) if after else 0
    at = text.index(old, start)
    return text[:at] + new + text[at + len(old) :], text.count("\n", 0, at) + 1


def line_of(text: str, needle: str, *, after: str = "") -> int:
    """1-based line of the first ``needle`` after the marker ``after``."""
    start = text.index(after) if after else 0
    return text.count("\n", 0, text.index(needle, start)) + 1


def load_error(path: Path) -> CatalogError:
    """Load the catalog at ``path`` and return the CatalogError it must raise."""
    with pytest.raises(CatalogError) as caught:
        load_catalog(path)
    return caught.value


# --- the shipped catalog -------------------------------------------------------------------------


def test_items_match_the_notice_attachment(catalog: Catalog) -> None:
    """The 13 items' seq, code, name, department, type, mode and remark equal the notice's table."""
    shipped = [
        (
            item.seq,
            item.code,
            item.name,
            catalog.department(item.department_code).name,
            item.type,
            item.mode,
            item.remark,
        )
        for item in catalog.items
    ]
    assert shipped == NOTICE_TABLE


def test_delegated_scope_follows_the_remarks(catalog: Catalog) -> None:
    """Items 2, 5, 7 and 9 delegate only the sub-items of their 备注; the others are whole items."""
    scopes = {item.seq: list(item.scope) for item in catalog.items}
    assert scopes == {
        1: [],
        2: ["转外就医备案"],
        3: [],
        4: [],
        5: ["个人参保缴费证明查询打印", "待遇领取证明查询打印"],
        6: [],
        7: ["个人申请创业担保贷款资格审核", "一次性创业补贴申领"],
        8: [],
        9: ["个人独资企业及分支机构设立、变更、注销登记"],
        10: [],
        11: [],
        12: [],
        13: [],
    }
    assert catalog.item("3700000117086").whole_item
    assert not catalog.item("3700002036027").whole_item


def test_items_per_mode_are_5_3_5(catalog: Catalog) -> None:
    """Five items are delegated directly, three by substantive review, five by window forwarding."""
    by_mode = catalog.items_by_mode()
    assert {code: [item.seq for item in items] for code, items in by_mode.items()} == {
        "direct": [1, 2, 3, 4, 5],
        "substantive-review": [6, 7, 8],
        "window-forwarding": [9, 10, 11, 12, 13],
    }


def test_modes_name_their_process_and_seal(catalog: Catalog) -> None:
    """Each mode names its Chinese name, BPMN process id and whose seal is on the decision."""
    modes = {
        m.code: (m.name, m.bpmn_process_id, m.accepted_by, m.decided_by, m.seal_owner) for m in catalog.modes
    }
    assert modes == {
        "direct": ("直接下放", "direct-delegation", "town", "town", "town"),
        "substantive-review": ("下放实质性审核权", "substantive-review", "town", "district", "district"),
        "window-forwarding": ("服务窗口前移", "window-forwarding", "town", "district", "district"),
    }


def test_the_nine_towns(catalog: Catalog) -> None:
    """The catalog lists exactly the 9 双十镇 with their pinyin codes and 2-letter case prefixes."""
    assert [(t.code, t.name, t.case_prefix) for t in catalog.towns] == [
        ("xiji", "西集镇", "XJ"),
        ("sangcun", "桑村镇", "SC"),
        ("chengtou", "城头镇", "CT"),
        ("fengmao", "冯卯镇", "FM"),
        ("dianzi", "店子镇", "DZ"),
        ("shuiquan", "水泉镇", "SQ"),
        ("xuzhuang", "徐庄镇", "XZ"),
        ("beizhuang", "北庄镇", "BZ"),
        ("fucheng", "凫城镇", "FC"),
    ]


def test_the_six_departments(catalog: Catalog) -> None:
    """The catalog lists the 6 district departments of the attachment with codes and case prefixes."""
    assert [(d.code, d.name, d.case_prefix) for d in catalog.departments] == [
        ("xzsp", "区行政审批服务局", "SP"),
        ("ybj", "区医疗保障局", "YB"),
        ("rsj", "区人力资源和社会保障局", "RS"),
        ("nyncj", "区农业农村局", "NY"),
        ("yjglj", "区应急管理局", "YJ"),
        ("zrzyj", "区自然资源局", "ZR"),
    ]


def test_delegated_values_never_exceed_the_baseline(catalog: Catalog) -> None:
    """只减不增 holds for every item: materials a subset, time limit and steps at most the baseline."""
    for item in catalog.items:
        assert {m.id for m in item.materials} <= set(item.baseline.materials), item.code
        assert item.time_limit_days <= item.baseline.time_limit_days, item.code
        assert item.steps <= item.baseline.steps, item.code


def test_every_item_is_marked_as_sample_values(catalog: Catalog) -> None:
    """Materials and limits are sample values until the departments confirm them, and say so."""
    assert all(item.sample_values for item in catalog.items)
    assert "sampleValues: true" in CATALOG_TEXT


def test_item_specific_fields(catalog: Catalog) -> None:
    """Items carry their own typed application fields, e.g. 再生育审批 childrenCount and 采伐 volume."""
    rebirth = {f.name: f.type for f in catalog.item("3700000123026").fields}
    assert rebirth["childrenCount"] == "integer"
    logging = {f.name: f.type for f in catalog.item("3700000115036").fields}
    assert logging["treeSpecies"] == "string"
    assert logging["volumeCubicMeters"] == "integer"


def test_lookups_by_code_and_clear_key_errors(catalog: Catalog) -> None:
    """item/town/department/mode find entries by code and raise KeyError naming an unknown code."""
    assert catalog.item("3700000715006").name == "不动产登记"
    assert catalog.town("fucheng").name == "凫城镇"
    assert catalog.department("zrzyj").name == "区自然资源局"
    assert catalog.mode("window-forwarding").bpmn_process_id == "window-forwarding"
    assert catalog.item("3700000123026").material("marriage_certificate").name == "结婚证"
    with pytest.raises(KeyError, match="unknown item code '123'"):
        catalog.item("123")
    with pytest.raises(KeyError, match="unknown town code 'shancheng'"):
        catalog.town("shancheng")
    with pytest.raises(KeyError, match="unknown department code 'abc'"):
        catalog.department("abc")
    with pytest.raises(KeyError, match="unknown delegation mode 'entrusted'"):
        catalog.mode("entrusted")
    with pytest.raises(KeyError, match="has no material 'passport'"):
        catalog.item("3700000123026").material("passport")


def test_public_dict_is_json_and_complete(catalog: Catalog) -> None:
    """to_public_dict gives JSON-able items with department and mode names resolved."""
    public = json.loads(json.dumps(catalog.to_public_dict(), ensure_ascii=False))
    assert len(public["items"]) == 13
    assert len(public["towns"]) == 9
    assert len(public["departments"]) == 6
    assert [m["bpmnProcessId"] for m in public["modes"]] == [
        "direct-delegation",
        "substantive-review",
        "window-forwarding",
    ]
    second = public["items"][1]
    assert {
        "seq",
        "code",
        "name",
        "departmentCode",
        "departmentName",
        "type",
        "mode",
        "modeName",
        "bpmnProcessId",
        "scope",
        "remark",
        "applicantKind",
        "materials",
        "timeLimitDays",
        "steps",
        "baseline",
        "sampleValues",
    } <= set(second)
    assert second["departmentName"] == "区医疗保障局"
    assert second["modeName"] == "直接下放"
    assert second["scope"] == ["转外就医备案"]
    assert set(second["baseline"]) == {"materials", "timeLimitDays", "steps"}
    assert set(second["materials"][0]) == {"id", "name", "required"}


def test_models_are_frozen(catalog: Catalog) -> None:
    """Catalog entries cannot be changed after loading."""
    with pytest.raises(ValidationError):
        catalog.items[0].name = "改名"  # type: ignore[misc]


def test_config_dir_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SHUANGSHI_CONFIG_DIR overrides the repository's config folder, and load_catalog() reads from it."""
    monkeypatch.delenv(CONFIG_DIR_ENV, raising=False)
    assert config_dir() == REPO_CONFIG
    assert len(load_catalog().items) == 13
    (tmp_path / "catalog.yaml").write_text(
        CATALOG_TEXT.replace("name: 西集镇", "name: 西集"), encoding="utf-8"
    )
    monkeypatch.setenv(CONFIG_DIR_ENV, str(tmp_path))
    assert default_catalog_path() == tmp_path / "catalog.yaml"
    assert load_catalog().town("xiji").name == "西集"


# --- loading errors name file:line: field ---------------------------------------------------------


def test_duplicate_item_code(write_catalog: WriteCatalog) -> None:
    """A second item with an existing code is reported at its line, pointing back at the first."""
    text, line = edit(CATALOG_TEXT, 'code: "3700002014071"', 'code: "3700002036017"')
    first = line_of(text, 'code: "3700002036017"')
    error = load_error(write_catalog(text))
    assert str(error) == (
        f"catalog.yaml:{line}: items[3].code: duplicate item code 3700002036017 (first at line {first})"
    )
    (problem,) = error.problems
    assert (problem.file, problem.line, problem.field) == ("catalog.yaml", line, "items[3].code")


def test_unknown_mode(write_catalog: WriteCatalog) -> None:
    """An item whose mode is not in modes is reported at the item's mode line."""
    text, line = edit(CATALOG_TEXT, "mode: direct", "mode: entrusted", after="seq: 4")
    error = load_error(write_catalog(text))
    assert str(error).startswith(f"catalog.yaml:{line}: items[3].mode: unknown delegation mode 'entrusted'")


def test_unknown_department(write_catalog: WriteCatalog) -> None:
    """An item whose department code is not in departments is reported at its departmentCode line."""
    text, line = edit(CATALOG_TEXT, "departmentCode: zrzyj", "departmentCode: gtj")
    error = load_error(write_catalog(text))
    assert str(error).startswith(f"catalog.yaml:{line}: items[12].departmentCode: unknown department 'gtj'")


def test_unknown_material_id_in_baseline(write_catalog: WriteCatalog) -> None:
    """A baseline material id that the item does not define is reported at that list entry."""
    text, line = edit(CATALOG_TEXT, " cutting_area_survey,\n", " cutting_survey,\n", after="seq: 11")
    error = load_error(write_catalog(text))
    reported = str(error).splitlines()
    assert (
        f"catalog.yaml:{line}: items[10].baseline.materials[3]: unknown material id 'cutting_survey': "
        "not in materials or removedMaterials of this item"
    ) in reported
    # the delegated material that lost its baseline entry is reported too, at its own line
    material_line = line_of(text, "id: cutting_area_survey")
    assert reported[0].startswith(
        f"catalog.yaml:{material_line}: items[10].materials[3].id: delegated material"
    )
    assert len(reported) == 2


def test_delegated_time_limit_above_baseline(write_catalog: WriteCatalog) -> None:
    """A delegated time limit above the baseline breaks 只减不增 and is reported at timeLimitDays."""
    text, line = edit(CATALOG_TEXT, "timeLimitDays: 10", "timeLimitDays: 30", after="seq: 6")
    error = load_error(write_catalog(text))
    assert str(error) == (
        f"catalog.yaml:{line}: items[5].timeLimitDays: delegated time limit 30 working days exceeds "
        "the baseline 20 (只减不增)"
    )


def test_delegated_steps_above_baseline(write_catalog: WriteCatalog) -> None:
    """More handling steps than the baseline breaks 只减不增 and is reported at steps."""
    text, line = edit(CATALOG_TEXT, "steps: 1", "steps: 3", after="seq: 4")
    error = load_error(write_catalog(text))
    assert (
        str(error)
        == f"catalog.yaml:{line}: items[3].steps: delegated steps 3 exceed the baseline 2 (只减不增)"
    )


def test_delegated_material_not_in_baseline(write_catalog: WriteCatalog) -> None:
    """A delegated material missing from the baseline breaks 只减不增 and is reported at its id."""
    old = "      - {id: agent_authorization, name: 授权委托书及代办人身份证, required: false}\n"
    text, line = edit(
        CATALOG_TEXT,
        old,
        old + "      - {id: residence_permit, name: 居住证, required: true}\n",
        after="seq: 5",
    )
    line += 1  # the added entry is on the line after the edited one
    error = load_error(write_catalog(text))
    assert str(error).startswith(
        f"catalog.yaml:{line}: items[4].materials[2].id: "
        "delegated material 'residence_permit' is not in the baseline"
    )


def test_yaml_syntax_error(write_catalog: WriteCatalog) -> None:
    """A YAML syntax error is reported with the file and the line of the broken text."""
    text, line = edit(CATALOG_TEXT, "steps: 3", "steps: 3: 4", after="seq: 8")
    error = load_error(write_catalog(text))
    assert str(error) == f"catalog.yaml:{line}: YAML syntax error: mapping values are not allowed here"
    assert error.problems[0].line == line


def test_duplicate_yaml_key(write_catalog: WriteCatalog) -> None:
    """A key given twice in one mapping is reported at the second occurrence."""
    text, line = edit(CATALOG_TEXT, "    steps: 4\n", "    steps: 4\n    steps: 5\n", after="seq: 13")
    error = load_error(write_catalog(text))
    assert str(error).startswith(f'catalog.yaml:{line + 1}: YAML syntax error: found duplicate key "steps"')


def test_wrong_type_is_caught_by_pydantic(write_catalog: WriteCatalog) -> None:
    """A value of the wrong type is reported at its line with the field path and pydantic's message."""
    text, line = edit(CATALOG_TEXT, "timeLimitDays: 3", "timeLimitDays: three", after="seq: 8")
    error = load_error(write_catalog(text))
    assert (
        str(error)
        == f"catalog.yaml:{line}: items[7].timeLimitDays: Input should be a valid integer, got 'three'"
    )


def test_unquoted_item_code_is_rejected(write_catalog: WriteCatalog) -> None:
    """An item code written as a bare number is not silently converted to a string."""
    text, line = edit(CATALOG_TEXT, 'code: "3700000131002"', "code: 3700000131002")
    error = load_error(write_catalog(text))
    assert str(error).startswith(f"catalog.yaml:{line}: items[9].code: Input should be a valid string")


def test_unknown_and_missing_keys(write_catalog: WriteCatalog) -> None:
    """A misspelt key is reported as unknown at its line, and the missing key at its mapping."""
    text, line = edit(CATALOG_TEXT, "applicantKind: person", "applicantKnd: person", after="seq: 12")
    item_line = line_of(text, "- seq: 12")
    error = load_error(write_catalog(text))
    assert [str(p) for p in error.problems] == [
        f"catalog.yaml:{item_line}: items[11].applicantKind: Field required",
        f"catalog.yaml:{line}: items[11].applicantKnd: unknown key (keys are camelCase; check the spelling)",
    ]


def test_snake_case_keys_are_rejected(write_catalog: WriteCatalog) -> None:
    """The YAML must use the camelCase keys; a snake_case spelling is an unknown key."""
    text, line = edit(CATALOG_TEXT, "bpmnProcessId: direct-delegation", "bpmn_process_id: direct-delegation")
    error = load_error(write_catalog(text))
    assert f"catalog.yaml:{line}: modes[0].bpmn_process_id: unknown key" in str(error)


def test_seq_must_be_contiguous(write_catalog: WriteCatalog) -> None:
    """A gap in seq is reported at items, and the out-of-range seq at its own line."""
    text, line = edit(CATALOG_TEXT, "- seq: 7\n", "- seq: 14\n")
    error = load_error(write_catalog(text))
    assert [str(p) for p in error.problems] == [
        f"catalog.yaml:{line_of(text, 'items:')}: items: seq must run 1..13 without gaps; missing 7",
        f"catalog.yaml:{line}: items[6].seq: seq 14 is outside 1..13 (seq must be contiguous)",
    ]


def test_duplicate_town_code(write_catalog: WriteCatalog) -> None:
    """Two towns with one code are reported at the second, pointing back at the first."""
    text, line = edit(CATALOG_TEXT, "code: sangcun", "code: xiji")
    error = load_error(write_catalog(text))
    first = line_of(text, "code: xiji")
    assert (
        str(error) == f"catalog.yaml:{line}: towns[1].code: duplicate town code xiji (first at line {first})"
    )


def test_all_problems_are_reported_at_once(write_catalog: WriteCatalog) -> None:
    """Several independent problems come out together, one per line, in line order."""
    text, first = edit(CATALOG_TEXT, "steps: 2", "steps: 9", after="seq: 2")
    text, second = edit(text, "timeLimitDays: 5", "timeLimitDays: 6", after="seq: 13")
    error = load_error(write_catalog(text))
    lines = str(error).splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"catalog.yaml:{first}: items[1].steps:")
    assert lines[1].startswith(f"catalog.yaml:{second}: items[12].timeLimitDays:")


def test_file_outside_the_working_directory_is_named_in_full(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Problems in a file outside the working directory carry its full path."""
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    path = tmp_path / "catalog.yaml"
    text, line = edit(CATALOG_TEXT, "casePrefix: FC", "casePrefix: fc")
    path.write_text(text, encoding="utf-8")
    error = load_error(path)
    assert str(error).startswith(f"{path}:{line}: towns[8].casePrefix: String should match pattern")


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    """A catalog file that does not exist is a CatalogError naming the file."""
    path = tmp_path / "nope.yaml"
    error = load_error(path)
    assert str(error).startswith(f"{path}: cannot read the catalog")


def test_non_mapping_document(write_catalog: WriteCatalog) -> None:
    """A document that is not a mapping is reported at line 1."""
    error = load_error(write_catalog("- just\n- a list\n"))
    assert str(error).startswith("catalog.yaml:1: <root>: the catalog must be a mapping")


def test_programmatic_catalog_is_cross_checked(catalog: Catalog) -> None:
    """Building a Catalog in code runs the same cross-checks and names the field path."""
    data = catalog.model_dump(by_alias=True)
    data["items"][2]["code"] = data["items"][1]["code"]
    with pytest.raises(ValidationError, match=r"items\[2\]\.code: duplicate item code 3700002036027"):
        Catalog.model_validate(data)
