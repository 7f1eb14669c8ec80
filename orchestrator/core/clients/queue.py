"""A message queue with SQS semantics: delays, visibility timeouts, receive counts, dead-lettering."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from orchestrator.core.models.queue import QueueType

VERSION_ATTRIBUTE = "OrchestratorVersion"


@dataclass(frozen=True)
class Delivery:
    """A received message; hand it back to ack/nack/extend."""

    queue: QueueType
    body: str
    receipt: str
    message_id: str
    receive_count: int
    attributes: dict[str, str] = field(default_factory=dict)


class QueueClient(Protocol):
    """Every message sent carries the OrchestratorVersion attribute; a consumer only hands out
    messages without the attribute or with its own version (others are left for, or re-sent to,
    a consumer of their version).

    A message received more than MAX_RECEIVE_COUNT (5) times from a queue with a dead-letter
    policy (DLQ_QUEUES) moves to `job_handle_failure` instead of being delivered again.

    Each receive gives the message a new receipt; ack/nack/extend with an older receipt (the
    message was received again since) must not affect the newer delivery. Ordering is not
    guaranteed (SQS standard queues).
    """

    async def setup(self) -> None:
        """Make sure the queues exist (local) or resolve their URLs (SQS)."""

    async def close(self) -> None: ...

    async def health_check(self) -> None: ...

    async def send(self, queue: QueueType, body: str, delay_seconds: int = 0) -> None: ...

    async def receive(
        self, queue: QueueType, wait_seconds: float = 0, visibility_timeout: int | None = None
    ) -> Delivery | None:
        """One message or None after waiting up to `wait_seconds` (long polling). The message stays
        hidden for `visibility_timeout` seconds (default: the queue's) and its receive_count grows."""

    async def ack(self, delivery: Delivery) -> None:
        """Delete the message: it was handled."""

    async def nack(self, delivery: Delivery, delay_seconds: int = 0) -> None:
        """Give the message back: visible again after `delay_seconds` (its receive count stays)."""

    async def extend(self, delivery: Delivery, visibility_timeout: int) -> None:
        """Keep an in-flight message hidden for `visibility_timeout` more seconds."""

    async def approximate_count(self, queue: QueueType) -> int:
        """Visible plus delayed messages (not in flight)."""

    async def in_flight_count(self, queue: QueueType) -> int:
        """Messages currently received and not yet acked or expired."""
