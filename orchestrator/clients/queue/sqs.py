"""The queue protocol on Amazon SQS.

Queues are created by `orchestrator setup` with the per-queue settings of `queue_controls()`:
visibility timeouts, and a redrive policy sending a message received `max_receive_count` times to
`job_handle_failure`. This client resolves their URLs once, stamps every message with the
OrchestratorVersion attribute and hands out only messages of its own version (or without one,
such as EventBridge's); a message of another version is re-sent for its owner.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from orchestrator.clients.aws_connection import AwsConnection, error_code, translate
from orchestrator.clients.aws_names import AwsNames
from orchestrator.core.clients.queue import VERSION_ATTRIBUTE, Delivery
from orchestrator.core.errors import NotFoundError
from orchestrator.core.models.queue import (
    DEFAULT_VISIBILITY_TIMEOUT,
    DLQ_QUEUES,
    MAX_RECEIVE_COUNT,
    QueueType,
    visibility_timeouts,
)
from orchestrator.core.version import ORCHESTRATOR_VERSION

log = logging.getLogger(__name__)

#: SQS limits: a message delay of at most 15 minutes, a long poll of at most 20 s.
MAX_DELAY_SECONDS = 900
MAX_WAIT_SECONDS = 20
NONEXISTENT_QUEUE_CODES = frozenset({"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"})
INVALID_RECEIPT_CODES = frozenset({"ReceiptHandleIsInvalid", "InvalidParameterValue", "MessageNotInflight"})
#: A trigger message is useless after a minute: the next tick brings another (as the reference).
TRIGGER_RETENTION_SECONDS = 60
#: How many recent deliveries a client remembers (to recognise a stale receipt).
RECENT_DELIVERIES = 10_000


@dataclass(frozen=True)
class QueueControl:
    """How one queue is configured (by setup) and consumed (by the workers)."""

    visibility_timeout: int
    dead_letter: QueueType | None
    max_receive_count: int
    concurrency: int
    retention_seconds: int | None = None


def queue_controls(
    visibility_timeout: int = DEFAULT_VISIBILITY_TIMEOUT,
    state_transition_timeout: int = 300,
    max_receive_count: int = MAX_RECEIVE_COUNT,
    snos_concurrency: int = 5,
    proving_concurrency: int = 10,
    aggregator_concurrency: int = 10,
) -> dict[QueueType, QueueControl]:
    """The reference's table (§5): every job queue dead-letters to job_handle_failure; the state
    update queue keeps messages hidden long enough for a settlement transaction to finalise."""
    timeouts = visibility_timeouts(visibility_timeout, state_transition_timeout)
    special: dict[QueueType, int] = {
        QueueType.JOB_HANDLE_FAILURE: 10,
        QueueType.WORKER_TRIGGER: 50,
        QueueType.SNOS_JOB_PROCESSING: snos_concurrency,
        QueueType.SNOS_JOB_VERIFICATION: 5,
        QueueType.PROVING_JOB_PROCESSING: proving_concurrency,
        QueueType.AGGREGATOR_JOB_PROCESSING: aggregator_concurrency,
        QueueType.UPDATE_STATE_JOB_PROCESSING: 10,
        QueueType.PRIORITY_PROCESSING_QUEUE: 1,
        QueueType.PRIORITY_VERIFICATION_QUEUE: 1,
    }
    controls: dict[QueueType, QueueControl] = {}
    for queue in QueueType:
        concurrency = special.get(queue, 10)
        controls[queue] = QueueControl(
            visibility_timeout=timeouts[queue],
            dead_letter=QueueType.JOB_HANDLE_FAILURE if queue in DLQ_QUEUES else None,
            max_receive_count=max_receive_count,
            concurrency=concurrency,
            retention_seconds=TRIGGER_RETENTION_SECONDS if queue is QueueType.WORKER_TRIGGER else None,
        )
    return controls


class SqsQueueClient:
    def __init__(
        self,
        connection: AwsConnection,
        names: AwsNames,
        queues: Sequence[QueueType] = tuple(QueueType),
        version: str = ORCHESTRATOR_VERSION,
    ) -> None:
        self._connection = connection
        self._names = names
        self._queues = tuple(queues)
        self._version = version
        self._urls: dict[QueueType, str] = {}
        self._stack: AsyncExitStack | None = None
        self._sqs: Any = None
        self._open_lock = asyncio.Lock()
        # Per message id, the receipt of its latest delivery to this client: SQS may accept a
        # delete with an older receipt (LocalStack always does), which would let a handler that
        # finished after its visibility timeout delete a message another handler now owns.
        self._latest: OrderedDict[str, str] = OrderedDict()
        # Messages this client gave back with a delay: SQS counts them as in flight until they
        # are visible again, the protocol counts them as waiting (queue, message id) -> visible at.
        self._given_back: dict[tuple[QueueType, str], float] = {}
        # Long polls whose caller was cancelled, finishing in the background (see `_poll`).
        self._returning: set[asyncio.Future[None]] = set()

    # --- lifecycle ------------------------------------------------------------------------------
    async def _client(self) -> Any:
        if self._sqs is None:
            async with self._open_lock:
                if self._sqs is None:
                    stack = AsyncExitStack()
                    self._sqs = await stack.enter_async_context(self._connection.client("sqs"))
                    self._stack = stack
        return self._sqs

    async def setup(self) -> None:
        """Resolve the queues' URLs up front. A missing queue is left for the preflight check
        (health_check) and for its first use to report, each naming the queue."""
        await self._client()
        for queue in self._queues:
            try:
                await self.queue_url(queue)
            except NotFoundError:
                continue

    async def close(self) -> None:
        if self._returning:  # cancelled polls still in flight: let them hand their messages back
            await asyncio.wait(set(self._returning), timeout=MAX_WAIT_SECONDS + 5)
        if self._stack is not None:
            await self._stack.aclose()
        self._stack = None
        self._sqs = None

    async def health_check(self) -> None:
        await self.attributes(QueueType.WORKER_TRIGGER, ["QueueArn"])

    # --- names ----------------------------------------------------------------------------------
    def queue_name(self, queue: QueueType) -> str:
        return self._names.queue(queue)

    async def queue_url(self, queue: QueueType) -> str:
        url = self._urls.get(queue)
        if url is not None:
            return url
        name = self._names.queue(queue)
        arn = self._names.queue_arn_template()
        if arn is not None:
            # An ARN locates the queue without an API call (as the reference).
            url = f"https://sqs.{arn.region}.amazonaws.com/{arn.account}/{name}"
        else:
            sqs = await self._client()
            try:
                url = str((await sqs.get_queue_url(QueueName=name))["QueueUrl"])
            except Exception as exc:
                if error_code(exc) in NONEXISTENT_QUEUE_CODES:
                    raise NotFoundError(f"SQS queue {name} does not exist") from exc
                raise translate(exc, self._connection, f"SQS GetQueueUrl {name}") from exc
        self._urls[queue] = url
        return url

    async def attributes(self, queue: QueueType, names: Sequence[str] = ("All",)) -> dict[str, str]:
        url = await self.queue_url(queue)
        sqs = await self._client()
        try:
            response = await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(names))
        except Exception as exc:
            if error_code(exc) in NONEXISTENT_QUEUE_CODES:
                self._urls.pop(queue, None)
                raise NotFoundError(f"SQS queue {self._names.queue(queue)} does not exist") from exc
            raise translate(exc, self._connection, f"SQS GetQueueAttributes {self._names.queue(queue)}") from exc
        return dict(response.get("Attributes", {}))

    async def queue_arn(self, queue: QueueType) -> str:
        return (await self.attributes(queue, ["QueueArn"]))["QueueArn"]

    # --- messages -------------------------------------------------------------------------------
    def _version_attribute(self) -> dict[str, dict[str, str]]:
        return {VERSION_ATTRIBUTE: {"DataType": "String", "StringValue": self._version}}

    async def send(self, queue: QueueType, body: str, delay_seconds: int = 0) -> None:
        await self._send(queue, body, delay_seconds, self._version_attribute())

    async def _send(
        self, queue: QueueType, body: str, delay_seconds: int, attributes: dict[str, dict[str, str]]
    ) -> None:
        url = await self.queue_url(queue)
        sqs = await self._client()
        # SQS caps delays at 15 minutes; a longer wait is the caller's to re-delay.
        delay = max(0, min(int(delay_seconds), MAX_DELAY_SECONDS))
        try:
            await sqs.send_message(QueueUrl=url, MessageBody=body, DelaySeconds=delay, MessageAttributes=attributes)
        except Exception as exc:
            raise translate(exc, self._connection, f"SQS SendMessage {self._names.queue(queue)}") from exc

    async def receive(
        self, queue: QueueType, wait_seconds: float = 0, visibility_timeout: int | None = None
    ) -> Delivery | None:
        url = await self.queue_url(queue)
        deadline = time.monotonic() + max(0.0, wait_seconds)
        while True:
            remaining = deadline - time.monotonic()
            request: dict[str, Any] = {
                "QueueUrl": url,
                "MaxNumberOfMessages": 1,
                "MessageAttributeNames": ["All"],
                "MessageSystemAttributeNames": ["ApproximateReceiveCount"],
                "WaitTimeSeconds": max(0, min(MAX_WAIT_SECONDS, int(remaining))),
            }
            if visibility_timeout is not None:
                request["VisibilityTimeout"] = visibility_timeout
            try:
                response = await self._poll(queue, url, request)
            except Exception as exc:
                raise translate(exc, self._connection, f"SQS ReceiveMessage {self._names.queue(queue)}") from exc
            messages = response.get("Messages") or []
            if messages:
                delivery = await self._accept(queue, url, messages[0])
                if delivery is not None:
                    return delivery
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            if remaining < 1:
                # Below SQS's one-second long-poll granularity: short polls, spaced out.
                await asyncio.sleep(min(remaining, 0.1))

    async def _poll(self, queue: QueueType, url: str, request: dict[str, Any]) -> dict[str, Any]:
        """One ReceiveMessage. When the caller is cancelled during the long poll (a consumer shutting
        down), SQS may already have hidden a message for the whole visibility timeout: the poll is left
        to finish in the background and hands such a message back at once (as the local queue does)."""
        sqs = await self._client()
        call = asyncio.ensure_future(sqs.receive_message(**request))
        try:
            return dict(await asyncio.shield(call))
        except asyncio.CancelledError:
            returning = asyncio.ensure_future(self._hand_back(queue, url, call))
            self._returning.add(returning)
            returning.add_done_callback(self._returning.discard)
            raise

    async def _hand_back(self, queue: QueueType, url: str, call: asyncio.Future[Any]) -> None:
        try:
            response = await call
        except Exception:  # noqa: BLE001 - whatever failed the poll, it received nothing to hand back
            return
        sqs = await self._client()
        for message in response.get("Messages") or []:
            try:
                await sqs.change_message_visibility(
                    QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
            except Exception as exc:  # noqa: BLE001 - best effort: it reappears when its visibility timeout ends
                log.warning("could not hand back a %s message received during shutdown: %s", queue.value, exc)

    async def _accept(self, queue: QueueType, url: str, message: dict[str, Any]) -> Delivery | None:
        raw_attributes: dict[str, dict[str, Any]] = message.get("MessageAttributes") or {}
        version = raw_attributes.get(VERSION_ATTRIBUTE, {}).get("StringValue")
        if version is not None and version != self._version:
            # Another version's message: give it back for its owner (re-send, then delete, as the
            # reference; the new copy starts with a fresh receive count).
            forwarded = {
                name: {k: v for k, v in value.items() if k in ("DataType", "StringValue", "BinaryValue")}
                for name, value in raw_attributes.items()
            }
            await self._send(queue, message["Body"], 0, forwarded)
            await self._delete(queue, url, message["ReceiptHandle"])
            return None
        attributes = {name: str(value.get("StringValue", "")) for name, value in raw_attributes.items()}
        self._remember(queue, message["MessageId"], message["ReceiptHandle"])
        return Delivery(
            queue=queue,
            body=message["Body"],
            receipt=message["ReceiptHandle"],
            message_id=message["MessageId"],
            receive_count=int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1")),
            attributes=attributes,
        )

    def _remember(self, queue: QueueType, message_id: str, receipt: str) -> None:
        self._latest[message_id] = receipt
        self._latest.move_to_end(message_id)
        while len(self._latest) > RECENT_DELIVERIES:
            self._latest.popitem(last=False)
        self._given_back.pop((queue, message_id), None)

    def _is_stale(self, delivery: Delivery) -> bool:
        latest = self._latest.get(delivery.message_id)
        if latest is not None and latest != delivery.receipt:
            log.warning("ignoring a stale %s receipt: the message was delivered again", delivery.queue.value)
            return True
        return False

    def _pending_given_back(self, queue: QueueType) -> int:
        now = time.monotonic()
        for key in [k for k, at in self._given_back.items() if at <= now]:
            del self._given_back[key]
        return sum(1 for q, _ in self._given_back if q is queue)

    async def _delete(self, queue: QueueType, url: str, receipt: str) -> None:
        sqs = await self._client()
        for attempt in range(2):
            try:
                await sqs.delete_message(QueueUrl=url, ReceiptHandle=receipt)
                return
            except Exception as exc:
                if error_code(exc) in INVALID_RECEIPT_CODES:
                    # The visibility timeout expired first: the message is someone else's now.
                    log.warning("ack of a %s message came too late: %s", queue.value, exc)
                    return
                if attempt == 1 or isinstance(exc, ClientError):
                    raise translate(exc, self._connection, f"SQS DeleteMessage {self._names.queue(queue)}") from exc
                await asyncio.sleep(0.5)  # one retry for a transient connection failure, as the reference

    async def ack(self, delivery: Delivery) -> None:
        if self._is_stale(delivery):
            return
        await self._delete(delivery.queue, await self.queue_url(delivery.queue), delivery.receipt)
        self._latest.pop(delivery.message_id, None)

    async def _change_visibility(self, delivery: Delivery, seconds: int) -> None:
        url = await self.queue_url(delivery.queue)
        sqs = await self._client()
        try:
            await sqs.change_message_visibility(
                QueueUrl=url, ReceiptHandle=delivery.receipt, VisibilityTimeout=max(0, int(seconds))
            )
        except Exception as exc:
            if error_code(exc) in INVALID_RECEIPT_CODES:
                log.warning("visibility change of a %s message came too late: %s", delivery.queue.value, exc)
                return
            raise translate(exc, self._connection, f"SQS ChangeMessageVisibility {delivery.queue.value}") from exc

    async def nack(self, delivery: Delivery, delay_seconds: int = 0) -> None:
        if self._is_stale(delivery):
            return
        delay = max(0, min(int(delay_seconds), 12 * 3600))  # SQS's longest visibility timeout
        await self._change_visibility(delivery, delay)
        if delay > 0:
            self._given_back[(delivery.queue, delivery.message_id)] = time.monotonic() + delay

    async def extend(self, delivery: Delivery, visibility_timeout: int) -> None:
        if self._is_stale(delivery):
            return
        await self._change_visibility(delivery, visibility_timeout)

    async def approximate_count(self, queue: QueueType) -> int:
        attrs = await self.attributes(queue, ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesDelayed"])
        visible = int(attrs.get("ApproximateNumberOfMessages", 0))
        delayed = int(attrs.get("ApproximateNumberOfMessagesDelayed", 0))
        return visible + delayed + self._pending_given_back(queue)

    async def in_flight_count(self, queue: QueueType) -> int:
        attrs = await self.attributes(queue, ["ApproximateNumberOfMessagesNotVisible"])
        hidden = int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0))
        return max(0, hidden - self._pending_given_back(queue))

    async def purge(self, queue: QueueType) -> None:
        """Drop every message (tests and operators; SQS allows one purge per minute per queue)."""
        sqs = await self._client()
        await sqs.purge_queue(QueueUrl=await self.queue_url(queue))
