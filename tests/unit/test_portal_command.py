"""``shuangshi portal`` as a process: it serves the progress page on a free port with the configured secret,
refuses a short secret, and stops cleanly on SIGTERM; and the app's health route, which reads nothing."""

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from unittest.mock import create_autospec

import httpx
import pytest
from pydantic import JsonValue
from pyzeebe import ZeebeClient

from workers.catalog.loader import load_catalog
from workers.ledger import CaseEvent, Ledger, default_ledger_url
from workers.portal.access import ProgressTokens
from workers.portal.app import Portal, create_app

SHUANGSHI = str(Path(sys.executable).parent / "shuangshi")
SECRET = "portal-test-secret-" + "x" * 24
CASE = "XJ-20260302-0001"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A ledger with one decided case."""
    folder = tmp_path / "data"
    with Ledger(default_ledger_url(folder)) as ledger:
        ledger.migrate()
        steps: list[tuple[str, dict[str, JsonValue]]] = [
            ("registered", {}),
            ("decided", {"outcome": "rejected", "documentNo": "XJ-BY-1"}),
        ]
        for minute, (name, payload) in enumerate(steps):
            ledger.record_event(
                CaseEvent(
                    case_number=CASE,
                    item_code="3700000117086",
                    town_code="xiji",
                    department_code="xzsp",
                    mode="direct",
                    counter="town",
                    event=name,
                    actor="ledger.record:test",
                    occurred_at=datetime(2026, 3, 2, 1, minute, tzinfo=UTC),
                    payload=payload,
                )
            )
    return folder


def environment(**extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SHUANGSHI_", "ZEEBE_", "CAMUNDA_"))}
    clean.update(extra)
    return clean


@pytest.fixture
def portal(data_dir: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """The command running on a free port; its process and base URL (read from the portal.ready line)."""
    with subprocess.Popen(
        [SHUANGSHI, "portal", "--address", "127.0.0.1:0", "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment(SHUANGSHI_PORTAL_SECRET=SECRET, SHUANGSHI_LOG_LEVEL="INFO"),
    ) as process:
        try:
            assert process.stderr is not None
            address = ""
            deadline = time.monotonic() + 30
            while not address and time.monotonic() < deadline:
                line = process.stderr.readline()
                if not line:
                    break
                if line.startswith("{") and json.loads(line).get("event") == "portal.ready":
                    address = json.loads(line)["address"]
            assert address, "the portal did not log portal.ready"
            yield process, f"http://{address}"
        finally:
            if process.poll() is None:
                process.kill()


def test_portal_serves_the_progress_with_the_secret_and_stops_on_sigterm(
    portal: tuple[subprocess.Popen[str], str],
) -> None:
    """The token of SHUANGSHI_PORTAL_SECRET opens the page, none gives 404; SIGTERM exits 0."""
    process, base = portal
    token = ProgressTokens(SECRET.encode()).token(CASE)
    ok = httpx.get(f"{base}/progress/{CASE}", params={"t": token}, timeout=10)
    assert ok.status_code == 200
    assert ok.json()["decision"]["outcomeName"] == "不予批准"
    assert httpx.get(f"{base}/progress/{CASE}", timeout=10).status_code == 404
    assert httpx.get(f"{base}/healthz", timeout=10).json() == {"status": "ok"}
    process.send_signal(signal.SIGTERM)
    assert process.wait(15) == 0
    assert process.stderr is not None
    rest = process.stderr.read()
    assert "portal.stopped" in rest
    assert token not in rest  # no access log: the token stays out of the logs


def test_portal_refuses_a_short_secret(data_dir: Path) -> None:
    """A SHUANGSHI_PORTAL_SECRET under 32 characters: exit 2 naming the variable, without echoing it."""
    result = subprocess.run(
        [SHUANGSHI, "portal", "--address", "127.0.0.1:0", "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        env=environment(SHUANGSHI_PORTAL_SECRET="short-secret"),  # noqa: S106 - a test value, too short
        check=False,
    )
    assert result.returncode == 2
    assert "SHUANGSHI_PORTAL_SECRET" in result.stderr
    assert "at least 32 characters" in result.stderr
    assert "short-secret" not in result.stderr


async def test_healthz_answers_ok_without_the_ledger_or_the_gateway() -> None:
    """GET /healthz: 200 {"status": "ok"} with the portal's security headers; no ledger or Zeebe call."""
    ledger = create_autospec(Ledger, instance=True)
    zeebe = create_autospec(ZeebeClient, instance=True)
    portal = Portal(
        ledger=ledger, catalog=load_catalog(), tokens=ProgressTokens(SECRET.encode()), zeebe=zeebe
    )
    transport = httpx.ASGITransport(app=create_app(portal))
    async with httpx.AsyncClient(transport=transport, base_url="http://portal.test") as client:
        response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert ledger.mock_calls == []
    assert zeebe.mock_calls == []
