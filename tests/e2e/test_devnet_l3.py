"""`python -m infra.devnet --layer l3 --until-settled`: recorded blocks go through the L3 pipeline
(SnosRun → ProofCreation → ProofRegistration → DataSubmission → StateTransition) onto the Starknet
settlement test server, with the self-proving Atlantic double. Under a minute."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import pytest

from infra.devnet.l2 import FIRST_SETTLED_BLOCK, devnet_blocks, genesis_state
from infra.devnet.l3 import SETTLEMENT_STATE
from infra.launch.base import REPO
from orchestrator.core.models.job import JobStatus, JobType
from tests.e2e.devnet_run import devnet_env, failure_report, jobs_by_status, run_devnet

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(600)]

BLOCKS = 3
LAST_BLOCK = FIRST_SETTLED_BLOCK + BLOCKS - 1
DEVNET_TIMEOUT = 420
L3_JOB_TYPES = {
    JobType.SNOS_RUN,
    JobType.PROOF_CREATION,
    JobType.PROOF_REGISTRATION,
    JobType.DATA_SUBMISSION,
    JobType.STATE_TRANSITION,
}


def settle_l3_devnet(data_dir: Path) -> subprocess.CompletedProcess[str]:
    args = ["--layer", "l3", "--blocks", str(BLOCKS), "--port", "0", "--data-dir", str(data_dir)]
    return run_devnet([*args, "--until-settled", "--interval", "10"], devnet_env(), DEVNET_TIMEOUT)


def test_l3_devnet_settles_recorded_blocks_on_the_starknet_server(tmp_path: Path) -> None:
    data_dir = tmp_path / "devnet"

    done = settle_l3_devnet(data_dir)

    assert done.returncode == 0, failure_report(done, data_dir)
    run = json.loads((data_dir / "devnet.json").read_text())
    assert (run["layer"], run["first_block"], run["last_block"]) == ("l3", FIRST_SETTLED_BLOCK, LAST_BLOCK)

    # The settlement server holds the last block's state root, number and hash, reached by one
    # update_state per block, none reverted, each backed by a fact the L2 verification registered.
    state = json.loads((data_dir / SETTLEMENT_STATE).read_text())
    last = genesis_state(devnet_blocks(REPO / "tests" / "fixtures", BLOCKS).chain.blocks[LAST_BLOCK])
    assert (state["state_root"], state["block_number"], state["block_hash"]) == (
        hex(last.root),
        LAST_BLOCK,
        hex(last.block_hash),
    )
    assert [i["nonce"] for i in state["invokes"]] == list(range(BLOCKS))
    assert all(i["reverted"] is None for i in state["invokes"])
    assert state["facts_registered"] == BLOCKS

    jobs = asyncio.run(jobs_by_status(data_dir / "orchestrator.sqlite3"))
    assert set(jobs) == {JobStatus.COMPLETED}, jobs
    completed = jobs[JobStatus.COMPLETED]
    assert {t for t, _ in completed} == L3_JOB_TYPES
    for job_type in L3_JOB_TYPES:  # one SNOS batch per block on L3
        assert [n for t, n in completed if t is job_type] == list(range(1, BLOCKS + 1)), job_type
