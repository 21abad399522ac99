"""Static checks of the process diagrams (``bpmn/*.bpmn``) and forms (``forms/*.form``).

:func:`lint_models` runs four checks and returns every problem it finds as a :class:`Problem`:

- **bpmnlint** (Node, ``scripts/lint-models.mjs``) with its recommended rules and
  ``bpmnlint-plugin-camunda-compat`` for Camunda 8.8, configured in ``.bpmnlintrc``;
- **form schema** (same script): each form against ``scripts/form-schema.json`` with ajv, plus
  unique field ids and keys;
- **FEEL**: every expression (text starting with ``=``) in the diagrams compiled by ``engine.feel``,
  the parser the embedded engine runs;
- **job types and target**: every service or send task has a ``zeebe:taskDefinition`` with a job
  type, and every diagram and form says it is made for Camunda 8.8 (Camunda Modeler's
  ``executionPlatform``/``executionPlatformVersion``).

``shuangshi lint`` prints the problems; ``shuangshi deploy`` refuses to deploy while there are any.
This module is part of the command line, the one layer that may use the engine (for FEEL) beside
the workers.
"""

import json
import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final, Literal
from xml.etree import ElementTree as ET

from engine.feel import FeelError, compile_expression

__all__ = [
    "TARGET_PLATFORM",
    "TARGET_VERSION",
    "LintError",
    "LintResult",
    "Problem",
    "collect_files",
    "default_paths",
    "lint_models",
]

REPOSITORY_ROOT: Final = Path(__file__).resolve().parents[1]
RESOURCES_ENV: Final = "SHUANGSHI_RESOURCES_DIR"
LINT_SCRIPT: Final = Path("scripts") / "lint-models.mjs"
NODE_PACKAGES: Final = (
    "bpmnlint",
    "bpmnlint-plugin-camunda-compat",
    "bpmn-moddle",
    "zeebe-bpmn-moddle",
    "modeler-moddle",
    "ajv",
)
NODE_TIMEOUT_S: Final = 120.0
BOOTSTRAP_HINT: Final = "run `bash scripts/bootstrap.sh` in the repository root (it runs npm ci)"

TARGET_PLATFORM: Final = "Camunda Cloud"
TARGET_VERSION: Final = "8.8"

_BPMN: Final = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
_ZEEBE: Final = "{http://camunda.org/schema/zeebe/1.0}"
_MODELER: Final = "{http://camunda.org/schema/modeler/1.0}"

# BPMN elements whose text is an expression (FEEL when it starts with '=').
_EXPRESSION_TEXT: Final = frozenset(
    {"conditionExpression", "timeDate", "timeDuration", "timeCycle", "completionCondition", "loopCardinality"}
)
# BPMN attributes that Zeebe reads as FEEL when they start with '='.
_EXPRESSION_ATTRIBUTES: Final = {
    "message": ("name",),
    "signal": ("name",),
    "error": ("errorCode",),
    "escalation": ("escalationCode",),
}
# Zeebe extension elements whose attributes are static text even when they start with '='.
_STATIC_ZEEBE: Final = frozenset({"header", "property"})
# Tasks that Zeebe runs as jobs and so need a job type.
_JOB_TASKS: Final = frozenset({"serviceTask", "sendTask"})

Severity = Literal["error", "warning", "info"]
_SEVERITIES: Final[dict[str, Severity]] = {"error": "error", "warning": "warning", "info": "info"}
Check = Literal["bpmnlint", "form-schema", "feel", "job-type", "target"]


class LintError(Exception):
    """The checks could not run (a path does not exist, Node or its packages are missing, …)."""


@dataclass(frozen=True)
class Problem:
    """One finding: where it is, which check and rule found it, and what is wrong."""

    file: Path
    message: str
    check: Check
    rule: str
    element: str | None = None
    """BPMN element id (diagrams); None for forms and whole-file problems."""
    path: str | None = None
    """Where inside the element (a property path) or the form (a JSON pointer)."""
    severity: Severity = "error"

    @property
    def location(self) -> str:
        return "/".join(part for part in (self.element, self.path) if part)

    def line(self) -> str:
        """``file: element/path: message (rule)``, the file relative to the working directory."""
        where = f"{self.location}: " if self.location else ""
        severity = "" if self.severity == "error" else f"{self.severity}: "
        message = " ".join(self.message.split())  # one line per problem, whatever the tool wrote
        return f"{display_path(self.file)}: {where}{severity}{message} ({self.rule})"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["file"] = display_path(self.file)
        data["location"] = self.location
        return data


@dataclass(frozen=True)
class LintResult:
    diagrams: tuple[Path, ...]
    forms: tuple[Path, ...]
    problems: tuple[Problem, ...]
    tools: Mapping[str, str]

    @property
    def failed(self) -> bool:
        """Errors and warnings fail; ``info`` findings are only shown."""
        return any(problem.severity != "info" for problem in self.problems)

    @property
    def files(self) -> tuple[Path, ...]:
        return self.diagrams + self.forms

    def to_json(self) -> dict[str, Any]:
        by_severity = {s: sum(1 for p in self.problems if p.severity == s) for s in ("error", "warning")}
        return {
            "ok": not self.failed,
            "checked": {
                "diagrams": [display_path(f) for f in self.diagrams],
                "forms": [display_path(f) for f in self.forms],
            },
            "tools": dict(self.tools),
            "summary": {
                "problems": len(self.problems),
                "errors": by_severity["error"],
                "warnings": by_severity["warning"],
            },
            "problems": [problem.to_json() for problem in self.problems],
        }


