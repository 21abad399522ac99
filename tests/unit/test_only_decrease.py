"""``shuangshi audit only-decrease`` on files: the repository's diagrams and catalog pass with the human
steps counted per mode; a user task added on the town path, a hard-coded deadline, an extra material or a
longer time limit fail naming the item, the measure and the element; what is off the town path does not
count; and inputs the audit cannot read exit 2."""

import json
import re
import shutil
import socket
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from shuangshi.cli import app
from shuangshi.only_decrease import Measure, Status, audit, processes_from_folder
from shuangshi.town_path import DiagramError, ProcessDefinition, analyse_town_path, parse_processes
from workers.catalog.loader import CatalogError, load_catalog
from workers.catalog.models import Catalog

ROOT = Path(__file__).parents[2]
CATALOG = ROOT / "config" / "catalog.yaml"

#: The human steps of a town-counter case's way to an approving end, per mode, read off the diagrams.
TOWN_STEPS = {
    "direct": ["town_decision"],
    "substantive-review": ["town_review", "district_issue"],
    "window-forwarding": ["district_decision"],
}
DIRECT_ITEM_BASELINE_1 = "3700002014020"  # 社会保险记录查询打印: direct, baseline steps 1
DIRECT_ITEM_BASELINE_4 = "3700000117086"  # 在城市建筑物、设施上张挂、张贴宣传品审批: direct, baseline steps 4


def run(*args: str) -> Result:
    return CliRunner().invoke(app, ["audit", "only-decrease", *args])


def run_json(*args: str) -> tuple[int, dict[str, Any]]:
    result = run(*args, "--format", "json")
    return result.exit_code, json.loads(result.stdout)


def measure(document: dict[str, Any], code: str, name: Measure) -> dict[str, Any]:
    item = next(i for i in document["items"] if i["code"] == code)
    return next(m for m in item["measures"] if m["measure"] == name.value)


@pytest.fixture
def models(tmp_path: Path) -> Path:
    """A copy of bpmn/ to seed."""
    return Path(shutil.copytree(ROOT / "bpmn", tmp_path / "bpmn"))


@pytest.fixture
def catalog_copy(tmp_path: Path) -> Path:
    target = tmp_path / "catalog.yaml"
    shutil.copyfile(CATALOG, target)
    return target


def edit(path: Path, old: str, new: str) -> None:
    """Replace the one occurrence of ``old`` in ``path``."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {path.name}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def insert_user_task(diagram: Path, flow_id: str, task_id: str, name: str) -> None:
    """Put a user task on sequence flow ``flow_id``: the flow now ends at the task, which flows on to the
    flow's old target."""
    text = diagram.read_text(encoding="utf-8")
    match = re.search(rf'<bpmn:sequenceFlow id="{flow_id}"[^>]*targetRef="([^"]+)"', text)
    assert match is not None, flow_id
    old_target = match.group(1)
    flow = match.group(0)
    text = text.replace(flow, flow.replace(f'targetRef="{old_target}"', f'targetRef="{task_id}"'))
    task = (
        f'<bpmn:userTask id="{task_id}" name="{name}"><bpmn:extensionElements><zeebe:userTask />'
        f"</bpmn:extensionElements></bpmn:userTask>"
        f'<bpmn:sequenceFlow id="flow_{task_id}" sourceRef="{task_id}" targetRef="{old_target}" />'
    )
    assert text.count("</bpmn:process>") == 1
    diagram.write_text(text.replace("</bpmn:process>", task + "</bpmn:process>"), encoding="utf-8")


# --------------------------------------------------------------------------------------------------
# The repository


def test_the_repository_passes_with_the_town_steps_of_each_mode() -> None:
    """bpmn/ and config/catalog.yaml: exit 0, nothing increases, and every item counts exactly its mode's
    town steps (direct 1, substantive review 2, window forwarding 1)."""
    code, document = run_json()
    assert code == 0, document
    assert document["ok"] is True
    assert document["failures"] == []
    assert document["source"].endswith("bpmn/")
    assert len(document["items"]) == 13
    for item in document["items"]:
        steps = measure(document, item["code"], Measure.steps)
        assert steps["elements"] == TOWN_STEPS[item["mode"]], item["code"]
        assert steps["delegated"] == len(TOWN_STEPS[item["mode"]])
        assert {m["measure"] for m in item["measures"]} == {m.value for m in Measure}
        assert all(m["status"] in {"decreased", "unchanged"} for m in item["measures"]), item


