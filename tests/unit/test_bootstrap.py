"""The composition root maps settings to implementations (no network at construction)."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import trustme

from orchestrator.bootstrap import (
    Container,
    OwnedClients,
    build,
    build_aggregator_runner,
    build_da,
    build_fact_registry,
    build_node,
    build_prover,
    build_settlement,
    build_snos_runner,
    visibility_timeouts,
)
from orchestrator.clients.aggregator.command import CommandAggregatorRunner
from orchestrator.clients.aggregator.devnet import DevnetAggregatorRunner
from orchestrator.clients.da.ethereum import EthereumDaClient
from orchestrator.clients.da.starknet import StarknetDaClient
from orchestrator.clients.node.chain_details import CachedChainDetails
from orchestrator.clients.node.madara import MadaraNodeClient
from orchestrator.clients.prover.atlantic import AtlanticProverClient
from orchestrator.clients.prover.fact_registry import Web3FactRegistry
from orchestrator.clients.prover.mock import MockProverClient
from orchestrator.clients.prover.sharp import SharpProverClient
from orchestrator.clients.queue.sqs import queue_controls
from orchestrator.clients.settlement.ethereum import EthereumSettlementClient
from orchestrator.clients.settlement.starknet import StarknetSettlementClient
from orchestrator.clients.snos.command import CommandSnosRunner
from orchestrator.clients.snos.devnet import DevnetSnosRunner
from orchestrator.config import Settings, SettingsError, load_settings, run_problems
from orchestrator.core.errors import ConfigError
from orchestrator.core.madara.node import ChainDetails
from orchestrator.core.models.job import JobType
from orchestrator.core.models.queue import LAYER_TRIGGERS, Layer, QueueType

P = "MADARA_ORCHESTRATOR_"
NODE = "http://127.0.0.1:9944"
ETHEREUM = {
    "ETHEREUM_SETTLEMENT_RPC_URL": "http://127.0.0.1:8545",
    "ETHEREUM_PRIVATE_KEY": "0x" + "11" * 32,
    "L1_CORE_CONTRACT_ADDRESS": "0x" + "22" * 20,
}
ATLANTIC = {
    "PROVER": "atlantic",
    "ATLANTIC_SERVICE_URL": "http://127.0.0.1:1",
    "ATLANTIC_API_KEY": "k",
    "ATLANTIC_NETWORK": "TESTNET",
}
ATLANTIC_L1_FACTS = {
    "ATLANTIC_RPC_NODE_URL": "http://127.0.0.1:8545",
    "ATLANTIC_VERIFIER_CONTRACT_ADDRESS": "0x" + "33" * 20,
}


def settings(**env: str) -> Settings:
    return load_settings(environ={P + k: v for k, v in env.items()}, env_file=None)


def test_visibility_timeouts_follow_the_reference() -> None:
    t = visibility_timeouts(settings(STATE_TRANSITION_TIMEOUT_SECONDS="300"))
    assert t[QueueType.SNOS_JOB_PROCESSING] == 360
    assert t[QueueType.UPDATE_STATE_JOB_PROCESSING] == 1080
    assert t[QueueType.PRIORITY_VERIFICATION_QUEUE] == 720


def test_node_needs_its_url() -> None:
    owned = OwnedClients()
    with pytest.raises(ConfigError, match="MADARA_RPC_URL"):
        build_node(settings(), owned)
    node = build_node(settings(MADARA_RPC_URL=NODE), owned)
    assert isinstance(node, MadaraNodeClient)
    assert owned.closeables == [node] and owned.measured == [node]


def test_snos_runner_kinds() -> None:
    node = build_node(settings(MADARA_RPC_URL=NODE), OwnedClients())
    chain = CachedChainDetails(node)
    assert isinstance(build_snos_runner(settings(SNOS_RUNNER="devnet"), node, chain), DevnetSnosRunner)
    with pytest.raises(ConfigError, match="SNOS_COMMAND"):
        build_snos_runner(settings(), node, chain)
    command = settings(SNOS_RUNNER="command", SNOS_COMMAND="os --from {start_block} --chain {chain_id_hex}")
    assert isinstance(build_snos_runner(command, node, chain), CommandSnosRunner)


def test_the_aggregator_runner_is_chosen_by_its_own_setting() -> None:
    node = build_node(settings(MADARA_RPC_URL=NODE), OwnedClients())
    chain = CachedChainDetails(node)
    # The devnet SNOS runner no longer implies the devnet aggregator.
    assert build_aggregator_runner(settings(SNOS_RUNNER="devnet"), node, chain) is None
    devnet = build_aggregator_runner(settings(SNOS_RUNNER="command", AGGREGATOR_RUNNER="devnet"), node, chain)
    assert isinstance(devnet, DevnetAggregatorRunner)
    command = settings(AGGREGATOR_RUNNER="command", AGGREGATOR_COMMAND="aggregate {input_dir} {output_dir}")
    assert isinstance(build_aggregator_runner(command, node, chain), CommandAggregatorRunner)


def _sharp_env(tmp_path: Path) -> dict[str, str]:
    ca = trustme.CA()
    cert = ca.issue_cert("client")
    crt, key, server = tmp_path / "c.pem", tmp_path / "k.pem", tmp_path / "s.pem"
    cert.cert_chain_pems[0].write_to_path(str(crt))
    cert.private_key_pem.write_to_path(str(key))
    ca.cert_pem.write_to_path(str(server))
    return {
        "PROVER": "sharp",
        "SHARP_URL": "https://127.0.0.1:1",
        "SHARP_CUSTOMER_ID": "c",
        "SHARP_USER_CRT_FILE": str(crt),
        "SHARP_USER_KEY_FILE": str(key),
        "SHARP_SERVER_CRT_FILE": str(server),
    }


def test_prover_kinds(tmp_path: Path) -> None:
    owned = OwnedClients()
    assert isinstance(build_prover(settings(), None, owned), MockProverClient)
    atlantic = build_prover(settings(**ATLANTIC, ATLANTIC_MOCK_FACT_HASH="true"), None, owned)
    assert isinstance(atlantic, AtlanticProverClient)
    with pytest.raises(ConfigError):
        build_prover(settings(PROVER="atlantic"), None, owned)
    sharp = build_prover(settings(**_sharp_env(tmp_path), SHARP_SETTLEMENT_LAYER="starknet"), None, owned)
    assert isinstance(sharp, SharpProverClient)
    assert owned.closeables == [atlantic, sharp], "the mock prover holds no connection"


def test_fact_registries() -> None:
    owned = OwnedClients()
    assert build_fact_registry(settings(), owned) is None
    checked = settings(**ATLANTIC, **ATLANTIC_L1_FACTS)
    registry = build_fact_registry(checked, owned)
    assert isinstance(registry, Web3FactRegistry)
    assert (
        build_fact_registry(settings(**ATLANTIC, **ATLANTIC_L1_FACTS, ATLANTIC_SETTLEMENT_LAYER="starknet"), owned)
        is None
    ), "no L1 fact checker when proofs settle on Starknet"
    mock = build_fact_registry(settings(**ETHEREUM, MOCK_VERIFIER_ADDRESS="0x" + "44" * 20), owned)
    assert isinstance(mock, Web3FactRegistry)
    assert owned.closeables == [registry, mock]


def test_settlement_and_da_kinds() -> None:
    owned = OwnedClients()
    with pytest.raises(ConfigError, match="ETHEREUM_SETTLEMENT_RPC_URL"):
        build_settlement(settings(), owned)
    eth = build_settlement(settings(**ETHEREUM), owned)
    assert isinstance(eth, EthereumSettlementClient)
    stark = build_settlement(
        settings(
            SETTLEMENT_LAYER="starknet",
            STARKNET_SETTLEMENT_RPC_URL="http://127.0.0.1:9545",
            STARKNET_PRIVATE_KEY="0x1234",
            STARKNET_ACCOUNT_ADDRESS="0x55",
            STARKNET_CAIRO_CORE_CONTRACT_ADDRESS="0x66",
        ),
        owned,
    )
    assert isinstance(stark, StarknetSettlementClient)
    assert owned.closeables == [eth]
    assert isinstance(build_da(settings()), EthereumDaClient)
    assert isinstance(build_da(settings(DA_LAYER="starknet")), StarknetDaClient)


@pytest.mark.parametrize("layer", ["l2", "l3"])
async def test_pipeline_is_built_when_a_node_is_configured(tmp_path: Path, layer: str) -> None:
    per_layer = (
        {"AGGREGATOR_RUNNER": "devnet"}
        if layer == "l2"
        else {**ATLANTIC, "ATLANTIC_MOCK_FACT_HASH": "true", "MAX_BLOCKS_PER_SNOS_BATCH": "1"}
    )
    s = settings(
        DATA_DIR=str(tmp_path), LAYER=layer, MADARA_RPC_URL=NODE, SNOS_RUNNER="devnet", **ETHEREUM, **per_layer
    )
    container = build(s)
    expected = {JobType.SNOS_RUN, JobType.PROOF_CREATION, JobType.STATE_TRANSITION}
    expected |= {JobType.AGGREGATOR} if layer == "l2" else {JobType.PROOF_REGISTRATION, JobType.DATA_SUBMISSION}
    assert set(container.engine.handlers) == expected
    assert set(container.dispatcher.triggers) == set(LAYER_TRIGGERS[Layer(layer)])
    assert "l2-node" in {m["service"] for m in container.service_metrics()}, "the node's circuit is visible"
    await container.close()


def test_the_pipeline_refuses_settings_config_rejects(tmp_path: Path) -> None:
    """Validation is config's: the Atlantic API key was required only by bootstrap before."""
    s = settings(DATA_DIR=str(tmp_path), MADARA_RPC_URL=NODE, SNOS_RUNNER="devnet", **ETHEREUM, PROVER="atlantic")
    problems = run_problems(s)
    assert f"{P}ATLANTIC_API_KEY: required when the prover is atlantic" in problems
    with pytest.raises(SettingsError) as caught:
        build(s)
    assert caught.value.problems == problems


