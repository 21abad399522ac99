"""``shuangshi lint``: the project's diagrams and forms are clean, and seeded mistakes in copies of them
are reported with file, element or JSON path, and rule (bpmnlint + camunda-compat, form schema, FEEL,
job types, target platform)."""

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

import shuangshi.lint
from shuangshi.cli import app
from shuangshi.lint import LintError, Problem, lint_models

ROOT = Path(__file__).parents[2]
#: The checkout's diagrams and forms (other processes and forms join over time).
DIAGRAMS = len(list(ROOT.glob("bpmn/*.bpmn")))
FORMS = len(list(ROOT.glob("forms/*.form")))


def run(*args: str, env: dict[str, str | None] | None = None) -> Result:
    return CliRunner().invoke(app, ["lint", *args], env=env)


@pytest.fixture
def models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of bpmn/ and forms/ to break; the working directory is its parent."""
    shutil.copytree(ROOT / "bpmn", tmp_path / "bpmn")
    shutil.copytree(ROOT / "forms", tmp_path / "forms")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def edit(path: Path, old: str, new: str) -> None:
    """Replace the one occurrence of ``old`` in ``path``."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {path.name}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def problems_of(*paths: Path) -> list[Problem]:
    return list(lint_models(list(paths)).problems)


def test_the_project_diagrams_and_forms_are_clean() -> None:
    """`shuangshi lint` with no arguments checks every diagram and form of bpmn/ and forms/: clean."""
    result = run()
    assert result.exit_code == 0, result.output
    assert DIAGRAMS >= 4
    assert f"no problems in {DIAGRAMS} diagram(s), {FORMS} form(s)" in result.output


def test_a_service_task_without_a_job_type_fails(models: Path) -> None:
    """An emptied zeebe:taskDefinition type is a job-type problem (and camunda-compat's too), exit 1."""
    edit(
        models / "bpmn/case-intake.bpmn",
        '<zeebe:taskDefinition type="case.register" retries="3" />',
        '<zeebe:taskDefinition retries="3" />',
    )
    result = run("bpmn", "forms")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert any(
        line.startswith(
            "bpmn/case-intake.bpmn: register/zeebe:taskDefinition.type: serviceTask has an empty job type"
        )
        and line.endswith("(job-type/missing)")
        for line in lines
    ), result.output
    assert any("register/" in line and "(camunda-compat/implementation)" in line for line in lines)
    assert "✗" in lines[-1]


def test_a_service_task_without_a_task_definition_fails(models: Path) -> None:
    """A service task with no zeebe:taskDefinition at all is reported by the job-type check."""
    edit(
        models / "bpmn/case-intake.bpmn",
        '<zeebe:taskDefinition type="case.register" retries="3" />',
        "",
    )
    found = problems_of(models / "bpmn/case-intake.bpmn")
    job_type = [p for p in found if p.rule == "job-type/missing"]
    assert [(p.element, p.check) for p in job_type] == [("register", "job-type")]
    assert "no zeebe:taskDefinition" in job_type[0].message


def test_a_bad_feel_expression_in_a_timer_fails(models: Path) -> None:
    """`=slaDueAt +` in a timer's timeDate is a FEEL syntax error at the boundary event's timeDate."""
    edit(
        models / "bpmn/direct-delegation.bpmn",
        'attachedToRef="town_decision" cancelActivity="false"><bpmn:timerEventDefinition>'
        '<bpmn:timeDate xsi:type="bpmn:tFormalExpression">=slaDueAt</bpmn:timeDate>',
        'attachedToRef="town_decision" cancelActivity="false"><bpmn:timerEventDefinition>'
        '<bpmn:timeDate xsi:type="bpmn:tFormalExpression">=slaDueAt +</bpmn:timeDate>',
    )
    found = problems_of(models / "bpmn/direct-delegation.bpmn")
    feel = [p for p in found if p.check == "feel"]
    assert [(p.element, p.path, p.rule) for p in feel] == [
        ("town_decision_red", "bpmn:timeDate", "feel/syntax")
    ]
    assert "slaDueAt +" in feel[0].message
    assert any(p.rule == "camunda-compat/feel" and p.element == "town_decision_red" for p in found)