def test_the_table_names_the_statuses_and_the_verdict() -> None:
    """The default output is a table with 减少/持平 and a closing ✓ line naming what was checked."""
    result = run()
    assert result.exit_code == 0, result.output
    assert "减少" in result.output
    assert "持平" in result.output
    assert "增加" not in result.output.replace("无增加", "")
    assert "✓ 无增加（只减不增）；核查 13 项事项 × 6 项指标" in result.output


def test_an_item_whose_baseline_equals_its_town_steps_is_unchanged() -> None:
    """社会保险记录查询打印 has baseline 1 step and the direct town path 1: 持平, not 增加."""
    _, document = run_json()
    steps = measure(document, DIRECT_ITEM_BASELINE_1, Measure.steps)
    assert (steps["baseline"], steps["delegated"], steps["status"]) == (1, 1, "unchanged")


# --------------------------------------------------------------------------------------------------
# Seeded diagrams


def test_a_user_task_added_on_the_town_path_fails_naming_item_measure_and_element(models: Path) -> None:
    """An extra user task between the town decision and the town seal makes 2 human steps: items whose
    baseline is 1 fail with the element ids, items with a larger baseline do not."""
    insert_user_task(models / "direct-delegation.bpmn", "town_flow_approved", "extra_review", "分管领导复核")
    code, document = run_json("--bpmn", str(models))
    assert code == 1
    failures = document["failures"]
    assert [(f["code"], f["measure"]) for f in failures] == [(DIRECT_ITEM_BASELINE_1, "steps")]
    failure = failures[0]
    assert failure["name"] == "社会保险记录查询打印"
    assert failure["mode"] == "direct"
    assert failure["bpmnProcessId"] == "direct-delegation"
    assert (failure["baseline"], failure["delegated"], failure["statusLabel"]) == (1, 2, "增加")
    assert failure["elements"] == ["town_decision", "extra_review"]
    assert measure(document, DIRECT_ITEM_BASELINE_4, Measure.steps)["status"] == "decreased"

    text = run("--bpmn", str(models))
    assert text.exit_code == 1
    line = next(line for line in text.output.splitlines() if line.startswith("✗ 3700002014020"))
    assert "社会保险记录查询打印" in line
    assert "直接下放（direct-delegation）" in line
    assert "办理环节（流程图）：原标准 1，下放后 2 — 增加" in line
    assert "extra_review（分管领导复核）" in line


def test_a_user_task_in_the_called_intake_process_counts_for_every_mode(models: Path) -> None:
    """The call activity into case-intake counts the human steps inside it: a 窗口初审 user task there is one
    more step for every item, named process:element."""
    insert_user_task(
        models / "case-intake.bpmn", "flow_validate_notify_accepted", "counter_check", "窗口初审"
    )
    code, document = run_json("--bpmn", str(models))
    assert code == 1
    for item in document["items"]:
        steps = measure(document, item["code"], Measure.steps)
        assert steps["elements"] == ["case-intake:counter_check", *TOWN_STEPS[item["mode"]]]
    assert [(f["code"], f["measure"]) for f in document["failures"]] == [(DIRECT_ITEM_BASELINE_1, "steps")]


def test_a_user_task_only_on_the_district_counter_path_does_not_fail(models: Path) -> None:
    """Steps added where only district-accepted cases go (direct: after the district decision; window
    forwarding: from the district counter to the merge) are not on the town path."""
    insert_user_task(
        models / "direct-delegation.bpmn", "district_flow_approved", "district_extra", "区级复核"
    )
    insert_user_task(
        models / "window-forwarding.bpmn", "flow_counter_district", "district_intake", "区级登记"
    )
    code, document = run_json("--bpmn", str(models))
    assert code == 0, document["failures"]
    for item in document["items"]:
        assert measure(document, item["code"], Measure.steps)["elements"] == TOWN_STEPS[item["mode"]]


