"""Deployments and process definitions through the official SDK (multipart upload, search, XML)."""

import io
import json
from pathlib import Path
from typing import cast

import pytest
from camunda_orchestration_sdk import errors
from camunda_orchestration_sdk.models.create_deployment_data import CreateDeploymentData
from camunda_orchestration_sdk.models.deployment_metadata_result_form import DeploymentMetadataResultForm
from camunda_orchestration_sdk.models.deployment_metadata_result_process_definition import (
    DeploymentMetadataResultProcessDefinition,
)
from camunda_orchestration_sdk.models.problem_detail import ProblemDetail
from camunda_orchestration_sdk.models.process_definition_search_query import ProcessDefinitionSearchQuery
from camunda_orchestration_sdk.models.process_definition_search_query_filter import (
    ProcessDefinitionSearchQueryFilter,
)
from camunda_orchestration_sdk.models.process_definition_search_query_sort_request import (
    ProcessDefinitionSearchQuerySortRequest,
)
from camunda_orchestration_sdk.models.process_definition_search_query_sort_request_field import (
    ProcessDefinitionSearchQuerySortRequestField,
)
from camunda_orchestration_sdk.models.sort_order_enum import SortOrderEnum
from camunda_orchestration_sdk.semantic_types import ProcessDefinitionKey, TenantId
from camunda_orchestration_sdk.types import File

from tests.engine.conftest import bpmn, chain
from tests.engine.rest.conftest import Cluster

FORM = {
    "id": "request-form",
    "type": "default",
    "schemaVersion": 16,
    "components": [{"key": "reason", "label": "Reason", "type": "textfield"}],
}


def review_process(process_id: str = "review", name: str = "Review a request") -> str:
    """A process with a user task linked to the form, and a process name."""
    return bpmn(
        process_id,
        '<bpmn:startEvent id="start" />'
        '<bpmn:userTask id="review_it" name="Review it"><bpmn:extensionElements>'
        '<zeebe:userTask /><zeebe:formDefinition formId="request-form" />'
        "</bpmn:extensionElements></bpmn:userTask>"
        '<bpmn:endEvent id="end" />' + chain("start", "review_it", "end"),
    ).replace(f'id="{process_id}" isExecutable', f'id="{process_id}" name="{name}" isExecutable')


def detail(error: errors.ApiError) -> str:
    """The problem detail text of an SDK error."""
    assert isinstance(error.parsed, ProblemDetail), error
    return error.parsed.detail


def write(cluster: Cluster, name: str, content: str) -> Path:
    path = cluster.workdir / name
    path.write_text(content, encoding="utf-8")
    return path


def resource(name: str, content: str) -> File:
    return File(payload=io.BytesIO(content.encode()), file_name=name)


async def test_deploy_bpmn_and_form_from_files(cluster: Cluster) -> None:
    """deploy_resources_from_files uploads both files; the answer lists the process and the form."""
    deployment = await cluster.sdk.deploy_resources_from_files(
        [write(cluster, "review.bpmn", review_process()), write(cluster, "request.form", json.dumps(FORM))]
    )
    assert deployment.tenant_id == "<default>"
    assert int(deployment.deployment_key) > 0
    [process] = deployment.processes
    assert isinstance(process, DeploymentMetadataResultProcessDefinition)
    assert (process.process_definition_id, process.process_definition_version) == ("review", 1)
    assert process.resource_name == "review.bpmn"
    assert int(process.process_definition_key) > 0
    [form] = deployment.forms
    assert isinstance(form, DeploymentMetadataResultForm)
    assert (form.form_id, form.version, form.resource_name) == ("request-form", 1, "request.form")
    assert int(form.form_key) > 0


async def test_same_content_keeps_its_version_changed_content_gets_the_next(cluster: Cluster) -> None:
    """Deploying identical content again keeps version and key; changed content becomes version 2."""
    first = await cluster.sdk.create_deployment(
        data=CreateDeploymentData(resources=[resource("review.bpmn", review_process())])
    )
    again = await cluster.sdk.create_deployment(
        data=CreateDeploymentData(
            resources=[resource("review.bpmn", review_process())], tenant_id=TenantId("<default>")
        )
    )
    changed = await cluster.sdk.create_deployment(
        data=CreateDeploymentData(resources=[resource("review.bpmn", review_process(name="Renamed"))])
    )
    versions = []
    for deployment in (first, again, changed):
        process = deployment.deployments[0].process_definition
        assert isinstance(process, DeploymentMetadataResultProcessDefinition)
        versions.append((process.process_definition_version, process.process_definition_key))
    assert versions[0] == versions[1]
    assert versions[0][0] == 1
    assert versions[2][0] == 2
    assert versions[2][1] != versions[0][1]
    assert again.deployment_key != first.deployment_key


