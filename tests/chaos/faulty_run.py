"""`python -m tests.chaos.faulty_run`: `orchestrator run` with chaos faults injected into this process.

The same settings, composition root and serve() path as `orchestrator run --env-file /dev/null`;
before serving, `tests.chaos.faults` patches the implementation classes the local profile and the
devnet use. What is injected comes from the environment (all optional):

- CHAOS_RUNS_FILE: record every handler `process_job` start/end there;
- CHAOS_DB_FAIL_RATE, CHAOS_DB_LOST_REPLY_RATE: database calls fail before / after taking effect;
- CHAOS_QUEUE_FAIL_RATE, CHAOS_QUEUE_LOST_REPLY_RATE: `queue.receive` fails before / after receiving;
- CHAOS_SEED: seed of those draws (the PID is added, so two processes draw differently);
- CHAOS_PROVER_OUTAGE_FILE: the prover answers 503 during the window the harness writes there;
- CHAOS_SNOS_DELAY_SECONDS, CHAOS_SNOS_SLOW_BLOCKS (comma-separated first blocks; empty: every run).
"""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import click

from orchestrator.clients.database.sqlite import SqliteDatabaseClient
from orchestrator.clients.prover.mock import MockProverClient
from orchestrator.clients.queue.local import SqliteQueueClient
from orchestrator.clients.snos.devnet import DevnetSnosRunner
from orchestrator.config import SettingsError, load_settings
from orchestrator.controllers.cli.run import run_with
from orchestrator.services.job.handlers.aggregator import AggregatorHandler
from orchestrator.services.job.handlers.proving import ProofCreationHandler
from orchestrator.services.job.handlers.snos import SnosRunHandler
from orchestrator.services.job.handlers.state_transition import StateTransitionHandler
from tests.chaos.faults import inject_delay, inject_failures, inject_outage, record_runs

L2_HANDLERS = (SnosRunHandler, ProofCreationHandler, AggregatorHandler, StateTransitionHandler)


def _rate(name: str) -> float:
    return float(os.environ.get(name) or 0)


def install() -> None:
    seed = int(os.environ.get("CHAOS_SEED") or 0) + os.getpid()
    db_fail, db_lost = _rate("CHAOS_DB_FAIL_RATE"), _rate("CHAOS_DB_LOST_REPLY_RATE")
    if db_fail or db_lost:
        inject_failures(SqliteDatabaseClient, fail_rate=db_fail, lost_reply_rate=db_lost, rng=random.Random(seed))
    queue_fail, queue_lost = _rate("CHAOS_QUEUE_FAIL_RATE"), _rate("CHAOS_QUEUE_LOST_REPLY_RATE")
    if queue_fail or queue_lost:
        inject_failures(
            SqliteQueueClient,
            fail_rate=queue_fail,
            lost_reply_rate=queue_lost,
            rng=random.Random(seed + 1),
            methods=frozenset({"receive"}),
        )
    window_file = os.environ.get("CHAOS_PROVER_OUTAGE_FILE")
    if window_file:
        inject_outage(MockProverClient, Path(window_file), "the prover")
    delay = _rate("CHAOS_SNOS_DELAY_SECONDS")
    if delay:
        listed = os.environ.get("CHAOS_SNOS_SLOW_BLOCKS", "")
        blocks = {int(b) for b in listed.split(",") if b.strip()}
        inject_delay(DevnetSnosRunner, "run", delay, lambda request: not blocks or request.start_block in blocks)
    runs_file = os.environ.get("CHAOS_RUNS_FILE")
    if runs_file:
        for handler in L2_HANDLERS:
            record_runs(handler, Path(runs_file))


def main() -> int:
    install()
    try:
        settings = load_settings(env_file=None)
    except SettingsError as exc:
        print("error: invalid settings: " + "; ".join(exc.problems), file=sys.stderr)
        return 2
    try:
        run_with(settings)
    except click.ClickException as exc:
        print(f"error: {exc.format_message()}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