def test_a_user_task_on_the_rejection_branch_is_not_on_the_way_to_approval(models: Path) -> None:
    """The town path ends at an approving end (after the 准予决定书 seal): a review only rejected cases get
    does not count."""
    insert_user_task(models / "direct-delegation.bpmn", "town_flow_rejected", "reject_review", "不予复核")
    code, document = run_json("--bpmn", str(models))
    assert code == 0
    assert measure(document, DIRECT_ITEM_BASELINE_1, Measure.steps)["elements"] == ["town_decision"]


def test_a_loop_counts_each_of_its_user_tasks_once(models: Path) -> None:
    """A user task on the 退回 loop after a failed seal check is on the way of a returned case; the loop's
    town review is still counted once (3 steps, not 4)."""
    insert_user_task(
        models / "substantive-review.bpmn", "flow_notify_returned_town_review", "rectify", "整改"
    )
    code, document = run_json("--bpmn", str(models))
    assert code == 0
    steps = measure(document, "3700002020021", Measure.steps)  # baseline 3
    assert sorted(steps["elements"]) == ["district_issue", "rectify", "town_review"]
    assert steps["status"] == "unchanged"


def test_a_hard_coded_longer_deadline_fails(models: Path) -> None:
    """An overdue timer of 30 days from now instead of =slaDueAt decides a longer deadline than every direct
    item's baseline: the diagram's time limit is 30 and names the timer."""
    edit(
        models / "direct-delegation.bpmn",
        '<bpmn:timeDate xsi:type="bpmn:tFormalExpression">=slaDueAt</bpmn:timeDate></bpmn:timerEventDefinition>'
        "<bpmn:outgoing>flow_town_decision_red_",
        '<bpmn:timeDate xsi:type="bpmn:tFormalExpression">=now() + duration("P30D")</bpmn:timeDate>'
        "</bpmn:timerEventDefinition><bpmn:outgoing>flow_town_decision_red_",
    )
    code, document = run_json("--bpmn", str(models))
    assert code == 1
    direct = [i["code"] for i in document["items"] if i["mode"] == "direct"]
    assert sorted((f["code"], f["measure"]) for f in document["failures"]) == sorted(
        (c, "time-limit-diagram") for c in direct
    )
    failure = document["failures"][0]
    assert failure["delegated"] == 30
    assert failure["elements"] == ["town_decision_red"]
    assert "P30D" in failure["detail"]


def test_a_fixed_due_date_cannot_be_verified(models: Path) -> None:
    """A town decision due at a fixed date cannot be compared with a number of days: 无法核验, exit 1."""
    edit(
        models / "direct-delegation.bpmn",
        'formId="town-decision" /><zeebe:assignmentDefinition candidateGroups=\'="town:" + townCode\' />'
        '<zeebe:taskSchedule dueDate="=slaDueAt" />',
        'formId="town-decision" /><zeebe:assignmentDefinition candidateGroups=\'="town:" + townCode\' />'
        '<zeebe:taskSchedule dueDate="2030-01-01T00:00:00Z" />',
    )
    code, document = run_json("--bpmn", str(models))
    assert code == 1
    statuses = {(f["measure"], f["status"]) for f in document["failures"]}
    assert statuses == {("time-limit-diagram", "unverifiable")}
    assert document["failures"][0]["elements"] == ["town_decision"]


# --------------------------------------------------------------------------------------------------
# Seeded catalogs


def test_an_extra_material_is_refused_by_the_loader_and_reported_by_the_audit(catalog_copy: Path) -> None:
    """A required material outside the baseline: the catalog loader refuses the file, and the audit still
    reports the item's catalog materials and the application check's required materials as 增加."""
    edit(
        catalog_copy,
        "      - {id: owner_consent, name: 建筑物、设施所有权人或管理人同意证明, required: true}\n",
        "      - {id: owner_consent, name: 建筑物、设施所有权人或管理人同意证明, required: true}\n"
        "      - {id: fire_pledge, name: 消防安全承诺书, required: true}\n",
    )
    with pytest.raises(CatalogError, match="fire_pledge"):
        load_catalog(catalog_copy)
    result = run("--catalog", str(catalog_copy), "--format", "json")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert [(f["code"], f["measure"], f["extraMaterials"]) for f in document["failures"]] == [
        (DIRECT_ITEM_BASELINE_4, "materials", ["fire_pledge"]),
        (DIRECT_ITEM_BASELINE_4, "materials-required", ["fire_pledge"]),
    ]
    assert any("fire_pledge" in problem for problem in document["catalogProblems"])
    assert "fire_pledge" in result.stderr