def display_path(path: Path) -> str:
    """``path`` relative to the working directory when it is below it, else absolute."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def resources_root() -> Path:
    """``SHUANGSHI_RESOURCES_DIR`` or the checkout: where ``bpmn/``, ``forms/`` and the lint's Node tools
    (``scripts/lint-models.mjs``, ``.bpmnlintrc``, ``node_modules``) are, also for an installed package."""
    configured = os.environ.get(RESOURCES_ENV)
    return Path(configured) if configured else REPOSITORY_ROOT


def default_paths() -> list[Path]:
    """``bpmn/`` and ``forms/`` of the resources root, as ``up`` deploys them."""
    base = resources_root()
    return [base / "bpmn", base / "forms"]


def collect_files(paths: Sequence[Path]) -> tuple[list[Path], list[Path]]:
    """The diagrams and forms named by ``paths``: files as given, folders' ``*.bpmn`` and ``*.form``."""
    diagrams: list[Path] = []
    forms: list[Path] = []
    for given in paths:
        path = given.resolve()
        if path.is_dir():
            diagrams.extend(sorted(path.glob("*.bpmn")))
            forms.extend(sorted(path.glob("*.form")))
        elif path.is_file() and path.suffix == ".bpmn":
            diagrams.append(path)
        elif path.is_file() and path.suffix == ".form":
            forms.append(path)
        elif path.exists():
            raise LintError(f"{given}: not a .bpmn or .form file")
        else:
            raise LintError(f"{given}: no such file or folder")
    diagrams = list(dict.fromkeys(diagrams))
    forms = list(dict.fromkeys(forms))
    if not diagrams and not forms:
        named = ", ".join(str(p) for p in paths)
        raise LintError(f"no .bpmn or .form files in {named}")
    return diagrams, forms


def lint_models(paths: Sequence[Path] | None = None, *, tools_root: Path | None = None) -> LintResult:
    """Run every check over the diagrams and forms under ``paths`` (default: :func:`default_paths`).

    ``tools_root`` holds ``scripts/lint-models.mjs``, ``.bpmnlintrc`` and ``node_modules`` (default:
    :func:`resources_root`). Raises :class:`LintError` when the checks cannot run; the problems found are in
    the result.
    """
    diagrams, forms = collect_files(default_paths() if paths is None else paths)
    tools, node_problems = _run_node(diagrams, forms, tools_root or resources_root())
    problems = list(node_problems)
    for diagram in diagrams:
        problems.extend(check_diagram(diagram))
    for form in forms:
        problems.extend(check_form_target(form))
    order = {path: index for index, path in enumerate(diagrams + forms)}
    problems.sort(key=lambda problem: order.get(problem.file, len(order)))
    return LintResult(tuple(diagrams), tuple(forms), tuple(problems), tools)


# --- Node: bpmnlint and the form schema ------------------------------------------------------------


