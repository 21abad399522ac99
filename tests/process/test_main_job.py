"""The main job as a user runs it: `shuangshi up`, `submit`, `tasks complete`, and `shuangshi demo`."""

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

SHUANGSHI = [sys.executable, "-m", "shuangshi"]


async def run(*args: str, env: dict[str, str] | None = None, within: float = 120) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *SHUANGSHI,
        *args,
        env={**os.environ, **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), within)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def _ready_line(stream: asyncio.StreamReader) -> dict[str, Any]:
    while True:
        line = await stream.readline()
        assert line, "shuangshi up ended before it was ready"
        text = line.decode().strip()
        if text.startswith("{"):
            event = json.loads(text)
            if event.get("event") == "system.ready":
                return dict(event)


async def test_up_submit_and_complete_through_the_cli(tmp_path: Path) -> None:
    """`up` serves the system; `submit --sample` starts a case with a case number; `tasks complete` finishes it."""
    up = await asyncio.create_subprocess_exec(
        *SHUANGSHI,
        "up",
        "--data-dir",
        str(tmp_path / "data"),
        "--grpc-address",
        "127.0.0.1:0",
        "--rest-address",
        "127.0.0.1:0",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert up.stderr is not None
        ready = await asyncio.wait_for(_ready_line(up.stderr), 60)
        assert "direct-delegation@v1" in ready["processes"]
        assert "district-issue@v1" in ready["forms"]
        env = {
            "ZEEBE_ADDRESS": ready["grpc_address"],
            "CAMUNDA_REST_ADDRESS": f"http://{ready['rest_address']}",
        }
        code, out, err = await run(
            "submit",
            "--item",
            "3700000117086",
            "--town",
            "fucheng",
            "--counter",
            "town",
            "--sample",
            "--json",
            env=env,
        )
        assert code == 0, err
        started = json.loads(out)
        assert started["caseNumber"].startswith("FC-")
        code, out, err = await run("tasks", "list", "--group", "town:fucheng", "--json", env=env)
        assert code == 0, err
        tasks = json.loads(out)
        rows = tasks if isinstance(tasks, list) else tasks["items"]
        (task,) = [t for t in rows if t["processInstanceKey"] == started["processInstanceKey"]]
        code, out, err = await run(
            "tasks",
            "complete",
            task["userTaskKey"],
            "--var",
            "conclusion=approve",
            "--var",
            'conclusionReason="材料齐全"',
            env=env,
        )
        assert code == 0, err
        code, out, err = await run(
            "instances", "list", "--process-id", "direct-delegation", "--json", env=env
        )
        assert code == 0, err
        assert '"COMPLETED"' in out
    finally:
        up.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(up.wait(), 30) == 0


async def test_submit_refuses_unknown_codes_before_starting_anything() -> None:
    """An unknown item code or a missing application source is refused with exit code 2 and the option named."""
    code, _, err = await run(
        "submit", "--item", "1234567890123", "--town", "xiji", "--counter", "town", "--sample"
    )
    assert code == 2
    assert "--item" in err
    code, _, err = await run("submit", "--item", "3700000117086", "--town", "xiji", "--counter", "town")
    assert code == 2
    assert "--sample" in err


async def test_demo_runs_all_items_and_verifies_the_ledger(tmp_path: Path) -> None:
    """`shuangshi demo` takes a sample case of every item to completion and the ledger verifies."""
    code, out, err = await run("demo", "--data-dir", str(tmp_path / "demo"), within=300)
    assert code == 0, err
    assert out.count("COMPLETED") == 13
    assert "ledger verified" in out
