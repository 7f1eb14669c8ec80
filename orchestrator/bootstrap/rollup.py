"""The rollup's clients (L2 node, prover and its fact registry, settlement, DA, SNOS and aggregator
runners), one builder per concern. Each returns its protocol; a client holding a connection is
recorded in `owned` as it is built, so the container closes it.

Settings are validated by `config.run_problems` before anything is built; `_required` only narrows
the types, naming the variable should a caller skip that validation.
"""

from __future__ import annotations

from functools import partial
from typing import TypeVar

from orchestrator.bootstrap.container import OwnedClients
from orchestrator.clients.aggregator.command import CommandAggregatorRunner
from orchestrator.clients.aggregator.devnet import DevnetAggregatorRunner
from orchestrator.clients.da.ethereum import EthereumDaClient
from orchestrator.clients.da.starknet import StarknetDaClient
from orchestrator.clients.node.madara import MadaraNodeClient
from orchestrator.clients.prover.atlantic import AtlanticOptions, AtlanticProverClient
from orchestrator.clients.prover.fact_registry import Web3FactRegistry
from orchestrator.clients.prover.mock import MockProverClient
from orchestrator.clients.prover.sharp import SharpProverClient, sharp_ssl_context
from orchestrator.clients.settlement.ethereum import EthereumSettlementClient
from orchestrator.clients.settlement.tx_manager import TxManagerConfig
from orchestrator.clients.snos.command import CommandSnosRunner
from orchestrator.clients.snos.devnet import DevnetSnosRunner
from orchestrator.config import PREFIX, ProverKind, Settings, SettlementLayer
from orchestrator.core.errors import ConfigError
from orchestrator.core.madara.aggregator import AggregatorRunner
from orchestrator.core.madara.da import DaClient
from orchestrator.core.madara.node import ChainDetailsSource, L2NodeClient
from orchestrator.core.madara.prover import ProverClient
from orchestrator.core.madara.settlement import SettlementClient
from orchestrator.core.madara.snos import SnosRunner
from orchestrator.services.da.batch import batch_blobs

T = TypeVar("T")


def _required(value: T | None, env: str) -> T:
    if value is None or value == "":
        raise ConfigError(f"{PREFIX}{env}: required by this configuration")
    return value


def build_node(settings: Settings, owned: OwnedClients) -> L2NodeClient:
    m = settings.madara
    url = _required(m.madara_rpc_url, "MADARA_RPC_URL")
    return owned.own_measured(MadaraNodeClient(url, m.madara_feeder_gateway_url or url))


def build_extra_node(url: str, owned: OwnedClients) -> MadaraNodeClient:
    """A second node client (SNOS RPC, its backup, the replay-bounds reference)."""
    return owned.own_measured(MadaraNodeClient(url))


def build_snos_runner(settings: Settings, node: L2NodeClient, chain: ChainDetailsSource) -> SnosRunner:
    s = settings.snos
    if s.snos_runner == "command":
        template = _required(s.snos_command, "SNOS_COMMAND")
        return CommandSnosRunner(template, timeout_seconds=s.snos_timeout_seconds, chain=chain)
    return DevnetSnosRunner(node, partial(batch_blobs, node))


def build_aggregator_runner(
    settings: Settings, snos_node: L2NodeClient, chain: ChainDetailsSource
) -> AggregatorRunner | None:
    """The local aggregator run of L2 with SHARP or the mock prover; None where the prover aggregates."""
    s = settings.snos
    if s.aggregator_runner == "command":
        template = _required(s.aggregator_command, "AGGREGATOR_COMMAND")
        return CommandAggregatorRunner(template, timeout_seconds=s.aggregator_timeout_seconds, chain=chain)
    if s.aggregator_runner == "devnet":
        # Reads the node the SNOS stand-in reads, so the batch's header words agree with its children's.
        return DevnetAggregatorRunner(snos_node)
    return None


