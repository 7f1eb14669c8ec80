"""The consumer loop against the local SQLite queue: ack, give back, heartbeat, shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from orchestrator.clients.queue.local import SqliteQueueClient
from orchestrator.controllers.workers.consumer import Consumer
from orchestrator.core.clients.queue import Delivery
from orchestrator.core.models.queue import QueueType
from orchestrator.services.job.engine import RetryLater

Q = QueueType.SNOS_JOB_PROCESSING


@pytest.fixture
async def queue(tmp_path: Path) -> AsyncIterator[SqliteQueueClient]:
    client = SqliteQueueClient(tmp_path / "q.sqlite3", orchestrator_version="0.1.0", poll_interval_seconds=0.02)
    await client.setup()
    yield client
    await client.close()


async def run_until(consumer: Consumer, condition: object, timeout: float = 10) -> asyncio.Event:
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    async with asyncio.timeout(timeout):
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0.02)
    stop.set()
    await task
    await consumer.drain(5)
    return stop


async def test_success_acks(queue: SqliteQueueClient) -> None:
    seen: list[str] = []

    async def handle(d: Delivery) -> None:
        seen.append(d.body)

    for i in range(5):
        await queue.send(Q, f"m{i}")
    consumer = Consumer(queue, Q, handle, concurrency=2, wait_seconds=0.1)
    await run_until(consumer, lambda: consumer.stats.acked == 5)
    assert sorted(seen) == [f"m{i}" for i in range(5)]
    assert await queue.approximate_count(Q) == 0 and await queue.in_flight_count(Q) == 0


async def test_retry_later_gives_the_message_back_with_its_delay(queue: SqliteQueueClient) -> None:
    attempts: list[int] = []

    async def handle(d: Delivery) -> None:
        attempts.append(d.receive_count)
        if d.receive_count == 1:
            raise RetryLater("not yet", 1)

    await queue.send(Q, "m")
    consumer = Consumer(queue, Q, handle, wait_seconds=0.1)
    loop = asyncio.get_running_loop()
    start = loop.time()
    await run_until(consumer, lambda: consumer.stats.acked == 1)
    assert attempts == [1, 2]
    assert loop.time() - start >= 0.9, "redelivered only after the requested delay"
    assert consumer.stats.retried == 1


async def test_errors_are_retried_after_the_retry_delay(queue: SqliteQueueClient) -> None:
    calls: list[int] = []

    async def handle(d: Delivery) -> None:
        calls.append(d.receive_count)
        if len(calls) < 3:
            raise ValueError("flaky")

    await queue.send(Q, "m")
    consumer = Consumer(queue, Q, handle, wait_seconds=0.1, retry_delay=0)
    await run_until(consumer, lambda: consumer.stats.acked == 1)
    assert calls == [1, 2, 3] and consumer.stats.failed == 2


async def test_heartbeat_keeps_a_long_handler_invisible(queue: SqliteQueueClient) -> None:
    deliveries: list[int] = []

    async def handle(d: Delivery) -> None:
        deliveries.append(d.receive_count)
        await asyncio.sleep(3.5)

    await queue.send(Q, "slow")
    consumer = Consumer(queue, Q, handle, concurrency=2, wait_seconds=0.1, visibility_timeout=2)
    await run_until(consumer, lambda: consumer.stats.acked == 1)
    assert deliveries == [1], "not redelivered while its handler ran past the visibility timeout"


async def test_shutdown_cancels_after_grace_and_gives_back(queue: SqliteQueueClient) -> None:
    started = asyncio.Event()

    async def handle(d: Delivery) -> None:
        started.set()
        await asyncio.sleep(60)

    await queue.send(Q, "stuck")
    consumer = Consumer(queue, Q, handle, wait_seconds=0.1)
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    await started.wait()
    stop.set()
    await task
    await consumer.drain(0.2)
    assert await queue.approximate_count(Q) == 1, "the message is visible again at once"
