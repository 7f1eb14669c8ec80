"""`python -m infra.devnet --until-settled`: recorded blocks go through the whole L2 pipeline onto anvil.

The devnet runs as a process against an anvil this test owns (so the core contract can still be read
after the devnet exits); two aggregator batches, so the second settlement must continue the first's
state on L1. Well under a minute now that verification starts right after processing and batches
close on their time limit (37 s measured with the live devnet's 2 s block time).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from infra.devnet.l2 import FIRST_SETTLED_BLOCK
from infra.launch.anvil import Anvil
from infra.launch.solc import NODE_DIR
from orchestrator.core.models.job import JobStatus, JobType
from tests.e2e.devnet_run import devnet_env, failure_report, jobs_by_status, run_devnet, state_block_number
from tests.services import service_unavailable

pytestmark = [pytest.mark.services, pytest.mark.slow]

BLOCKS = 4
BATCH_SIZE = 2  # two aggregator batches of two blocks
LAST_BLOCK = FIRST_SETTLED_BLOCK + BLOCKS - 1
DEVNET_TIMEOUT = 420


def settle_devnet(l1_url: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = devnet_env(
        {"MADARA_ORCHESTRATOR_MAX_BATCH_SIZE": str(BATCH_SIZE), "MADARA_ORCHESTRATOR_MAX_BLOCKS_PER_SNOS_BATCH": "1"}
    )
    args = ["--blocks", str(BLOCKS), "--port", "0", "--data-dir", str(data_dir), "--l1-url", l1_url]
    return run_devnet([*args, "--until-settled", "--interval", "10"], env, DEVNET_TIMEOUT)


def test_devnet_settles_recorded_blocks_with_every_job_completed(
    tmp_path: Path, anvil_factory: Callable[..., Anvil]
) -> None:
    if not (NODE_DIR / "node_modules" / "solc").is_dir():
        service_unavailable("npm solc is not installed (scripts/install-node-tools.sh)")
    l1 = anvil_factory(block_time=1)  # the devnet's settlement waits for a confirmation block
    data_dir = tmp_path / "devnet"

    done = settle_devnet(l1.url, data_dir)

    assert done.returncode == 0, failure_report(done, data_dir)
    run = json.loads((data_dir / "devnet.json").read_text())
    assert (run["first_block"], run["last_block"]) == (FIRST_SETTLED_BLOCK, LAST_BLOCK)
    # The core contract started at the block before the first settled one and reached the last one.
    assert asyncio.run(state_block_number(l1.url, run["core_contract"])) == LAST_BLOCK

    jobs = asyncio.run(jobs_by_status(data_dir / "orchestrator.sqlite3"))
    assert set(jobs) == {JobStatus.COMPLETED}, jobs
    completed = jobs[JobStatus.COMPLETED]
    assert [n for t, n in completed if t is JobType.SNOS_RUN] == [1, 2, 3, 4]  # one block per SNOS batch
    assert [n for t, n in completed if t is JobType.PROOF_CREATION] == [1, 2, 3, 4]
    assert [n for t, n in completed if t is JobType.AGGREGATOR] == [1, 2]
    assert [n for t, n in completed if t is JobType.STATE_TRANSITION] == [1, 2]
