"""Start `orchestrator run` processes (the counting variant) and watch their jobs through the database."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from infra.launch.base import free_port
from orchestrator.bootstrap import Container, build
from orchestrator.config import Settings, load_settings
from orchestrator.core.models.job import TERMINAL_STATUSES, JobItem, JobStatus, JobType
from orchestrator.core.models.metadata import SnosMetadata
from tests.e2e.counting_orchestrator import CountingHandler

REPO = Path(__file__).resolve().parents[2]


@dataclass
class OrchestratorProcess:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    def wait_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"orchestrator exited with {self.process.returncode}: {self.log()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=1) as r:
                    if r.status == 200:  # 503 (a supervised loop down) raises HTTPError, an OSError
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"orchestrator not healthy after {timeout}s: {self.log()}")

    def log(self) -> str:
        return self.log_path.read_text()[-4000:] if self.log_path.exists() else ""

    def terminate(self, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)


def start_orchestrator(env: Mapping[str, str], log_path: Path) -> OrchestratorProcess:
    port = free_port()
    full_env = {**os.environ, **env, "MADARA_ORCHESTRATOR_PORT": str(port)}
    full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), full_env.get("PYTHONPATH")]))
    log = log_path.open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.e2e.counting_orchestrator"],
        env=full_env,
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    log.close()
    return OrchestratorProcess(process, port, log_path)


def settings_for(env: Mapping[str, str]) -> Settings:
    return load_settings(environ=dict(env), env_file=None)


async def open_container(env: Mapping[str, str], effects_file: Path) -> Container:
    container = build(settings_for(env), handlers={JobType.SNOS_RUN: CountingHandler(str(effects_file))})
    await container.start()
    return container


async def create_jobs(container: Container, count: int, start: int = 1) -> list[JobItem]:
    jobs = []
    for i in range(start, start + count):
        meta = SnosMetadata(snos_batch_index=i, start_block=i, end_block=i, num_blocks=1)
        job = await container.engine.create_job(JobType.SNOS_RUN, i, meta)
        assert job is not None
        jobs.append(job)
    return jobs


async def wait_until_terminal(container: Container, count: int, timeout: float) -> list[JobItem]:
    deadline = time.monotonic() + timeout
    while True:
        jobs = await container.database.get_jobs_by_types_and_statuses([JobType.SNOS_RUN], [])
        if len(jobs) >= count and all(j.status in TERMINAL_STATUSES for j in jobs):
            return jobs
        if time.monotonic() > deadline:
            pending = [(j.internal_id, j.status.value) for j in jobs if j.status not in TERMINAL_STATUSES]
            raise TimeoutError(f"{len(pending)} job(s) not terminal after {timeout}s: {pending[:10]}")
        await asyncio.sleep(0.5)


def read_effects(path: Path) -> list[tuple[int, int]]:
    if not path.exists():
        return []
    return [(int(a), int(b)) for a, b in (line.split() for line in path.read_text().splitlines())]


def completed(jobs: list[JobItem]) -> list[JobItem]:
    return [j for j in jobs if j.status is JobStatus.COMPLETED]
