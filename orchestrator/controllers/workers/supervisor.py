"""Starts one consumer per queue of the layer, the sweep and the cron, and stops them gracefully."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from orchestrator.controllers.workers.consumer import Consumer, MessageHandler
from orchestrator.core.clients.cron import CronClient
from orchestrator.core.clients.queue import Delivery, QueueClient
from orchestrator.core.errors import JobNotFoundError
from orchestrator.core.models.queue import (
    JOB_QUEUES,
    LAYER_QUEUES,
    LAYER_TRIGGERS,
    Layer,
    QueueType,
    WorkerTrigger,
    decode_job_message,
)
from orchestrator.services.job.engine import JobEngine
from orchestrator.services.job.triggers import TriggerDispatcher

log = logging.getLogger("orchestrator.worker")


@dataclass(frozen=True)
class WorkerParams:
    layer: Layer = Layer.L2
    #: in-flight messages per queue; queues not named use `default_concurrency`
    concurrency: Mapping[QueueType, int] = field(default_factory=dict)
    default_concurrency: int = 10
    wait_seconds: float = 10.0
    retry_delay: int = 10
    #: the visibility of queues not in `visibility_timeouts`
    visibility_timeout: int = 360
    #: per-queue visibility (bootstrap.visibility_timeouts): each consumer receives and renews with its
    #: queue's own value, so the update-state queue's longer timeout is kept by every heartbeat
    visibility_timeouts: Mapping[QueueType, int] = field(default_factory=dict)
    sweep_interval: float = 60.0
    cron_interval: int = 60
    graceful_shutdown_timeout: float = 120.0

    def visibility_for(self, queue: QueueType) -> int:
        return self.visibility_timeouts.get(queue, self.visibility_timeout)


def reference_concurrency(snos: int, proving: int, aggregator: int) -> dict[QueueType, int]:
    """The reference's per-queue limits (§5), with the three that come from settings."""
    return {
        QueueType.SNOS_JOB_PROCESSING: snos,
        QueueType.SNOS_JOB_VERIFICATION: 5,
        QueueType.PROVING_JOB_PROCESSING: proving,
        QueueType.AGGREGATOR_JOB_PROCESSING: aggregator,
        QueueType.WORKER_TRIGGER: 50,
        QueueType.JOB_HANDLE_FAILURE: 10,
        QueueType.PRIORITY_PROCESSING_QUEUE: 1,
        QueueType.PRIORITY_VERIFICATION_QUEUE: 1,
    }


class WorkerSupervisor:
    def __init__(
        self,
        engine: JobEngine,
        queue: QueueClient,
        dispatcher: TriggerDispatcher,
        params: WorkerParams,
        cron: CronClient | None = None,
    ) -> None:
        self.engine = engine
        self.queue = queue
        self.dispatcher = dispatcher
        self.params = params
        self.cron = cron
        self.stop_event = asyncio.Event()
        self.consumers = [self._consumer(q) for q in LAYER_QUEUES[params.layer]]
        self._tasks: list[asyncio.Task[None]] = []

    def _consumer(self, queue: QueueType) -> Consumer:
        p = self.params
        return Consumer(
            self.queue,
            queue,
            self._handler_for(queue),
            concurrency=p.concurrency.get(queue, p.default_concurrency),
            wait_seconds=p.wait_seconds,
            retry_delay=p.retry_delay,
            visibility_timeout=p.visibility_for(queue),
        )

    def _handler_for(self, queue: QueueType) -> MessageHandler:
        if queue is QueueType.WORKER_TRIGGER:
            return self._on_trigger
        if queue is QueueType.JOB_HANDLE_FAILURE:
            return self._job_action(self.engine.handle_job_failure)
        verify_queues = {v for _, v in JOB_QUEUES.values()} | {QueueType.PRIORITY_VERIFICATION_QUEUE}
        if queue in verify_queues:
            return self._job_action(self.engine.verify_job)
        return self._job_action(self.engine.process_job)

    @staticmethod
    def _job_action(action):  # type: ignore[no-untyped-def]
        async def handle(delivery: Delivery) -> None:
            try:
                job_id = decode_job_message(delivery.body)
            except ValueError as exc:
                log.error("%s: dropping malformed message: %s", delivery.queue, exc)
                return
            try:
                await action(job_id)
            except JobNotFoundError as exc:
                log.error("%s: dropping message: %s", delivery.queue, exc)

        return handle

    async def _on_trigger(self, delivery: Delivery) -> None:
        try:
            trigger = WorkerTrigger.parse(delivery.body)
        except ValueError:
            log.error("dropping unknown trigger %r", delivery.body[:80])
            return
        try:
            await self.dispatcher.dispatch(trigger)
        except Exception:
            # Triggers are periodic: the next tick retries; the alert tells an operator now.
            log.exception("trigger %s failed", trigger)
            if trigger is WorkerTrigger.AGGREGATOR_BATCHING:
                await self.engine.alerts.send_message("[CRITICAL] AggregatorBatching worker failed")

    async def _sweep_loop(self) -> None:
        while not self.stop_event.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop_event.wait(), timeout=self.params.sweep_interval)
            if self.stop_event.is_set():
                return
            try:
                await self.engine.sweep_lost_jobs()
            except Exception:
                log.exception("lost-message sweep failed")

    async def start(self) -> None:
        if self.cron is not None:
            await self.cron.ensure_schedules(LAYER_TRIGGERS[self.params.layer], self.params.cron_interval)
            await self.cron.start()
        self._tasks = [asyncio.create_task(c.run(self.stop_event), name=f"consumer:{c.queue}") for c in self.consumers]
        self._tasks.append(asyncio.create_task(self._sweep_loop(), name="sweep"))
        log.info("workers started on %d queues (layer %s)", len(self.consumers), self.params.layer)

    async def stop(self) -> None:
        """Stop taking messages; in-flight handlers finish or are released within the grace period."""
        self.stop_event.set()
        if self.cron is not None:
            await self.cron.shutdown()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.params.graceful_shutdown_timeout
        await asyncio.gather(*(c.drain(max(0.0, deadline - loop.time())) for c in self.consumers))
        log.info("workers stopped")
