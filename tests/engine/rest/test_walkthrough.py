"""The SDK-only walkthrough script (examples/clerk_walkthrough.py) runs green against the engine."""

import asyncio
import os
import sys
from pathlib import Path

from tests.engine.rest.conftest import Cluster

SCRIPT = Path(__file__).parents[3] / "examples" / "clerk_walkthrough.py"


async def test_walkthrough_script_completes_a_case_with_only_the_sdk(cluster: Cluster) -> None:
    """Task by group, form, completion, clock pin, incident resolution: the script exits 0 and says each step."""
    env = {
        **os.environ,
        "CAMUNDA_REST_ADDRESS": cluster.rest_url,
        "CAMUNDA_AUTH_STRATEGY": "NONE",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(SCRIPT),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 120)
    text = output.decode()
    assert process.returncode == 0, text
    for step in (
        "task found for town:xiji",
        "form: walkthrough-review-form",
        "task completed: approved",
        "incident: CALLED_ELEMENT_ERROR at archive",
        "incident resolved",
        "case completed",
    ):
        assert step in text, text
