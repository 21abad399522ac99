"""The whole system for process tests: a Zeebe gateway (gRPC + REST, controlled clock), the real
workers over gRPC, the diagrams and forms of ``bpmn/`` and ``forms/`` deployed, the Camunda SDK for
the clerks' steps. Nothing here reaches into the engine: cases are driven like users drive them.

The gateway is the embedded engine, started per test, unless the run selects the real-Zeebe target
(``pytest -m zeebe`` or ``SHUANGSHI_TEST_TARGET=zeebe``): then the scenario tests marked ``zeebe``
run unchanged against a Camunda 8 cluster (see :mod:`tests.process.target`). The clock moves through
the REST clock endpoint on both targets.
"""

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from camunda_orchestration_sdk import CamundaAsyncClient
from camunda_orchestration_sdk.models.clock_pin_request import ClockPinRequest
from camunda_orchestration_sdk.models.process_instance_search_query import ProcessInstanceSearchQuery
from camunda_orchestration_sdk.models.user_task_completion_request import UserTaskCompletionRequest
from camunda_orchestration_sdk.models.user_task_search_query import UserTaskSearchQuery
from camunda_orchestration_sdk.models.variable_search_query import VariableSearchQuery
from camunda_orchestration_sdk.semantic_types import ProcessInstanceKey
from pyzeebe import ZeebeClient, ZeebeTaskRouter, ZeebeWorker, create_insecure_channel

from engine.clock import ControlledClock
from engine.server import EngineServer, start_engine
from tests.engine.conftest import wait_for
from tests.engine.rest.conftest import sdk_client
from tests.process.target import Endpoints, real_cluster, select, selected_target, wants_zeebe
from workers.app import routers
from workers.application.samples import sample_application
from workers.catalog.loader import load_catalog
from workers.catalog.models import Catalog
from workers.ledger import Ledger
from workers.runtime import Services, build_services, create_worker
from workers.settings import WorkerSettings

ROOT = Path(__file__).parents[2]


class EngineClock:
    """The engine's clock, moved through the REST API (``PUT /v2/clock``) as on a real cluster.

    Zeebe has no endpoint that reads the clock, so ``add`` moves on from the last pinned time (or from
    this machine's time before the first pin).
    """

    def __init__(self, sdk: CamundaAsyncClient) -> None:
        self._sdk = sdk
        self._pinned_ms: int | None = None

    async def pin(self, epoch_ms: int) -> None:
        await self._sdk.pin_clock(data=ClockPinRequest(timestamp=epoch_ms))
        self._pinned_ms = epoch_ms

    async def add(self, millis: int) -> None:
        start = self._pinned_ms if self._pinned_ms is not None else int(time.time() * 1000)
        await self.pin(start + millis)

    async def reset(self) -> None:
        await self._sdk.reset_clock()
        self._pinned_ms = None


@dataclass
class System:
    grpc_address: str
    clock: EngineClock
    zeebe: ZeebeClient
    sdk: CamundaAsyncClient
    services: Services
    catalog: Catalog
    data_dir: Path
    server: EngineServer | None = None
    started: list[int] = field(default_factory=list)
    #: Instances the gateway held before this test (a shared cluster keeps earlier tests' instances).
    preexisting: frozenset[int] = frozenset()
    stops: list[Callable[[], Any]] = field(default_factory=list)

    @property
    def ledger(self) -> Ledger:
        return self.services.ledger

    async def start_case(
        self, item_code: str, town_code: str, counter: str, application: dict[str, Any] | None = None
    ) -> int:
        item = self.catalog.item(item_code)
        process_id = self.catalog.mode(item.mode).bpmn_process_id
        application = application or sample_application(self.catalog, item_code, town_code, counter)  # type: ignore[arg-type]
        response = await self.zeebe.run_process(
            process_id,
            {"application": application, "itemCode": item_code, "townCode": town_code, "counter": counter},
        )
        self.started.append(int(response.process_instance_key))
        return int(response.process_instance_key)

    async def instances(self, process_id: str) -> list[Any]:
        """The instances of ``process_id`` this test created (however they were started)."""
        found = await _all_instances(self.sdk, {"processDefinitionId": process_id})
        return [item for item in found if int(item.process_instance_key) not in self.preexisting]

    async def child(self, process_instance_key: int, within: float = 30) -> int:
        """The key of the instance the case called (``case-intake``): its variables live there."""
        query = ProcessInstanceSearchQuery.from_dict(
            {"filter": {"parentProcessInstanceKey": str(process_instance_key)}}
        )

        async def find() -> int | None:
            result = await self.sdk.search_process_instances(data=query)
            return int(result.items[0].process_instance_key) if result.items else None

        key: int = await wait_for(
            find, within=within, message=f"the instance called by {process_instance_key}"
        )
        return key

    async def task(self, process_instance_key: int, element_id: str, within: float = 30) -> Any:
        """The open user task of the case at ``element_id`` (waits for it to appear)."""
        query = UserTaskSearchQuery.from_dict(
            {
                "filter": {
                    "processInstanceKey": str(process_instance_key),
                    "elementId": element_id,
                    "state": "CREATED",
                }
            }
        )

        async def find() -> Any:
            result = await self.sdk.search_user_tasks(data=query)
            return result.items[0] if result.items else None

        return await wait_for(find, within=within, message=f"user task {element_id}")

    async def complete(self, task: Any, variables: dict[str, Any]) -> None:
        await self.sdk.complete_user_task(
            task.user_task_key, data=UserTaskCompletionRequest.from_dict({"variables": variables})
        )

    async def variable(self, process_instance_key: int, name: str) -> Any:
        """A variable of the instance (``None`` while it has none of that name)."""
        filters: dict[str, Any] = {"name": name, "processInstanceKey": str(process_instance_key)}
        query = VariableSearchQuery.from_dict({"filter": filters})
        result = await self.sdk.search_variables(data=query, truncate_values=False)
        if not result.items:
            return None
        return json.loads(result.items[0].value)

    async def state(self, process_instance_key: int) -> str:
        instance = await self.sdk.get_process_instance(ProcessInstanceKey(str(process_instance_key)))
        return str(instance.state.value)

    async def finished(self, process_instance_key: int, within: float = 30) -> str:
        async def done() -> str | None:
            state = await self.state(process_instance_key)
            return state if state != "ACTIVE" else None

        result: str = await wait_for(done, within=within, message="the case to finish")
        return result


