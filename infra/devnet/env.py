"""The orchestrator's environment for the devnet: the local profile wired to the devnet's node and L1.

Three layers, later ones winning: the devnet's tunables (small batches, short intervals, so recorded
blocks reach L1 within minutes), then any `MADARA_ORCHESTRATOR_*` tunable already in the caller's
environment (to experiment without editing code), then the wiring (data dir, URLs, contract
addresses, keys, runner and prover), which only the devnet knows and which must not be overridden.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PREFIX = "MADARA_ORCHESTRATOR_"


@dataclass(frozen=True)
class Wiring:
    data_dir: Path
    node_url: str
    l1_url: str
    operator_key: str
    #: the mock prover's fact registrations use a key of their own, so they never race the settlement
    #: transactions for a nonce
    verifier_key: str
    core_address: str
    registry_address: str
    first_block: int
    last_block: int
    port: int


#: Small batches and short intervals: several aggregator batches out of a few recorded blocks.
TUNABLES: dict[str, str] = {
    "MAX_BATCH_SIZE": "4",
    "MAX_BLOCKS_PER_SNOS_BATCH": "2",
    "MAX_BATCH_TIME_SECONDS": "10",
    "EVENT_BRIDGE_INTERVAL_SECONDS": "3",
    "ETHEREUM_CONFIRMATIONS": "1",
    "ETHEREUM_FINALITY_RETRY_WAIT_IN_SECS": "1",
    "ETHEREUM_TX_CONFIRMATION_TIMEOUT_SECS": "60",
    "QUEUE_WAIT_TIME_SECONDS": "1",
    "RETRY_DELAY_SECONDS": "2",
    "SWEEP_INTERVAL_SECONDS": "15",
    "GRACEFUL_SHUTDOWN_TIMEOUT": "10",
    # Two cores: the SNOS stand-in's DA encoding is CPU-bound.
    "MAX_CONCURRENT_SNOS_JOBS": "2",
    # The mock prover registers facts with the settlement key: one registration at a time keeps
    # two of them from taking the same nonce.
    "MAX_CONCURRENT_AGGREGATOR_JOBS": "1",
}


def orchestrator_env(wiring: Wiring, base: Mapping[str, str]) -> dict[str, str]:
    """The whole environment of the devnet's orchestrator process, from the caller's (`base`)."""
    env = {name: value for name, value in base.items() if not name.startswith(PREFIX)}
    env.update({PREFIX + name: value for name, value in TUNABLES.items()})
    env.update({name: value for name, value in base.items() if name.startswith(PREFIX)})
    env.update({PREFIX + name: value for name, value in _wired(wiring).items()})
    # A NAME_FILE secret wins over NAME: one left in the caller's environment would replace the wiring.
    # Emptied rather than removed, as launchers merge this over os.environ (an empty path is ignored).
    for name in _wired(wiring):
        if PREFIX + name + "_FILE" in env:
            env[PREFIX + name + "_FILE"] = ""
    return env


def _wired(wiring: Wiring) -> dict[str, str]:
    return {
        "PROFILE": "local",
        "LAYER": "l2",
        "DATA_DIR": str(wiring.data_dir),
        "HOST": "127.0.0.1",
        "PORT": str(wiring.port),
        "MADARA_RPC_URL": wiring.node_url,
        "MADARA_FEEDER_GATEWAY_URL": wiring.node_url,
        "SNOS_RUNNER": "devnet",
        "AGGREGATOR_RUNNER": "devnet",
        "PROVER": "mock",
        "MOCK_VERIFIER_ADDRESS": wiring.registry_address,
        "MOCK_VERIFIER_PRIVATE_KEY": wiring.verifier_key,
        "SETTLEMENT_LAYER": "ethereum",
        "ETHEREUM_SETTLEMENT_RPC_URL": wiring.l1_url,
        "ETHEREUM_PRIVATE_KEY": wiring.operator_key,
        "L1_CORE_CONTRACT_ADDRESS": wiring.core_address,
        # the devnet's anvil runs prague: EIP-4844 sidecars, not PeerDAS cell proofs
        "ETHEREUM_DISABLE_PEERDAS": "true",
        "MIN_BLOCK_NO_TO_PROCESS": str(wiring.first_block),
        "MAX_BLOCK_NO_TO_PROCESS": str(wiring.last_block),
    }
