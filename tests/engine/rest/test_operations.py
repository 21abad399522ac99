"""Operations through the official SDK: incidents, jobs, messages and the engine clock."""

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from camunda_orchestration_sdk import CamundaAsyncClient
from camunda_orchestration_sdk.errors import (
    ApiError,
    BadRequestError,
    ConflictError,
    NotFoundError,
    UnexpectedStatus,
)
from camunda_orchestration_sdk.models import (
    ClockPinRequest,
    IncidentSearchQuery,
    IncidentSearchQueryFilter,
    IncidentStateExactMatch,
    JobChangeset,
    JobSearchQuery,
    JobSearchQueryFilter,
    JobSearchResult,
    JobStateExactMatch,
    JobUpdateRequest,
    MessageCorrelationRequest,
    MessageCorrelationRequestVariables,
    MessagePublicationRequest,
    MessagePublicationRequestVariables,
)
from camunda_orchestration_sdk.semantic_types import IncidentKey, JobKey

from engine.server import start_engine
from tests.engine.conftest import bpmn, chain, service_task, wait_for
from tests.engine.rest.conftest import Cluster, sdk_client

DAY_MS = 86_400_000


def timer_catch(event_id: str, duration: str) -> str:
    """An intermediate timer catch event waiting ``duration`` (ISO 8601)."""
    return (
        f'<bpmn:intermediateCatchEvent id="{event_id}"><bpmn:timerEventDefinition>'
        f'<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">{duration}</bpmn:timeDuration>'
        "</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>"
    )


def with_message(xml: str, message_id: str, name: str, correlation_key: str | None = None) -> str:
    """Add a ``bpmn:message`` (with a subscription correlation key if given) to the definitions."""
    subscription = (
        ""
        if correlation_key is None
        else f'<bpmn:extensionElements><zeebe:subscription correlationKey="{correlation_key}" />'
        "</bpmn:extensionElements>"
    )
    element = f'<bpmn:message id="{message_id}" name="{name}">{subscription}</bpmn:message>'
    return xml.replace("</bpmn:definitions>", element + "</bpmn:definitions>")


async def jobs(sdk: CamundaAsyncClient, **filters: Any) -> list[JobSearchResult]:
    """The jobs the search finds for ``JobSearchQueryFilter(**filters)``."""
    result = await sdk.search_jobs(data=JobSearchQuery(filter_=JobSearchQueryFilter(**filters)))
    return list(result.items)


def detail(error: ApiError) -> str:
    """The problem detail the server sent with an error status."""
    assert error.parsed is not None
    return str(error.parsed.detail)


async def test_failed_job_incident_is_found_fixed_and_resolved(cluster: Cluster) -> None:
    """A JOB_NO_RETRIES incident is searchable; more retries plus resolution let the instance finish."""
    xml = bpmn(
        "ops-incident",
        '<bpmn:startEvent id="s" />'
        + service_task("charge", "ops.charge", retries=1)
        + '<bpmn:endEvent id="e" />'
        + chain("s", "charge", "e"),
    )
    await cluster.deploy(incident__bpmn=xml)
    attempts: list[str] = []

    async def charge() -> dict[str, Any]:
        attempts.append("charge")
        if len(attempts) == 1:
            raise RuntimeError("card declined")
        return {"charged": True}

    cluster.worker(ops__charge=charge)
    run = asyncio.create_task(cluster.client.run_process_with_result("ops-incident", {}, timeout=30_000))
    failed = await wait_for(
        lambda: jobs(cluster.sdk, type_="ops.charge", state=JobStateExactMatch.FAILED),
        message="the failed job",
    )
    job = failed[0]
    assert job.retries == 0
    found = await cluster.sdk.search_incidents(
        data=IncidentSearchQuery(
            filter_=IncidentSearchQueryFilter(
                process_instance_key=job.process_instance_key, state=IncidentStateExactMatch.ACTIVE
            )
        )
    )
    assert found.page.total_items == 1
    incident_key = found.items[0].incident_key

    incident = await cluster.sdk.get_incident(incident_key=incident_key)
    assert incident.error_type.value == "JOB_NO_RETRIES"
    assert incident.error_message == "Failed job. Error: card declined"
    assert (incident.element_id, incident.job_key, incident.state.value) == ("charge", job.job_key, "ACTIVE")
    assert incident.process_definition_id == "ops-incident"
    assert incident.root_process_instance_key == job.process_instance_key

    await cluster.sdk.update_job(
        job_key=job.job_key, data=JobUpdateRequest(changeset=JobChangeset(retries=1))
    )
    assert (await jobs(cluster.sdk, job_key=job.job_key))[0].retries == 1
    await cluster.sdk.resolve_incident(incident_key=incident_key)

    result = await asyncio.wait_for(run, 20)
    assert result.variables == {"charged": True}
    assert (await cluster.sdk.get_incident(incident_key=incident_key)).state.value == "RESOLVED"
    with pytest.raises(NotFoundError) as again:
        await cluster.sdk.resolve_incident(incident_key=incident_key)
    assert again.value.status_code == 404
    with pytest.raises(NotFoundError):
        await cluster.sdk.get_incident(incident_key=IncidentKey("1"))