def test_a_longer_time_limit_fails(catalog_copy: Path) -> None:
    """timeLimitDays 6 against a baseline of 5: the catalog's and the diagram's time limit both increase."""
    edit(
        catalog_copy,
        "    timeLimitDays: 3\n    steps: 3\n    baseline:\n      materials: [application_form, applicant_identity",
        "    timeLimitDays: 6\n    steps: 3\n    baseline:\n      materials: [application_form, applicant_identity",
    )
    code, document = run_json("--catalog", str(catalog_copy))
    assert code == 1
    assert [(f["code"], f["measure"], f["baseline"], f["delegated"]) for f in document["failures"]] == [
        (DIRECT_ITEM_BASELINE_4, "time-limit", 5, 6),
        (DIRECT_ITEM_BASELINE_4, "time-limit-diagram", 5, 6),
    ]


def test_the_audit_reports_increases_in_catalog_data_the_loader_never_saw() -> None:
    """Given catalog data built without the cross-checks (more steps, days and materials than the
    baseline), audit() itself marks each as 增加."""
    data = load_catalog(CATALOG).model_dump(mode="json", by_alias=True)
    item = data["items"][0]
    item["steps"] = item["baseline"]["steps"] + 1
    item["timeLimitDays"] = item["baseline"]["timeLimitDays"] + 1
    item["materials"].append({"id": "extra_doc", "name": "额外材料", "required": False})
    catalog = Catalog.model_validate(data, by_alias=True, context={"skip_cross_checks": True})
    report = audit(catalog, processes_from_folder(ROOT / "bpmn"), source="bpmn/")
    assert report.failed
    failures = {f.measure: f for f in report.items[0].failures}
    assert set(failures) == {
        Measure.steps_declared,
        Measure.time_limit,
        Measure.time_limit_diagram,
        Measure.materials,
    }
    assert all(f.status is Status.increased for f in failures.values())
    assert failures[Measure.materials].extra == ("extra_doc",)


# --------------------------------------------------------------------------------------------------
# The counting rules on small diagrams


def diagram(body: str, process_id: str = "p") -> dict[str, ProcessDefinition]:
    xml = (
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="d">'
        f'<bpmn:process id="{process_id}" isExecutable="true">{body}</bpmn:process></bpmn:definitions>'
    )
    return {p.process_id: p for p in parse_processes(xml, "test.bpmn")}


def flow(source: str, target: str, condition: str | None = None) -> str:
    expression = (
        "" if condition is None else f"<bpmn:conditionExpression>{condition}</bpmn:conditionExpression>"
    )
    return f'<bpmn:sequenceFlow id="{source}_{target}" sourceRef="{source}" targetRef="{target}">{expression}</bpmn:sequenceFlow>'


def user_task(element_id: str) -> str:
    return f'<bpmn:userTask id="{element_id}"><bpmn:extensionElements><zeebe:userTask /></bpmn:extensionElements></bpmn:userTask>'


SEAL = (
    '<bpmn:serviceTask id="seal"><bpmn:extensionElements><zeebe:taskDefinition type="seal.stamp" />'
    '<zeebe:taskHeaders><zeebe:header key="document" value="decision" /></zeebe:taskHeaders>'
    "</bpmn:extensionElements></bpmn:serviceTask>"
)
TOWN = {"counter": "town", "itemCode": "1", "timeLimitDays": 3}


def test_parallel_branches_count_every_user_task() -> None:
    """A case passes both branches of a parallel gateway: 2 steps, not the 1 of either branch."""
    processes = diagram(
        '<bpmn:startEvent id="s" /><bpmn:parallelGateway id="fork" /><bpmn:parallelGateway id="join" />'
        + user_task("a")
        + user_task("b")
        + SEAL
        + '<bpmn:endEvent id="e" />'
        + flow("s", "fork")
        + flow("fork", "a")
        + flow("fork", "b")
        + flow("a", "join")
        + flow("b", "join")
        + flow("join", "seal")
        + flow("seal", "e")
    )
    path = analyse_town_path(processes, "p", TOWN)
    assert [step.ref for step in path.steps or ()] == ["a", "b"]