def build_fact_registry(settings: Settings, owned: OwnedClients) -> Web3FactRegistry | None:
    """The prover's on-chain fact registry: checked (SHARP, Atlantic) or written (the mock verifier)."""
    p = settings.prover
    registry: Web3FactRegistry | None = None
    if p.prover is ProverKind.SHARP and p.sharp_settlement_layer is SettlementLayer.ETHEREUM:
        registry = Web3FactRegistry(
            _required(p.sharp_rpc_node_url, "SHARP_RPC_NODE_URL"),
            _required(p.gps_verifier_contract_address, "GPS_VERIFIER_CONTRACT_ADDRESS"),
        )
    elif p.prover is ProverKind.ATLANTIC and p.atlantic_mock_fact_hash != "true":
        # As the reference: proofs verified on Starknet leave no fact on an L1 registry to check.
        on_l1 = p.atlantic_settlement_layer is not SettlementLayer.STARKNET
        if on_l1 and p.atlantic_rpc_node_url and p.atlantic_verifier_contract_address:
            registry = Web3FactRegistry(p.atlantic_rpc_node_url, p.atlantic_verifier_contract_address)
    elif p.prover is ProverKind.MOCK and p.mock_verifier_address:
        s = settings.settlement
        key = p.mock_verifier_private_key or _required(s.ethereum_private_key, "ETHEREUM_PRIVATE_KEY")
        rpc = _required(s.ethereum_settlement_rpc_url, "ETHEREUM_SETTLEMENT_RPC_URL")
        registry = Web3FactRegistry(rpc.get_secret_value(), p.mock_verifier_address, private_key=key.get_secret_value())
    return owned.own(registry) if registry is not None else None


def atlantic_options(settings: Settings) -> AtlanticOptions:
    p = settings.prover
    return AtlanticOptions(
        service_url=_required(p.atlantic_service_url, "ATLANTIC_SERVICE_URL"),
        api_key=_required(p.atlantic_api_key, "ATLANTIC_API_KEY").get_secret_value(),
        network=_required(p.atlantic_network, "ATLANTIC_NETWORK"),
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


def build_prover(
    settings: Settings, facts: Web3FactRegistry | None, owned: OwnedClients, chain: ChainDetailsSource | None = None
) -> ProverClient:
    p = settings.prover
    if p.prover is ProverKind.SHARP:
        context = sharp_ssl_context(
            _required(p.sharp_user_crt_file, "SHARP_USER_CRT_FILE"),
            _required(p.sharp_user_key_file, "SHARP_USER_KEY_FILE"),
            _required(p.sharp_server_crt_file, "SHARP_SERVER_CRT_FILE"),
        )
        sharp = SharpProverClient(
            _required(p.sharp_url, "SHARP_URL"),
            _required(p.sharp_customer_id, "SHARP_CUSTOMER_ID"),
            ssl_context=context,
            fact_checker=facts,
        )
        return owned.own_measured(sharp)
    if p.prover is ProverKind.ATLANTIC:
        atlantic = AtlanticProverClient(atlantic_options(settings), fact_checker=facts, chain=chain)
        return owned.own_measured(atlantic)
    return owned.measure(MockProverClient(facts))


def build_settlement(settings: Settings, owned: OwnedClients) -> SettlementClient:
    s = settings.settlement
    if s.settlement_layer is SettlementLayer.ETHEREUM:
        client = EthereumSettlementClient(
            rpc_url=_required(s.ethereum_settlement_rpc_url, "ETHEREUM_SETTLEMENT_RPC_URL").get_secret_value(),
            private_key=_required(s.ethereum_private_key, "ETHEREUM_PRIVATE_KEY").get_secret_value(),
            core_contract_address=_required(s.l1_core_contract_address, "L1_CORE_CONTRACT_ADDRESS"),
            tx_config=TxManagerConfig(
                max_fee_bumps=s.ethereum_max_fee_bumps,
                max_total_fee_wei=s.ethereum_l2_state_update_max_fee_wei,
                confirmations=s.ethereum_confirmations,
                confirmation_timeout=s.ethereum_tx_confirmation_timeout_secs,
                poll_interval=s.ethereum_finality_retry_wait_in_secs,
            ),
            disable_peerdas=s.ethereum_disable_peerdas,
        )
        return owned.own(client)
    # Imported here: starknet_py (with sympy) is about 40 MB resident that an L2 process never needs.
    from orchestrator.clients.settlement.starknet import StarknetSettlementClient  # noqa: PLC0415

    # starknet_py opens an HTTP session per request: this client holds no connection to close.
    return StarknetSettlementClient(
        rpc_url=_required(s.starknet_settlement_rpc_url, "STARKNET_SETTLEMENT_RPC_URL").get_secret_value(),
        account_address=_required(s.starknet_account_address, "STARKNET_ACCOUNT_ADDRESS"),
        private_key=_required(s.starknet_private_key, "STARKNET_PRIVATE_KEY").get_secret_value(),
        core_contract_address=_required(s.starknet_cairo_core_contract_address, "STARKNET_CAIRO_CORE_CONTRACT_ADDRESS"),
        finality_retry_wait=s.starknet_finality_retry_wait_in_secs,
    )


def build_da(settings: Settings) -> DaClient:
    if settings.da.da_layer is SettlementLayer.ETHEREUM:
        return EthereumDaClient()
    return StarknetDaClient()