async def test_jobs_search_by_type_and_state_includes_completed_jobs(cluster: Cluster) -> None:
    """Waiting jobs show as CREATED and completed ones as COMPLETED, filtered by type, state and instance."""
    xml = bpmn(
        "ops-jobs",
        '<bpmn:startEvent id="s" />'
        + service_task(
            "first",
            "jobs.first",
            extra='<zeebe:taskHeaders><zeebe:header key="desk" value="A" /></zeebe:taskHeaders>',
        )
        + service_task("second", "jobs.second")
        + '<bpmn:endEvent id="e" />'
        + chain("s", "first", "second", "e"),
    )
    await cluster.deploy(jobs__bpmn=xml)

    async def first() -> dict[str, Any]:
        return {}

    cluster.worker(jobs__first=first)
    one = await cluster.client.run_process("ops-jobs", {})
    await cluster.client.run_process("ops-jobs", {})

    async def two_waiting() -> bool:
        return len(await jobs(cluster.sdk, type_="jobs.second", state=JobStateExactMatch.CREATED)) == 2

    await wait_for(two_waiting, message="two waiting second jobs")

    completed = await jobs(cluster.sdk, type_="jobs.first", state=JobStateExactMatch.COMPLETED)
    assert len(completed) == 2
    assert {j.element_id for j in completed} == {"first"}
    assert all(j.end_time is not None and j.worker == "conformance" for j in completed)
    assert completed[0].custom_headers.to_dict() == {"desk": "A"}
    assert await jobs(cluster.sdk, type_="jobs.first", state=JobStateExactMatch.CREATED) == []

    waiting = await jobs(cluster.sdk, type_="jobs.second")
    assert {(j.state.value, j.retries, j.worker, j.end_time) for j in waiting} == {("CREATED", 3, "", None)}

    mine = await jobs(cluster.sdk, process_instance_key=str(one.process_instance_key))
    assert sorted((j.type_, j.state.value) for j in mine) == [
        ("jobs.first", "COMPLETED"),
        ("jobs.second", "CREATED"),
    ]


async def test_update_job_checks_the_changeset(cluster: Cluster) -> None:
    """Retries below 1 are a 400 naming retries; unknown jobs are 404; a timeout needs an activated job."""
    xml = bpmn(
        "ops-update",
        '<bpmn:startEvent id="s" />'
        + service_task("t", "update.t")
        + '<bpmn:endEvent id="e" />'
        + chain("s", "t", "e"),
    )
    await cluster.deploy(update__bpmn=xml)
    await cluster.client.run_process("ops-update", {})
    job = (await jobs(cluster.sdk, type_="update.t"))[0]

    with pytest.raises(BadRequestError) as zero:
        await cluster.sdk.update_job(
            job_key=job.job_key, data=JobUpdateRequest(changeset=JobChangeset(retries=0))
        )
    assert "'changeset.retries'" in detail(zero.value)
    with pytest.raises(NotFoundError):
        await cluster.sdk.update_job(
            job_key=JobKey("1"), data=JobUpdateRequest(changeset=JobChangeset(retries=2))
        )
    with pytest.raises(ConflictError) as not_activated:
        await cluster.sdk.update_job(
            job_key=job.job_key, data=JobUpdateRequest(changeset=JobChangeset(retries=5, timeout=60_000))
        )
    assert "ACTIVATABLE" in detail(not_activated.value)
    assert (await jobs(cluster.sdk, job_key=job.job_key))[0].retries == 3


