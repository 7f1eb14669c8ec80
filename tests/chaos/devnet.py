"""The chaos devnet: the devnet's pieces, started from here so that every one of them can be faulted.

Like `python -m infra.devnet` (and built from its modules): anvil with interval mining, the recorded
Madara node, MockFactRegistry and TestStarknetCore, `orchestrator setup`. Unlike it:
- the orchestrator's L1 URL is a `FaultyProxy` in front of anvil (the harness reads anvil directly);
- orchestrator processes are `python -m tests.chaos.faulty_run` (fault wrappers, handler recorder),
  started, SIGKILLed and restarted by the scenario, any number of them on the same data;
- the recorded node runs in this event loop, so its `faults` can be switched during the run.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from infra.devnet.env import PREFIX, Wiring, orchestrator_env
from infra.devnet.faulty_proxy import FaultPlan, FaultyProxy
from infra.devnet.l1 import CoreContract, compile_and_deploy
from infra.devnet.l2 import DevnetBlocks, devnet_blocks
from infra.devnet.processes import orchestrator_setup
from infra.devnet.recorded_node import RecordedMadaraNode
from infra.launch.anvil import DEV_PRIVATE_KEYS, Anvil, start_anvil
from infra.launch.base import REPO, free_port
from orchestrator.clients.database.sqlite import SqliteDatabaseClient
from orchestrator.clients.snos.devnet import DEVNET_PROGRAM_HASH
from orchestrator.config import ServerSettings
from orchestrator.core.models.job import JobItem, JobStatus, JobType

DEPLOYER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"  # anvil account 1, also the mock verifier's
OPERATOR = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"  # anvil account 0: settlement transactions only
STUCK = (JobStatus.FAILED, JobStatus.VERIFICATION_TIMEOUT)
#: the devnet enables the admin API (closing the last batches); newer versions want a bearer token
ADMIN_TOKEN = "chaos-admin-token-0123456789abcdef"

#: Over the devnet's own tunables: 12 blocks make 3 aggregator batches of 4 (6 SNOS batches of 2),
#: never closed early by time; queues and sweeps short enough that a killed worker's jobs come back
#: within a minute or two.
CHAOS_TUNABLES: dict[str, str] = {
    "MAX_BATCH_SIZE": "4",
    "MAX_BLOCKS_PER_SNOS_BATCH": "2",
    "MAX_BATCH_TIME_SECONDS": "3600",
    "QUEUE_VISIBILITY_TIMEOUT_SECONDS": "60",
    "SWEEP_INTERVAL_SECONDS": "10",
}


@dataclass
class ChaosProcess:
    name: str
    popen: subprocess.Popen[bytes]
    port: int
    log_path: Path
    kills_file: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL: no cleanup at all. The time is recorded for the overlap check of handler runs."""
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
            with self.kills_file.open("a") as out:
                out.write(f"{self.pid} {time.time()}\n")
        self.popen.wait(timeout=30)

    def terminate(self, timeout: float = 60) -> int:
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return -9

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""


