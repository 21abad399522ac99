"""The main job as a user runs it: `shuangshi up`, `submit`, `tasks complete`, and `shuangshi demo`."""

import asyncio
import json
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

from workers.catalog.models import Catalog

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


async def test_demo_refuses_an_unknown_town_naming_the_option() -> None:
    """demo --town with a code the catalog does not know exits 2 naming --town, before starting anything."""
    code, out, err = await run("demo", "--town", "nowhere")
    assert (code, out) == (2, "")
    assert "--town: unknown town code 'nowhere'" in " ".join(err.split())


def printed_table(text: str, title: str) -> dict[str, dict[str, str]]:
    """The rows of the rich table printed under ``title``, by their first cell, as {header: cell}; the
    continuation lines of wrapped cells (first cell empty) are left out."""
    lines = text.splitlines()
    headers: list[str] = []
    rows: dict[str, dict[str, str]] = {}
    for line in lines[lines.index(title) + 1 :]:
        if line.startswith("└"):
            break
        cells = [cell.strip() for cell in line[1:-1].split(line[0])] if line[:1] in {"┃", "│"} else []
        if line.startswith("┃"):
            headers = cells
        elif cells and cells[0]:
            rows[cells[0]] = dict(zip(headers, cells, strict=True))
    return rows


async def test_demo_runs_all_items_and_verifies_the_ledger(tmp_path: Path, catalog: Catalog) -> None:
    """`shuangshi demo` takes a sample case of every item to completion, prints the 调度通报 of its 13 cases
    (per town, per item with its counter) and the ledger verifies."""
    code, out, err = await run("demo", "--data-dir", str(tmp_path / "demo"), within=300)
    assert code == 0, err
    assert out.count("COMPLETED") == 13
    assert "山亭区“双十镇”赋权事项调度通报（全部）" in out
    towns = printed_table(out, "各镇汇总")
    for row in (towns["西集镇"], towns["合计"]):
        assert {k: row[k] for k in ("受理", "镇窗口", "区窗口", "办结", "准予", "按期", "按期率")} == {
            "受理": "13",
            "镇窗口": "7",
            "区窗口": "6",
            "办结": "13",
            "准予": "13",
            "按期": "13",
            "按期率": "100.0%",
        }
        assert row["超期"] == row["在办"] == row["逾期在办"] == "0"
    assert all(row["受理"] == "0" for name, row in towns.items() if name not in {"西集镇", "合计"})
    items = printed_table(out, "各事项汇总")
    for index, item in enumerate(catalog.items):
        row = items[item.code]
        town_counter = index % 2 == 0  # the demo alternates counters, starting at the town's
        assert (row["受理"], row["办结"], row["准予"], row["按期"]) == ("1", "1", "1", "1")
        assert (row["镇窗口"], row["区窗口"]) == (("1", "0") if town_counter else ("0", "1"))
    events = re.search(r"工作台账 (\d+) 条事件", out)
    assert events is not None
    assert f"ledger verified: {events[1]} events" in out
