"""`shuangshi engine`: runs in the foreground, announces its address, stops cleanly on SIGTERM."""

import json
import signal
import subprocess
import sys
from pathlib import Path

from pyzeebe import ZeebeClient, create_insecure_channel


async def test_engine_command_announces_its_address_and_stops_on_sigterm(tmp_path: Path) -> None:
    """The ready line names the bound gRPC address; a client reaches it; SIGTERM exits 0 after 'engine.stopped'."""
    process = subprocess.Popen(  # noqa: ASYNC220 - a child process the test talks to over gRPC
        [
            sys.executable,
            "-m",
            "shuangshi",
            "engine",
            "--grpc-address",
            "127.0.0.1:0",
            "--rest-address",
            "127.0.0.1:0",
            "--data-dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        ready = json.loads(
            process.stderr.readline()
        )  # blocks until the engine is up; the line is written then
        assert ready["event"] == "engine.ready"
        address = ready["grpc_address"]
        assert address.startswith("127.0.0.1:")
        assert not address.endswith(":0")
        channel = create_insecure_channel(grpc_address=address)
        topology = await ZeebeClient(channel).topology()
        await channel.close()
        assert topology.brokers[0].partitions
        process.send_signal(signal.SIGTERM)
        rest = process.stderr.read()
        assert process.wait(10) == 0
        events = [json.loads(line)["event"] for line in rest.splitlines() if line.startswith("{")]
        assert events[-1] == "engine.stopped"
        assert (tmp_path / "engine.sqlite3").exists()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        if process.stderr is not None:
            process.stderr.close()


def test_engine_command_rejects_a_bad_address(tmp_path: Path) -> None:
    """An address without a port is refused with a message and exit code 2."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "shuangshi",
            "engine",
            "--grpc-address",
            "localhost",
            "--data-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "HOST:PORT" in result.stderr
