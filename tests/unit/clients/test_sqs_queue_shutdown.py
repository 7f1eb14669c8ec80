"""SQS long polls cancelled at shutdown hand back what they received (the local queue does the same)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from orchestrator.clients.aws_connection import AwsConnection
from orchestrator.clients.aws_names import AwsNames
from orchestrator.clients.queue.sqs import SqsQueueClient
from orchestrator.core.models.queue import QueueType
from tests.eventually import eventually

Q = QueueType.SNOS_JOB_PROCESSING
URL = "https://sqs.us-east-1.amazonaws.com/000000000000/q"


class LongPollingSqs:
    """The slice of the SQS API that `receive` uses: a long poll that answers when the test says so.

    SQS hides the message when it answers the poll, whether or not the caller is still there."""

    def __init__(self) -> None:
        self.polling = asyncio.Event()
        self.answer = asyncio.Event()
        self.visibility_changes: list[tuple[str, int]] = []

    async def receive_message(self, **request: Any) -> dict[str, Any]:
        self.polling.set()
        await self.answer.wait()
        message = {
            "MessageId": "m-1",
            "ReceiptHandle": "r-1",
            "Body": "job",
            "Attributes": {"ApproximateReceiveCount": "1"},
            "MessageAttributes": {},
        }
        return {"Messages": [message]}

    async def change_message_visibility(self, QueueUrl: str, ReceiptHandle: str, VisibilityTimeout: int) -> None:
        self.visibility_changes.append((ReceiptHandle, VisibilityTimeout))


def client_with(sqs: LongPollingSqs) -> SqsQueueClient:
    client = SqsQueueClient(AwsConnection(), AwsNames())
    client._sqs = sqs  # the API double instead of an aiobotocore client
    client._urls[Q] = URL
    return client


async def test_a_poll_cancelled_in_flight_hands_its_message_back() -> None:
    sqs = LongPollingSqs()
    client = client_with(sqs)
    receiving = asyncio.create_task(client.receive(Q, wait_seconds=20))
    await asyncio.wait_for(sqs.polling.wait(), timeout=5)
    receiving.cancel()
    await asyncio.gather(receiving, return_exceptions=True)
    assert receiving.cancelled()
    sqs.answer.set()  # the poll's answer arrives after its caller has gone
    await eventually(lambda: sqs.visibility_changes == [("r-1", 0)], what="the message is visible again at once")
    await client.close()


async def test_close_waits_for_a_cancelled_poll_to_hand_back() -> None:
    sqs = LongPollingSqs()
    client = client_with(sqs)
    receiving = asyncio.create_task(client.receive(Q, wait_seconds=20))
    await asyncio.wait_for(sqs.polling.wait(), timeout=5)
    receiving.cancel()
    await asyncio.gather(receiving, return_exceptions=True)
    closing = asyncio.create_task(client.close())
    with pytest.raises(TimeoutError):  # close waits for the poll still in flight
        await asyncio.wait_for(asyncio.shield(closing), timeout=0.2)
    sqs.answer.set()
    await asyncio.wait_for(closing, timeout=5)
    assert sqs.visibility_changes == [("r-1", 0)]


async def test_an_uncancelled_poll_delivers_normally() -> None:
    sqs = LongPollingSqs()
    sqs.answer.set()
    client = client_with(sqs)
    delivery = await client.receive(Q, wait_seconds=20)
    assert delivery is not None and delivery.receipt == "r-1" and delivery.receive_count == 1
    assert sqs.visibility_changes == []
    await client.close()
