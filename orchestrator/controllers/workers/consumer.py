"""One consumer loop per queue: receive, handle with bounded concurrency, ack or give back.

Semantics, in the spirit of arq's worker:
- a message is acked only after its handler returned;
- `RetryLater` gives it back with the delay the handler asked for; any other error gives it back
  after `retry_delay`; the queue's receive count and dead-letter policy bound the retries;
- while a handler runs, the message's visibility is extended, so a long job is not redelivered;
- on shutdown no new message is taken; running handlers get `grace` seconds to finish, then are
  cancelled (the job engine releases a cancelled job) and their messages given back at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from orchestrator.core.clients.queue import Delivery, QueueClient
from orchestrator.core.models.queue import QueueType
from orchestrator.services.job.engine import RetryLater

log = logging.getLogger("orchestrator.worker")

T = TypeVar("T")

MessageHandler = Callable[[Delivery], Awaitable[None]]


@dataclass
class ConsumerStats:
    received: int = 0
    acked: int = 0
    retried: int = 0
    failed: int = 0


@dataclass
class Consumer:
    queue_client: QueueClient
    queue: QueueType
    handle: MessageHandler
    concurrency: int = 10
    wait_seconds: float = 10.0
    retry_delay: int = 10
    visibility_timeout: int = 360
    idle_sleep: float = 0.05
    stats: ConsumerStats = field(default_factory=ConsumerStats)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def run(self, stop: asyncio.Event) -> None:
        slots = asyncio.Semaphore(self.concurrency)
        while not stop.is_set():
            got_slot, _ = await _race(slots.acquire(), stop)
            if not got_slot:
                break
            received, delivery = await _race(
                self.queue_client.receive(self.queue, wait_seconds=self.wait_seconds), stop
            )
            if not received or delivery is None:
                slots.release()
                # A queue that answers "empty" without waiting must not turn this into a busy loop.
                await _race(asyncio.sleep(self.idle_sleep), stop)
                continue
            self.stats.received += 1
            task = asyncio.create_task(self._handle(delivery), name=f"{self.queue}:{delivery.message_id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            task.add_done_callback(lambda _: slots.release())

    async def drain(self, grace: float) -> None:
        """Let running handlers finish for `grace` seconds, then cancel the rest."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=grace)
        for task in pending:
            task.cancel()
        if pending:
            log.warning("%s: cancelled %d handler(s) at shutdown", self.queue, len(pending))
            await asyncio.gather(*pending, return_exceptions=True)

    async def _handle(self, delivery: Delivery) -> None:
        heartbeat = asyncio.create_task(self._keep_invisible(delivery))
        try:
            await self.handle(delivery)
        except RetryLater as exc:
            self.stats.retried += 1
            await self._give_back(delivery, exc.delay_seconds)
        except asyncio.CancelledError:
            await asyncio.shield(self._give_back(delivery, 0))
            raise
        except Exception:
            self.stats.failed += 1
            log.exception("%s: handling message %s failed", self.queue, delivery.message_id)
            await self._give_back(delivery, self.retry_delay)
        else:
            self.stats.acked += 1
            try:
                await self.queue_client.ack(delivery)
            except Exception:  # the work is done; a redelivery finds the job past this step
                log.exception("%s: ack of %s failed", self.queue, delivery.message_id)
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat

    async def _give_back(self, delivery: Delivery, delay: int) -> None:
        try:
            await self.queue_client.nack(delivery, delay)
        except Exception:  # it will reappear when its visibility timeout ends anyway
            log.exception("%s: nack of %s failed", self.queue, delivery.message_id)

    async def _keep_invisible(self, delivery: Delivery) -> None:
        period = max(1.0, self.visibility_timeout / 2)
        while True:
            await asyncio.sleep(period)
            try:
                await self.queue_client.extend(delivery, self.visibility_timeout)
            except Exception:
                log.warning("%s: could not extend visibility of %s", self.queue, delivery.message_id)


async def _race(awaitable: Awaitable[T], stop: asyncio.Event) -> tuple[bool, T | None]:
    """(True, result) when the awaitable finished first; (False, None) when `stop` was set first."""
    task = asyncio.ensure_future(awaitable)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        done, _ = await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
    if task in done:
        return True, task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return False, None
