"""Contract of AlertClient: every implementation must pass these."""

from __future__ import annotations


async def test_alerts_are_delivered(alerts_harness) -> None:
    client = await alerts_harness.new_client()
    await client.health_check()
    await client.send_message("Job Failed Alert: job 42 (SnosRun) failed")
    await client.send_message("[CRITICAL] AggregatorBatching worker failed")
    received = await alerts_harness.received(count=2, timeout=10)
    assert any("Job Failed Alert: job 42 (SnosRun) failed" in text for text in received)
    assert any("[CRITICAL] AggregatorBatching worker failed" in text for text in received)