async def _all_instances(sdk: CamundaAsyncClient, filters: dict[str, Any]) -> list[Any]:
    """Every process instance matching ``filters``, page after page."""
    found: list[Any] = []
    after: str | None = None
    while True:
        page: dict[str, Any] = {"limit": 500}
        if after is not None:
            page["after"] = after
        result = await sdk.search_process_instances(
            data=ProcessInstanceSearchQuery.from_dict({"filter": filters, "page": page})
        )
        found.extend(result.items)
        cursor = result.page.end_cursor
        if len(result.items) < page["limit"] or not cursor:
            return found
        after = str(cursor)


async def _start_workers(
    services: Services,
    address: str,
    keep: Callable[[str], bool],
    adapt: Callable[[ZeebeWorker], None] | None = None,
) -> Callable[[], Any]:
    """Real workers for the job types ``keep`` selects; ``adapt`` may change the worker before it starts
    (e.g. wrap its job handlers to simulate a crash)."""
    channel = create_insecure_channel(grpc_address=address)
    selected: list[ZeebeTaskRouter] = []
    for router in routers(services):
        for task in list(router.tasks):
            if not keep(task.type):
                router.remove_task(task.type)
        selected.append(router)
    worker = create_worker(channel, selected)
    if adapt is not None:
        adapt(worker)
    runner = asyncio.create_task(worker.work())

    async def stop() -> None:
        await worker.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(runner, 10)
        await channel.close()

    return stop


async def make_system(
    tmp_path: Path, ledger_url: str | None = None, keep: Callable[[str], bool] | None = None
) -> System:
    """The system on the selected target: the real cluster when the run asked for it, else an
    embedded engine of its own with a controlled clock."""
    endpoints = selected_target()
    server: EngineServer | None = None
    if endpoints is None:
        server = await start_engine(
            tmp_path / "engine", "127.0.0.1:0", ControlledClock(), rest_address="127.0.0.1:0"
        )
        assert server.rest_address is not None
        endpoints = Endpoints(server.grpc_address, f"http://{server.rest_address}")
    settings = WorkerSettings(
        zeebe_address=endpoints.grpc_address, data_dir=tmp_path / "data", ledger_url=ledger_url
    )
    services = await asyncio.to_thread(build_services, settings)
    channel = create_insecure_channel(grpc_address=endpoints.grpc_address)
    zeebe = ZeebeClient(channel, max_connection_retries=-1)
    resources = sorted(
        str(p) for p in [*ROOT.joinpath("bpmn").glob("*.bpmn"), *ROOT.joinpath("forms").glob("*.form")]
    )
    await zeebe.deploy_resource(*resources)
    sdk = sdk_client(endpoints.rest_url)
    system = System(
        endpoints.grpc_address,
        EngineClock(sdk),
        zeebe,
        sdk,
        services,
        services.catalog,
        settings.data_dir,
        server=server,
    )
    if server is None:
        system.preexisting = frozenset(int(i.process_instance_key) for i in await _all_instances(sdk, {}))
    system.stops.append(await _start_workers(services, endpoints.grpc_address, keep or (lambda _: True)))
    system.stops.append(channel.close)
    return system


async def close_system(system: System) -> None:
    for stop in system.stops:
        await stop()
    if system.server is None:
        # A shared cluster outlives the test: cancel what the test left running (its timers and jobs
        # would otherwise reach the next test's workers) and give the clock back.
        for key in system.started:
            with contextlib.suppress(Exception):
                await system.sdk.cancel_process_instance(ProcessInstanceKey(str(key)), data=None)
        await system.clock.reset()
    await system.sdk.aclose()
    notifier = system.services.extra.get("notifier")
    if notifier is not None:
        await notifier.aclose()
    system.services.close()
    if system.server is not None:
        await system.server.stop(0)


@pytest.fixture(scope="session", autouse=True)
def target(request: pytest.FixtureRequest) -> Iterator[None]:
    """The gateway of this session's scenarios: embedded per test, or the real cluster if asked for."""
    if not wants_zeebe(request.config):
        select(None)
        yield
        return
    with real_cluster():
        yield


@pytest.fixture
async def system(tmp_path: Path) -> AsyncIterator[System]:
    """The whole system with the ledger on SQLite in the data dir."""
    running = await make_system(tmp_path)
    try:
        yield running
    finally:
        await close_system(running)


@pytest.fixture
def catalog() -> Catalog:
    return load_catalog()
