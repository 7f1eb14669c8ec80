"""Several `orchestrator run` processes on one local (SQLite) database and queue."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest

from orchestrator.core.models.job import JobStatus
from orchestrator.core.models.queue import QueueType
from tests.e2e.harness import (
    completed,
    create_jobs,
    open_container,
    read_effects,
    start_orchestrator,
    wait_until_terminal,
)

pytestmark = pytest.mark.slow


def local_env(tmp_path: Path, effects: Path, **extra: str) -> dict[str, str]:
    env = {
        "MADARA_ORCHESTRATOR_PROFILE": "local",
        "MADARA_ORCHESTRATOR_DATA_DIR": str(tmp_path / "data"),
        "MADARA_ORCHESTRATOR_QUEUE_WAIT_TIME_SECONDS": "1",
        "MADARA_ORCHESTRATOR_MAX_CONCURRENT_SNOS_JOBS": "10",
        "MADARA_ORCHESTRATOR_GRACEFUL_SHUTDOWN_TIMEOUT": "10",
        "COUNTING_EFFECTS_FILE": str(effects),
        "LOG_LEVEL": "WARNING",
    }
    env.update(extra)
    return env


async def test_two_processes_drive_500_jobs_with_each_side_effect_once(tmp_path: Path) -> None:
    effects = tmp_path / "effects.txt"
    env = local_env(tmp_path, effects)
    container = await open_container(env, effects)
    try:
        await create_jobs(container, 500)
        procs = [start_orchestrator(env, tmp_path / f"orchestrator-{i}.log") for i in range(2)]
        try:
            for p in procs:
                p.wait_healthy()
            jobs = await wait_until_terminal(container, 500, timeout=240)
        finally:
            codes = [p.terminate() for p in procs]
        assert codes == [0, 0], [p.log() for p in procs]
    finally:
        await container.close()

    assert len(completed(jobs)) == 500
    assert all(j.version == 4 for j in jobs), Counter(j.version for j in jobs)
    seen = read_effects(effects)
    per_job = Counter(internal_id for internal_id, _ in seen)
    assert len(per_job) == 500 and set(per_job.values()) == {1}, "each side effect exactly once"
    assert len({pid for _, pid in seen}) == 2, "both processes took work"


async def test_sigkill_mid_processing_then_restart_heals_the_job(tmp_path: Path) -> None:
    effects = tmp_path / "effects.txt"
    short = {
        "MADARA_ORCHESTRATOR_JOB_LEASE_SECONDS": "3",  # the killed worker's job heals 3 s after its last renewal
        "MADARA_ORCHESTRATOR_QUEUE_VISIBILITY_TIMEOUT_SECONDS": "3",
    }
    env = local_env(tmp_path, effects, **short)
    container = await open_container(env, effects)
    try:
        (job,) = await create_jobs(container, 1)
        victim = start_orchestrator(
            {**env, "COUNTING_SLOW_IDS": "1", "COUNTING_SLOW_SECONDS": "60"}, tmp_path / "victim.log"
        )
        victim.wait_healthy()
        for _ in range(100):
            stored = await container.database.get_job_by_id(job.id)
            assert stored is not None
            if stored.status is JobStatus.LOCKED_FOR_PROCESSING:
                break
            await asyncio.sleep(0.1)
        assert stored.status is JobStatus.LOCKED_FOR_PROCESSING
        victim.kill()  # SIGKILL: no cleanup at all

        survivor = start_orchestrator(env, tmp_path / "survivor.log")
        try:
            survivor.wait_healthy()
            jobs = await wait_until_terminal(container, 1, timeout=60)
        finally:
            assert survivor.terminate() == 0, survivor.log()
        healed = jobs[0]
        assert healed.status is JobStatus.COMPLETED, healed
        assert read_effects(effects) == [(1, survivor.process.pid)]
        leftovers = await container.database.get_jobs_by_types_and_statuses(
            [], [JobStatus.LOCKED_FOR_PROCESSING, JobStatus.CREATED, JobStatus.PENDING_VERIFICATION]
        )
        assert leftovers == []
    finally:
        await container.close()


async def test_sigterm_during_processing_releases_the_job(tmp_path: Path) -> None:
    effects = tmp_path / "effects.txt"
    env = local_env(tmp_path, effects, MADARA_ORCHESTRATOR_GRACEFUL_SHUTDOWN_TIMEOUT="1")
    container = await open_container(env, effects)
    try:
        (job,) = await create_jobs(container, 1)
        proc = start_orchestrator({**env, "COUNTING_SLOW_IDS": "1", "COUNTING_SLOW_SECONDS": "60"}, tmp_path / "o.log")
        proc.wait_healthy()
        for _ in range(100):
            stored = await container.database.get_job_by_id(job.id)
            assert stored is not None
            if stored.status is JobStatus.LOCKED_FOR_PROCESSING:
                break
            await asyncio.sleep(0.1)
        assert proc.terminate(timeout=20) == 0, proc.log()
        stored = await container.database.get_job_by_id(job.id)
        assert stored is not None and stored.status is JobStatus.CREATED, "nothing is left locked"
        back = await container.queue.approximate_count(QueueType.SNOS_JOB_PROCESSING)
        assert back == 1, "its message is back on the queue at once"
    finally:
        await container.close()
