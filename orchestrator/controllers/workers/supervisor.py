"""Starts one consumer per queue of the layer, the sweep and the cron under supervision, and stops them gracefully.

Every loop runs under `LoopSupervisor`: one that dies is restarted with backoff; one that keeps dying
sets `failed`, on which `orchestrator run` shuts down and exits non-zero.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import partial

from orchestrator.controllers.workers.consumer import Consumer, MessageHandler
from orchestrator.controllers.workers.supervision import LoopSupervisor, RestartPolicy
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


class CronScheduleLostError(RuntimeError):
    """A trigger the cron should fire is no longer scheduled."""


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
    #: how often the cron loop checks that the triggers are still scheduled
    cron_check_interval: float = 60.0
    #: when a dying loop is restarted, and when the process gives up on it
    restart_policy: RestartPolicy = field(default_factory=RestartPolicy)

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
        self.loops = LoopSupervisor(self.stop_event, params.restart_policy)

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
    def _job_action(action: Callable[[uuid.UUID], Awaitable[object]]) -> MessageHandler:
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
            except Exception:  # a transient failure: the next sweep tries again, the loop goes on
                log.exception("lost-message sweep failed")

    async def _cron_loop(self) -> None:
        """Schedule the layer's triggers, then check now and then that they are still scheduled: a lost
        schedule (a scheduler that stopped, a deleted rule) is a death, so the restart schedules again."""
        assert self.cron is not None
        triggers = LAYER_TRIGGERS[self.params.layer]
        await self.cron.ensure_schedules(triggers, self.params.cron_interval)
        await self.cron.start()
        while not self.stop_event.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop_event.wait(), timeout=self.params.cron_check_interval)
            if self.stop_event.is_set():
                return
            missing = set(triggers) - set(await self.cron.list_schedules())
            if missing:
                raise CronScheduleLostError(f"triggers no longer scheduled: {sorted(missing)}")

    @property
    def failed(self) -> asyncio.Event:
        """Set when a loop kept dying: the process should stop and exit non-zero."""
        return self.loops.fatal

    def loop_states(self) -> dict[str, dict[str, object]]:
        """Per supervised loop: status (running, restarting, dead, stopped), restarts, last error."""
        return {name: state.as_dict() for name, state in self.loops.states().items()}

    async def start(self) -> None:
        for consumer in self.consumers:
            self.loops.add(f"consumer:{consumer.queue}", partial(consumer.run, self.stop_event))
        self.loops.add("sweep", self._sweep_loop)
        if self.cron is not None:
            self.loops.add("cron", self._cron_loop)
        self.loops.start()
        log.info("workers started on %d queues (layer %s)", len(self.consumers), self.params.layer)

    async def stop(self) -> None:
        """Stop taking messages; in-flight handlers finish or are released within the grace period."""
        self.stop_event.set()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.params.graceful_shutdown_timeout
        if self.cron is not None:
            try:
                await self.cron.shutdown()
            except Exception:  # shutting down goes on for the rest
                log.exception("stopping the cron failed")
        await self.loops.wait_stopped(timeout=max(0.0, deadline - loop.time()))
        await asyncio.gather(*(c.drain(max(0.0, deadline - loop.time())) for c in self.consumers))
        log.info("workers stopped")