def test_unbalanced_parentheses_in_a_mapping_fail(models: Path) -> None:
    """An output mapping `=(missingMaterials` names the boundary event, the mapping target and the column."""
    edit(
        models / "bpmn/case-intake.bpmn",
        '<zeebe:output source="=missingMaterials" target="missingMaterials" />',
        '<zeebe:output source="=(missingMaterials" target="missingMaterials" />',
    )
    result = run("bpmn/case-intake.bpmn")
    assert result.exit_code == 1
    assert (
        "bpmn/case-intake.bpmn: materials_incomplete/zeebe:output[missingMaterials].source: invalid FEEL:"
        in result.output
    )
    assert "column 18" in result.output


def test_feel_in_candidate_groups_and_message_correlation_is_checked(models: Path) -> None:
    """Expressions in zeebe attributes (candidateGroups, correlationKey) go through the FEEL parser too."""
    edit(
        models / "bpmn/direct-delegation.bpmn",
        """candidateGroups='="town:" + townCode'""",
        """candidateGroups='="town:" + '""",
    )
    edit(models / "bpmn/case-intake.bpmn", 'correlationKey="=caseNumber"', 'correlationKey="=caseNumber)"')
    found = problems_of(models / "bpmn")
    feel = {(p.file.name, p.element, p.path) for p in found if p.check == "feel"}
    assert feel == {
        ("direct-delegation.bpmn", "town_decision", "zeebe:assignmentDefinition.candidateGroups"),
        ("case-intake.bpmn", "message_supplemented", "zeebe:subscription.correlationKey"),
    }


def test_a_camunda_compat_violation_fails(models: Path) -> None:
    """A message without its zeebe:subscription is refused by camunda-compat for Camunda 8.8."""
    edit(
        models / "bpmn/case-intake.bpmn",
        '<bpmn:extensionElements><zeebe:subscription correlationKey="=caseNumber" /></bpmn:extensionElements>',
        "",
    )
    found = problems_of(models / "bpmn/case-intake.bpmn")
    assert [(p.check, p.rule, p.severity) for p in found] == [
        ("bpmnlint", "camunda-compat/subscription", "error")
    ]
    assert "zeebe:Subscription" in found[0].message


def test_a_user_task_without_zeebe_user_task_is_flagged(models: Path) -> None:
    """A job-worker user task (no zeebe:userTask) is a camunda-compat warning, which fails the lint."""
    edit(
        models / "bpmn/direct-delegation.bpmn",
        '<zeebe:userTask /><zeebe:formDefinition formId="town-decision" />',
        '<zeebe:formDefinition formId="town-decision" />',
    )
    result = lint_models([models / "bpmn/direct-delegation.bpmn"])
    assert [(p.element, p.rule, p.severity) for p in result.problems] == [
        ("town_decision", "camunda-compat/zeebe-user-task", "warning")
    ]
    assert result.failed


def test_a_diagram_for_another_camunda_version_fails(models: Path) -> None:
    """A diagram saved for Camunda 8.6 is reported: the project targets 8.8."""
    edit(
        models / "bpmn/window-forwarding.bpmn",
        'modeler:executionPlatformVersion="8.8.0"',
        'modeler:executionPlatformVersion="8.6.0"',
    )
    found = problems_of(models / "bpmn/window-forwarding.bpmn")
    assert [(p.rule, p.element) for p in found] == [("target/execution-platform", None)]
    assert "Camunda Cloud 8.6.0" in found[0].message


def test_an_unknown_form_field_type_fails(models: Path) -> None:
    """`"type": "textfeld"` fails the form schema at that component's JSON path."""
    form = models / "forms/town-decision.form"
    data = json.loads(form.read_text(encoding="utf-8"))
    index = next(i for i, c in enumerate(data["components"]) if c["type"] == "textarea")
    data["components"][index]["type"] = "textfeld"
    form.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    result = run("forms")
    assert result.exit_code == 1
    expected = (
        f"forms/town-decision.form: /components/{index}/type: must be equal to one of the allowed values"
    )
    assert expected in result.output
    assert "textfield" in result.output
    assert "(form-schema/enum)" in result.output


