"""The consumer loop against the local SQLite queue: ack, give back, heartbeat, receive errors, shutdown."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from tenacity import wait_fixed

from orchestrator.clients.queue.local import SqliteQueueClient
from orchestrator.controllers.workers.consumer import Consumer
from orchestrator.core.clients.queue import Delivery
from orchestrator.core.models.queue import QueueType
from orchestrator.services.job.engine import RetryLater
from tests.eventually import eventually

Q = QueueType.SNOS_JOB_PROCESSING


@pytest.fixture
async def queue(tmp_path: Path) -> AsyncIterator[SqliteQueueClient]:
    client = SqliteQueueClient(tmp_path / "q.sqlite3", orchestrator_version="0.1.0", poll_interval_seconds=0.02)
    await client.setup()
    yield client
    await client.close()


async def run_until(consumer: Consumer, condition: Callable[[], bool], timeout: float = 10) -> asyncio.Event:
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        await eventually(condition, timeout)
    finally:
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


async def _long_handler_deliveries(queue: SqliteQueueClient, until: Callable[[list[int]], bool]) -> list[int]:
    """Receive counts seen by a handler that runs 2.2 times the consumer's 1 s visibility timeout.

    The queue's own visibility is 360 s: the message is hidden for 1 s only because the consumer
    receives it with its own timeout, so nothing but the heartbeat keeps it hidden afterwards.
    Two slots, so that the consumer polls the queue while the handler runs.
    """
    deliveries: list[int] = []

    async def handle(d: Delivery) -> None:
        deliveries.append(d.receive_count)
        await asyncio.sleep(2.2)  # the handler's work, longer than the visibility timeout

    await queue.send(Q, "slow")
    consumer = Consumer(queue, Q, handle, concurrency=2, wait_seconds=0.1, visibility_timeout=1)
    await run_until(consumer, lambda: until(deliveries) or consumer.stats.acked > 0)
    return deliveries


async def test_heartbeat_keeps_a_long_handler_invisible(queue: SqliteQueueClient) -> None:
    deliveries = await _long_handler_deliveries(queue, lambda _: False)
    assert deliveries == [1], "not redelivered while its handler ran past the visibility timeout"


async def test_without_the_heartbeat_the_long_handler_is_redelivered(
    queue: SqliteQueueClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control of the test above: the same scenario does redeliver when nothing renews."""

    async def no_heartbeat(self: Consumer, delivery: Delivery) -> None:
        await asyncio.Event().wait()

    monkeypatch.setattr(Consumer, "_keep_invisible", no_heartbeat)
    deliveries = await _long_handler_deliveries(queue, lambda seen: len(seen) >= 2)
    assert deliveries[:2] == [1, 2]


class FailingReceives(SqliteQueueClient):
    """A queue whose first receives raise (an SQS connection error) or hang (a frozen endpoint)."""

    def __init__(self, path: Path, failures: int = 0, hangs: int = 0) -> None:
        super().__init__(path, "0.1.0", poll_interval_seconds=0.02)
        self.failures = failures
        self.hangs = hangs

    async def receive(
        self, queue: QueueType, wait_seconds: float = 0, visibility_timeout: int | None = None
    ) -> Delivery | None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("connection reset by peer")
        if self.hangs:
            self.hangs -= 1
            await asyncio.Event().wait()
        return await super().receive(queue, wait_seconds, visibility_timeout)


async def test_a_failing_receive_does_not_end_the_loop(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    queue = FailingReceives(tmp_path / "q.sqlite3", failures=3)
    await queue.setup()
    seen: list[str] = []

    async def handle(d: Delivery) -> None:
        seen.append(d.body)

    await queue.send(Q, "m")
    consumer = Consumer(queue, Q, handle, wait_seconds=0.1, receive_backoff=wait_fixed(0.01))
    with caplog.at_level(logging.INFO, logger="orchestrator.worker"):
        await run_until(consumer, lambda: consumer.stats.acked == 1)
    await queue.close()
    assert seen == ["m"] and consumer.stats.receive_errors == 3
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert len(tracebacks) == 1, "the traceback is logged once per run of failures"
    assert any("works again" in r.getMessage() for r in caplog.records)


async def test_a_hung_receive_times_out_and_is_retried(tmp_path: Path) -> None:
    queue = FailingReceives(tmp_path / "q.sqlite3", hangs=1)
    await queue.setup()

    async def handle(d: Delivery) -> None:
        return None

    await queue.send(Q, "m")
    consumer = Consumer(
        queue, Q, handle, wait_seconds=0.1, receive_timeout_margin=0.2, receive_backoff=wait_fixed(0.01)
    )
    await run_until(consumer, lambda: consumer.stats.acked == 1)
    await queue.close()
    assert consumer.stats.receive_errors == 1


async def test_stop_cuts_a_receive_backoff_short(tmp_path: Path) -> None:
    queue = FailingReceives(tmp_path / "q.sqlite3", failures=1_000_000)
    await queue.setup()

    async def handle(d: Delivery) -> None:
        return None

    consumer = Consumer(queue, Q, handle, wait_seconds=0.1, receive_backoff=wait_fixed(3600))
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    await eventually(lambda: consumer.stats.receive_errors == 1)
    stop.set()
    async with asyncio.timeout(2):
        await task
    await queue.close()


async def test_a_failing_handler_gives_its_message_back(queue: SqliteQueueClient) -> None:
    async def handle(d: Delivery) -> None:
        raise RuntimeError("bug")

    await queue.send(Q, "m")
    consumer = Consumer(queue, Q, handle, wait_seconds=0.1, retry_delay=60)
    await run_until(consumer, lambda: consumer.stats.failed == 1)
    assert await queue.in_flight_count(Q) == 0, "nothing is left hidden"
    assert await queue.approximate_count(Q) == 1, "given back, delayed by the retry delay"


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