def test_a_condition_on_the_item_is_evaluated_and_unknown_variables_go_both_ways() -> None:
    """`=itemCode = "1"` is decided by the item's variables; `=conclusion = "approve"` is not known, so both of
    its branches are possible and the longer approving one counts."""
    processes = diagram(
        '<bpmn:startEvent id="s" /><bpmn:exclusiveGateway id="g" default="g_seal" />'
        '<bpmn:exclusiveGateway id="c" default="c_seal" />'
        + user_task("extra")
        + user_task("review")
        + SEAL
        + '<bpmn:endEvent id="e" />'
        + flow("s", "g")
        + flow("g", "extra", '=itemCode = "1"')
        + flow("g", "seal")
        + flow("extra", "c")
        + flow("c", "review", '=conclusion = "approve"')
        + flow("c", "seal")
        + flow("review", "seal")
        + flow("seal", "e")
    )
    assert analyse_town_path(processes, "p", TOWN).count == 2
    assert analyse_town_path(processes, "p", {**TOWN, "itemCode": "2"}).count == 0


def test_a_process_without_a_sealed_decision_has_no_approving_way() -> None:
    """Without a seal.stamp document=decision before the end there is no approving end: no count."""
    processes = diagram(
        '<bpmn:startEvent id="s" />'
        + user_task("a")
        + '<bpmn:endEvent id="e" />'
        + flow("s", "a")
        + flow("a", "e")
    )
    assert analyse_town_path(processes, "p", TOWN).steps is None


def test_a_call_to_a_missing_process_cannot_be_analysed() -> None:
    """A call activity whose process was not read is a DiagramError naming the process."""
    processes = diagram(
        '<bpmn:startEvent id="s" /><bpmn:callActivity id="call"><bpmn:extensionElements>'
        '<zeebe:calledElement processId="elsewhere" /></bpmn:extensionElements></bpmn:callActivity>'
        + SEAL
        + '<bpmn:endEvent id="e" />'
        + flow("s", "call")
        + flow("call", "seal")
        + flow("seal", "e")
    )
    with pytest.raises(DiagramError, match="elsewhere"):
        analyse_town_path(processes, "p", TOWN)


# --------------------------------------------------------------------------------------------------
# Cannot run


def test_a_missing_folder_exits_2(tmp_path: Path) -> None:
    """--bpmn at a folder that does not exist: exit 2 naming it; JSON says ok false with the error."""
    result = run("--bpmn", str(tmp_path / "nowhere"), "--format", "json")
    assert result.exit_code == 2
    assert json.loads(result.stdout)["ok"] is False
    assert "nowhere" in result.stderr


def test_a_folder_without_a_modes_process_exits_2(models: Path) -> None:
    """Without window-forwarding.bpmn the mode's process is missing: exit 2 naming process and mode."""
    (models / "window-forwarding.bpmn").unlink()
    result = run("--bpmn", str(models))
    assert result.exit_code == 2
    assert "'window-forwarding'" in result.stderr
    assert "服务窗口前移" in result.stderr


def test_bpmn_and_gateway_together_exit_2() -> None:
    """--bpmn and --gateway name two different sources: exit 2."""
    result = run("--bpmn", str(ROOT / "bpmn"), "--gateway", "127.0.0.1:1")
    assert result.exit_code == 2
    assert "not both" in result.stderr


def test_an_unreachable_gateway_exits_2_naming_it() -> None:
    """--gateway at a port nobody listens on: exit 2 with the address and a hint."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run("--gateway", f"127.0.0.1:{port}", "--timeout", "5")
    assert result.exit_code == 2
    assert f"http://127.0.0.1:{port}" in result.stderr


def test_a_catalog_of_the_wrong_shape_exits_2(tmp_path: Path) -> None:
    """A catalog that is not even a catalog cannot be audited: exit 2 with the loader's problem."""
    bad = tmp_path / "catalog.yaml"
    bad.write_text("items: 3\n", encoding="utf-8")
    result = run("--catalog", str(bad))
    assert result.exit_code == 2
    assert "the catalog does not load" in result.stderr
