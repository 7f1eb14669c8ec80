"""Run one chaos scenario: the devnet, the faults scheduled beside it, then every invariant.

A scenario's report (outcome, invariants, figures) is printed and kept in
`.orchestrator/chaos/results.jsonl` ($CHAOS_RESULTS) and in `report.json` in its data directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.devnet.faulty_proxy import FaultPlan
from infra.devnet.server import Fault, Faults
from infra.launch.base import REPO
from tests.chaos import invariants
from tests.chaos.devnet import ChaosDevnet, RunResult
from tests.chaos.faults import OutageWindow

#: where every scenario's report is appended ($CHAOS_RESULTS overrides it)
RESULTS = Path(os.environ.get("CHAOS_RESULTS") or REPO / ".orchestrator" / "chaos" / "results.jsonl")

During = Callable[[ChaosDevnet], Coroutine[Any, Any, None]]


@dataclass
class Scenario:
    name: str
    blocks: int = 12
    processes: int = 1
    plan: FaultPlan | None = None
    tunables: Mapping[str, str] = field(default_factory=dict)
    chaos_env: Mapping[str, str] = field(default_factory=dict)
    #: the fault schedule, run beside the pipeline and cancelled once the run ends
    during: During | None = None
    timeout: float = 900
    min_aggregator_batches: int = 3
    notes: dict[str, Any] = field(default_factory=dict)


@dataclass
class Outcome:
    scenario: Scenario
    run: RunResult
    report: invariants.Report

    def failure(self) -> str | None:
        problems = ([] if self.run.settled else [f"the run did not settle: {self.run.reason}"]) + self.report.violations
        return "\n".join(problems) or None


async def run(scenario: Scenario, data_dir: Path, devnet_class: type[ChaosDevnet] = ChaosDevnet) -> Outcome:
    async with devnet_class(data_dir, scenario.blocks, scenario.plan, scenario.tunables, scenario.chaos_env) as devnet:
        print(f"[chaos] {scenario.name}: data {devnet.data_dir}", flush=True)
        for _ in range(scenario.processes):
            await devnet.start_orchestrator()
        faults = asyncio.create_task(scenario.during(devnet)) if scenario.during else None
        try:
            result = await devnet.wait_settled(scenario.timeout)
        finally:
            if faults is not None:
                faults.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await faults
                if faults.done() and not faults.cancelled() and faults.exception() is not None:
                    raise RuntimeError("the fault schedule failed") from faults.exception()
        exit_codes = await devnet.stop_processes()
        report = await invariants.check(devnet, min_aggregator_batches=scenario.min_aggregator_batches)
        if result.stale_reads:
            report.violations.append(
                "what one process commits, another sees: the database read from the harness's process lagged "
                f"behind L1 {len(result.stale_reads)} time(s), first {result.stale_reads[0]}"
            )
        report.figures.update(
            scenario=scenario.name,
            settle_seconds=result.seconds,
            settled_at=result.settled_at,
            exit_codes=exit_codes,
            **scenario.notes,
        )
        outcome = Outcome(scenario, result, report)
        record(outcome, devnet.data_dir)
        return outcome


def record(outcome: Outcome, data_dir: Path) -> None:
    entry = {
        "scenario": outcome.scenario.name,
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "settled": outcome.run.settled,
        "reason": outcome.run.reason,
        "violations": outcome.report.violations,
        "figures": outcome.report.figures,
    }
    text = json.dumps(entry, default=str)
    (data_dir / "report.json").write_text(text + "\n")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a") as out:
        out.write(text + "\n")
    print(f"[chaos] {outcome.scenario.name}: {outcome.run.reason}\n{outcome.report.text()}", flush=True)


def is_settlement_broadcast(methods: list[str], params: list[Any]) -> bool:
    """An EIP-4844 (type 3) raw transaction: only the settlement sends those (fact registrations are type 2)."""
    for method, param in zip(methods, params, strict=False):
        if method == "eth_sendRawTransaction" and param and str(param[0]).lower().startswith("0x03"):
            return True
    return False


class WindowFaults(Faults):
    """The recorded node's fault queue, plus a wall-clock window in which every request gets 503."""

    def __init__(self, window: OutageWindow) -> None:
        super().__init__()
        self.window = window

    def take(self, route: str) -> Fault | None:
        if self.window.active():
            self.served[Fault.UNAVAILABLE.value] += 1
            return Fault.UNAVAILABLE
        return super().take(route)
