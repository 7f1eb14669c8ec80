"""What must hold after every chaos scenario, each violation in one line that names the invariant.

1. every block settled: the core contract's `stateBlockNumber` is the last block;
2. one L1 transaction per batch: the operator's nonce (it sends only settlement transactions) equals
   the number of StateTransition jobs, and nothing of the operator's is left pending;
3. every job Completed;
4. no duplicate `(job_type, internal_id)`;
5. no job processed twice at the same time: the recorded `process_job` runs of a job never overlap,
   across processes (a run of a SIGKILLed process ends at its kill).

`figures` gives what RELIABILITY.md reports: time, handler runs, attempts, retries, L1 transactions.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from web3 import AsyncHTTPProvider, AsyncWeb3

from orchestrator.core.models.job import JobItem, JobStatus, JobType
from tests.chaos.devnet import DEPLOYER, OPERATOR, ChaosDevnet

#: the deployer deploys the registry and the core contract from the verifier's account
DEPLOYMENTS = 2


@dataclass(frozen=True)
class Run:
    job: tuple[str, int]
    pid: int
    start: float
    end: float | None  # None: never ended (the process was killed, or still runs)
    outcome: str


@dataclass
class Report:
    violations: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    def text(self) -> str:
        lines = [f"VIOLATED: {v}" for v in self.violations] or ["all invariants hold"]
        return "\n".join([*lines, "figures: " + json.dumps(self.figures, sort_keys=True)])


def read_runs(runs_file: Path, kills_file: Path) -> list[Run]:
    kills = {}
    if kills_file.exists():
        for line in kills_file.read_text().splitlines():
            pid, at = line.split()
            kills[int(pid)] = float(at)
    starts: dict[str, dict[str, Any]] = {}
    ends: dict[str, dict[str, Any]] = {}
    if runs_file.exists():
        for line in runs_file.read_text().splitlines():
            record = json.loads(line)
            (starts if record["event"] == "start" else ends)[record["run"]] = record
    runs = []
    for run_id, start in starts.items():
        end = ends.get(run_id)
        finished = end["t"] if end else kills.get(start["pid"])
        outcome = end["outcome"] if end else ("killed" if start["pid"] in kills else "unfinished")
        runs.append(Run((start["job_type"], start["internal_id"]), start["pid"], start["t"], finished, outcome))
    return sorted(runs, key=lambda r: r.start)


def overlapping_runs(runs: list[Run]) -> list[str]:
    by_job: dict[tuple[str, int], list[Run]] = {}
    for run in runs:
        by_job.setdefault(run.job, []).append(run)
    found = []
    for job, job_runs in sorted(by_job.items()):
        for earlier, later in itertools.pairwise(job_runs):
            if earlier.end is None or earlier.end > later.start:
                ended = "never ended" if earlier.end is None else f"ended {earlier.end - later.start:.1f}s after"
                found.append(
                    f"{job[0]}/{job[1]} was processed twice at the same time: pid {earlier.pid} ({earlier.outcome}) "
                    f"{ended} pid {later.pid} started"
                )
    return found


async def nonce(l1_url: str, account: str, block: str = "latest") -> int:
    w3 = AsyncWeb3(AsyncHTTPProvider(l1_url))
    try:
        return int(await w3.eth.get_transaction_count(w3.to_checksum_address(account), block))  # type: ignore[arg-type]
    finally:
        await w3.provider.disconnect()


async def check(devnet: ChaosDevnet, jobs: list[JobItem] | None = None, min_aggregator_batches: int = 3) -> Report:
    """Every invariant, after the run (the processes should be stopped first)."""
    report = Report()
    jobs = jobs if jobs is not None else await devnet.jobs()
    assert devnet.core is not None
    settled = await devnet.core.state_block_number()
    if settled != devnet.last_block:
        report.violations.append(f"every block settled: stateBlockNumber is {settled}, expected {devnet.last_block}")

    by_type = Counter(j.job_type for j in jobs)
    transitions = by_type[JobType.STATE_TRANSITION]
    operator, operator_pending = (
        await nonce(devnet.anvil_url, OPERATOR),
        await nonce(devnet.anvil_url, OPERATOR, "pending"),
    )
    if operator != transitions:
        report.violations.append(
            f"one L1 transaction per batch: the operator's nonce is {operator} for {transitions} StateTransition jobs"
        )
    if operator_pending != operator:
        report.violations.append(
            f"one L1 transaction per batch: {operator_pending - operator} operator tx still pending"
        )
    if by_type[JobType.AGGREGATOR] < min_aggregator_batches:
        report.violations.append(
            f"setup: {by_type[JobType.AGGREGATOR]} aggregator batches, {min_aggregator_batches} or more wanted"
        )

    not_done = [j for j in jobs if j.status is not JobStatus.COMPLETED]
    for job in not_done:
        reason = job.metadata.common.failure_reason
        report.violations.append(f"every job Completed: {job.job_type}/{job.internal_id} is {job.status} ({reason})")
    if not jobs:
        report.violations.append("every job Completed: there are no jobs at all")

    keys = Counter((j.job_type, j.internal_id) for j in jobs)
    for (job_type, internal_id), count in sorted(keys.items()):
        if count > 1:
            report.violations.append(f"no duplicate jobs: {job_type}/{internal_id} exists {count} times")

    runs = read_runs(devnet.runs_file, devnet.kills_file)
    if not runs:
        report.violations.append("no job processed twice at once: no handler run was recorded (recorder not loaded?)")
    report.violations.extend(f"no job processed twice at once: {o}" for o in overlapping_runs(runs))
    report.figures = await figures(devnet, jobs, runs, operator)
    return report


async def figures(devnet: ChaosDevnet, jobs: list[JobItem], runs: list[Run], operator_nonce: int) -> dict[str, Any]:
    verifier_txs = await nonce(devnet.anvil_url, DEPLOYER) - DEPLOYMENTS
    aggregators = sum(1 for j in jobs if j.job_type is JobType.AGGREGATOR)
    process_runs = Counter(r.job[0] for r in runs)
    outcomes = Counter(r.outcome.split(":")[0] for r in runs)
    common = [j.metadata.common for j in jobs]
    proxy = devnet.proxy.stats if devnet.proxy is not None else None
    return {
        "jobs": dict(Counter(str(j.job_type) for j in jobs)),
        "handler_runs": dict(process_runs),
        "handler_run_outcomes": dict(outcomes),
        "extra_handler_runs": len(runs) - len(jobs),
        "process_attempts": sum(c.process_attempt_no for c in common),
        "process_retries": sum(c.process_retry_attempt_no for c in common),
        "failures_recorded": sum(len(c.previous_failure_reasons) + bool(c.failure_reason) for c in common),
        "settlement_txs": operator_nonce,
        "wasted_settlement_txs": operator_nonce - sum(1 for j in jobs if j.job_type is JobType.STATE_TRANSITION),
        "fact_registration_txs": verifier_txs,
        "wasted_fact_registration_txs": verifier_txs - aggregators,
        "proxy": None if proxy is None else proxy.line(),
        "kills": len(devnet.kills_file.read_text().splitlines()) if devnet.kills_file.exists() else 0,
        "injected_in_processes": injected(devnet),
    }


#: the log lines of tests/chaos/faults.py, by kind of fault
INJECTED = {
    "failed before reaching the client": "call failed",
    "its reply is lost": "reply lost",
    "answered 503": "503",
    "starts": "delayed",
}


def injected(devnet: ChaosDevnet) -> dict[str, int]:
    """How many faults the orchestrator processes injected into themselves (from their logs)."""
    counts: Counter[str] = Counter()
    for process in devnet.processes:
        text = process.log_path.read_text(errors="replace") if process.log_path.exists() else ""
        for line in text.splitlines():
            if "WARNING" in line and "tests.chaos.faults" in line:
                counts.update(kind for marker, kind in INJECTED.items() if marker in line)
    return dict(counts)
