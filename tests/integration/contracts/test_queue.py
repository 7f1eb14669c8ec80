"""Contract of QueueClient (SQS semantics): every implementation must pass these."""

from __future__ import annotations

import asyncio
import time

from orchestrator.core.clients.queue import VERSION_ATTRIBUTE, Delivery, QueueClient
from orchestrator.core.models.queue import MAX_RECEIVE_COUNT, QueueType
from orchestrator.core.version import ORCHESTRATOR_VERSION

Q = QueueType.SNOS_JOB_PROCESSING  # has a dead-letter policy
OTHER = QueueType.PROVING_JOB_VERIFICATION
NO_DLQ = QueueType.WORKER_TRIGGER
DLQ = QueueType.JOB_HANDLE_FAILURE
LONG = 300  # a visibility that does not expire during a test


async def receive_one(queue: QueueClient, name: QueueType = Q, wait: float = 3, visibility: int = LONG) -> Delivery:
    delivery = await queue.receive(name, wait_seconds=wait, visibility_timeout=visibility)
    assert delivery is not None, f"no message on {name.value} within {wait}s"
    return delivery


async def test_send_receive_ack(queue: QueueClient) -> None:
    await queue.send(Q, '{"id": "a"}')
    delivery = await receive_one(queue)
    assert delivery.body == '{"id": "a"}'
    assert delivery.queue is Q
    assert delivery.receive_count == 1
    assert delivery.attributes.get(VERSION_ATTRIBUTE) == ORCHESTRATOR_VERSION
    assert delivery.receipt and delivery.message_id

    assert await queue.in_flight_count(Q) == 1
    assert await queue.approximate_count(Q) == 0
    await queue.ack(delivery)
    assert await queue.in_flight_count(Q) == 0
    assert await queue.receive(Q, wait_seconds=0.2) is None


async def test_queues_are_separate(queue: QueueClient) -> None:
    await queue.send(OTHER, "for the other queue")
    assert await queue.receive(Q, wait_seconds=0.2) is None
    assert (await receive_one(queue, OTHER)).body == "for the other queue"


async def test_empty_receive_waits_for_the_deadline(queue: QueueClient) -> None:
    started = time.monotonic()
    assert await queue.receive(Q, wait_seconds=0.5) is None
    assert 0.4 <= time.monotonic() - started < 3


async def test_long_poll_returns_a_message_sent_while_waiting(queue_harness) -> None:
    consumer, producer = await queue_harness.new_client(), await queue_harness.new_client()
    polling = asyncio.Event()

    async def receive() -> Delivery | None:
        polling.set()
        return await consumer.receive(Q, wait_seconds=5, visibility_timeout=LONG)

    waiting = asyncio.create_task(receive())
    await asyncio.wait_for(polling.wait(), timeout=5)
    assert not waiting.done(), "the receive waits on the empty queue"
    sent = time.monotonic()
    await producer.send(Q, "late")
    delivery = await waiting
    assert delivery is not None and delivery.body == "late"
    assert time.monotonic() - sent < 4, "delivered as it arrived, not at the end of the 5 s wait"


async def test_delayed_message_is_hidden_until_its_delay_passes(queue: QueueClient) -> None:
    await queue.send(Q, "later", delay_seconds=1)
    started = time.monotonic()
    assert await queue.receive(Q, wait_seconds=0) is None
    assert await queue.approximate_count(Q) == 1  # delayed messages count, as SQS's "delayed"
    delivery = await receive_one(queue, wait=6)
    assert delivery.body == "later"
    assert time.monotonic() - started >= 0.8


async def test_visibility_expiry_redelivers_with_a_higher_receive_count(queue: QueueClient) -> None:
    await queue.send(Q, "m")
    first = await receive_one(queue, visibility=1)
    assert await queue.receive(Q, wait_seconds=0.2, visibility_timeout=1) is None  # hidden
    second = await receive_one(queue, wait=5, visibility=LONG)
    assert second.message_id == first.message_id
    assert second.receive_count == first.receive_count + 1 == 2
    assert second.receipt != first.receipt


async def test_a_stale_receipt_cannot_ack_the_new_delivery(queue: QueueClient) -> None:
    await queue.send(Q, "m")
    first = await receive_one(queue, visibility=1)
    second = await receive_one(queue, wait=5, visibility=LONG)
    await queue.ack(first)  # the handler of the first delivery finished too late
    assert await queue.in_flight_count(Q) == 1
    await queue.nack(second)  # the current delivery still controls the message
    third = await receive_one(queue)
    assert third.message_id == first.message_id and third.receive_count == 3
    await queue.ack(third)
    assert await queue.in_flight_count(Q) == 0 and await queue.approximate_count(Q) == 0