async def test_search_and_get_process_definitions(cluster: Cluster) -> None:
    """Search filters by id, version and latest version and sorts; get returns one definition by key."""
    await cluster.sdk.deploy_resources_from_files([write(cluster, "review.bpmn", review_process())])
    await cluster.sdk.deploy_resources_from_files(
        [write(cluster, "review.bpmn", review_process(name="Review v2"))]
    )
    await cluster.sdk.deploy_resources_from_files(
        [write(cluster, "other.bpmn", review_process("other", "Other"))]
    )

    by_id = await cluster.sdk.search_process_definitions(
        data=ProcessDefinitionSearchQuery(
            filter_=ProcessDefinitionSearchQueryFilter(process_definition_id="review"),
            sort=[
                ProcessDefinitionSearchQuerySortRequest(
                    field=ProcessDefinitionSearchQuerySortRequestField.VERSION, order=SortOrderEnum.DESC
                )
            ],
        )
    )
    assert [(d.version, d.name) for d in by_id.items] == [(2, "Review v2"), (1, "Review a request")]
    assert by_id.page.total_items == 2

    latest = await cluster.sdk.search_process_definitions(
        data=ProcessDefinitionSearchQuery(filter_=ProcessDefinitionSearchQueryFilter(is_latest_version=True))
    )
    assert sorted((d.process_definition_id, d.version) for d in latest.items) == [("other", 1), ("review", 2)]

    everything = await cluster.sdk.search_process_definitions()
    assert everything.page.total_items == 3

    version_one = await cluster.sdk.search_process_definitions(
        data=ProcessDefinitionSearchQuery(
            filter_=ProcessDefinitionSearchQueryFilter(process_definition_id="review", version=1)
        )
    )
    [first] = version_one.items
    fetched = await cluster.sdk.get_process_definition(first.process_definition_key)
    assert fetched.process_definition_key == first.process_definition_key
    assert (fetched.process_definition_id, fetched.version, fetched.resource_name) == (
        "review",
        1,
        "review.bpmn",
    )
    assert (fetched.tenant_id, fetched.state.value, fetched.has_start_form) == ("<default>", "ACTIVE", False)


async def test_process_definition_xml_is_the_deployed_file(cluster: Cluster) -> None:
    """GET …/xml returns the BPMN text exactly as it was uploaded."""
    content = review_process()
    deployment = await cluster.sdk.deploy_resources_from_files([write(cluster, "review.bpmn", content)])
    xml = await cluster.sdk.get_process_definition_xml(deployment.processes[0].process_definition_key)
    assert xml == content


async def test_unsupported_element_is_refused_naming_the_element(cluster: Cluster) -> None:
    """A receive task is refused with 400; the detail names the resource, the element id and its tag."""
    content = bpmn(
        "waits",
        '<bpmn:startEvent id="start" /><bpmn:receiveTask id="wait_for_letter" /><bpmn:endEvent id="end" />'
        + chain("start", "wait_for_letter", "end"),
    )
    with pytest.raises(errors.BadRequestError) as raised:
        await cluster.sdk.deploy_resources_from_files([write(cluster, "waits.bpmn", content)])
    assert raised.value.status_code == 400
    problem = detail(raised.value)
    assert "waits.bpmn" in problem
    assert "Element 'wait_for_letter' (bpmn:receiveTask)" in problem
    definitions = await cluster.sdk.search_process_definitions()
    assert definitions.page.total_items == 0


async def test_one_bad_resource_rejects_the_whole_deployment(cluster: Cluster) -> None:
    """A form without an id fails the deployment of a valid BPMN next to it (atomic)."""
    with pytest.raises(errors.BadRequestError) as raised:
        await cluster.sdk.create_deployment(
            data=CreateDeploymentData(
                resources=[
                    resource("review.bpmn", review_process()),
                    resource("broken.form", '{"components": []}'),
                ]
            )
        )
    assert "broken.form" in detail(raised.value)
    assert (await cluster.sdk.search_process_definitions()).page.total_items == 0


async def test_other_tenant_is_refused(cluster: Cluster) -> None:
    """Multi-tenancy is not supported: a tenant other than <default> is a 400 naming tenantId."""
    with pytest.raises(errors.BadRequestError) as raised:
        await cluster.sdk.create_deployment(
            data=CreateDeploymentData(
                resources=[resource("review.bpmn", review_process())], tenant_id=TenantId("acme")
            )
        )
    assert "'tenantId'" in detail(raised.value)


async def test_unknown_definition_key_is_404(cluster: Cluster) -> None:
    """Definition and XML of an unknown key answer 404; a key that is not a number answers 400."""
    with pytest.raises(errors.NotFoundError):
        await cluster.sdk.get_process_definition(ProcessDefinitionKey("2251799813685249"))
    with pytest.raises(errors.NotFoundError):
        await cluster.sdk.get_process_definition_xml(ProcessDefinitionKey("2251799813685249"))
    with pytest.raises(errors.BadRequestError):
        await cluster.sdk.get_process_definition(cast(ProcessDefinitionKey, "not-a-key"))


async def test_unknown_filter_field_is_400_naming_it(cluster: Cluster) -> None:
    """A filter field the API does not know is refused with its name."""
    search_filter = ProcessDefinitionSearchQueryFilter()
    search_filter["bpmnProcessId"] = "review"
    with pytest.raises(errors.BadRequestError) as raised:
        await cluster.sdk.search_process_definitions(data=ProcessDefinitionSearchQuery(filter_=search_filter))
    assert "'filter.bpmnProcessId'" in detail(raised.value)
