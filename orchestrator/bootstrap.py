"""The composition root: reads Settings, builds the clients, injects them into the services.

This is the only module that knows which implementation backs which protocol.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from orchestrator.config import Profile, Settings
from orchestrator.core.clients.alerts import AlertClient
from orchestrator.core.clients.cron import CronClient
from orchestrator.core.clients.database import DatabaseClient
from orchestrator.core.clients.lock import LockClient
from orchestrator.core.clients.queue import QueueClient
from orchestrator.core.clients.storage import StorageClient
from orchestrator.core.models.job import JobType
from orchestrator.core.models.queue import DLQ_QUEUES, QueueType, WorkerTrigger
from orchestrator.core.version import ORCHESTRATOR_VERSION
from orchestrator.services.job.engine import EngineParams, JobEngine
from orchestrator.services.job.handler import JobHandler
from orchestrator.services.job.triggers import TriggerDispatcher, TriggerFn, completion_notifier

log = logging.getLogger("orchestrator.bootstrap")


@dataclass
class Infrastructure:
    database: DatabaseClient
    queue: QueueClient
    storage: StorageClient
    alerts: AlertClient
    lock: LockClient
    cron: CronClient | None


@dataclass
class Container:
    settings: Settings
    infra: Infrastructure
    engine: JobEngine
    dispatcher: TriggerDispatcher
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def database(self) -> DatabaseClient:
        return self.infra.database

    @property
    def queue(self) -> QueueClient:
        return self.infra.queue

    async def start(self) -> None:
        await self.infra.database.connect()
        await self.infra.lock.connect()
        await self.infra.queue.setup()
        await self.infra.storage.setup()

    def service_metrics(self) -> list[dict[str, Any]]:
        """Snapshots of the counters and circuit state of every external-service client."""
        snapshots: list[dict[str, Any]] = []
        for client in self.extras.get("closers", []):
            source = getattr(client, "service_metrics", None)
            if source is not None:
                snapshots.extend(m.snapshot() for m in source())
        return snapshots

    async def close(self) -> None:
        for client in self.extras.get("closers", []):
            close = getattr(client, "close", None)
            if close is not None:
                try:
                    await close()
                except Exception:
                    log.exception("closing %s failed", type(client).__name__)
        infra = self.infra
        for closer in (infra.queue.close, infra.storage.close, infra.lock.close, infra.database.close):
            try:
                await closer()
            except Exception:  # closing must go on for the others
                log.exception("closing a client failed")


def visibility_timeouts(settings: Settings) -> dict[QueueType, int]:
    """Per-queue visibility as the reference (§5), from the configured base timeout."""
    base = settings.queue.queue_visibility_timeout_seconds
    update_state = max(3 * base, settings.service.state_transition_timeout_seconds + 600)
    timeouts = {q: base for q in QueueType}
    timeouts[QueueType.UPDATE_STATE_JOB_PROCESSING] = update_state
    timeouts[QueueType.PRIORITY_PROCESSING_QUEUE] = update_state
    timeouts[QueueType.PRIORITY_VERIFICATION_QUEUE] = 2 * base
    return timeouts


def build_infrastructure(settings: Settings) -> Infrastructure:
    if settings.general.profile is Profile.LOCAL:
        return _local_infrastructure(settings)
    return _aws_infrastructure(settings)


def _local_infrastructure(settings: Settings) -> Infrastructure:
    from orchestrator.clients.alerts.log import LogAlertClient
    from orchestrator.clients.cron.apscheduler import ApschedulerCronClient
    from orchestrator.clients.database.sqlite import SqliteDatabaseClient
    from orchestrator.clients.lock.sqlite import SqliteLockClient
    from orchestrator.clients.queue.local import SqliteQueueClient
    from orchestrator.clients.storage.local import LocalStorageClient

    data = settings.general.data_dir
    queue = SqliteQueueClient(
        data / "queue.sqlite3",
        orchestrator_version=ORCHESTRATOR_VERSION,
        visibility_timeouts=visibility_timeouts(settings),
        max_receive_count=settings.service.max_process_retries,
        dlq_queues=DLQ_QUEUES,
    )
    return Infrastructure(
        database=SqliteDatabaseClient(data / "orchestrator.sqlite3"),
        queue=queue,
        storage=LocalStorageClient(data / "storage"),
        alerts=LogAlertClient(),
        lock=SqliteLockClient(data / "orchestrator.sqlite3"),
        cron=ApschedulerCronClient(queue),
    )


def _aws_infrastructure(settings: Settings) -> Infrastructure:
    from orchestrator.resources.aws_clients import build_aws_infrastructure

    database, queue, storage, alerts, lock, cron = build_aws_infrastructure(settings, visibility_timeouts(settings))
    return Infrastructure(database, queue, storage, alerts, lock, cron)


def engine_params(settings: Settings) -> EngineParams:
    return EngineParams(
        orchestrator_version=ORCHESTRATOR_VERSION,
        stale_lock_seconds={JobType(k): v for k, v in settings.job_timeouts().items()},
        retry_delay_seconds=settings.service.retry_delay_seconds,
        visibility_timeout_seconds=settings.queue.queue_visibility_timeout_seconds,
    )


def build(
    settings: Settings,
    handlers: Mapping[JobType, JobHandler] | None = None,
    triggers: Mapping[WorkerTrigger, TriggerFn] | None = None,
    infra: Infrastructure | None = None,
) -> Container:
    """Wire everything.

    `handlers` and `triggers` replace the pipeline's own (tests, custom deployments). Without them the
    pipeline is built when an L2 node is configured (MADARA_ORCHESTRATOR_MADARA_RPC_URL); with no node,
    the engine runs the jobs it is given but creates none.
    """
    infra = infra or build_infrastructure(settings)
    layer = settings.general.layer
    handler_map: dict[JobType, JobHandler] = dict(handlers or {})
    engine = JobEngine(
        infra.database,
        infra.queue,
        infra.alerts,
        handler_map,
        engine_params(settings),
        on_completed=completion_notifier(infra.queue, layer),
    )
    trigger_map: dict[WorkerTrigger, TriggerFn] = dict(triggers or {})
    closers: list[Any] = []
    if handlers is None and triggers is None and settings.madara.madara_rpc_url:
        pipeline_handlers, pipeline_triggers, closers = build_pipeline(settings, infra, engine)
        handler_map.update(pipeline_handlers)
        trigger_map.update(pipeline_triggers)
    elif handlers is None and triggers is None:
        log.warning("no L2 node configured (MADARA_ORCHESTRATOR_MADARA_RPC_URL): the pipeline is off")
    dispatcher = TriggerDispatcher(engine, trigger_map)
    return Container(settings=settings, infra=infra, engine=engine, dispatcher=dispatcher, extras={"closers": closers})


def build_pipeline(
    settings: Settings, infra: Infrastructure, engine: JobEngine
) -> tuple[dict[JobType, JobHandler], dict[WorkerTrigger, TriggerFn], list[Any]]:
    """The layer's job handlers and triggers over the configured node, prover, SNOS runner and settlement."""
    import json
    from functools import partial

    from orchestrator.clients.node.madara import MadaraNodeClient
    from orchestrator.config import ProverKind
    from orchestrator.core.madara.prover import CreateBucketTask
    from orchestrator.core.models.queue import Layer
    from orchestrator.services.block.params import (
        DEFAULT_BOUNCER_WEIGHTS_LIMIT,
        BatchingParams,
        JobTriggerParams,
        bouncer_weights_limit_from_json,
    )
    from orchestrator.services.block.registry import TriggerDependencies, build_triggers
    from orchestrator.services.job.handlers.prover_status import ProverFlavour
    from orchestrator.services.job.handlers.registry import HandlerDeps, HandlerParams, build_handlers
    from orchestrator.services.job.handlers.snos import SnosRpc
    from orchestrator.services.job.handlers.state_transition import SettlementMode

    layer = settings.general.layer
    node = build_node(settings)
    prover = build_prover(settings)
    settlement = build_settlement(settings)
    snos_node = node
    snos_url = settings.snos.rpc_for_snos or settings.madara.madara_rpc_url or ""
    closers: list[Any] = [node, prover, settlement]
    if settings.snos.rpc_for_snos and settings.snos.rpc_for_snos != settings.madara.madara_rpc_url:
        snos_node = MadaraNodeClient(settings.snos.rpc_for_snos)
        closers.append(snos_node)
    backup = None
    if settings.snos.rpc_for_snos_backup:
        backup_node = MadaraNodeClient(settings.snos.rpc_for_snos_backup)
        closers.append(backup_node)
        backup = SnosRpc(settings.snos.rpc_for_snos_backup, backup_node)

    async def checkpoint(job: Any) -> None:
        await engine.checkpoint(job)

    aggregator_runner = None
    if settings.snos.snos_runner == "devnet" and layer is Layer.L2:
        # The devnet stand-in for StarkWare's aggregator program, reading the same node as the SNOS stand-in
        # so that the batch's header words agree with its children's outputs.
        from orchestrator.clients.aggregator.devnet import DevnetAggregatorRunner

        aggregator_runner = DevnetAggregatorRunner(snos_node)
    handlers = build_handlers(
        HandlerDeps(
            database=infra.database,
            storage=infra.storage,
            prover=prover,
            settlement=settlement,
            snos_runner=build_snos_runner(settings, snos_node),
            checkpoint=checkpoint,
            node=node,
            da=build_da(settings) if layer is Layer.L3 else None,
            aggregator_runner=aggregator_runner,
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
    b, svc = settings.batching, settings.service
    limit_file = settings.madara.bouncer_weights_limit_file
    batching = BatchingParams(
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
    atlantic = settings.prover.prover is ProverKind.ATLANTIC
    job_params = JobTriggerParams(
        layer=layer,
        snos_job_buffer_size=svc.snos_job_buffer_size,
        aggregator_job_buffer_size=svc.aggregator_job_buffer_size,
        snos_full_output=settings.snos.snos_full_output,
        store_audit_artifacts=svc.store_audit_artifacts,
        uses_buckets=atlantic,
    )
    replay = None
    if settings.madara.replay_bounds_rpc_url:
        replay = MadaraNodeClient(settings.madara.replay_bounds_rpc_url)
        closers.append(replay)
    triggers = build_triggers(
        TriggerDependencies(
            database=infra.database,
            storage=infra.storage,
            lock=infra.lock,
            node=node,
            jobs=engine,
            create_bucket=partial(prover.submit_task, CreateBucketTask()) if atlantic else None,
            replay_reference=replay,
        ),
        batching,
        job_params,
    )
    return handlers, triggers, closers


# ---------------------------------------------------------------------------------------------
# rollup clients: built on demand, so a deployment only needs the settings of what it uses


def build_node(settings: Settings) -> Any:
    from orchestrator.clients.node.madara import MadaraNodeClient
    from orchestrator.core.errors import ConfigError

    m = settings.madara
    if not m.madara_rpc_url:
        raise ConfigError("MADARA_ORCHESTRATOR_MADARA_RPC_URL: required to talk to the L2 node")
    return MadaraNodeClient(m.madara_rpc_url, m.madara_feeder_gateway_url or m.madara_rpc_url)


def build_snos_runner(settings: Settings, node: Any) -> Any:
    from orchestrator.core.errors import ConfigError

    s = settings.snos
    if s.snos_runner == "command":
        from orchestrator.clients.snos.command import CommandSnosRunner

        if not s.snos_command:
            raise ConfigError("MADARA_ORCHESTRATOR_SNOS_COMMAND: required when the SNOS runner is command")
        return CommandSnosRunner(s.snos_command, timeout_seconds=s.snos_timeout_seconds)

    from orchestrator.clients.snos.devnet import DevnetSnosRunner
    from orchestrator.services.da.batch import compress_state_update
    from orchestrator.services.da.blob import felts_to_blobs
    from orchestrator.services.da.squash import squash

    async def build_blobs(updates: list[dict[str, Any]]) -> list[bytes]:
        # The batch pipeline: squash the range, compress (stateful + stateless), FFT into blobs.
        first, last = updates[0]["block_number"], updates[-1]["block_number"]
        block = await node.get_block_with_tx_hashes(last)
        squashed = await squash(updates, first - 1, node)
        felts = await compress_state_update(squashed, last, block.get("starknet_version", "0.14.1"), node)
        return felts_to_blobs(felts)

    return DevnetSnosRunner(node, build_blobs)


def build_prover(settings: Settings) -> Any:
    from orchestrator.clients.prover.fact_registry import Web3FactRegistry
    from orchestrator.config import ProverKind, SettlementLayer
    from orchestrator.core.errors import ConfigError

    p = settings.prover
    if p.prover is ProverKind.SHARP:
        from orchestrator.clients.prover.sharp import SharpProverClient, sharp_ssl_context

        if not (p.sharp_url and p.sharp_customer_id and p.sharp_user_crt_file and p.sharp_user_key_file):
            raise ConfigError("SHARP needs MADARA_ORCHESTRATOR_SHARP_URL, _CUSTOMER_ID, _USER_CRT_FILE, _USER_KEY_FILE")
        if not p.sharp_server_crt_file:
            raise ConfigError("MADARA_ORCHESTRATOR_SHARP_SERVER_CRT_FILE: required when the prover is sharp")
        checker = None
        if p.sharp_settlement_layer is SettlementLayer.ETHEREUM:
            if not (p.sharp_rpc_node_url and p.gps_verifier_contract_address):
                raise ConfigError("SHARP on Ethereum needs _SHARP_RPC_NODE_URL and _GPS_VERIFIER_CONTRACT_ADDRESS")
            checker = Web3FactRegistry(p.sharp_rpc_node_url, p.gps_verifier_contract_address)
        context = sharp_ssl_context(p.sharp_user_crt_file, p.sharp_user_key_file, p.sharp_server_crt_file)
        return SharpProverClient(p.sharp_url, p.sharp_customer_id, ssl_context=context, fact_checker=checker)
    if p.prover is ProverKind.ATLANTIC:
        from orchestrator.clients.prover.atlantic import AtlanticOptions, AtlanticProverClient

        if not (p.atlantic_service_url and p.atlantic_api_key and p.atlantic_network):
            raise ConfigError("Atlantic needs _ATLANTIC_SERVICE_URL, _ATLANTIC_API_KEY and _ATLANTIC_NETWORK")
        options = AtlanticOptions(
            service_url=p.atlantic_service_url,
            api_key=p.atlantic_api_key.get_secret_value(),
            network=p.atlantic_network,
            mock_fact_hash=p.atlantic_mock_fact_hash == "true",
            cairo_vm=p.atlantic_cairo_vm,
            result=p.atlantic_result,
            sharp_prover=p.atlantic_sharp_prover,
            settlement_layer=(p.atlantic_settlement_layer or SettlementLayer.ETHEREUM).value,
            proof_layout=settings.snos.prover_layout_name,
            cairo_verifier_program_hash=p.cairo_v0_verifier_program_hash,
            artifacts_base_url=p.atlantic_artifacts_base_url,
            da_public_keys=tuple(k for k in (settings.madara.da_public_keys or "").split(",") if k) or None,
        )
        checker = None
        if options.mock_fact_hash is False and p.atlantic_rpc_node_url and p.atlantic_verifier_contract_address:
            checker = Web3FactRegistry(p.atlantic_rpc_node_url, p.atlantic_verifier_contract_address)
        return AtlanticProverClient(options, fact_checker=checker)

    from orchestrator.clients.prover.mock import MockProverClient

    if p.mock_verifier_address:
        s = settings.settlement
        key = p.mock_verifier_private_key or s.ethereum_private_key
        if not (s.ethereum_settlement_rpc_url and key):
            raise ConfigError("the mock verifier uses the Ethereum settlement RPC URL and a private key")
        registrar = Web3FactRegistry(
            s.ethereum_settlement_rpc_url.get_secret_value(),
            p.mock_verifier_address,
            private_key=key.get_secret_value(),
        )
        return MockProverClient(registrar)
    return MockProverClient()


def build_settlement(settings: Settings) -> Any:
    from orchestrator.config import SettlementLayer
    from orchestrator.core.errors import ConfigError

    s = settings.settlement
    if s.settlement_layer is SettlementLayer.ETHEREUM:
        from orchestrator.clients.settlement.ethereum import EthereumSettlementClient
        from orchestrator.clients.settlement.tx_manager import TxManagerConfig

        if not (s.ethereum_settlement_rpc_url and s.ethereum_private_key and s.l1_core_contract_address):
            raise ConfigError(
                "Ethereum settlement needs MADARA_ORCHESTRATOR_ETHEREUM_SETTLEMENT_RPC_URL, "
                "_ETHEREUM_PRIVATE_KEY and _L1_CORE_CONTRACT_ADDRESS"
            )
        return EthereumSettlementClient(
            rpc_url=s.ethereum_settlement_rpc_url.get_secret_value(),
            private_key=s.ethereum_private_key.get_secret_value(),
            core_contract_address=s.l1_core_contract_address,
            tx_config=TxManagerConfig(
                max_fee_bumps=s.ethereum_max_fee_bumps,
                max_total_fee_wei=s.ethereum_l2_state_update_max_fee_wei,
                confirmations=s.ethereum_confirmations,
                confirmation_timeout=s.ethereum_tx_confirmation_timeout_secs,
                poll_interval=s.ethereum_finality_retry_wait_in_secs,
            ),
            disable_peerdas=s.ethereum_disable_peerdas,
        )
    from orchestrator.clients.settlement.starknet import StarknetSettlementClient

    if not (
        s.starknet_settlement_rpc_url
        and s.starknet_private_key
        and s.starknet_account_address
        and s.starknet_cairo_core_contract_address
    ):
        raise ConfigError(
            "Starknet settlement needs MADARA_ORCHESTRATOR_STARKNET_SETTLEMENT_RPC_URL, _STARKNET_PRIVATE_KEY, "
            "_STARKNET_ACCOUNT_ADDRESS and _STARKNET_CAIRO_CORE_CONTRACT_ADDRESS"
        )
    return StarknetSettlementClient(
        rpc_url=s.starknet_settlement_rpc_url.get_secret_value(),
        account_address=s.starknet_account_address,
        private_key=s.starknet_private_key.get_secret_value(),
        core_contract_address=s.starknet_cairo_core_contract_address,
        finality_retry_wait=s.starknet_finality_retry_wait_in_secs,
    )


def build_da(settings: Settings) -> Any:
    from orchestrator.config import SettlementLayer

    if settings.da.da_layer is SettlementLayer.ETHEREUM:
        from orchestrator.clients.da.ethereum import EthereumDaClient

        return EthereumDaClient()
    from orchestrator.clients.da.starknet import StarknetDaClient

    return StarknetDaClient()