async def test_nack_makes_the_message_visible_again_after_its_delay(queue: QueueClient) -> None:
    await queue.send(Q, "m")
    first = await receive_one(queue)
    await queue.nack(first)
    second = await receive_one(queue, wait=2)
    assert second.receive_count == 2

    await queue.nack(second, delay_seconds=1)
    assert await queue.receive(Q, wait_seconds=0.3) is None
    assert await queue.approximate_count(Q) == 1
    third = await receive_one(queue, wait=6)
    assert third.receive_count == 3


async def test_extend_keeps_the_message_hidden(queue: QueueClient) -> None:
    await queue.send(Q, "m")
    delivery = await receive_one(queue, visibility=1)
    await queue.extend(delivery, 4)
    assert await queue.receive(Q, wait_seconds=1.6, visibility_timeout=LONG) is None
    assert await queue.in_flight_count(Q) == 1
    await queue.ack(delivery)  # the receipt is still valid after an extension
    assert await queue.in_flight_count(Q) == 0 and await queue.approximate_count(Q) == 0


async def test_per_queue_default_visibility_from_the_client(queue_harness) -> None:
    queue = await queue_harness.new_client(visibility_timeouts={Q: 1}, default_visibility_timeout=LONG)
    await queue.send(Q, "short")
    await queue.send(OTHER, "long")
    short = await queue.receive(Q, wait_seconds=3)
    long = await queue.receive(OTHER, wait_seconds=3)
    assert short is not None and long is not None
    again = await queue.receive(Q, wait_seconds=5)
    assert again is not None and again.message_id == short.message_id and again.receive_count == 2
    assert await queue.receive(OTHER, wait_seconds=0.3) is None


async def test_dead_letter_after_max_receives(queue: QueueClient) -> None:
    await queue.send(Q, "poison")
    for attempt in range(1, MAX_RECEIVE_COUNT + 1):
        delivery = await receive_one(queue, wait=3)
        assert delivery.receive_count == attempt
        await queue.nack(delivery)
    # The next receive would be the 6th: the message moves to the failure queue instead.
    assert await queue.receive(Q, wait_seconds=1) is None
    dead = await receive_one(queue, DLQ, wait=5)
    assert dead.body == "poison"
    await queue.ack(dead)
    assert await queue.approximate_count(Q) == 0 and await queue.in_flight_count(Q) == 0


async def test_queues_without_dead_letter_policy_keep_redelivering(queue: QueueClient) -> None:
    await queue.send(NO_DLQ, "Snos")
    for attempt in range(1, MAX_RECEIVE_COUNT + 3):
        delivery = await receive_one(queue, NO_DLQ, wait=3)
        assert delivery.receive_count == attempt
        await queue.nack(delivery)
    assert await queue.receive(DLQ, wait_seconds=0.3) is None


async def test_messages_of_another_version_are_not_handed_out(queue_harness) -> None:
    current = await queue_harness.new_client()
    older = await queue_harness.new_client(orchestrator_version="0.0.9")
    await older.send(Q, "from 0.0.9")
    assert await current.receive(Q, wait_seconds=0.5) is None
    delivery = await older.receive(Q, wait_seconds=3, visibility_timeout=LONG)
    assert delivery is not None and delivery.body == "from 0.0.9"
    assert delivery.attributes[VERSION_ATTRIBUTE] == "0.0.9"


async def test_messages_survive_a_new_client(queue_harness) -> None:
    first = await queue_harness.new_client()
    await first.send(Q, "durable")
    await first.send(Q, "in flight", delay_seconds=0)
    held = await first.receive(Q, wait_seconds=3, visibility_timeout=1)
    assert held is not None
    await first.close()

    second = await queue_harness.new_client()
    bodies = set()
    for _ in range(2):
        delivery = await second.receive(Q, wait_seconds=5, visibility_timeout=LONG)
        assert delivery is not None
        bodies.add(delivery.body)
        await second.ack(delivery)
    assert bodies == {"durable", "in flight"}


async def test_competing_consumers_get_each_message_once(queue_harness) -> None:
    producer = await queue_harness.new_client()
    consumers = [await queue_harness.new_client() for _ in range(3)]
    sent = {f"m{i}" for i in range(30)}
    for body in sent:
        await producer.send(Q, body)

    received: list[str] = []

    async def consume(client: QueueClient) -> None:
        while (delivery := await client.receive(Q, wait_seconds=1, visibility_timeout=LONG)) is not None:
            received.append(delivery.body)
            await client.ack(delivery)

    await asyncio.gather(*(consume(c) for c in consumers for _ in range(2)))
    assert sorted(received) == sorted(sent)


async def test_health_check(queue: QueueClient) -> None:
    await queue.health_check()
