"""The three delegation processes end to end: real workers, the SDK for the clerks, the ledger."""

from typing import Any

import pytest
from camunda_orchestration_sdk.models.process_definition_search_query import ProcessDefinitionSearchQuery

from tests.engine.conftest import wait_for
from tests.process.conftest import System
from workers.application.samples import sample_application
from workers.seal import verify

pytestmark = pytest.mark.zeebe  # scenario tests: also run on a real cluster with ``pytest -m zeebe``

APPROVE = {"conclusion": "approve", "conclusionReason": "材料齐全，符合条件"}
REJECT = {"conclusion": "reject", "conclusionReason": "不符合法定条件"}


async def human_steps(system: System, key: int, mode: str, counter: str, *, approve: bool = True) -> None:
    """Do the clerks' steps of one case as its mode and counter require."""
    choice = APPROVE if approve else REJECT
    if counter == "district":
        await system.complete(await system.task(key, "district_decision"), choice)
    elif mode == "direct":
        await system.complete(await system.task(key, "town_decision"), choice)
    elif mode == "substantive-review":
        opinion = {
            "opinionDecision": "approve" if approve else "reject",
            "opinionText": "经实质性审核，申请材料真实有效。",
        }
        await system.complete(await system.task(key, "town_review"), opinion)
        await system.complete(await system.task(key, "district_issue"), {"issueRemark": "见章发证"})
    else:
        await system.complete(await system.task(key, "district_decision"), choice)


def expected_seal_owner(mode: str, counter: str, town: str, department: str) -> str:
    if mode == "direct" and counter == "town":
        return town
    return department


async def test_every_item_from_both_counters_reaches_a_sealed_decision(system: System) -> None:
    """All 13 items from the town and the district counter end approved, sealed by the right owner, in the ledger."""
    results: list[tuple[str, str, dict[str, Any]]] = []
    for item in system.catalog.items:
        for counter in ("town", "district"):
            key = await system.start_case(item.code, "xiji", counter)
            await human_steps(system, key, item.mode, counter)
            assert await system.finished(key) == "COMPLETED"
            decision = await system.variable(key, "decision")
            results.append((item.code, counter, decision))
            owner = expected_seal_owner(item.mode, counter, "xiji", item.department_code)
            assert decision["outcome"] == "approved", (item.code, counter)
            assert decision["seal"]["owner"] == owner, (item.code, counter, decision["seal"])
            sealed = system.services.documents.load(decision["documentNo"])
            assert verify(sealed, system.services.keys, expected_owner=owner).valid
            case_number = await system.variable(key, "caseNumber")
            view = system.ledger.case(case_number)
            assert view is not None
            assert view.status == "completed"
            prefix = system.catalog.town("xiji").case_prefix
            if counter == "district":
                prefix = system.catalog.department(item.department_code).case_prefix
            assert case_number.startswith(prefix + "-")
    assert len(results) == 26
    report = system.ledger.verify()
    assert report.ok, report.problems


async def test_rejection_paths_seal_a_rejection(system: System) -> None:
    """A rejected case of each mode ends with a sealed rejection and a rejected case in the ledger."""
    for item_code, mode in (
        ("3700000117086", "direct"),
        ("3700000123026", "substantive-review"),
        ("3700000131002", "window-forwarding"),
    ):
        key = await system.start_case(item_code, "sangcun", "town")
        await human_steps(system, key, mode, "town", approve=False)
        assert await system.finished(key) == "COMPLETED"
        decision = await system.variable(key, "decision")
        assert decision["outcome"] == "rejected"
        assert decision["kind"] == "rejection"
        view = system.ledger.case(await system.variable(key, "caseNumber"))
        assert view is not None
        assert view.status == "rejected"


async def test_materials_incomplete_notice_then_supplement_continues(system: System) -> None:
    """Missing materials raise a one-time notice; the supplement message lets the case continue to a decision."""
    item = system.catalog.item("3700000123026")
    application = sample_application(system.catalog, item.code, "xiji", "town")
    missing = application["materials"].pop()
    key = await system.start_case(item.code, "xiji", "town", application)
    intake = await system.child(key)

    async def noticed() -> Any:
        return await system.variable(intake, "supplementDeadline")

    await wait_for(noticed, message="the one-time notice")
    missing_vars = await system.variable(intake, "missingMaterials")
    assert [m["id"] for m in missing_vars] == [missing]
    case_number = await system.variable(intake, "caseNumber")
    outbox = await wait_for(
        lambda: list((system.data_dir / "outbox").glob("*-materials-notice.json")),
        message="the notice in the outbox",
    )
    assert len(outbox) == 1
    await system.zeebe.publish_message(
        "materials-supplemented",
        case_number,
        {"supplementedMaterials": [missing]},
        time_to_live_in_milliseconds=60_000,
    )
    await human_steps(system, key, "substantive-review", "town")
    assert await system.finished(key) == "COMPLETED"
    assert (await system.variable(key, "decision"))["outcome"] == "approved"
    events = [e.event for e in system.ledger.case(case_number).events]  # type: ignore[union-attr]
    assert "materials-requested" in events
    assert "supplemented" in events


async def test_supplement_deadline_passing_ends_as_not_accepted(system: System) -> None:
    """Without a supplement, moving the clock past the deadline ends the case as 不予受理."""
    application_item = "3700000117086"
    application = sample_application(system.catalog, application_item, "xiji", "town")
    application["materials"] = application["materials"][:1]
    key = await system.start_case(application_item, "xiji", "town", application)
    intake = await system.child(key)

    async def noticed() -> Any:
        return await system.variable(intake, "supplementDeadline")

    await wait_for(noticed, message="the one-time notice")
    await system.clock.add(30 * 86_400_000)
    assert await system.finished(key) == "COMPLETED"
    case_number = await system.variable(key, "caseNumber")
    view = system.ledger.case(case_number)
    assert view is not None
    assert view.status == "not-accepted"
    assert await system.variable(key, "intakeOutcome") == "not-accepted"


async def test_case_started_from_the_intake_start_form(system: System) -> None:
    """Variables as the application-intake start form submits them (codes beside the application) run a case."""
    definitions = await system.sdk.search_process_definitions(
        data=ProcessDefinitionSearchQuery.from_dict({"filter": {"processDefinitionId": "window-forwarding"}})
    )
    assert definitions.items[0].has_start_form is True
    application = sample_application(system.catalog, "3700000715006", "beizhuang", "town")
    for name in ("itemCode", "townCode", "counter"):
        del application[name]
    response = await system.zeebe.run_process(
        "window-forwarding",
        {"itemCode": "3700000715006", "townCode": "beizhuang", "counter": "town", "application": application},
    )
    key = int(response.process_instance_key)
    await human_steps(system, key, "window-forwarding", "town")
    assert await system.finished(key) == "COMPLETED"
    assert (await system.variable(key, "decision"))["outcome"] == "approved"
