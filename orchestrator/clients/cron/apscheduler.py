"""Periodic triggers inside the process with APScheduler (the local profile's EventBridge).

One interval job per trigger, whose id is the trigger name; each firing sends the name to the
worker-trigger queue, exactly as an EventBridge rule targeting SQS does, so the consumers cannot
tell the two apart. Every `orchestrator run` process fires its own schedules; that is harmless
because the triggers are idempotent and the batching ones take a lock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from orchestrator.core.clients.queue import QueueClient
from orchestrator.core.models.queue import QueueType, WorkerTrigger

log = logging.getLogger("orchestrator.cron")


class ApschedulerCronClient:
    def __init__(self, queue: QueueClient, target: QueueType = QueueType.WORKER_TRIGGER) -> None:
        self._queue = queue
        self._target = target
        self._scheduler = AsyncIOScheduler(timezone="UTC")

    def _ensure_running(self) -> None:
        # Started paused so that jobs added before start() land in the job store at once
        # (pending jobs could be listed twice); start() resumes.
        if not self._scheduler.running:
            self._scheduler.start(paused=True)

    async def ensure_schedules(self, triggers: Sequence[WorkerTrigger], interval_seconds: int) -> None:
        if interval_seconds <= 0:
            raise ValueError(f"interval_seconds must be > 0, got {interval_seconds}")
        self._ensure_running()
        interval = timedelta(seconds=interval_seconds)
        for trigger in triggers:
            existing = self._scheduler.get_job(trigger.value)
            if (
                existing is not None
                and isinstance(existing.trigger, IntervalTrigger)
                and existing.trigger.interval == interval
            ):
                continue  # same schedule: keep it, so that a repeated call does not postpone it
            self._scheduler.add_job(
                self._fire,
                IntervalTrigger(seconds=interval_seconds, timezone="UTC"),
                args=[trigger],
                id=trigger.value,
                name=f"trigger {trigger.value}",
                replace_existing=True,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=interval_seconds,
            )

    async def list_schedules(self) -> list[WorkerTrigger]:
        # Empty after shutdown: in-process schedules end with the scheduler (EventBridge's do not).
        return sorted(WorkerTrigger(job.id) for job in self._scheduler.get_jobs())

    async def start(self) -> None:
        self._ensure_running()
        self._scheduler.resume()

    async def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
            await asyncio.sleep(0)  # AsyncIOScheduler stops in a callback of the event loop

    async def _fire(self, trigger: WorkerTrigger) -> None:
        try:
            await self._queue.send(self._target, trigger.value)
        except Exception:  # the next firing tries again; the scheduler must keep running
            log.exception("could not send trigger %s to %s", trigger.value, self._target.value)
