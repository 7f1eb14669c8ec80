"""The SQLite queue's own details, on a controlled clock (the contract suite covers the semantics)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from orchestrator.clients.queue.local import SqliteQueueClient
from orchestrator.core.models.queue import QueueType
from tests.fakes import FakeClock

Q = QueueType.SNOS_JOB_PROCESSING
DLQ = QueueType.JOB_HANDLE_FAILURE
T = QueueType.WORKER_TRIGGER


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def queue(tmp_path: Path, clock: FakeClock) -> AsyncIterator[SqliteQueueClient]:
    client = SqliteQueueClient(tmp_path / "q.sqlite3", "0.1.0", default_visibility_timeout=30, clock=clock)
    await client.setup()
    yield client
    await client.close()


async def test_visibility_and_delay_follow_the_clock(queue: SqliteQueueClient, clock: FakeClock) -> None:
    await queue.send(Q, "m", delay_seconds=10)
    assert await queue.receive(Q) is None
    clock.advance(10)
    first = await queue.receive(Q)
    assert first is not None and first.receive_count == 1
    clock.advance(29.9)
    assert await queue.receive(Q) is None
    assert await queue.in_flight_count(Q) == 1 and await queue.approximate_count(Q) == 0
    clock.advance(0.1)  # the 30 s default visibility ran out: visible, no longer in flight
    assert await queue.in_flight_count(Q) == 0 and await queue.approximate_count(Q) == 1
    second = await queue.receive(Q, visibility_timeout=5)
    assert second is not None and second.receive_count == 2
    clock.advance(5)
    third = await queue.receive(Q)
    assert third is not None and third.receive_count == 3


async def test_dead_lettering_keeps_the_message(queue: SqliteQueueClient) -> None:
    await queue.send(Q, '{"id": "x"}')
    first = None
    for _ in range(5):
        delivery = await queue.receive(Q)
        assert delivery is not None
        first = first or delivery
        await queue.nack(delivery)
    assert await queue.receive(Q) is None
    dead = await queue.receive(DLQ)
    assert dead is not None and first is not None
    assert (dead.message_id, dead.body, dead.attributes) == (first.message_id, first.body, first.attributes)
    assert dead.receive_count == 1  # counted afresh on the failure queue, which has no DLQ itself
    assert dead.queue is DLQ


async def test_dead_lettering_picks_the_next_message(queue: SqliteQueueClient, clock: FakeClock) -> None:
    await queue.send(Q, "poison")
    clock.advance(1)
    await queue.send(Q, "good")
    for _ in range(5):
        delivery = await queue.receive(Q)
        assert delivery is not None and delivery.body == "poison"
        await queue.nack(delivery)
    delivery = await queue.receive(Q)  # poison moves away in the same call, good is handed out
    assert delivery is not None and delivery.body == "good"


async def test_configurable_dead_letter_policy(tmp_path: Path) -> None:
    queue = SqliteQueueClient(tmp_path / "q.sqlite3", "0.1.0", max_receive_count=2, dlq_queues={Q})
    for name in (Q, QueueType.PROVING_JOB_PROCESSING):
        await queue.send(name, "m")
        for _ in range(2):
            delivery = await queue.receive(name)
            assert delivery is not None
            await queue.nack(delivery)
    assert await queue.receive(Q) is None
    assert await queue.receive(QueueType.PROVING_JOB_PROCESSING) is not None  # no policy there
    assert await queue.receive(DLQ) is not None
    await queue.close()


async def test_messages_without_a_version_are_for_everyone(
    queue: SqliteQueueClient, tmp_path: Path, clock: FakeClock
) -> None:
    # As a message from EventBridge: no OrchestratorVersion attribute.
    with sqlite3.connect(tmp_path / "q.sqlite3") as conn:
        conn.execute(
            "INSERT INTO queue_messages (message_id, queue, body, attributes, version, visible_at, sent_at)"
            " VALUES ('raw', ?, 'Snos', '{}', NULL, ?, ?)",
            (QueueType.WORKER_TRIGGER.value, clock(), clock()),
        )
    delivery = await queue.receive(QueueType.WORKER_TRIGGER)
    assert delivery is not None and delivery.body == "Snos" and delivery.attributes == {}


async def test_stored_attributes_and_wal_mode(queue: SqliteQueueClient, tmp_path: Path) -> None:
    await queue.send(Q, "m")
    with sqlite3.connect(tmp_path / "q.sqlite3") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        attributes, version = conn.execute("SELECT attributes, version FROM queue_messages").fetchone()
    assert json.loads(attributes) == {"OrchestratorVersion": "0.1.0"} and version == "0.1.0"


async def test_invalid_arguments(queue: SqliteQueueClient) -> None:
    with pytest.raises(ValueError, match="delay_seconds must be >= 0"):
        await queue.send(Q, "m", delay_seconds=-1)
    with pytest.raises(ValueError, match="visibility_timeout must be >= 0"):
        await queue.receive(Q, visibility_timeout=-1)


async def test_a_receive_cancelled_mid_claim_gives_the_message_back(queue: SqliteQueueClient) -> None:
    import asyncio

    await queue.send(T, "m")  # on a queue without dead-lettering: the claims below count receives
    # Cancel at every point of the call; whatever happened, the message must be receivable now.
    for delay_loops in range(6):
        task = asyncio.create_task(queue.receive(T))
        for _ in range(delay_loops):
            await asyncio.sleep(0)
        task.cancel()
        try:
            delivery = await task
        except asyncio.CancelledError:
            delivery = None
        if delivery is not None:
            await queue.nack(delivery)
        again = await queue.receive(T)
        assert again is not None, f"message hidden after a cancel at step {delay_loops}"
        await queue.nack(again)


async def test_trigger_messages_expire_after_their_retention(queue: SqliteQueueClient, clock: FakeClock) -> None:
    await queue.send(T, "Snos")
    await queue.send(Q, "job")
    clock.advance(61)
    await queue.send(T, "Proving")
    delivery = await queue.receive(T)
    assert delivery is not None and delivery.body == "Proving"  # "Snos" was older than a minute
    assert await queue.receive(T) is None
    assert await queue.receive(Q) is not None  # job queues keep their messages
