"""Jobs per second completed by real pyzeebe workers on the embedded engine, beside a floor.

The process has five service tasks in a row. The engine runs in its own process with durable
SQLite state (as ``shuangshi engine`` does); the workers run here. The floor is a gateway on the
same generated stubs that hands out jobs from memory and acknowledges completions, with no BPMN
and no storage: the most any gateway could give these workers on this machine.

    .venv/bin/python -m benchmarks.engine_throughput [--instances 1000]
"""

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
from pyzeebe import ZeebeClient, ZeebeWorker, create_insecure_channel
from pyzeebe.proto import gateway_pb2 as pb
from pyzeebe.proto.gateway_pb2_grpc import GatewayServicer, add_GatewayServicer_to_server

TASKS = 5
ACTIVATE_BATCH = 32
MAX_RUNNING = 256

PROCESS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="d" targetNamespace="http://bpmn.io/schema/bpmn">'
    '<bpmn:process id="bench" isExecutable="true"><bpmn:startEvent id="start" />'
    + "".join(
        f'<bpmn:serviceTask id="t{i}"><bpmn:extensionElements><zeebe:taskDefinition type="bench.step" />'
        "</bpmn:extensionElements></bpmn:serviceTask>"
        for i in range(TASKS)
    )
    + '<bpmn:endEvent id="end" />'
    + "".join(
        f'<bpmn:sequenceFlow id="f{i}" sourceRef="{a}" targetRef="{b}" />'
        for i, (a, b) in enumerate(
            zip(
                ["start", *[f"t{i}" for i in range(TASKS)]],
                [*[f"t{i}" for i in range(TASKS)], "end"],
                strict=True,
            )
        )
    )
    + "</bpmn:process></bpmn:definitions>"
)


class FloorGateway(GatewayServicer):
    """Hands out jobs from a counter and counts completions: no BPMN, no state, no disk."""

    def __init__(self) -> None:
        self.next_key = 1

    async def ActivateJobs(self, request: Any, context: Any) -> AsyncIterator[Any]:  # noqa: ARG002
        jobs = []
        for _ in range(request.maxJobsToActivate):
            key = self.next_key
            self.next_key += 1
            jobs.append(
                pb.ActivatedJob(
                    key=key,
                    type=request.type,
                    processInstanceKey=key,
                    bpmnProcessId="bench",
                    processDefinitionVersion=1,
                    processDefinitionKey=1,
                    elementId="t0",
                    elementInstanceKey=key,
                    customHeaders="{}",
                    worker=request.worker,
                    retries=3,
                    deadline=0,
                    variables='{"n": 1}',
                )
            )
        yield pb.ActivateJobsResponse(jobs=jobs)

    async def CompleteJob(self, request: Any, context: Any) -> Any:  # noqa: ARG002
        return pb.CompleteJobResponse()


def _serve_floor(port_queue: "multiprocessing.Queue[int]") -> None:
    async def main() -> None:
        server = grpc.aio.server()
        add_GatewayServicer_to_server(FloorGateway(), server)  # type: ignore[abstract]  # the floor serves two RPCs only
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        port_queue.put(port)
        await server.wait_for_termination()

    asyncio.run(main())


def _serve_engine(data_dir: str, port_queue: "multiprocessing.Queue[int]") -> None:
    from engine.server import start_engine  # noqa: PLC0415 - imported in the child process only

    async def main() -> None:
        server = await start_engine(Path(data_dir), "127.0.0.1:0")
        port_queue.put(int(server.grpc_address.rsplit(":", 1)[1]))
        await server.grpc_server.wait_for_termination()

    asyncio.run(main())


async def _run_workers(address: str, jobs_wanted: int) -> float:
    """Complete ``jobs_wanted`` jobs with a pyzeebe worker; return the seconds it took."""
    channel = create_insecure_channel(grpc_address=address)
    worker = ZeebeWorker(channel, name="bench", max_connection_retries=-1)
    done = asyncio.Event()
    count = 0

    async def step(n: int = 0) -> dict[str, Any]:
        nonlocal count
        count += 1
        if count >= jobs_wanted:
            done.set()
        return {"n": n + 1}

    handler: Any = step
    worker.task(
        task_type="bench.step", max_jobs_to_activate=ACTIVATE_BATCH, max_running_jobs=ACTIVATE_BATCH * 2
    )(handler)
    started = time.perf_counter()
    runner = asyncio.create_task(worker.work())
    await done.wait()
    elapsed = time.perf_counter() - started
    await worker.stop()
    await runner
    await channel.close()
    return elapsed


