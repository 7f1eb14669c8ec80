"""Two `orchestrator run --profile aws` processes on one LocalStack + MongoDB server.

The processes are the counting variant of `orchestrator run` (tests/e2e/counting_orchestrator.py:
the real serve() path, the SnosRun handler replaced by one that records its side effect).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from orchestrator.clients.aws_names import AwsNames
from orchestrator.clients.queue.sqs import queue_controls
from orchestrator.core.models.job import JobStatus
from orchestrator.resources.aws_setup import SetupOptions, provision_aws
from tests.e2e.harness import (
    completed,
    create_jobs,
    open_container,
    read_effects,
    start_orchestrator,
    wait_until_terminal,
)
from tests.plugins.aws import AwsEndpoint

pytestmark = pytest.mark.slow


async def aws_env(
    localstack: AwsEndpoint,
    mongo_url: str,
    prefix: str,
    database: str,
    effects: Path,
    visibility_timeout: int = 360,
    **extra: str,
) -> dict[str, str]:
    """Provision the prefix's resources (as `orchestrator setup` does) and return the run env."""
    names = AwsNames(prefix=prefix)
    options = SetupOptions(poll_interval_seconds=0.2, controls=queue_controls(visibility_timeout=visibility_timeout))
    await provision_aws(localstack.connection(), names, options, lambda *_: None)
    env = {
        **localstack.env(),
        "MADARA_ORCHESTRATOR_PROFILE": "aws",
        "MADARA_ORCHESTRATOR_AWS_PREFIX": prefix,
        "MADARA_ORCHESTRATOR_MONGODB_CONNECTION_URL": mongo_url,
        "MADARA_ORCHESTRATOR_DATABASE_NAME": database,
        # Required by `run` for the aws profile; the counting handler never calls the node.
        "MADARA_ORCHESTRATOR_MADARA_RPC_URL": "http://127.0.0.1:9",
        "MADARA_ORCHESTRATOR_QUEUE_WAIT_TIME_SECONDS": "1",
        "MADARA_ORCHESTRATOR_QUEUE_VISIBILITY_TIMEOUT_SECONDS": str(visibility_timeout),
        "MADARA_ORCHESTRATOR_MAX_CONCURRENT_SNOS_JOBS": "10",
        "MADARA_ORCHESTRATOR_GRACEFUL_SHUTDOWN_TIMEOUT": "10",
        "COUNTING_EFFECTS_FILE": str(effects),
        "LOG_LEVEL": "WARNING",
    }
    env.update(extra)
    return env


async def test_two_processes_drive_500_jobs_each_side_effect_once(
    localstack: AwsEndpoint, mongo_url: str, aws_prefix: str, mongo_database_name: str, tmp_path: Path
) -> None:
    effects = tmp_path / "effects.txt"
    env = await aws_env(localstack, mongo_url, aws_prefix, mongo_database_name, effects)
    container = await open_container(env, effects)
    try:
        await create_jobs(container, 500)
        procs = [start_orchestrator(env, tmp_path / f"orchestrator-{i}.log") for i in range(2)]
        try:
            for p in procs:
                p.wait_healthy(timeout=90)
            jobs = await wait_until_terminal(container, 500, timeout=600)
        finally:
            codes = [p.terminate(timeout=60) for p in procs]
        assert codes == [0, 0], [p.log() for p in procs]
    finally:
        await container.close()

    assert len(completed(jobs)) == 500, Counter(j.status for j in jobs)
    seen = read_effects(effects)
    per_job = Counter(internal_id for internal_id, _ in seen)
    assert len(per_job) == 500 and set(per_job.values()) == {1}, "each side effect exactly once"
    assert len({pid for _, pid in seen}) == 2, "both processes took work"


async def test_always_failing_job_ends_failed_through_the_dlq(
    localstack: AwsEndpoint, mongo_url: str, aws_prefix: str, mongo_database_name: str, tmp_path: Path
) -> None:
    effects = tmp_path / "effects.txt"
    env = await aws_env(
        localstack,
        mongo_url,
        aws_prefix,
        mongo_database_name,
        effects,
        visibility_timeout=10,  # short, so the retries (and the DLQ move) happen within seconds
        MADARA_ORCHESTRATOR_RETRY_DELAY_SECONDS="1",
        COUNTING_FAIL_IDS="2",
    )
    container = await open_container(env, effects)
    try:
        await create_jobs(container, 3)
        procs = [start_orchestrator(env, tmp_path / f"orchestrator-{i}.log") for i in range(2)]
        try:
            for p in procs:
                p.wait_healthy(timeout=90)
            jobs = await wait_until_terminal(container, 3, timeout=180)
        finally:
            codes = [p.terminate(timeout=60) for p in procs]
        assert codes == [0, 0], [p.log() for p in procs]
    finally:
        await container.close()

    by_id = {j.internal_id: j for j in jobs}
    assert by_id[1].status is JobStatus.COMPLETED and by_id[3].status is JobStatus.COMPLETED
    failed = by_id[2]
    assert failed.status is JobStatus.FAILED
    common = failed.metadata.common
    assert common.failure_reason is not None and "DLQ" in common.failure_reason
    assert any("handler always fails for 2" in r for r in common.previous_failure_reasons)
    assert common.process_retry_attempt_no == 5, "five receives before the redrive"
    assert sorted(i for i, _ in read_effects(effects)) == [1, 3]
