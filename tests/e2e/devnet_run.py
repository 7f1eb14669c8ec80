"""Run `python -m infra.devnet` as a process from a test, and read what it left: L1 and the jobs."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from web3 import AsyncHTTPProvider, AsyncWeb3

from infra.launch.base import REPO
from orchestrator.clients.database.sqlite import SqliteDatabaseClient
from orchestrator.core.models.job import JobStatus, JobType

STATE_BLOCK_NUMBER_ABI = [
    {
        "name": "stateBlockNumber",
        "type": "function",
        "stateMutability": "view",
        "inputs": [],
        "outputs": [{"name": "", "type": "int256"}],
    }
]


def devnet_env(overrides: Mapping[str, str] | None = None, strip: tuple[str, ...] = ()) -> dict[str, str]:
    """This process's environment without the orchestrator's settings (the devnet sets its own),
    nor any variable starting with `strip`; then `overrides`; the repository importable."""
    dropped = ("MADARA_ORCHESTRATOR_", *strip)
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(dropped)},
        **(overrides or {}),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }


def devnet_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "infra.devnet", *args]


def run_devnet(
    args: Sequence[str], env: Mapping[str, str], timeout: float, grace: float = 60
) -> subprocess.CompletedProcess[str]:
    """The devnet with `args` to its end; `timeout` is its own `--timeout`, `grace` what it may take beyond."""
    argv = devnet_argv(*args, "--timeout", str(timeout))
    return subprocess.run(
        argv, env=dict(env), cwd=REPO, capture_output=True, text=True, timeout=timeout + grace, check=False
    )


def failure_report(done: subprocess.CompletedProcess[str], data_dir: Path) -> str:
    """What to read when the devnet failed: its exit code, output and every log it wrote."""
    logs = "\n".join(p.read_text()[-3000:] for p in sorted(data_dir.glob("*.log")))
    return f"devnet exited {done.returncode}\n{done.stdout[-4000:]}\n{done.stderr[-2000:]}\n{logs}"


async def state_block_number(l1_url: str, core: str) -> int:
    w3 = AsyncWeb3(AsyncHTTPProvider(l1_url))
    try:
        contract = w3.eth.contract(address=w3.to_checksum_address(core), abi=STATE_BLOCK_NUMBER_ABI)
        return int(await contract.functions.stateBlockNumber().call())
    finally:
        await w3.provider.disconnect()


async def transaction_count(l1_url: str, address: str) -> int:
    w3 = AsyncWeb3(AsyncHTTPProvider(l1_url))
    try:
        return int(await w3.eth.get_transaction_count(w3.to_checksum_address(address)))
    finally:
        await w3.provider.disconnect()


async def jobs_by_status(database_file: Path) -> dict[JobStatus, list[tuple[JobType, int]]]:
    """Every job in the devnet's SQLite database as (type, internal id), grouped by status."""
    db = SqliteDatabaseClient(database_file)
    await db.connect()
    try:
        found = {}
        for status in JobStatus:
            jobs = await db.get_jobs_by_status(status)
            if jobs:
                found[status] = sorted((j.job_type, j.internal_id) for j in jobs)
        return found
    finally:
        await db.close()
