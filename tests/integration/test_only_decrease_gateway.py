"""``shuangshi audit only-decrease --gateway`` as a user runs it (the console script in a child process)
against the embedded engine started in the test: the deployed diagrams give the same result as the files;
a seeded diagram deployed as a new version is what the audit then reads, and fails; a gateway without the
processes cannot be audited."""

import asyncio
import json
import os
import shutil
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pyzeebe import ZeebeClient, create_insecure_channel
from typer.testing import CliRunner

from engine.clock import ControlledClock
from engine.server import EngineServer, start_engine
from shuangshi.cli import app
from tests.unit.test_only_decrease import insert_user_task

ROOT = Path(__file__).parents[2]
SHUANGSHI = str(Path(sys.executable).parent / "shuangshi")


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


async def audit(*args: str) -> Outcome:
    """Run the console script without blocking the event loop the engine runs on."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("ZEEBE_", "CAMUNDA_"))}
    process = await asyncio.create_subprocess_exec(
        SHUANGSHI,
        "audit",
        "only-decrease",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=environment,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return Outcome(process.returncode, stdout.decode(), stderr.decode())


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[EngineServer]:
    server = await start_engine(
        tmp_path / "engine", "127.0.0.1:0", ControlledClock(), rest_address="127.0.0.1:0"
    )
    try:
        yield server
    finally:
        await server.stop()


async def deploy(server: EngineServer, *files: Path) -> None:
    channel = create_insecure_channel(grpc_address=server.grpc_address)
    try:
        await ZeebeClient(channel).deploy_resource(*(str(f) for f in files))
    finally:
        await channel.close()


def rest_url(server: EngineServer) -> str:
    assert server.rest_address is not None
    return f"http://{server.rest_address}"


async def test_the_deployed_diagrams_audit_like_the_files(engine: EngineServer) -> None:
    """bpmn/ deployed, then audited through the REST API: exit 0 and item for item the same measures as
    the audit of the files; each process is read at its latest version."""
    await deploy(engine, *sorted((ROOT / "bpmn").glob("*.bpmn")))
    deployed = await audit("--gateway", rest_url(engine), "--format", "json")
    assert deployed.code == 0, deployed.stderr
    files = CliRunner().invoke(app, ["audit", "only-decrease", "--format", "json"])
    assert files.exit_code == 0
    assert deployed.json()["items"] == json.loads(files.stdout)["items"]
    origins = deployed.json()["processes"]
    assert set(origins) == {"case-intake", "direct-delegation", "substantive-review", "window-forwarding"}
    assert all(" version 1 (key " in origin for origin in origins.values())


async def test_a_seeded_diagram_deployed_as_a_new_version_fails(engine: EngineServer, tmp_path: Path) -> None:
    """After version 2 of direct-delegation adds a user task on the town path, the audit reads version 2
    and fails naming the item, the measure and the added element; exit 1."""
    await deploy(engine, *sorted((ROOT / "bpmn").glob("*.bpmn")))
    seeded = tmp_path / "direct-delegation.bpmn"
    shutil.copyfile(ROOT / "bpmn" / "direct-delegation.bpmn", seeded)
    insert_user_task(seeded, "town_flow_approved", "extra_review", "分管领导复核")
    await deploy(engine, seeded)

    outcome = await audit("--gateway", rest_url(engine), "--format", "json")
    assert outcome.code == 1, outcome.stderr
    document = outcome.json()
    assert " direct-delegation version 2 (key " in document["processes"]["direct-delegation"]
    assert [(f["code"], f["measure"], f["elements"]) for f in document["failures"]] == [
        ("3700002014020", "steps", ["town_decision", "extra_review"])
    ]

    table = await audit("--gateway", rest_url(engine))
    assert table.code == 1
    assert "✗ 3700002014020 社会保险记录查询打印" in table.stdout
    assert "extra_review（分管领导复核）" in table.stdout


async def test_a_gateway_without_the_processes_cannot_be_audited(engine: EngineServer) -> None:
    """Nothing deployed: exit 2 naming the missing process and the gateway."""
    outcome = await audit("--gateway", rest_url(engine))
    assert outcome.code == 2
    assert "is not deployed at " + rest_url(engine) in outcome.stderr
