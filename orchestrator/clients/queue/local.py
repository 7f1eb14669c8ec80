"""A durable queue in one SQLite table with SQS semantics (the local profile's SQS).

- `send` stores the message with `visible_at = now + delay` and the OrchestratorVersion attribute.
- `receive` claims the oldest visible message in one BEGIN IMMEDIATE transaction: it hides it for
  the visibility timeout, increments its receive count and gives it a fresh receipt handle, so a
  stale receipt (from before a redelivery) can no longer ack, nack or extend it.
- A message of a queue with a dead-letter policy that would be received for the
  (max_receive_count + 1)-th time moves to `job_handle_failure` instead, as SQS redrive does.
- Messages stamped with another OrchestratorVersion are skipped (left for a consumer of that
  version) rather than re-sent as the reference does: re-sending would only make every consumer of
  the wrong version churn on them. Messages without the attribute are handed to everyone.

Several processes may share the file; the clock is the wall clock (`time.time`), shared by them.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
import uuid
from collections.abc import Callable, Collection, Mapping
from pathlib import Path

from orchestrator.clients.sqlite_support import DEFAULT_BUSY_TIMEOUT_SECONDS, SqliteConnection
from orchestrator.core.clients.queue import VERSION_ATTRIBUTE, Delivery
from orchestrator.core.models.queue import (
    DEFAULT_VISIBILITY_TIMEOUT,
    DLQ_QUEUES,
    MAX_RECEIVE_COUNT,
    QueueType,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS queue_messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL UNIQUE,
    queue TEXT NOT NULL,
    body TEXT NOT NULL,
    attributes TEXT NOT NULL,
    version TEXT,
    visible_at REAL NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt TEXT UNIQUE,
    sent_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS queue_messages_visible ON queue_messages (queue, visible_at, seq);
"""

#: Where messages go after too many receives (the reference's redrive target).
DEAD_LETTER_QUEUE = QueueType.JOB_HANDLE_FAILURE
#: Message retention as the reference provisions it: a trigger not consumed within a minute is
#: dropped, so a busy consumer does not build a backlog of triggers (other queues keep messages).
DEFAULT_RETENTION_SECONDS: Mapping[QueueType, int] = {QueueType.WORKER_TRIGGER: 60}