def test_form_typos_and_duplicate_keys_fail(models: Path) -> None:
    """An unknown component property, a field without key and a key used twice are form problems."""
    form = models / "forms/district-decision.form"
    data = json.loads(form.read_text(encoding="utf-8"))
    fields = [c for c in data["components"] if "key" in c]
    fields[0]["lable"] = fields[0].pop("label")
    fields[1]["key"] = fields[0]["key"]
    data["components"].append({"type": "textfield", "id": "no_key", "label": "无绑定"})
    form.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    found = problems_of(form)
    messages = {(p.rule, p.message) for p in found}
    assert ("form-schema/additionalProperties", "unknown property 'lable'") in messages
    assert ("form-schema/required", "'key' is required") in messages
    assert any(rule == "form-unique" and f"key '{fields[0]['key']}'" in m for rule, m in messages)


def test_json_format_lists_files_tools_and_problems(models: Path) -> None:
    """`--format json` prints one document: ok, checked files, tool versions, summary and problems."""
    edit(
        models / "bpmn/case-intake.bpmn",
        '<zeebe:taskDefinition type="case.register" retries="3" />',
        '<zeebe:taskDefinition type=" " retries="3" />',
    )
    result = run("bpmn", "forms", "--format", "json")
    assert result.exit_code == 1
    document: dict[str, Any] = json.loads(result.stdout)
    assert document["ok"] is False
    assert len(document["checked"]["diagrams"]) == DIAGRAMS
    assert len(document["checked"]["forms"]) == FORMS
    assert set(document["tools"]) >= {"bpmnlint", "bpmnlint-plugin-camunda-compat", "ajv"}
    assert document["summary"]["problems"] == len(document["problems"]) >= 1
    problem = next(p for p in document["problems"] if p["check"] == "job-type")
    assert problem == {
        "file": "bpmn/case-intake.bpmn",
        "message": problem["message"],
        "check": "job-type",
        "rule": "job-type/missing",
        "element": "register",
        "path": "zeebe:taskDefinition.type",
        "severity": "error",
        "location": "register/zeebe:taskDefinition.type",
    }


def test_clean_json_format() -> None:
    """On the project's own files the JSON document says ok with no problems."""
    result = run("--format", "json")
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert document["ok"] is True
    assert document["problems"] == []


def test_paths_that_are_not_models_exit_2(tmp_path: Path) -> None:
    """A missing path or a file that is neither .bpmn nor .form cannot be linted: exit 2."""
    missing = run(str(tmp_path / "nowhere"))
    assert missing.exit_code == 2
    assert "no such file or folder" in missing.output
    other = tmp_path / "notes.txt"
    other.write_text("x", encoding="utf-8")
    wrong = run(str(other))
    assert wrong.exit_code == 2
    assert "not a .bpmn or .form file" in wrong.output
    empty = run(str(tmp_path))
    assert empty.exit_code == 2
    assert "no .bpmn or .form files" in empty.output


def test_without_node_modules_the_lint_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Missing npm packages exit 2 with the bootstrap command; so does a PATH without node."""
    with pytest.raises(LintError, match=r"node_modules/bpmnlint is missing: run `bash scripts/bootstrap.sh`"):
        lint_models([ROOT / "bpmn"], tools_root=tmp_path)
    monkeypatch.setattr(shuangshi.lint, "REPOSITORY_ROOT", tmp_path)
    result = run(str(ROOT / "bpmn"))
    assert result.exit_code == 2
    assert "bash scripts/bootstrap.sh" in result.output
    no_node = run(str(ROOT / "bpmn"), env={"PATH": str(tmp_path)})
    assert no_node.exit_code == 2
    assert "node is not on PATH" in no_node.output