def _run_node(
    diagrams: list[Path], forms: list[Path], tools_root: Path
) -> tuple[dict[str, str], list[Problem]]:
    node = shutil.which("node")
    if node is None:
        raise LintError(f"node is not on PATH: install Node.js 20 with npm, then {BOOTSTRAP_HINT}")
    for package in NODE_PACKAGES:
        if not (tools_root / "node_modules" / package / "package.json").is_file():
            raise LintError(f"node_modules/{package} is missing: {BOOTSTRAP_HINT}")
    script = tools_root / LINT_SCRIPT
    if not script.is_file():
        raise LintError(f"{script} is missing: the lint needs the repository checkout")
    request = {"diagrams": [str(p) for p in diagrams], "forms": [str(p) for p in forms]}
    try:
        completed = subprocess.run(  # noqa: S603 - our own script, run by the node found on PATH
            [node, str(script)],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            cwd=tools_root,
            timeout=NODE_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise LintError(f"{LINT_SCRIPT} did not finish within {NODE_TIMEOUT_S:g} s") from exc
    except OSError as exc:
        raise LintError(f"cannot run node ({node}): {exc}") from exc
    if completed.returncode != 0:
        detail = completed.stderr.strip() or f"exit code {completed.returncode}"
        raise LintError(
            f"{LINT_SCRIPT} failed: {detail}\nIf packages are missing or outdated, {BOOTSTRAP_HINT}"
        )
    try:
        answer = json.loads(completed.stdout)
        tools = {str(k): str(v) for k, v in answer["tools"].items()}
        found = [_node_problem(entry) for entry in answer["problems"]]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise LintError(f"{LINT_SCRIPT} answered something unexpected: {exc}") from exc
    return tools, found


def _node_problem(entry: Mapping[str, Any]) -> Problem:
    severity = _SEVERITIES.get(str(entry["severity"]), "error")
    return Problem(
        file=Path(entry["file"]),
        message=str(entry["message"]),
        check="bpmnlint" if entry["kind"] == "bpmn" else "form-schema",
        rule=str(entry["rule"]),
        element=entry.get("element") or None,
        path=entry.get("path") or None,
        severity=severity,
    )


# --- Python: FEEL, job types, target platform ------------------------------------------------------


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def check_diagram(file: Path) -> list[Problem]:
    """FEEL syntax, job types and the target platform of one diagram."""
    data = file.read_bytes()
    if b"<!DOCTYPE" in data:
        return [
            Problem(file, "the diagram declares a DOCTYPE, which Zeebe refuses", "target", "bpmn/doctype")
        ]
    try:
        root = ET.fromstring(data)  # noqa: S314 - no DOCTYPE, so no entity expansion
    except ET.ParseError:
        return []  # bpmnlint reports the syntax error with its position
    problems = _check_target(
        file, root.get(f"{_MODELER}executionPlatform"), root.get(f"{_MODELER}executionPlatformVersion")
    )
    problems.extend(_check_feel(file, root))
    problems.extend(_check_job_types(file, root))
    return problems


def check_form_target(file: Path) -> list[Problem]:
    """Whether a form says it is made for Camunda 8.8 (the schema check reports unreadable files)."""
    try:
        form = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(form, dict):
        return []
    return _check_target(file, form.get("executionPlatform"), form.get("executionPlatformVersion"))


def _check_target(file: Path, platform: object, version: object) -> list[Problem]:
    if platform == TARGET_PLATFORM and isinstance(version, str) and version.split(".")[:2] == ["8", "8"]:
        return []
    found = f"{platform or 'no platform'} {version or 'no version'}"
    return [
        Problem(
            file,
            f"made for {found}; this project targets {TARGET_PLATFORM} {TARGET_VERSION} "
            "(in Camunda Modeler: choose Camunda 8.8 as the execution platform)",
            "target",
            "target/execution-platform",
        )
    ]


def _walk(element: ET.Element, owner: str | None) -> Iterator[tuple[ET.Element, str | None]]:
    """Every element with the id of the nearest BPMN element that carries one (its owner)."""
    tag = _local(element.tag)
    if element.tag.startswith(_BPMN) and element.get("id") and not tag.endswith("EventDefinition"):
        owner = element.get("id")
    yield element, owner
    for child in element:
        yield from _walk(child, owner)


def _feel_problem(file: Path, owner: str | None, where: str, text: str) -> Problem | None:
    stripped = text.strip()
    if not stripped.startswith("="):
        return None
    try:
        compile_expression(stripped[1:])
    except FeelError as exc:
        return Problem(file, f"invalid FEEL: {exc}", "feel", "feel/syntax", owner, where)
    return None


def _check_feel(file: Path, root: ET.Element) -> list[Problem]:
    problems: list[Problem] = []
    for element, owner in _walk(root, None):
        tag = _local(element.tag)
        candidates: list[tuple[str, str]] = []
        if element.tag.startswith(_ZEEBE) and tag not in _STATIC_ZEEBE:
            target = element.get("target")
            qualifier = f"[{target}]" if tag in {"input", "output"} and target else ""
            candidates.extend(
                (f"zeebe:{tag}{qualifier}.{name}", value) for name, value in element.attrib.items()
            )
        elif element.tag.startswith(_BPMN):
            if tag in _EXPRESSION_TEXT and element.text:
                candidates.append((f"bpmn:{tag}", element.text))
            for name in _EXPRESSION_ATTRIBUTES.get(tag, ()):
                value = element.get(name)
                if value is not None:
                    candidates.append((name, value))
        for where, text in candidates:
            problem = _feel_problem(file, owner, where, text)
            if problem is not None:
                problems.append(problem)
    return problems


def _job_type_problem(file: Path, task: ET.Element, tag: str, owner: str | None) -> Problem | None:
    definitions = task.findall(f"{_BPMN}extensionElements/{_ZEEBE}taskDefinition")
    if not definitions:
        return Problem(
            file,
            f"{tag} has no zeebe:taskDefinition, so no worker would ever get its job: "
            "set its job type (Camunda Modeler: Task definition → Type)",
            "job-type",
            "job-type/missing",
            owner,
        )
    if any(not (definition.get("type") or "").strip() for definition in definitions):
        return Problem(
            file,
            f'{tag} has an empty job type: zeebe:taskDefinition needs type="<domain>.<verb>" '
            "(a job type of workers/registry.py)",
            "job-type",
            "job-type/missing",
            owner,
            "zeebe:taskDefinition.type",
        )
    return None


def _check_job_types(file: Path, root: ET.Element) -> list[Problem]:
    problems: list[Problem] = []
    for element, owner in _walk(root, None):
        tag = _local(element.tag)
        if element.tag.startswith(_BPMN) and tag in _JOB_TASKS:
            problem = _job_type_problem(file, element, tag, owner)
            if problem is not None:
                problems.append(problem)
    return problems