class SqliteQueueClient:
    """QueueClient on one SQLite file; several processes may share the file."""

    def __init__(
        self,
        path: str | Path,
        orchestrator_version: str,
        visibility_timeouts: Mapping[QueueType, int] | None = None,
        default_visibility_timeout: int = DEFAULT_VISIBILITY_TIMEOUT,
        max_receive_count: int = MAX_RECEIVE_COUNT,
        dlq_queues: Collection[QueueType] = DLQ_QUEUES,
        retention_seconds: Mapping[QueueType, int] = DEFAULT_RETENTION_SECONDS,
        poll_interval_seconds: float = 0.1,
        busy_timeout_seconds: float = DEFAULT_BUSY_TIMEOUT_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = SqliteConnection(path, SCHEMA, busy_timeout_seconds)
        self._version = orchestrator_version
        self._visibility = dict(visibility_timeouts or {})
        self._default_visibility = default_visibility_timeout
        self._max_receive_count = max_receive_count
        self._dlq_queues = frozenset(dlq_queues)
        self._retention = dict(retention_seconds)
        self._poll_interval = poll_interval_seconds
        self._clock = clock

    async def setup(self) -> None:
        await self._db.open()

    async def close(self) -> None:
        await self._db.close()

    async def health_check(self) -> None:
        await self._db.read(lambda conn: conn.execute("SELECT 1 FROM queue_messages LIMIT 1").fetchone())

    def visibility_timeout(self, queue: QueueType) -> int:
        return self._visibility.get(queue, self._default_visibility)

    async def send(self, queue: QueueType, body: str, delay_seconds: int = 0) -> None:
        if delay_seconds < 0:
            raise ValueError(f"delay_seconds must be >= 0, got {delay_seconds}")
        attributes = {VERSION_ATTRIBUTE: self._version}
        now = self._clock()
        row = (
            str(uuid.uuid4()),
            queue.value,
            body,
            json.dumps(attributes),
            self._version,
            now + delay_seconds,
            now,
        )
        await self._db.write(
            lambda conn: conn.execute(
                "INSERT INTO queue_messages (message_id, queue, body, attributes, version, visible_at, sent_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                row,
            )
        )

    async def receive(
        self, queue: QueueType, wait_seconds: float = 0, visibility_timeout: int | None = None
    ) -> Delivery | None:
        visibility = self.visibility_timeout(queue) if visibility_timeout is None else visibility_timeout
        if visibility < 0:
            raise ValueError(f"visibility_timeout must be >= 0, got {visibility}")
        deadline = time.monotonic() + max(wait_seconds, 0)
        while True:
            # Look first without the write lock, so that idle consumers in several processes do
            # not queue up for it; claim under the lock only when there is something to claim.
            if await self._db.read(lambda conn: self._has_candidate(conn, queue)):
                delivery = await self._claim_unless_cancelled(queue, visibility)
                if delivery is not None:
                    return delivery
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            await asyncio.sleep(min(self._poll_interval, remaining))

    async def _claim_unless_cancelled(self, queue: QueueType, visibility: int) -> Delivery | None:
        """A caller cancelled while its claim commits (a consumer shutting down) gives the message
        back at once instead of leaving it hidden for the whole visibility timeout."""
        claim = asyncio.ensure_future(self._db.write(lambda conn: self._claim(conn, queue, visibility)))
        try:
            return await asyncio.shield(claim)
        except asyncio.CancelledError:
            delivery = await claim
            if delivery is not None:
                await self.nack(delivery)
            raise

    def _has_candidate(self, conn: sqlite3.Connection, queue: QueueType) -> bool:
        row = conn.execute(
            "SELECT 1 FROM queue_messages WHERE queue = ? AND visible_at <= ? AND (version IS NULL OR version = ?)"
            " LIMIT 1",
            (queue.value, self._clock(), self._version),
        ).fetchone()
        return row is not None

    def _claim(self, conn: sqlite3.Connection, queue: QueueType, visibility: int) -> Delivery | None:
        now = self._clock()
        retention = self._retention.get(queue)
        if retention is not None:  # expire old messages that nobody holds
            conn.execute(
                "DELETE FROM queue_messages WHERE queue = ? AND sent_at < ? AND (receipt IS NULL OR visible_at <= ?)",
                (queue.value, now - retention, now),
            )
        while True:
            row = conn.execute(
                "SELECT seq, message_id, body, attributes, receive_count FROM queue_messages"
                " WHERE queue = ? AND visible_at <= ? AND (version IS NULL OR version = ?)"
                " ORDER BY visible_at, seq LIMIT 1",
                (queue.value, now, self._version),
            ).fetchone()
            if row is None:
                return None
            if queue in self._dlq_queues and row["receive_count"] >= self._max_receive_count:
                # Redrive: the message keeps its id, body and attributes; its count starts again.
                conn.execute(
                    "UPDATE queue_messages SET queue = ?, visible_at = ?, receive_count = 0, receipt = NULL"
                    " WHERE seq = ?",
                    (DEAD_LETTER_QUEUE.value, now, row["seq"]),
                )
                continue
            receipt = uuid.uuid4().hex
            count = row["receive_count"] + 1
            conn.execute(
                "UPDATE queue_messages SET visible_at = ?, receive_count = ?, receipt = ? WHERE seq = ?",
                (now + visibility, count, receipt, row["seq"]),
            )
            return Delivery(
                queue=queue,
                body=row["body"],
                receipt=receipt,
                message_id=row["message_id"],
                receive_count=count,
                attributes=json.loads(row["attributes"]),
            )

    async def _by_receipt(self, sql: str, *params: object) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            return conn.execute(sql, params).rowcount == 1

        return await self._db.write(run)

    async def ack(self, delivery: Delivery) -> None:
        # A stale receipt (the message was received again since) matches nothing: a no-op, as the
        # newer delivery is the one that decides.
        await self._by_receipt("DELETE FROM queue_messages WHERE receipt = ?", delivery.receipt)

    async def nack(self, delivery: Delivery, delay_seconds: int = 0) -> None:
        if delay_seconds < 0:
            raise ValueError(f"delay_seconds must be >= 0, got {delay_seconds}")
        await self._by_receipt(
            "UPDATE queue_messages SET visible_at = ?, receipt = NULL WHERE receipt = ?",
            self._clock() + delay_seconds,
            delivery.receipt,
        )

    async def extend(self, delivery: Delivery, visibility_timeout: int) -> None:
        if visibility_timeout < 0:
            raise ValueError(f"visibility_timeout must be >= 0, got {visibility_timeout}")
        await self._by_receipt(
            "UPDATE queue_messages SET visible_at = ? WHERE receipt = ?",
            self._clock() + visibility_timeout,
            delivery.receipt,
        )

    async def approximate_count(self, queue: QueueType) -> int:
        """Visible plus delayed messages: everything not currently held by a consumer."""
        now = self._clock()
        row = await self._db.read(
            lambda conn: conn.execute(
                "SELECT COUNT(*) AS n FROM queue_messages WHERE queue = ? AND (receipt IS NULL OR visible_at <= ?)",
                (queue.value, now),
            ).fetchone()
        )
        return int(row["n"])

    async def in_flight_count(self, queue: QueueType) -> int:
        now = self._clock()
        row = await self._db.read(
            lambda conn: conn.execute(
                "SELECT COUNT(*) AS n FROM queue_messages WHERE queue = ? AND receipt IS NOT NULL AND visible_at > ?",
                (queue.value, now),
            ).fetchone()
        )
        return int(row["n"])
