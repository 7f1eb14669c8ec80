"""The reduced chaos set that `make test` runs (about 2-3 minutes): one aggregator batch of two blocks
through the devnet pipeline while the L1 RPC answers 503 to 10% of requests, drops 3% of responses
after forwarding them, and is down for 10 s right after the settlement transaction is broadcast.
The same invariants as the full scenarios (`make chaos`) must hold afterwards.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from infra.devnet.faulty_proxy import FaultPlan
from tests.chaos.devnet import ChaosDevnet
from tests.chaos.scenario import Scenario, is_settlement_broadcast, run

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.timeout(600)]


def test_one_batch_settles_once_through_a_faulty_l1_rpc(tmp_path: Path, devnet_tools: None) -> None:
    outage: dict[str, Any] = {}

    async def during(devnet: ChaosDevnet) -> None:
        assert devnet.proxy is not None
        proxy, started = devnet.proxy, asyncio.Event()

        def hook(methods: list[str], params: list[Any], status: int) -> None:
            if not started.is_set() and is_settlement_broadcast(methods, params):
                proxy.start_outage(10)
                started.set()

        proxy.on_forwarded.append(hook)
        await started.wait()
        outage["outage_started_at"] = round(devnet.elapsed(), 1)

    scenario = Scenario(
        "quick-l1-faults",
        blocks=2,
        plan=FaultPlan(error_rate=0.10, drop_rate=0.03, seed=11),
        tunables={"MAX_BATCH_SIZE": "2", "MAX_BLOCKS_PER_SNOS_BATCH": "2"},
        during=during,
        timeout=420,
        min_aggregator_batches=1,
        notes=outage,
    )
    outcome = asyncio.run(run(scenario, tmp_path))
    assert outcome.failure() is None, f"data in {tmp_path}:\n{outcome.failure()}\n{outcome.report.text()}"
    assert "outage_started_at" in outage, "no settlement transaction reached the proxy"