def test_settlement_needs_are_validated_by_config() -> None:
    problems = run_problems(settings(MADARA_RPC_URL=NODE, SNOS_RUNNER="devnet", SETTLEMENT_LAYER="starknet"))
    assert {p.split(":")[0] for p in problems} >= {
        f"{P}STARKNET_SETTLEMENT_RPC_URL",
        f"{P}STARKNET_PRIVATE_KEY",
        f"{P}STARKNET_ACCOUNT_ADDRESS",
        f"{P}STARKNET_CAIRO_CORE_CONTRACT_ADDRESS",
    }
    sharp_l1 = run_problems(settings(PROVER="sharp"))
    assert f"{P}GPS_VERIFIER_CONTRACT_ADDRESS: required when SHARP settles on ethereum" in sharp_l1


def test_setup_and_run_agree_on_queue_visibility() -> None:
    s = settings(QUEUE_VISIBILITY_TIMEOUT_SECONDS="400", STATE_TRANSITION_TIMEOUT_SECONDS="2000")
    controls = queue_controls(visibility_timeout=400, state_transition_timeout=2000)
    assert {q: c.visibility_timeout for q, c in controls.items()} == visibility_timeouts(s)


class _CountingChain:
    def __init__(self) -> None:
        self.asked = 0

    async def chain_details(self) -> ChainDetails:
        self.asked += 1
        return ChainDetails(chain_id="SN_DEVNET", strk_fee_token_address="0x1", eth_fee_token_address="0x2")


