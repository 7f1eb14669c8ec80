"""The trigger functions of a layer, for the `TriggerDispatcher` (bootstrap calls `build_triggers`)."""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.core.clients.database import DatabaseClient
from orchestrator.core.clients.lock import LockClient
from orchestrator.core.clients.storage import StorageClient
from orchestrator.core.models.queue import LAYER_TRIGGERS, WorkerTrigger
from orchestrator.services.block.aggregator_batching import AggregatorBatching, CreateBucket
from orchestrator.services.block.batch_state import DEFAULT_CLOCK, Clock
from orchestrator.services.block.blocks import BlockHeaderSource, BlockSource
from orchestrator.services.block.job_triggers import JobCreator, JobTriggers
from orchestrator.services.block.params import BatchingParams, JobTriggerParams
from orchestrator.services.block.snos_batching import SnosBatching
from orchestrator.services.block.storage_cleanup import StorageCleanup
from orchestrator.services.block.worker_lock import new_lock_owner
from orchestrator.services.job.triggers import TriggerFn


@dataclass(frozen=True)
class TriggerDependencies:
    database: DatabaseClient
    storage: StorageClient
    lock: LockClient
    #: the L2 node (`L2NodeClient`)
    node: BlockSource
    #: the job engine (`JobEngine`)
    jobs: JobCreator
    #: Atlantic: opens the prover bucket of each new aggregator batch
    create_bucket: CreateBucket | None = None
    #: `--replay-bounds-rpc-url`: batched blocks must have this node's block hashes
    replay_reference: BlockHeaderSource | None = None
    clock: Clock = DEFAULT_CLOCK


def build_triggers(
    deps: TriggerDependencies, batching: BatchingParams, jobs: JobTriggerParams
) -> dict[WorkerTrigger, TriggerFn]:
    """Every trigger the layer schedules (`LAYER_TRIGGERS`), and no other."""
    if batching.orchestrator_version != jobs.orchestrator_version:
        raise ValueError("batching and job triggers must run with the same orchestrator version")
    layer = jobs.layer
    owner = new_lock_owner()
    job_triggers = JobTriggers(deps.database, deps.jobs, jobs)
    available: dict[WorkerTrigger, TriggerFn] = {
        WorkerTrigger.AGGREGATOR_BATCHING: AggregatorBatching(
            deps.database,
            deps.storage,
            deps.lock,
            deps.node,
            batching,
            create_bucket=deps.create_bucket,
            replay_reference=deps.replay_reference,
            clock=deps.clock,
            lock_owner=owner,
        ).run,
        WorkerTrigger.SNOS_BATCHING: SnosBatching(
            deps.database,
            deps.lock,
            deps.node,
            batching,
            layer,
            replay_reference=deps.replay_reference,
            clock=deps.clock,
            lock_owner=owner,
        ).run,
        WorkerTrigger.SNOS: job_triggers.snos,
        WorkerTrigger.PROVING: job_triggers.proving,
        WorkerTrigger.PROOF_REGISTRATION: job_triggers.proof_registration,
        WorkerTrigger.DATA_SUBMISSION: job_triggers.data_submission,
        WorkerTrigger.AGGREGATOR: job_triggers.aggregator,
        WorkerTrigger.UPDATE_STATE: job_triggers.update_state,
        WorkerTrigger.STORAGE_CLEANUP: StorageCleanup(
            deps.database, deps.storage, deps.lock, layer, clock=deps.clock, lock_owner=owner
        ).run,
    }
    return {trigger: available[trigger] for trigger in LAYER_TRIGGERS[layer]}