async def _prepare_instances(address: str, instances: int, workdir: Path) -> None:
    channel = create_insecure_channel(grpc_address=address)
    client = ZeebeClient(channel)
    path = workdir / "bench.bpmn"
    path.write_text(PROCESS, encoding="utf-8")
    await client.deploy_resource(str(path))
    for start in range(0, instances, 100):
        await asyncio.gather(
            *(client.run_process("bench", {"n": 0}) for _ in range(min(100, instances - start)))
        )
    await channel.close()


def _start(target: Any, *args: Any) -> tuple[Any, int]:
    ctx = multiprocessing.get_context("spawn")
    port_queue: multiprocessing.Queue[int] = ctx.Queue()
    process = ctx.Process(target=target, args=(*args, port_queue), daemon=True)
    process.start()
    return process, port_queue.get(timeout=30)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _floor_round(jobs: int) -> float:
    process, port = _start(_serve_floor)
    try:
        return jobs / asyncio.run(_run_workers(f"127.0.0.1:{port}", jobs))
    finally:
        process.terminate()


def _engine_round(instances: int) -> tuple[float, float, float]:
    """jobs/s, engine CPU ms per job, instances created per second."""
    jobs = instances * TASKS
    with tempfile.TemporaryDirectory() as tmp:
        process, port = _start(_serve_engine, tmp)
        try:
            address = f"127.0.0.1:{port}"
            started = time.perf_counter()
            asyncio.run(_prepare_instances(address, instances, Path(tmp)))
            created_per_s = instances / (time.perf_counter() - started)
            cpu_before = _cpu_seconds(process.pid)
            seconds = asyncio.run(_run_workers(address, jobs))
            cpu_ms = (_cpu_seconds(process.pid) - cpu_before) / jobs * 1000
        finally:
            process.terminate()
    return jobs / seconds, cpu_ms, created_per_s


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--instances", type=int, default=1000, help="process instances per round (5 jobs each)"
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="alternating floor/engine rounds; medians reported"
    )
    args = parser.parse_args()
    jobs = args.instances * TASKS
    floor_rates: list[float] = []
    engine_rates: list[float] = []
    cpu_per_job: list[float] = []
    creation: list[float] = []
    for _ in range(args.rounds):
        floor_rates.append(_floor_round(jobs))
        rate, cpu_ms, created = _engine_round(args.instances)
        engine_rates.append(rate)
        cpu_per_job.append(cpu_ms)
        creation.append(created)
    engine_rate = statistics.median(engine_rates)
    floor_rate = statistics.median(floor_rates)
    result = {
        "jobs_per_round": jobs,
        "rounds": args.rounds,
        "engine_jobs_per_s": round(engine_rate, 1),
        "floor_jobs_per_s": round(floor_rate, 1),
        "ratio_engine_to_floor": round(engine_rate / floor_rate, 3),
        "engine_cpu_ms_per_job": round(statistics.median(cpu_per_job), 3),
        "instances_created_per_s": round(statistics.median(creation), 1),
        "engine_rounds": [round(r) for r in engine_rates],
        "floor_rounds": [round(r) for r in floor_rates],
    }
    engine_line = f"engine (durable SQLite):  {result['engine_jobs_per_s']:>10} jobs/s"
    print(f"{engine_line}   rounds {result['engine_rounds']}")
    print(
        f"floor (in-memory stub):   {result['floor_jobs_per_s']:>10} jobs/s   rounds {result['floor_rounds']}"
    )
    print(f"ratio engine / floor:     {result['ratio_engine_to_floor']:>10}")
    print(f"engine CPU per job:       {result['engine_cpu_ms_per_job']:>10} ms")
    print(f"instances created:        {result['instances_created_per_s']:>10} /s")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