async def test_the_chain_details_are_fetched_at_start(tmp_path: Path) -> None:
    s = settings(DATA_DIR=str(tmp_path), MADARA_RPC_URL=NODE, SNOS_RUNNER="devnet", **ATLANTIC, **ETHEREUM)
    built = build(s)
    assert isinstance(built.chain, CachedChainDetails), "the pipeline shares one fetch of the chain details"
    chain = _CountingChain()
    container = Container(s, built.infra, built.engine, built.dispatcher, built.clients, chain=chain)
    await container.start()
    assert chain.asked == 1
    await container.close()


def test_without_a_node_the_pipeline_is_off(tmp_path: Path) -> None:
    container = build(settings(DATA_DIR=str(tmp_path)))
    assert container.engine.handlers == {} and container.dispatcher.triggers == {}


# -- every client that holds a connection is closed -----------------------------------------------


def _reachable(root: object) -> Iterator[object]:
    """Every orchestrator object reachable from `root` through attributes, collections, bound
    methods, partials and closures: the object graph the container built."""
    seen: set[int] = set()
    stack: list[object] = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, (str, bytes, int, float, bool, type(None), type)):
            continue
        seen.add(id(obj))
        if isinstance(obj, dict):
            stack.extend(obj.keys())
            stack.extend(obj.values())
            continue
        if isinstance(obj, (list, tuple, set, frozenset)):
            stack.extend(obj)
            continue
        if isinstance(obj, partial):
            stack.extend([obj.func, *obj.args, *obj.keywords.values()])
            continue
        if inspect.ismethod(obj):
            stack.append(obj.__self__)
            continue
        if inspect.isfunction(obj):
            stack.extend(c.cell_contents for c in obj.__closure__ or () if _filled(c))
            continue
        if not type(obj).__module__.startswith("orchestrator."):
            continue
        yield obj
        fields = getattr(obj, "__dict__", None)
        stack.extend(fields.values() if fields is not None else [])
        stack.extend(getattr(obj, slot) for slot in getattr(type(obj), "__slots__", ()) if hasattr(obj, slot))


