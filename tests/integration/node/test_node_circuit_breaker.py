"""A dead node is not hammered: the client's circuit opens, refuses at once, and closes after a good probe."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from orchestrator.clients.http import BreakerConfig
from orchestrator.clients.http.errors import CircuitOpenError
from orchestrator.clients.node.madara import MadaraNodeClient
from orchestrator.core.errors import ServiceUnavailableError
from tests.doubles import Fault
from tests.doubles.madara_node import MadaraNodeDouble, load_fixture_chain

FIXTURES = Path(__file__).parents[2] / "fixtures"


async def test_circuit_opens_on_a_failing_node_and_closes_after_the_cool_down() -> None:
    async with (
        MadaraNodeDouble(load_fixture_chain(FIXTURES)) as node,
        MadaraNodeClient(node.url, breaker=BreakerConfig(failure_threshold=3, reset_timeout=0.5)) as client,
    ):
        node.faults.fail_next(3, Fault.UNAVAILABLE)
        for _ in range(3):
            with pytest.raises(ServiceUnavailableError):
                await client.block_number()
        (metrics,) = client.service_metrics()
        assert metrics.breaker_state == "open" and metrics.breaker_opened_total == 1

        served = sum(node.calls.values())
        with pytest.raises(CircuitOpenError):
            await client.block_number()
        assert sum(node.calls.values()) == served, "an open circuit sends nothing"

        await asyncio.sleep(0.6)
        assert await client.block_number() > 0  # the half-open probe succeeds
        assert metrics.breaker_state == "closed"