@dataclass
class Progress:
    settled: int
    jobs: list[JobItem]

    def by_status(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for job in self.jobs:
            counts[job.status.value] = counts.get(job.status.value, 0) + 1
        return counts

    def stuck(self) -> list[JobItem]:
        return [j for j in self.jobs if j.status in STUCK]

    def all_completed(self) -> bool:
        return bool(self.jobs) and all(j.status is JobStatus.COMPLETED for j in self.jobs)


@dataclass
class RunResult:
    settled: bool
    reason: str
    seconds: float
    #: seconds since the run started at which the core contract first reported each settled block
    settled_at: dict[int, float] = field(default_factory=dict)
    #: when the database, read from this (another) process, lagged behind L1: a block was settled on L1
    #: while no StateTransition job covering it was in the database
    stale_reads: list[str] = field(default_factory=list)


class ChaosDevnet:
    def __init__(
        self,
        data_dir: Path,
        blocks: int = 12,
        plan: FaultPlan | None = None,
        tunables: Mapping[str, str] | None = None,
        chaos_env: Mapping[str, str] | None = None,
    ) -> None:
        self.data_dir = data_dir.resolve()
        self.blocks: DevnetBlocks = devnet_blocks(REPO / "tests" / "fixtures", blocks)
        self.plan = plan or FaultPlan()
        self.tunables = {**CHAOS_TUNABLES, **(tunables or {})}
        self.chaos_env = dict(chaos_env or {})
        self.processes: list[ChaosProcess] = []
        self.runs_file = self.data_dir / "handler_runs.jsonl"
        self.kills_file = self.data_dir / "kills.txt"
        self.started_at = 0.0
        self._anvil: Anvil | None = None
        self.node: RecordedMadaraNode | None = None
        self.proxy: FaultyProxy | None = None
        self.core: CoreContract | None = None
        self.env: dict[str, str] = {}
        self.wiring: Wiring | None = None
        self._db: SqliteDatabaseClient | None = None

    @property
    def anvil_url(self) -> str:
        assert self._anvil is not None
        return self._anvil.url

    @property
    def last_block(self) -> int:
        return self.blocks.last

    async def __aenter__(self) -> ChaosDevnet:
        try:
            await self._start()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._anvil = await asyncio.to_thread(start_anvil, block_time=1, name="chaos-anvil")
        self.node = RecordedMadaraNode(self.blocks.chain)
        await self.node.start()
        deployment, self.core = await compile_and_deploy(
            self.anvil_url, DEPLOYER, DEVNET_PROGRAM_HASH, self.blocks.genesis
        )
        self.proxy = await FaultyProxy(self.anvil_url, self.plan).start()
        self.wiring = Wiring(
            data_dir=self.data_dir,
            node_url=self.node.url,
            l1_url=self.proxy.url,
            operator_key=DEV_PRIVATE_KEYS[0],
            verifier_key=DEV_PRIVATE_KEYS[1],
            core_address=deployment.core,
            registry_address=deployment.registry,
            first_block=self.blocks.first,
            last_block=self.blocks.last,
            port=0,
        )
        base = {k: v for k, v in os.environ.items() if not k.startswith(PREFIX) and not k.startswith("CHAOS_")}
        base.update({PREFIX + k: v for k, v in self.tunables.items()})
        self.env = orchestrator_env(self.wiring, base)
        self.env[PREFIX + "ADMIN_ENABLED"] = "true"  # the harness closes the last batches and re-requests jobs
        if "admin_token" in ServerSettings.model_fields:
            self.env[PREFIX + "ADMIN_TOKEN"] = ADMIN_TOKEN
            self.env.pop(PREFIX + "ADMIN_TOKEN_FILE", None)
        self.env.update(self.chaos_env)
        self.env["CHAOS_RUNS_FILE"] = str(self.runs_file)
        self.env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
        await self._setup_orchestrator()
        self.started_at = time.monotonic()

    async def _setup_orchestrator(self) -> None:
        """`orchestrator setup` for the local profile (the aws variant overrides it)."""
        await asyncio.to_thread(orchestrator_setup, self.env, self.data_dir / "setup.log")

    def elapsed(self) -> float:
        return time.monotonic() - self.started_at

    def _t(self) -> float:
        return round(self.elapsed(), 1)

    async def start_orchestrator(
        self, name: str | None = None, extra_env: Mapping[str, str] | None = None
    ) -> ChaosProcess:
        """A new `faulty_run` process on the shared data, once its /health answers 200."""
        process = self.spawn(name or f"orchestrator-{len(self.processes) + 1}", extra_env or {})
        await self._wait_healthy(process)
        return process

    def spawn(self, name: str, extra_env: Mapping[str, str]) -> ChaosProcess:
        port = free_port()
        env = {**self.env, PREFIX + "PORT": str(port), **extra_env}
        log_path = self.data_dir / f"{name}.log"
        with log_path.open("ab") as log:
            popen = subprocess.Popen(
                [sys.executable, "-m", "tests.chaos.faulty_run"],
                env=env,
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        process = ChaosProcess(name, popen, port, log_path, self.kills_file)
        self.processes.append(process)
        return process

    async def _wait_healthy(self, process: ChaosProcess, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
            while time.monotonic() < deadline:
                if not process.alive():
                    raise RuntimeError(f"{process.name} exited with {process.popen.returncode}:\n{process.log_tail()}")
                try:
                    async with session.get(process.url + "/health") as response:
                        if response.status == 200:
                            return
                except (aiohttp.ClientError, TimeoutError):
                    pass
                await asyncio.sleep(0.3)
        raise TimeoutError(f"{process.name} not healthy after {timeout}s:\n{process.log_tail()}")

    def alive_processes(self) -> list[ChaosProcess]:
        return [p for p in self.processes if p.alive()]

    async def jobs(self) -> list[JobItem]:
        """Every job, read from this process through one connection kept open for the run (as a second
        orchestrator process reads: opening and closing a connection per poll is not what they do)."""
        if self._db is None:
            self._db = SqliteDatabaseClient(self.data_dir / "orchestrator.sqlite3")
            await self._db.connect()
        return await self._db.get_jobs_by_types_and_statuses([], [])

    async def first_run(self, job_type: JobType, internal_id: int | None = None) -> dict[str, Any]:
        """The first recorded handler run of such a job (from the recorder's file, not the database)."""
        while True:
            if self.runs_file.exists():
                for line in self.runs_file.read_text().splitlines():
                    record = json.loads(line)
                    if record["job_type"] == job_type.value and internal_id in (None, record["internal_id"]):
                        return dict(record)
            await asyncio.sleep(0.2)

    async def progress(self) -> Progress:
        assert self.core is not None
        return Progress(await self.core.state_block_number(), await self.jobs())

    async def wait_settled(self, timeout: float = 900) -> RunResult:
        """Until every block is settled and every job Completed; or a stuck job, a dead process, the timeout."""
        deadline = time.monotonic() + timeout
        run = RunResult(False, "running", 0.0)
        closed = False
        last_line = 0.0
        while True:
            try:
                progress: Progress | None = await self.progress()
            except Exception as exc:  # noqa: BLE001 - a missed poll is retried; the deadline bounds it
                print(f"[chaos {self.elapsed():5.0f}s] progress unavailable: {exc}", flush=True)
                progress = None
            if progress is not None:
                self._note(run, progress)
                if time.monotonic() - last_line > 15:
                    print(f"[chaos {self.elapsed():5.0f}s] L1 {progress.settled}; {progress.by_status()}", flush=True)
                    last_line = time.monotonic()
                closed = closed or await self._close_at_chain_end()
                if progress.settled >= self.last_block and progress.all_completed():
                    return self._end(run, True, "settled")
                if stuck := progress.stuck():
                    detail = "; ".join(
                        f"{j.job_type}/{j.internal_id} {j.status}: {j.metadata.common.failure_reason}" for j in stuck
                    )
                    return self._end(run, False, f"stuck jobs halt the pipeline: {detail}")
            if exited := [p for p in self.processes if p.popen.poll() not in (None, -signal.SIGKILL)]:
                tails = "\n".join(f"--- {p.name} exited {p.popen.returncode}:\n{p.log_tail()}" for p in exited)
                return self._end(run, False, f"an orchestrator process exited on its own:\n{tails}")
            if time.monotonic() > deadline:
                return self._end(run, False, f"timed out after {timeout:.0f}s")
            await asyncio.sleep(1)

    def _note(self, run: RunResult, progress: Progress) -> None:
        for block in range(self.blocks.first, progress.settled + 1):
            run.settled_at.setdefault(block, self._t())
        if progress.settled >= self.blocks.first and not any(
            j.job_type is JobType.STATE_TRANSITION for j in progress.jobs
        ):
            run.stale_reads.append(f"at {self._t()}s L1 had block {progress.settled}, the database no StateTransition")

    def _end(self, run: RunResult, settled: bool, reason: str) -> RunResult:
        run.settled, run.reason, run.seconds = settled, reason, self._t()
        return run

    async def api(self, method: str, path: str) -> tuple[int, Any]:
        """One call to the first live orchestrator's API with the admin token: (status, JSON body)."""
        alive = self.alive_processes()
        if not alive:
            raise RuntimeError("no orchestrator process is running")
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10), headers=headers) as session,
            session.request(method, alive[0].url + path) as response,
        ):
            body = await response.json(content_type=None) if response.content_length != 0 else None
            return response.status, body

    async def request_processing(self, job_id: str) -> int:
        """What an operator (or a duplicate delivery) does: one more process message for the job."""
        status, _ = await self.api("POST", f"/jobs/{job_id}/process")
        if status in (404, 405):  # an older API: GET only
            status, _ = await self.api("GET", f"/jobs/{job_id}/process")
        return status

    async def _close_at_chain_end(self) -> bool:
        """As the devnet does: once the last block is batched, close the open batches (no later block comes)."""
        try:
            status, _ = await self.api("GET", f"/blocks/batch-for-block/{self.last_block}")
            if status != 200:
                return False
            status, body = await self.api("POST", "/admin/batches/close-open")
        except (aiohttp.ClientError, TimeoutError, RuntimeError, ValueError) as exc:  # retried on the next poll
            print(f"[chaos {self.elapsed():5.0f}s] closing the last batches: {exc}", flush=True)
            return False
        print(f"[chaos {self.elapsed():5.0f}s] chain end: close-open answered {status}: {body}", flush=True)
        return status == 200

    async def stop_processes(self) -> dict[str, int]:
        codes = await asyncio.gather(*(asyncio.to_thread(p.terminate) for p in self.processes))
        return {p.name: code for p, code in zip(self.processes, codes, strict=True)}

    async def close(self) -> None:
        for process in self.processes:
            if process.alive():
                await asyncio.to_thread(process.terminate)
        if self._db is not None:
            await self._db.close()
        for closer in (self.proxy, self.node):
            if closer is not None:
                await closer.stop()
        if self.core is not None:
            await self.core.close()
        if self._anvil is not None:
            self._anvil.stop()

    def describe(self) -> dict[str, Any]:
        return {
            "data_dir": str(self.data_dir),
            "anvil": self._anvil and self.anvil_url,
            "proxy": self.proxy and self.proxy.url,
        }