def _filled(cell: Any) -> bool:
    try:
        cell.cell_contents  # noqa: B018 - an empty cell raises
    except ValueError:
        return False
    return True


def _record_closes(container: Container) -> tuple[list[object], set[int]]:
    # Objects whose class defines `close`; a delegating wrapper (close through __getattr__) reaches its inner client.
    closable = [o for o in _reachable(container) if inspect.iscoroutinefunction(getattr(type(o), "close", None))]
    closed: set[int] = set()

    def recorder(obj: object, original: Callable[[], Any]) -> Callable[[], Any]:
        async def close() -> None:
            closed.add(id(obj))
            await original()

        return close

    for obj in closable:
        obj.close = recorder(obj, obj.close)  # type: ignore[attr-defined]
    return closable, closed


@pytest.mark.parametrize("profile", ["local", "aws"])
async def test_every_client_holding_a_connection_is_closed(tmp_path: Path, profile: str) -> None:
    """A full L2 pipeline with every optional client (SNOS RPC and its backup, replay reference,
    Atlantic with its fact registry): closing the container closes each of them, the fact
    registry's web3 provider and (aws) the SNS client included. Nothing connects before use."""
    on_aws = {"PROFILE": "aws", "SNOS_RUNNER": "command", "SNOS_COMMAND": "os {output_dir}"} if profile == "aws" else {}
    s = settings(
        **on_aws,
        DATA_DIR=str(tmp_path),
        MADARA_RPC_URL=NODE,
        RPC_FOR_SNOS="http://127.0.0.1:9945",
        RPC_FOR_SNOS_BACKUP="http://127.0.0.1:9946",
        REPLAY_BOUNDS_RPC_URL="http://127.0.0.1:9947",
        **({} if on_aws else {"SNOS_RUNNER": "devnet"}),
        ATLANTIC_RPC_NODE_URL="http://127.0.0.1:8545",
        ATLANTIC_VERIFIER_CONTRACT_ADDRESS="0x" + "33" * 20,
        **ATLANTIC,
        **ETHEREUM,
    )
    container = build(s)
    closable, closed = _record_closes(container)
    kinds = {type(o).__name__ for o in closable}
    assert {"MadaraNodeClient", "AtlanticProverClient", "Web3FactRegistry", "EthereumSettlementClient"} <= kinds
    assert ("SnsAlertClient" in kinds) is bool(on_aws)
    assert sum(isinstance(o, MadaraNodeClient) for o in closable) == 4, "node, SNOS RPC, backup, replay"
    await container.close()
    assert [type(o).__name__ for o in closable if id(o) not in closed] == []
