"""Contracts between the diagrams, the forms, the workers and the catalog (no engine needed)."""

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from engine.bpmn.parser import parse_bpmn
from workers.app import routers
from workers.catalog.loader import load_catalog
from workers.registry import JobType
from workers.runtime import Services
from workers.settings import WorkerSettings

ROOT = Path(__file__).parents[2]
BPMN = sorted(ROOT.joinpath("bpmn").glob("*.bpmn"))
FORMS = sorted(ROOT.joinpath("forms").glob("*.form"))
NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "zeebe": "http://camunda.org/schema/zeebe/1.0",
}


def _job_types() -> set[str]:
    found: set[str] = set()
    for path in BPMN:
        for definition in ET.parse(path).getroot().iter(f"{{{NS['zeebe']}}}taskDefinition"):
            found.add(definition.attrib["type"])
    return found


def _form_ids_in_diagrams() -> set[str]:
    return {
        definition.attrib["formId"]
        for path in BPMN
        for definition in ET.parse(path).getroot().iter(f"{{{NS['zeebe']}}}formDefinition")
    }


def test_file_names_are_process_and_form_ids() -> None:
    """bpmn/<id>.bpmn holds process <id>; forms/<id>.form holds form <id>."""
    for path in BPMN:
        (process,) = parse_bpmn(path.name, path.read_bytes()).processes
        assert process.id == path.stem
    for path in FORMS:
        assert json.loads(path.read_text(encoding="utf-8"))["id"] == path.stem


def test_every_mode_has_its_diagram() -> None:
    """Each delegation mode of the catalog names a process that exists in bpmn/."""
    ids = {path.stem for path in BPMN}
    for mode in load_catalog().modes:
        assert mode.bpmn_process_id in ids, mode.code


def test_every_job_type_has_a_worker_and_every_worker_a_job_type(tmp_path: Path) -> None:
    """The job types in the diagrams, the JobType registry and the registered handlers are the same set."""
    registry = {member.value for member in JobType}
    assert _job_types() == registry
    services = Services(
        settings=WorkerSettings(data_dir=tmp_path),
        catalog=load_catalog(),
        ledger=None,  # type: ignore[arg-type]  # building routers touches no service
        keys=None,  # type: ignore[arg-type]
        documents=None,  # type: ignore[arg-type]
        calendar=None,  # type: ignore[arg-type]
        extra={},
    )
    handled = {task.type for router in routers(services) for task in router.tasks}
    assert handled == registry


def test_every_form_id_exists_and_every_form_is_used() -> None:
    """Each formId a user task names is in forms/, and each form there is linked from a diagram."""
    assert _form_ids_in_diagrams() == {path.stem for path in FORMS}


def _keys(component: dict[str, Any]) -> list[str]:
    """Field keys of a form; a group bound to ``application`` counts as that one variable, since
    ``application.validate`` reads and checks the whole application object."""
    if component.get("path") == "application":
        return ["application"]
    keys = [component["key"]] if "key" in component else []
    for child in component.get("components", []):
        keys += _keys(child)
    return keys


def test_every_form_field_is_read_somewhere() -> None:
    """Each form field key appears in a diagram expression or in the workers' variables to fetch."""
    diagrams = "\n".join(path.read_text(encoding="utf-8") for path in BPMN)
    workers = "\n".join(
        path.read_text(encoding="utf-8") for path in ROOT.joinpath("workers").rglob("tasks.py")
    )
    for path in FORMS:
        for key in _keys(json.loads(path.read_text(encoding="utf-8"))):
            pattern = re.compile(rf"\b{re.escape(key)}\b")
            assert pattern.search(diagrams) or f'"{key}"' in workers, (
                f"{path.name}: field '{key}' is never read"
            )


def test_diagrams_have_layout_without_overlapping_shapes() -> None:
    """Every flow node and flow has diagram interchange, and no two shapes overlap (except attached ones)."""
    for path in BPMN:
        root = ET.parse(path).getroot()
        shapes = {
            s.attrib["bpmnElement"]: s.find("dc:Bounds", NS)
            for s in root.iter(f"{{{NS['bpmndi']}}}BPMNShape")
        }
        edges = {e.attrib["bpmnElement"] for e in root.iter(f"{{{NS['bpmndi']}}}BPMNEdge")}
        process = root.find("bpmn:process", NS)
        assert process is not None
        attached: dict[str, str] = {}
        inside: dict[str, str] = {}
        for element in process.iter():
            tag = element.tag.split("}")[1]
            if "id" not in element.attrib or element is process or tag in {"message", "error"}:
                continue
            if tag == "sequenceFlow":
                assert element.attrib["id"] in edges, f"{path.name}: flow {element.attrib['id']} has no edge"
            else:
                assert element.attrib["id"] in shapes, f"{path.name}: {element.attrib['id']} has no shape"
            if tag == "boundaryEvent":
                attached[element.attrib["id"]] = element.attrib["attachedToRef"]
        for sub in process.iter(f"{{{NS['bpmn']}}}subProcess"):
            for child in sub:
                if "id" in child.attrib:
                    inside[child.attrib["id"]] = sub.attrib["id"]
        boxes = []
        for element_id, bounds in shapes.items():
            assert bounds is not None
            x, y = float(bounds.attrib["x"]), float(bounds.attrib["y"])
            boxes.append(
                (element_id, x, y, x + float(bounds.attrib["width"]), y + float(bounds.attrib["height"]))
            )
        for index, (a, ax1, ay1, ax2, ay2) in enumerate(boxes):
            for b, bx1, by1, bx2, by2 in boxes[index + 1 :]:
                related = (
                    attached.get(a) == b or attached.get(b) == a or inside.get(a) == b or inside.get(b) == a
                )
                overlap = ax1 < bx2 and bx1 < ax2 and ay1 < by2 and by1 < ay2
                assert related or not overlap, f"{path.name}: shapes {a} and {b} overlap"


def test_tunable_behaviour_is_in_task_headers() -> None:
    """Seal owner, document, template, event, alert level and SLA action come from headers in the diagrams."""
    needed = {
        "seal.stamp": {"sealOwner", "document"},
        "seal.verify": {"sealOwner", "document"},
        "applicant.notify": {"template"},
        "staff.alert": {"level"},
        "ledger.record": {"event"},
        "sla.schedule": {"action"},
        "case.forward": {"to"},
    }
    for path in BPMN:
        root = ET.parse(path).getroot()
        for task in root.iter(f"{{{NS['bpmn']}}}serviceTask"):
            definition = task.find(".//zeebe:taskDefinition", NS)
            assert definition is not None
            headers = {h.attrib["key"] for h in task.iterfind(".//zeebe:header", NS)}
            missing = needed.get(definition.attrib["type"], set()) - headers
            assert not missing, f"{path.name}: {task.attrib['id']} lacks headers {missing}"


def test_day_and_flag_headers_have_valid_values() -> None:
    """sla.schedule's limitDays/warnDaysBefore/supplementDays are 0–365; ledger.record's oncePerCase is true/false."""
    days = {"limitDays", "warnDaysBefore", "supplementDays"}
    for path in BPMN:
        for task in ET.parse(path).getroot().iter(f"{{{NS['bpmn']}}}serviceTask"):
            for found in task.iterfind(".//zeebe:header", NS):
                key, value = found.attrib["key"], found.attrib["value"]
                where = f"{path.name}: {task.attrib['id']} {key}={value!r}"
                if key in days:
                    assert value.isascii(), where
                    assert value.isdigit(), where
                    assert int(value) <= 365, where
                if key == "oncePerCase":
                    assert value in {"true", "false"}, where
