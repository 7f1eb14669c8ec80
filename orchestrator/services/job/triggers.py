"""Triggers: the periodic (and on-completion) checks that decide which jobs to create."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

from orchestrator.core.clients.queue import QueueClient
from orchestrator.core.errors import JobCreationHaltedError
from orchestrator.core.models.job import JobItem, JobType
from orchestrator.core.models.queue import Layer, QueueType, WorkerTrigger
from orchestrator.services.job.engine import JobEngine

log = logging.getLogger("orchestrator.trigger")

TriggerFn = Callable[[], Awaitable[None]]


def successor_triggers(job_type: JobType, layer: Layer) -> tuple[WorkerTrigger, ...]:
    """Which checks may find new work once a job of `job_type` completes."""
    if job_type is JobType.SNOS_RUN:
        return (WorkerTrigger.PROVING,)
    if job_type is JobType.PROOF_CREATION:
        return (WorkerTrigger.AGGREGATOR,) if layer is Layer.L2 else (WorkerTrigger.PROOF_REGISTRATION,)
    if job_type is JobType.PROOF_REGISTRATION:
        return (WorkerTrigger.DATA_SUBMISSION,)
    if job_type in (JobType.DATA_SUBMISSION, JobType.AGGREGATOR):
        return (WorkerTrigger.UPDATE_STATE,)
    # A settled batch unblocks the next one and makes its artifacts eligible for cleanup.
    return (WorkerTrigger.UPDATE_STATE, WorkerTrigger.STORAGE_CLEANUP)


#: Beyond the reference: the checks a batching pass calls for at once, as it may have closed a batch.
#: On L2 SNOS batches follow the aggregator batches (closing one closes its last SNOS batch); a
#: closed SNOS batch is a SnosRun to create, and a closed aggregator batch whose children are proven
#: already is an aggregation to start. A deployment without a follow-up trigger (L3) skips it.
FOLLOW_UPS: dict[WorkerTrigger, tuple[WorkerTrigger, ...]] = {
    WorkerTrigger.AGGREGATOR_BATCHING: (WorkerTrigger.SNOS_BATCHING,),
    WorkerTrigger.SNOS_BATCHING: (WorkerTrigger.SNOS, WorkerTrigger.AGGREGATOR),
}


class TriggerDispatcher:
    def __init__(self, engine: JobEngine, triggers: Mapping[WorkerTrigger, TriggerFn]) -> None:
        self.engine = engine
        self.triggers = triggers

    async def dispatch(self, trigger: WorkerTrigger) -> bool:
        """Run one trigger, then its follow-ups (FOLLOW_UPS); False when it was not configured.
        The periodic cron still runs every trigger: the follow-ups only save its wait.

        The halt is scoped (services/job/halt.py): a trigger runs even while a job is Failed, and the
        engine refuses only the jobs that cover blocks from the lowest failed block on; the trigger
        stops at the first refusal (they walk their work in block order)."""
        fn = self.triggers.get(trigger)
        if fn is None:
            log.debug("trigger %s is not configured for this deployment", trigger)
            return False
        try:
            await fn()
        except JobCreationHaltedError as exc:
            log.warning("trigger %s stopped at the halt: %s", trigger, exc)
        for follow_up in FOLLOW_UPS.get(trigger, ()):
            await self.dispatch(follow_up)
        return True


def completion_notifier(queue: QueueClient, layer: Layer) -> Callable[[JobItem], Awaitable[None]]:
    """Beyond the reference: a completed job asks for its successor's check at once, through the
    trigger queue so that any process may run it, instead of waiting for the next cron tick."""

    async def notify(job: JobItem) -> None:
        for trigger in successor_triggers(job.job_type, layer):
            await queue.send(QueueType.WORKER_TRIGGER, trigger.value)

    return notify
