"""build_handlers: the job types of each layer, wired with the given protocols and parameters."""

from __future__ import annotations

from dataclasses import replace

import pytest

from orchestrator.core.models.job import JobItem, JobType
from orchestrator.core.models.queue import Layer
from orchestrator.services.job.handler import JobHandler
from orchestrator.services.job.handlers.aggregator import AggregatorHandler
from orchestrator.services.job.handlers.data_submission import DataSubmissionHandler
from orchestrator.services.job.handlers.prover_status import ProverFlavour
from orchestrator.services.job.handlers.proving import ProofCreationHandler
from orchestrator.services.job.handlers.registry import HandlerDeps, HandlerParams, build_handlers
from orchestrator.services.job.handlers.snos import SnosRpc, SnosRunHandler
from orchestrator.services.job.handlers.state_transition import SettlementMode, StateTransitionHandler
from tests.fakes import FakeStorage
from tests.unit.handlers.fakes import (
    BatchDatabase,
    FakeAggregatorRunner,
    FakeDa,
    FakeNode,
    FakeProbe,
    FakeProver,
    FakeSettlement,
    FakeSnosRunner,
)


async def no_checkpoint(job: JobItem) -> None:
    return None


def deps(with_l3: bool = True) -> HandlerDeps:
    return HandlerDeps(
        database=BatchDatabase(),  # type: ignore[arg-type]
        storage=FakeStorage(),  # type: ignore[arg-type]
        prover=FakeProver(),
        settlement=FakeSettlement(),
        snos_runner=FakeSnosRunner(),
        checkpoint=no_checkpoint,
        node=FakeNode() if with_l3 else None,  # type: ignore[arg-type]
        da=FakeDa() if with_l3 else None,
    )


def params(layer: Layer, settlement: SettlementMode = SettlementMode.ETHEREUM) -> HandlerParams:
    return HandlerParams(
        layer=layer,
        prover=ProverFlavour.ATLANTIC,
        settlement=settlement,
        snos_rpc=SnosRpc("http://snos", FakeProbe()),
        snos_backup_rpc=SnosRpc("http://backup", FakeProbe()),
        snos_layout="dynamic",
        starknet_version="0.13.2",
    )


def check_protocol(handlers: dict[JobType, JobHandler]) -> None:
    for job_type, handler in handlers.items():
        assert handler.job_type is job_type


def test_l2_pipeline() -> None:
    handlers = build_handlers(deps(with_l3=False), params(Layer.L2))
    assert set(handlers) == {JobType.SNOS_RUN, JobType.PROOF_CREATION, JobType.AGGREGATOR, JobType.STATE_TRANSITION}
    check_protocol(handlers)
    snos = handlers[JobType.SNOS_RUN]
    assert isinstance(snos, SnosRunHandler)
    assert (snos.layer, snos.layout, snos.rpc.url) == (Layer.L2, "dynamic", "http://snos")
    assert snos.backup_rpc is not None and snos.backup_rpc.url == "http://backup"
    proving = handlers[JobType.PROOF_CREATION]
    assert isinstance(proving, ProofCreationHandler) and proving.flavour is ProverFlavour.ATLANTIC
    assert isinstance(handlers[JobType.AGGREGATOR], AggregatorHandler)
    settle = handlers[JobType.STATE_TRANSITION]
    assert isinstance(settle, StateTransitionHandler)
    assert (settle.layer, settle.mode) == (Layer.L2, SettlementMode.ETHEREUM)


@pytest.mark.parametrize("runner", [None, FakeAggregatorRunner()])
def test_l2_aggregator_gets_the_aggregator_runner(runner: FakeAggregatorRunner | None) -> None:
    wired = replace(deps(with_l3=False), aggregator_runner=runner)
    aggregator = build_handlers(wired, replace(params(Layer.L2), prover=ProverFlavour.MOCK))[JobType.AGGREGATOR]
    assert isinstance(aggregator, AggregatorHandler)
    assert aggregator.runner is runner and aggregator.flavour is ProverFlavour.MOCK


def test_l3_pipeline() -> None:
    handlers = build_handlers(deps(), params(Layer.L3, SettlementMode.STARKNET))
    assert set(handlers) == {
        JobType.SNOS_RUN,
        JobType.PROOF_CREATION,
        JobType.PROOF_REGISTRATION,
        JobType.DATA_SUBMISSION,
        JobType.STATE_TRANSITION,
    }
    check_protocol(handlers)
    da = handlers[JobType.DATA_SUBMISSION]
    assert isinstance(da, DataSubmissionHandler) and da.starknet_version == "0.13.2"
    settle = handlers[JobType.STATE_TRANSITION]
    assert isinstance(settle, StateTransitionHandler) and settle.mode is SettlementMode.STARKNET


def test_l3_needs_the_node_and_a_da_client() -> None:
    with pytest.raises(ValueError, match="DA client"):
        build_handlers(deps(with_l3=False), params(Layer.L3))


def test_l2_refuses_starknet_settlement() -> None:
    with pytest.raises(ValueError, match="Ethereum"):
        build_handlers(deps(), params(Layer.L2, SettlementMode.STARKNET))


def test_flavour_and_mode_values_match_the_settings() -> None:
    # bootstrap maps settings.prover.prover / settings.settlement.settlement_layer by value
    from orchestrator.config import ProverKind, SettlementLayer

    assert {k.value for k in ProverKind} == {f.value for f in ProverFlavour}
    assert {k.value for k in SettlementLayer} == {m.value for m in SettlementMode}
