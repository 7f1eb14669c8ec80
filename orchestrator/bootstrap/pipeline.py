"""The layer's job handlers and triggers over the rollup clients (one builder per concern)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial

from orchestrator.bootstrap.container import Infrastructure, OwnedClients
from orchestrator.bootstrap.rollup import (
    build_aggregator_runner,
    build_da,
    build_extra_node,
    build_fact_registry,
    build_node,
    build_prover,
    build_settlement,
    build_snos_runner,
)
from orchestrator.clients.node.chain_details import CachedChainDetails
from orchestrator.config import ProverKind, Settings
from orchestrator.core.madara.node import ChainDetailsSource, L2NodeClient
from orchestrator.core.madara.prover import CreateBucketTask, ProverClient
from orchestrator.core.models.job import JobItem, JobType
from orchestrator.core.models.queue import Layer, WorkerTrigger
from orchestrator.services.block.params import (
    DEFAULT_BOUNCER_WEIGHTS_LIMIT,
    BatchingParams,
    JobTriggerParams,
    bouncer_weights_limit_from_json,
)
from orchestrator.services.block.registry import TriggerDependencies, build_triggers
from orchestrator.services.job.engine import JobEngine
from orchestrator.services.job.handler import JobHandler
from orchestrator.services.job.handlers.prover_status import ProverFlavour
from orchestrator.services.job.handlers.registry import HandlerDeps, HandlerParams, build_handlers
from orchestrator.services.job.handlers.snos import SnosRpc
from orchestrator.services.job.handlers.state_transition import SettlementMode
from orchestrator.services.job.triggers import TriggerFn


class EngineCheckpoint:
    """The StateTransition handler's checkpoint. The engine is built from the finished handler
    mapping, so the handlers get this and the engine is bound to it once, right after."""

    def __init__(self) -> None:
        self._engine: JobEngine | None = None

    def bind(self, engine: JobEngine) -> None:
        if self._engine is not None:
            raise RuntimeError("the checkpoint is already bound to an engine")
        self._engine = engine

    async def __call__(self, job: JobItem) -> None:
        if self._engine is None:
            raise RuntimeError("checkpoint used before the engine was built")
        await self._engine.checkpoint(job)


@dataclass(frozen=True)
class RollupClients:
    node: L2NodeClient
    snos_node: L2NodeClient
    prover: ProverClient
    #: the chain's details, fetched once (the container asks at start)
    chain: ChainDetailsSource


def build_rollup_handlers(
    settings: Settings, infra: Infrastructure, owned: OwnedClients, checkpoint: EngineCheckpoint
) -> tuple[RollupClients, dict[JobType, JobHandler]]:
    layer = settings.general.layer
    node = build_node(settings, owned)
    chain = CachedChainDetails(node)
    snos_url = settings.snos.rpc_for_snos or settings.madara.madara_rpc_url or ""
    separate_snos_rpc = snos_url != settings.madara.madara_rpc_url
    snos_node = build_extra_node(snos_url, owned) if separate_snos_rpc else node
    backup_url = settings.snos.rpc_for_snos_backup
    backup = SnosRpc(backup_url, build_extra_node(backup_url, owned)) if backup_url else None
    prover = build_prover(settings, build_fact_registry(settings, owned), owned, chain)
    handlers = build_handlers(
        HandlerDeps(
            database=infra.database,
            storage=infra.storage,
            prover=prover,
            settlement=build_settlement(settings, owned),
            snos_runner=build_snos_runner(settings, snos_node, chain),
            checkpoint=checkpoint,
            node=node,
            da=build_da(settings) if layer is Layer.L3 else None,
            aggregator_runner=build_aggregator_runner(settings, snos_node, chain) if layer is Layer.L2 else None,
        ),
        HandlerParams(
            layer=layer,
            prover=ProverFlavour(settings.prover.prover.value),
            settlement=SettlementMode(settings.settlement.settlement_layer.value),
            snos_rpc=SnosRpc(snos_url, snos_node),
            snos_backup_rpc=backup,
            snos_layout=settings.snos.snos_layout_name,
        ),
    )
    return RollupClients(node, snos_node, prover, chain), handlers


def batching_params(settings: Settings) -> BatchingParams:
    b, svc = settings.batching, settings.service
    limit_file = settings.madara.bouncer_weights_limit_file
    return BatchingParams(
        max_batch_time_seconds=b.max_batch_time_seconds,
        max_batch_size=b.max_batch_size,
        max_num_blobs=b.max_num_blobs,
        blob_size_buffer=b.blob_size_buffer,
        lock_duration_seconds=b.batching_lock_duration_seconds,
        max_blocks_per_snos_batch=b.max_blocks_per_snos_batch,
        fixed_blocks_per_snos_batch=b.fixed_blocks_per_snos_batch,
        max_aggregator_input_size=b.max_aggregator_input_size,
        default_empty_block_proving_gas=b.default_empty_block_proving_gas,
        max_batch_processing_size=b.max_batch_processing_size,
        min_block_to_process=svc.min_block_no_to_process,
        max_block_to_process=svc.max_block_no_to_process,
        bouncer_weights_limit=(
            bouncer_weights_limit_from_json(json.loads(limit_file.read_text()))
            if limit_file
            else DEFAULT_BOUNCER_WEIGHTS_LIMIT.model_copy()
        ),
    )


def job_trigger_params(settings: Settings) -> JobTriggerParams:
    svc = settings.service
    return JobTriggerParams(
        layer=settings.general.layer,
        snos_job_buffer_size=svc.snos_job_buffer_size,
        aggregator_job_buffer_size=svc.aggregator_job_buffer_size,
        snos_full_output=settings.snos.snos_full_output,
        store_audit_artifacts=svc.store_audit_artifacts,
        uses_buckets=settings.prover.prover is ProverKind.ATLANTIC,
    )


def build_rollup_triggers(
    settings: Settings, infra: Infrastructure, owned: OwnedClients, clients: RollupClients, engine: JobEngine
) -> Mapping[WorkerTrigger, TriggerFn]:
    replay_url = settings.madara.replay_bounds_rpc_url
    atlantic = settings.prover.prover is ProverKind.ATLANTIC
    return build_triggers(
        TriggerDependencies(
            database=infra.database,
            storage=infra.storage,
            lock=infra.lock,
            node=clients.node,
            jobs=engine,
            create_bucket=partial(clients.prover.submit_task, CreateBucketTask()) if atlantic else None,
            replay_reference=build_extra_node(replay_url, owned) if replay_url else None,
        ),
        batching_params(settings),
        job_trigger_params(settings),
    )
