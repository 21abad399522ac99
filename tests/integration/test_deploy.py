"""``shuangshi deploy`` as a user runs it (the console script in a child process) against the embedded
engine started in the test: lint first, then every diagram and form in one DeployResource request;
duplicates keep their version, a changed diagram gets the next one, a bad model deploys nothing, and an
unreachable gateway fails quickly naming its address."""

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from camunda_orchestration_sdk import CamundaAsyncClient

from engine.clock import ControlledClock
from engine.server import EngineServer, start_engine
from tests.engine.rest.conftest import sdk_client

ROOT = Path(__file__).parents[2]
SHUANGSHI = str(Path(sys.executable).parent / "shuangshi")
#: Every diagram and form of the checkout (file name = process or form id).
PROCESSES = {path.stem for path in ROOT.glob("bpmn/*.bpmn")}
FORMS = {path.stem for path in ROOT.glob("forms/*.form")}


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def _environment(**extra: str) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("ZEEBE_", "CAMUNDA_"))}
    environment.update(extra)
    return environment


async def shuangshi(*args: str, **env: str) -> Outcome:
    """Run the console script without blocking the event loop the engine runs on."""
    process = await asyncio.create_subprocess_exec(
        SHUANGSHI,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_environment(**env),
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return Outcome(process.returncode, stdout.decode(), stderr.decode())


@dataclass
class Gateway:
    server: EngineServer
    sdk: CamundaAsyncClient

    @property
    def address(self) -> str:
        return self.server.grpc_address

    async def definitions(self) -> dict[str, list[tuple[int, int]]]:
        """(version, key) of every deployed process definition, by process id, through the REST API."""
        found = await self.sdk.search_process_definitions()
        result: dict[str, list[tuple[int, int]]] = {}
        for item in found.items:
            result.setdefault(str(item.process_definition_id), []).append(
                (int(item.version), int(item.process_definition_key))
            )
        return {key: sorted(value) for key, value in result.items()}


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    server = await start_engine(
        tmp_path / "engine", "127.0.0.1:0", ControlledClock(), rest_address="127.0.0.1:0"
    )
    assert server.rest_address is not None
    sdk = sdk_client(f"http://{server.rest_address}")
    try:
        yield Gateway(server, sdk)
    finally:
        await sdk.aclose()
        await server.stop()


def copy_models(into: Path) -> Path:
    shutil.copytree(ROOT / "bpmn", into / "bpmn")
    shutil.copytree(ROOT / "forms", into / "forms")
    return into


def by_id(deployed: list[dict[str, Any]], kind: str) -> dict[str, tuple[int, int]]:
    return {d["id"]: (d["version"], d["key"]) for d in deployed if d["kind"] == kind}


async def test_deploys_everything_at_once_and_versions_like_zeebe(gateway: Gateway, tmp_path: Path) -> None:
    """All diagrams and forms go in one deployment at version 1; deploying them unchanged keeps
    versions and keys, a changed diagram becomes version 2 while the others stay."""
    first = await shuangshi("deploy", "--format", "json", ZEEBE_ADDRESS=gateway.address)
    assert first.code == 0, first.stderr
    document = first.json()
    assert document["ok"] is True
    assert document["address"] == gateway.address
    processes = by_id(document["deployed"], "process")
    forms = by_id(document["deployed"], "form")
    assert set(processes) == PROCESSES
    assert set(forms) == FORMS
    assert {version for version, _ in [*processes.values(), *forms.values()]} == {1}
    assert {d["file"] for d in document["deployed"]} == {f"{p}.bpmn" for p in PROCESSES} | {
        f"{f}.form" for f in FORMS
    }
    assert await gateway.definitions() == {pid: [processes[pid]] for pid in PROCESSES}

    again = await shuangshi("deploy", "--address", gateway.address, "--format", "json")
    assert again.code == 0, again.stderr
    assert by_id(again.json()["deployed"], "process") == processes
    assert by_id(again.json()["deployed"], "form") == forms
    assert again.json()["deploymentKey"] != document["deploymentKey"]

    models = copy_models(tmp_path / "changed")
    diagram = models / "bpmn/case-intake.bpmn"
    diagram.write_text(
        diagram.read_text(encoding="utf-8").replace('name="登记办件"', 'name="登记办件并开立台账"'),
        encoding="utf-8",
    )
    changed = await shuangshi(
        "deploy", str(models / "bpmn"), str(models / "forms"), "--address", gateway.address
    )
    assert changed.code == 0, changed.stderr
    rows = [line.split("│") for line in changed.stdout.splitlines() if "│" in line]
    table = {cells[2].strip(): (cells[1].strip(), cells[3].strip(), cells[5].strip()) for cells in rows}
    assert table["case-intake"] == ("process", "2", "case-intake.bpmn")
    assert table["direct-delegation"] == ("process", "1", "direct-delegation.bpmn")
    assert table["town-decision"] == ("form", "1", "town-decision.form")
    assert f"deployed {len(PROCESSES)} process(es) and {len(FORMS)} form(s)" in changed.stderr
    definitions = await gateway.definitions()
    assert [version for version, _ in definitions["case-intake"]] == [1, 2]
    assert all(len(definitions[pid]) == 1 for pid in PROCESSES - {"case-intake"})


async def test_a_model_that_fails_the_lint_deploys_nothing(gateway: Gateway, tmp_path: Path) -> None:
    """One bad FEEL expression among all the files: deploy lists the problem, exits 1, and the gateway
    has no process definition at all."""
    models = copy_models(tmp_path)
    diagram = models / "bpmn/substantive-review.bpmn"
    text = diagram.read_text(encoding="utf-8")
    assert text.count('dueDate="=slaDueAt"') >= 1
    diagram.write_text(text.replace('dueDate="=slaDueAt"', 'dueDate="=slaDueAt +"', 1), encoding="utf-8")

    refused = await shuangshi(
        "deploy", str(models / "bpmn"), str(models / "forms"), "--address", gateway.address
    )
    assert refused.code == 1
    assert "substantive-review.bpmn: " in refused.stdout
    assert "zeebe:taskSchedule.dueDate: invalid FEEL" in refused.stdout
    assert f"nothing deployed to {gateway.address}" in refused.stderr
    assert await gateway.definitions() == {}


def test_an_unreachable_gateway_fails_quickly_naming_it() -> None:
    """A closed port fails at once and a gateway that never answers after --timeout; exit 2 both."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"127.0.0.1:{probe.getsockname()[1]}"
    started = time.monotonic()
    refused = subprocess.run(
        [SHUANGSHI, "deploy", "--address", closed],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=_environment(),
    )
    assert refused.returncode == 2
    assert f"cannot deploy to the Zeebe gateway at {closed}" in refused.stderr
    # A listener that never speaks HTTP/2: the request hangs until --timeout.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        address = f"127.0.0.1:{silent.getsockname()[1]}"
        mute = subprocess.run(
            [SHUANGSHI, "deploy", "--address", address, "--timeout", "1"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env=_environment(),
        )
    assert mute.returncode == 2
    assert f"no answer from the Zeebe gateway at {address} within 1 s" in mute.stderr
    assert time.monotonic() - started < 20