def message_process() -> str:
    body = (
        '<bpmn:startEvent id="s" />'
        '<bpmn:intermediateCatchEvent id="paid"><bpmn:messageEventDefinition messageRef="m_paid" />'
        "</bpmn:intermediateCatchEvent>"
        '<bpmn:endEvent id="e" />' + chain("s", "paid", "e")
    )
    return with_message(bpmn("ops-msg", body), "m_paid", "payment-received", "=orderId")


async def test_published_message_is_buffered_and_ids_are_unique(cluster: Cluster) -> None:
    """A message with a time to live correlates to an instance created later; its id cannot repeat."""
    await cluster.deploy(msg__bpmn=message_process())
    published = await cluster.sdk.publish_message(
        data=MessagePublicationRequest(
            name="payment-received",
            correlation_key="A-1",
            time_to_live=60_000,
            message_id="pay-A-1",
            variables=MessagePublicationRequestVariables.from_dict({"amount": 12}),
        )
    )
    assert published.message_key.isdigit()
    assert published.tenant_id == "<default>"

    result = await cluster.client.run_process_with_result("ops-msg", {"orderId": "A-1"}, timeout=10_000)
    assert result.variables == {"orderId": "A-1", "amount": 12}

    # The SDK declares no 409 for publication, so a duplicate surfaces as UnexpectedStatus.
    with pytest.raises(UnexpectedStatus) as duplicate:
        await cluster.sdk.publish_message(
            data=MessagePublicationRequest(
                name="payment-received", correlation_key="A-1", time_to_live=60_000, message_id="pay-A-1"
            )
        )
    assert duplicate.value.status_code == 409
    assert "pay-A-1" in duplicate.value.content.decode()


async def test_correlate_reaches_only_what_waits(cluster: Cluster) -> None:
    """Correlation answers the waiting instance or a started one, and 404 when nothing waits."""
    start_xml = with_message(
        bpmn(
            "ops-msg-start",
            '<bpmn:startEvent id="s"><bpmn:messageEventDefinition messageRef="m_order" /></bpmn:startEvent>'
            + service_task("handle", "order.handle")
            + '<bpmn:endEvent id="e" />'
            + chain("s", "handle", "e"),
        ),
        "m_order",
        "order-placed",
    )
    await cluster.deploy(msg__bpmn=message_process(), start__bpmn=start_xml)
    waiting = await cluster.client.run_process("ops-msg", {"orderId": "B-2"})

    correlated = await cluster.sdk.correlate_message(
        data=MessageCorrelationRequest(name="payment-received", correlation_key="B-2")
    )
    assert correlated.process_instance_key == str(waiting.process_instance_key)
    assert correlated.message_key.isdigit()

    with pytest.raises(NotFoundError) as nothing:
        await cluster.sdk.correlate_message(
            data=MessageCorrelationRequest(name="payment-received", correlation_key="B-2")
        )
    assert "payment-received" in detail(nothing.value)

    started = await cluster.sdk.correlate_message(
        data=MessageCorrelationRequest(
            name="order-placed", variables=MessageCorrelationRequestVariables.from_dict({"orderId": "C-3"})
        )
    )
    handle = await wait_for(
        lambda: jobs(cluster.sdk, type_="order.handle"), message="the started instance's job"
    )
    assert handle[0].process_instance_key == started.process_instance_key


