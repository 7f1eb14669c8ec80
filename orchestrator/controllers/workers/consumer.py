"""One consumer loop per queue: receive, handle with bounded concurrency, ack or give back.

Semantics, in the spirit of arq's worker:
- a message is acked only after its handler returned;
- `RetryLater` gives it back with the delay the handler asked for; any other error gives it back
  after `retry_delay`; the queue's receive count and dead-letter policy bound the retries;
- the message is received with this consumer's visibility timeout, and while its handler runs the
  heartbeat renews that same timeout, so a long job is not redelivered;
- a failed or hung receive (a long poll that outlives its wait by `receive_timeout_margin`) does not
  end the loop: it is logged once with its traceback, then retried with backoff and jitter until it
  works again or `stop` is set;
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

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type
from tenacity.wait import wait_base, wait_exponential_jitter

from orchestrator.core.clients.queue import Delivery, QueueClient
from orchestrator.core.models.queue import QueueType
from orchestrator.services.job.engine import RetryLater

log = logging.getLogger("orchestrator.worker")

T = TypeVar("T")

MessageHandler = Callable[[Delivery], Awaitable[None]]


def default_receive_backoff() -> wait_base:
    """Half a second doubling to 30 s, plus up to a second of jitter so consumers do not retry in step."""
    return wait_exponential_jitter(multiplier=0.5, max=30, jitter=1)


@dataclass
class ConsumerStats:
    received: int = 0
    acked: int = 0
    retried: int = 0
    failed: int = 0
    receive_errors: int = 0


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
    receive_timeout_margin: float = 30.0
    receive_backoff: wait_base = field(default_factory=default_receive_backoff)
    stats: ConsumerStats = field(default_factory=ConsumerStats)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    # One semaphore for the consumer's life: a restarted `run` must not exceed the concurrency
    # while handlers started by the previous run are still going.
    _slots: asyncio.Semaphore = field(init=False)

    def __post_init__(self) -> None:
        self._slots = asyncio.Semaphore(self.concurrency)

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop` is set: take a free slot, receive one message, start its handler."""
        while not stop.is_set():
            got_slot, _ = await _race(self._slots.acquire(), stop)
            if not got_slot:
                return
            delivery = await self._receive(stop)
            if delivery is None:
                self._slots.release()
                # A queue that answers "empty" without waiting must not turn this into a busy loop.
                await _race(asyncio.sleep(self.idle_sleep), stop)
                continue
            self.stats.received += 1
            task = asyncio.create_task(self._handle(delivery), name=f"{self.queue}:{delivery.message_id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            task.add_done_callback(lambda _: self._slots.release())

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

    async def _receive(self, stop: asyncio.Event) -> Delivery | None:
        """One message, or None when the queue is empty or `stop` was set; errors are retried."""

        async def pause(seconds: float) -> None:  # a backoff that `stop` cuts short
            await _race(asyncio.sleep(seconds), stop)

        retrying = AsyncRetrying(
            retry=retry_if_exception_type(Exception),
            wait=self.receive_backoff,
            sleep=pause,
            before_sleep=self._receive_failed,
            reraise=True,
        )
        delivery: Delivery | None = None
        async for attempt in retrying:
            with attempt:
                if stop.is_set():
                    return None
                receive = self.queue_client.receive(
                    self.queue, wait_seconds=self.wait_seconds, visibility_timeout=self.visibility_timeout
                )
                _, delivery = await _race(receive, stop, timeout=self.wait_seconds + self.receive_timeout_margin)
        if retrying.statistics.get("attempt_number", 1) > 1:
            log.info("%s: receiving works again", self.queue)
        return delivery

    def _receive_failed(self, state: RetryCallState) -> None:
        self.stats.receive_errors += 1
        error = state.outcome.exception() if state.outcome is not None else None
        if state.attempt_number == 1:  # the traceback once per run of failures, then one line each
            log.error("%s: receive failed; retrying with backoff", self.queue, exc_info=error)
        else:
            log.warning("%s: receive failed %d times in a row: %r", self.queue, state.attempt_number, error)

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
        # Three beats per timeout: one lost or slow renewal still leaves a margin.
        period = self.visibility_timeout / 3
        while True:
            await asyncio.sleep(period)
            try:
                await self.queue_client.extend(delivery, self.visibility_timeout)
            except Exception:  # noqa: BLE001 - the heartbeat keeps beating; the next renewal may succeed
                log.warning("%s: could not extend visibility of %s", self.queue, delivery.message_id)


async def _race(awaitable: Awaitable[T], stop: asyncio.Event, timeout: float | None = None) -> tuple[bool, T | None]:
    """(True, result) when the awaitable finished first; (False, None) when `stop` was set first.

    TimeoutError when neither happened within `timeout`. The awaitable is cancelled (and awaited)
    whenever it did not finish, also when the caller itself is cancelled.
    """
    task = asyncio.ensure_future(awaitable)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        done, _ = await asyncio.wait({task, stopper}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    if task in done:
        return True, task.result()
    if stopper in done:
        return False, None
    raise TimeoutError(f"no answer within {timeout} s")
