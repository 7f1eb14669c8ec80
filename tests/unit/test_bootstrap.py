"""The composition root maps settings to implementations (no network at construction)."""

from __future__ import annotations

from pathlib import Path

import pytest
import trustme

from orchestrator.bootstrap import build_node, build_prover, build_snos_runner, visibility_timeouts
from orchestrator.clients.node.madara import MadaraNodeClient
from orchestrator.clients.prover.atlantic import AtlanticProverClient
from orchestrator.clients.prover.mock import MockProverClient
from orchestrator.clients.prover.sharp import SharpProverClient
from orchestrator.clients.snos.command import CommandSnosRunner
from orchestrator.clients.snos.devnet import DevnetSnosRunner
from orchestrator.config import load_settings
from orchestrator.core.errors import ConfigError
from orchestrator.core.models.queue import QueueType

P = "MADARA_ORCHESTRATOR_"


def settings(**env: str):  # type: ignore[no-untyped-def]
    return load_settings(environ={P + k: v for k, v in env.items()}, env_file=None)


def test_visibility_timeouts_follow_the_reference() -> None:
    t = visibility_timeouts(settings())
    assert t[QueueType.SNOS_JOB_PROCESSING] == 360
    assert t[QueueType.UPDATE_STATE_JOB_PROCESSING] == 1080
    assert t[QueueType.PRIORITY_VERIFICATION_QUEUE] == 720


def test_node_needs_its_url() -> None:
    with pytest.raises(ConfigError, match="MADARA_RPC_URL"):
        build_node(settings())
    assert isinstance(build_node(settings(MADARA_RPC_URL="http://127.0.0.1:9944")), MadaraNodeClient)


def test_snos_runner_kinds() -> None:
    node = build_node(settings(MADARA_RPC_URL="http://127.0.0.1:9944"))
    assert isinstance(build_snos_runner(settings(SNOS_RUNNER="devnet"), node), DevnetSnosRunner)
    with pytest.raises(ConfigError, match="SNOS_COMMAND"):
        build_snos_runner(settings(), node)
    runner = build_snos_runner(settings(SNOS_RUNNER="command", SNOS_COMMAND="os --from {start_block}"), node)
    assert isinstance(runner, CommandSnosRunner)


def test_prover_kinds(tmp_path: Path) -> None:
    assert isinstance(build_prover(settings()), MockProverClient)
    atlantic = build_prover(
        settings(
            PROVER="atlantic",
            ATLANTIC_SERVICE_URL="http://127.0.0.1:1",
            ATLANTIC_API_KEY="k",
            ATLANTIC_NETWORK="TESTNET",
            ATLANTIC_MOCK_FACT_HASH="true",
        )
    )
    assert isinstance(atlantic, AtlanticProverClient)
    with pytest.raises(ConfigError):
        build_prover(settings(PROVER="atlantic"))

    ca = trustme.CA()
    cert = ca.issue_cert("client")
    crt, key, server = tmp_path / "c.pem", tmp_path / "k.pem", tmp_path / "s.pem"
    cert.cert_chain_pems[0].write_to_path(str(crt))
    cert.private_key_pem.write_to_path(str(key))
    ca.cert_pem.write_to_path(str(server))
    sharp = build_prover(
        settings(
            PROVER="sharp",
            SHARP_URL="https://127.0.0.1:1",
            SHARP_CUSTOMER_ID="c",
            SHARP_USER_CRT_FILE=str(crt),
            SHARP_USER_KEY_FILE=str(key),
            SHARP_SERVER_CRT_FILE=str(server),
            SHARP_SETTLEMENT_LAYER="starknet",
        )
    )
    assert isinstance(sharp, SharpProverClient)


def test_settlement_and_da_kinds() -> None:
    from orchestrator.bootstrap import build_da, build_settlement
    from orchestrator.clients.da.ethereum import EthereumDaClient
    from orchestrator.clients.da.starknet import StarknetDaClient
    from orchestrator.clients.settlement.ethereum import EthereumSettlementClient
    from orchestrator.clients.settlement.starknet import StarknetSettlementClient

    with pytest.raises(ConfigError, match="ETHEREUM_SETTLEMENT_RPC_URL"):
        build_settlement(settings())
    eth = build_settlement(
        settings(
            ETHEREUM_SETTLEMENT_RPC_URL="http://127.0.0.1:8545",
            ETHEREUM_PRIVATE_KEY="0x" + "11" * 32,
            L1_CORE_CONTRACT_ADDRESS="0x" + "22" * 20,
        )
    )
    assert isinstance(eth, EthereumSettlementClient)
    stark = build_settlement(
        settings(
            SETTLEMENT_LAYER="starknet",
            STARKNET_SETTLEMENT_RPC_URL="http://127.0.0.1:9545",
            STARKNET_PRIVATE_KEY="0x1234",
            STARKNET_ACCOUNT_ADDRESS="0x55",
            STARKNET_CAIRO_CORE_CONTRACT_ADDRESS="0x66",
        )
    )
    assert isinstance(stark, StarknetSettlementClient)
    assert isinstance(build_da(settings()), EthereumDaClient)
    assert isinstance(build_da(settings(DA_LAYER="starknet")), StarknetDaClient)


@pytest.mark.parametrize("layer", ["l2", "l3"])
async def test_pipeline_is_built_when_a_node_is_configured(tmp_path: Path, layer: str) -> None:
    from orchestrator.bootstrap import build
    from orchestrator.core.models.job import JobType
    from orchestrator.core.models.queue import LAYER_TRIGGERS, Layer

    s = settings(
        DATA_DIR=str(tmp_path),
        LAYER=layer,
        MADARA_RPC_URL="http://127.0.0.1:9944",
        SNOS_RUNNER="devnet",
        ETHEREUM_SETTLEMENT_RPC_URL="http://127.0.0.1:8545",
        ETHEREUM_PRIVATE_KEY="0x" + "11" * 32,
        L1_CORE_CONTRACT_ADDRESS="0x" + "22" * 20,
    )
    container = build(s)
    expected = {JobType.SNOS_RUN, JobType.PROOF_CREATION, JobType.STATE_TRANSITION}
    expected |= {JobType.AGGREGATOR} if layer == "l2" else {JobType.PROOF_REGISTRATION, JobType.DATA_SUBMISSION}
    assert set(container.engine.handlers) == expected
    assert set(container.dispatcher.triggers) == set(LAYER_TRIGGERS[Layer(layer)])
    assert "l2-node" in {m["service"] for m in container.service_metrics()}, "the node's circuit is visible"
    await container.close()


def test_without_a_node_the_pipeline_is_off(tmp_path: Path) -> None:
    from orchestrator.bootstrap import build

    container = build(settings(DATA_DIR=str(tmp_path)))
    assert container.engine.handlers == {} and container.dispatcher.triggers == {}