async def test_pinned_clock_fires_timers_and_reset_follows_the_system_time(cluster: Cluster) -> None:
    """Pinning two days ahead fires a P1D timer; after a reset new jobs carry the system time again."""
    clocked = bpmn(
        "ops-clock",
        '<bpmn:startEvent id="s" />'
        + service_task("before", "clock.before")
        + timer_catch("wait", "P1D")
        + '<bpmn:endEvent id="e" />'
        + chain("s", "before", "wait", "e"),
    )
    stamp = bpmn(
        "ops-stamp",
        '<bpmn:startEvent id="s" />'
        + service_task("t", "clock.stamp")
        + '<bpmn:endEvent id="e" />'
        + chain("s", "t", "e"),
    )
    await cluster.deploy(clock__bpmn=clocked, stamp__bpmn=stamp)

    async def before() -> dict[str, Any]:
        return {}

    cluster.worker(clock__before=before)
    run = asyncio.create_task(cluster.client.run_process_with_result("ops-clock", {}, timeout=30_000))
    await wait_for(
        lambda: jobs(cluster.sdk, type_="clock.before", state=JobStateExactMatch.COMPLETED),
        message="the job before the timer to complete",
    )
    assert not run.done()

    pinned = int(time.time() * 1000) + 2 * DAY_MS
    await cluster.sdk.pin_clock(data=ClockPinRequest(timestamp=pinned))
    result = await asyncio.wait_for(run, 20)
    assert result.variables == {}

    first = await cluster.client.run_process("ops-stamp", {})
    stamped = await jobs(cluster.sdk, process_instance_key=str(first.process_instance_key))
    pinned_time = datetime.fromtimestamp(pinned / 1000, tz=UTC)
    assert stamped[0].creation_time == pinned_time
    assert [j.job_key for j in await jobs(cluster.sdk, creation_time=pinned_time)] == [stamped[0].job_key]

    await cluster.sdk.reset_clock()
    second = await cluster.client.run_process("ops-stamp", {})
    created = (await jobs(cluster.sdk, process_instance_key=str(second.process_instance_key)))[
        0
    ].creation_time
    assert created is not None
    assert abs(created - datetime.now(tz=UTC)) < timedelta(minutes=1)


async def test_clock_api_is_refused_on_the_system_clock(tmp_path: Path) -> None:
    """An engine without a controlled clock answers 403 to pin and reset, naming --clock controlled."""
    server = await start_engine(tmp_path / "system-clock", "127.0.0.1:0", rest_address="127.0.0.1:0")
    sdk = sdk_client(f"http://{server.rest_address}")
    try:
        with pytest.raises(UnexpectedStatus) as pinned:
            await sdk.pin_clock(data=ClockPinRequest(timestamp=int(time.time() * 1000)))
        assert pinned.value.status_code == 403
        assert "--clock controlled" in pinned.value.content.decode()
        with pytest.raises(UnexpectedStatus) as reset:
            await sdk.reset_clock()
        assert reset.value.status_code == 403
    finally:
        await sdk.aclose()
        await server.stop(0)


async def test_bad_request_bodies_name_the_field(cluster: Cluster) -> None:
    """Malformed bodies answer 400 with a detail that names the offending field."""
    with pytest.raises(BadRequestError) as timestamp:
        await cluster.sdk.pin_clock(data=ClockPinRequest(timestamp=cast(Any, "soon")))
    assert "'timestamp'" in detail(timestamp.value)

    with pytest.raises(BadRequestError) as ttl:
        await cluster.sdk.publish_message(data=MessagePublicationRequest(name="m", time_to_live=-1))
    assert "'timeToLive'" in detail(ttl.value)

    with pytest.raises(BadRequestError) as name:
        await cluster.sdk.correlate_message(data=MessageCorrelationRequest(name=""))
    assert "'name'" in detail(name.value)

    with pytest.raises(BadRequestError) as empty:
        await cluster.sdk.update_job(job_key=JobKey("1"), data=JobUpdateRequest(changeset=JobChangeset()))
    assert "'changeset'" in detail(empty.value)

    unknown = IncidentSearchQueryFilter()
    unknown["bogus"] = 1
    with pytest.raises(BadRequestError) as bogus:
        await cluster.sdk.search_incidents(data=IncidentSearchQuery(filter_=unknown))
    assert "'filter.bogus'" in detail(bogus.value)

    not_a_date = JobSearchQueryFilter()
    not_a_date["creationTime"] = "yesterday"
    with pytest.raises(BadRequestError) as when:
        await cluster.sdk.search_jobs(data=JobSearchQuery(filter_=not_a_date))
    assert "'filter.creationTime'" in detail(when.value)
