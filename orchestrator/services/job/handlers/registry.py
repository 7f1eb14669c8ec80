"""The {JobType: handler} mapping of one layer, built from the protocols and plain parameters.

L2: SnosRun, ProofCreation, Aggregator, StateTransition (blob settlement on Ethereum).
L3: SnosRun, ProofCreation, ProofRegistration, DataSubmission, StateTransition.

`HandlerDeps.checkpoint` is the engine's `JobEngine.checkpoint`; the engine is built with this
mapping, so bootstrap passes a late-bound call (e.g. `lambda job: container.engine.checkpoint(job)`)
or fills the engine's handler dict after building it.
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.core.clients.database import DatabaseClient
from orchestrator.core.clients.storage import StorageClient
from orchestrator.core.madara.aggregator import AggregatorRunner
from orchestrator.core.madara.da import DaClient
from orchestrator.core.madara.node import L2NodeClient
from orchestrator.core.madara.prover import ProverClient
from orchestrator.core.madara.settlement import SettlementClient
from orchestrator.core.madara.snos import SnosRunner
from orchestrator.core.models.job import JobType
from orchestrator.core.models.queue import Layer
from orchestrator.services.da.version import SUPPORTED_STARKNET_VERSION, VersionLike
from orchestrator.services.job.handler import JobHandler
from orchestrator.services.job.handlers.aggregator import AggregatorHandler
from orchestrator.services.job.handlers.data_submission import DataSubmissionHandler
from orchestrator.services.job.handlers.proof_registration import ProofRegistrationHandler
from orchestrator.services.job.handlers.prover_status import ProverFlavour
from orchestrator.services.job.handlers.proving import ProofCreationHandler
from orchestrator.services.job.handlers.snos import SnosRpc, SnosRunHandler
from orchestrator.services.job.handlers.state_transition import Checkpoint, SettlementMode, StateTransitionHandler


@dataclass(frozen=True)
class HandlerDeps:
    database: DatabaseClient
    storage: StorageClient
    prover: ProverClient
    settlement: SettlementClient
    snos_runner: SnosRunner
    checkpoint: Checkpoint
    #: the L2 node (DataSubmission reads state updates and nonces from it); L3 only
    node: L2NodeClient | None = None
    #: L3 only
    da: DaClient | None = None
    #: L2 with SHARP or the mock prover: runs the aggregator program locally (the Aggregator job
    #: fails clearly without one); Atlantic aggregates on the prover's side and ignores it
    aggregator_runner: AggregatorRunner | None = None


@dataclass(frozen=True)
class HandlerParams:
    layer: Layer
    prover: ProverFlavour
    settlement: SettlementMode
    #: the RPC SNOS reads blocks from, and the one a retried SnosRun job switches to
    snos_rpc: SnosRpc
    snos_backup_rpc: SnosRpc | None = None
    snos_layout: str = "all_cairo"
    #: the Starknet version the DataSubmission job encodes state diffs for
    starknet_version: VersionLike = SUPPORTED_STARKNET_VERSION


def build_handlers(deps: HandlerDeps, params: HandlerParams) -> dict[JobType, JobHandler]:
    layer = params.layer
    handlers: dict[JobType, JobHandler] = {
        JobType.SNOS_RUN: SnosRunHandler(
            deps.snos_runner,
            deps.storage,
            layer=layer,
            rpc=params.snos_rpc,
            backup_rpc=params.snos_backup_rpc,
            layout=params.snos_layout,
        ),
        JobType.PROOF_CREATION: ProofCreationHandler(deps.prover, deps.storage, deps.database, flavour=params.prover),
        JobType.STATE_TRANSITION: StateTransitionHandler(
            deps.settlement,
            deps.storage,
            deps.database,
            deps.checkpoint,
            layer=layer,
            mode=params.settlement,
        ),
    }
    if layer is Layer.L2:
        handlers[JobType.AGGREGATOR] = AggregatorHandler(
            deps.prover, deps.storage, deps.database, flavour=params.prover, runner=deps.aggregator_runner
        )
        return handlers
    if deps.node is None or deps.da is None:
        raise ValueError("an L3 pipeline needs the L2 node and a DA client for its DataSubmission jobs")
    handlers[JobType.PROOF_REGISTRATION] = ProofRegistrationHandler(deps.prover, deps.storage)
    handlers[JobType.DATA_SUBMISSION] = DataSubmissionHandler(
        deps.node, deps.da, deps.storage, starknet_version=params.starknet_version
    )
    return handlers
