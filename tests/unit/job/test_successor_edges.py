"""No idle gap between stages: every edge of the pipeline asks for its next check at once.

A completed job asks (through the trigger queue) for the checks that create its successor; a batching
pass runs the checks that act on a closed batch. The cron is only the safety net.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from orchestrator.core.errors import JobCreationHaltedError
from orchestrator.core.models.job import JobItem, JobType
from orchestrator.core.models.metadata import JobMetadata, SettlementContext, StateUpdateMetadata
from orchestrator.core.models.queue import LAYER_TRIGGERS, Layer, QueueType, WorkerTrigger
from orchestrator.services.job.triggers import (
    TriggerDispatcher,
    completion_notifier,
    successor_triggers,
)
from tests.fakes import FakeQueue

L2, L3 = Layer.L2, Layer.L3
T = WorkerTrigger

#: (completed job, layer) -> the check that creates its successor
EDGES = [
    (JobType.SNOS_RUN, L2, T.PROVING),
    (JobType.SNOS_RUN, L3, T.PROVING),
    (JobType.PROOF_CREATION, L2, T.AGGREGATOR),
    (JobType.PROOF_CREATION, L3, T.PROOF_REGISTRATION),
    (JobType.PROOF_REGISTRATION, L3, T.DATA_SUBMISSION),
    (JobType.DATA_SUBMISSION, L3, T.UPDATE_STATE),
    (JobType.AGGREGATOR, L2, T.UPDATE_STATE),
    # StateTransition N → StateTransition N+1 (settlement is strictly sequential)
    (JobType.STATE_TRANSITION, L2, T.UPDATE_STATE),
    (JobType.STATE_TRANSITION, L3, T.UPDATE_STATE),
]


@pytest.mark.parametrize(("job_type", "layer", "trigger"), EDGES)
def test_a_completed_job_asks_for_the_check_that_creates_its_successor(
    job_type: JobType, layer: Layer, trigger: WorkerTrigger
) -> None:
    follow = successor_triggers(job_type, layer)
    assert trigger in follow
    # ... and that check is one the layer has at all
    assert set(follow) <= set(LAYER_TRIGGERS[layer])


def test_every_job_type_of_a_layer_has_a_successor_edge() -> None:
    for layer in (L2, L3):
        types = {j for j, lay, _ in EDGES if lay is layer}
        used = {JobType.AGGREGATOR} if layer is L2 else {JobType.PROOF_REGISTRATION, JobType.DATA_SUBMISSION}
        assert types >= {JobType.SNOS_RUN, JobType.PROOF_CREATION, JobType.STATE_TRANSITION} | used


async def test_the_completion_notifier_sends_each_successor_check_to_the_trigger_queue() -> None:
    queue = FakeQueue()
    notify = completion_notifier(queue, L2)  # type: ignore[arg-type]
    job = JobItem(
        internal_id=3,
        job_type=JobType.STATE_TRANSITION,
        metadata=JobMetadata(specific=StateUpdateMetadata(context=SettlementContext(type="Batch", to_settle=3))),
    )
    await notify(job)
    assert queue.sent == [(QueueType.WORKER_TRIGGER, "UpdateState", 0), (QueueType.WORKER_TRIGGER, "StorageCleanup", 0)]


class _Engine:
    def __init__(self, halted: bool = False) -> None:
        self.halted = halted

    async def is_halted(self) -> bool:
        return self.halted


def _recording(
    calls: list[WorkerTrigger], triggers: list[WorkerTrigger]
) -> dict[WorkerTrigger, Callable[[], Awaitable[None]]]:
    def make(trigger: WorkerTrigger) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            calls.append(trigger)

        return run

    return {t: make(t) for t in triggers}


async def test_a_batching_pass_runs_the_checks_of_a_closed_batch_at_once() -> None:
    calls: list[WorkerTrigger] = []
    dispatcher = TriggerDispatcher(_Engine(), _recording(calls, list(LAYER_TRIGGERS[L2])))  # type: ignore[arg-type]
    assert await dispatcher.dispatch(T.AGGREGATOR_BATCHING)
    assert calls == [T.AGGREGATOR_BATCHING, T.SNOS_BATCHING, T.SNOS, T.AGGREGATOR]


async def test_follow_ups_the_layer_lacks_are_skipped_and_a_halt_stops_only_the_refused_check() -> None:
    calls: list[WorkerTrigger] = []
    l3 = TriggerDispatcher(_Engine(), _recording(calls, list(LAYER_TRIGGERS[L3])))  # type: ignore[arg-type]
    assert await l3.dispatch(T.SNOS_BATCHING)
    assert calls == [T.SNOS_BATCHING, T.SNOS]  # no Aggregator trigger on L3
    calls.clear()

    async def refused() -> None:
        calls.append(T.SNOS)
        raise JobCreationHaltedError("SnosRun job 3 (blocks 30..39) not created: halted from block 20")

    triggers = _recording(calls, list(LAYER_TRIGGERS[L2]))
    triggers[T.SNOS] = refused
    # The halt is scoped to the blocks after a failure (services/job/halt.py): the engine refuses
    # those jobs; the other checks still run.
    halted = TriggerDispatcher(_Engine(halted=True), triggers)  # type: ignore[arg-type]
    assert await halted.dispatch(T.AGGREGATOR_BATCHING)
    assert calls == [T.AGGREGATOR_BATCHING, T.SNOS_BATCHING, T.SNOS, T.AGGREGATOR]
