"""`python -m infra.devnet --layer l3`: recorded blocks settled through the L3 pipeline on Starknet.

SnosRun (the devnet OS stand-in) → ProofCreation (Atlantic) → ProofRegistration (Atlantic's L2
verification) → DataSubmission → StateTransition (`update_state` on the Starknet settlement test
server). Both stand-ins run in the devnet's process:

- `StarknetCoreServer` (`starknet_core.py`): a Starknet JSON-RPC node with the operator's account and
  a Piltover-style core contract that starts at the recorded chain's state before the first settled
  block, applies Piltover's checks (program hashes, the SNOS output hash in the bridge output, a
  registered fact) and rejects any update that does not continue its state;
- `AtlanticDouble` with `DevnetProving` (`atlantic_proving.py`): proves each SNOS PIE, verifies the
  proof "on L2" (checking the verifier's program hash and layout and the proof's program and layout)
  and registers the bridge fact with the settlement server.

The program hashes below are stand-ins too: no bootloader, layout bridge or Cairo verifier runs here;
the SNOS program hash is the devnet OS stand-in's. The orchestrator runs on the local profile.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

from starknet_py.net.signer.key_pair import KeyPair

from infra.devnet.atlantic import AtlanticDouble
from infra.devnet.atlantic_proving import DevnetProving, VerifierSetup
from infra.devnet.env import PREFIX, TUNABLES
from infra.devnet.l1 import L2State
from infra.devnet.l2 import DevnetBlocks
from infra.devnet.processes import LoggedProcess, orchestrator_setup, start_orchestrator
from infra.devnet.recorded_node import RecordedMadaraNode
from infra.devnet.starknet_core import FELT_MAX, CoreState, ProgramInfo, StarknetCoreServer
from orchestrator.clients.prover.atlantic import L2_VERIFICATION_LAYOUT
from orchestrator.clients.snos.devnet import DEVNET_PROGRAM_HASH


def _stand_in_hash(label: bytes) -> int:
    return int.from_bytes(label, "big")


#: Piltover's program_info for the devnet: the OS stand-in's hash and labelled stand-in hashes.
PROGRAMS = ProgramInfo(
    snos_program_hash=DEVNET_PROGRAM_HASH,
    bootloader_program_hash=_stand_in_hash(b"devnet bootloader stand-in"),
    layout_bridge_program_hash=_stand_in_hash(b"devnet layout bridge stand-in"),
)
CAIRO_VERIFIER_PROGRAM_HASH = _stand_in_hash(b"devnet cairo verifier stand-in")
#: The operator's Starknet account (a devnet key; the server checks every signature against it).
OPERATOR_KEY = 0x1B2C3D4E5F60718293A4B5C6D7E8F90112233445566778899AABBCCDDEEFF01
ACCOUNT_ADDRESS = 0x4D3A5E7F0C1B2A39485766554433221100FFEEDDCCBBAA99887766554433221
CORE_ADDRESS = 0x7C0E5E771E7E5C0E0E000000000000000000000000000000000000000000001
ATLANTIC_API_KEY = "devnet-atlantic-key"
#: Written into the data directory when the run ends: the settlement server's state.
SETTLEMENT_STATE = "settlement_state.json"

#: L3 tunables over the devnet's: one block per SNOS batch (the L3 DataSubmission job covers one
#: block), the proof layout the L2 verifier takes, quick finality polls on the settlement server.
L3_TUNABLES: dict[str, str] = {
    "MAX_BLOCKS_PER_SNOS_BATCH": "1",
    "PROVER_LAYOUT_NAME": L2_VERIFICATION_LAYOUT,
    "STARKNET_FINALITY_RETRY_WAIT_IN_SECS": "1",
}


@dataclass
class L3Services:
    settlement: StarknetCoreServer
    atlantic: AtlanticDouble
    proving: DevnetProving

    async def stop(self) -> None:
        await self.atlantic.stop()
        await self.settlement.stop()


async def start_l3_services(genesis: L2State) -> L3Services:
    """The settlement server at `genesis` and the self-proving Atlantic double, both started."""
    settlement = StarknetCoreServer(
        account_address=ACCOUNT_ADDRESS,
        public_key=KeyPair.from_private_key(OPERATOR_KEY).public_key,
        core_address=CORE_ADDRESS,
        state=CoreState(genesis.root, genesis.block_number, genesis.block_hash),
        program_info=PROGRAMS,
    )
    await settlement.start()
    proving = DevnetProving(
        VerifierSetup(CAIRO_VERIFIER_PROGRAM_HASH, L2_VERIFICATION_LAYOUT, PROGRAMS), settlement.register_fact
    )
    atlantic = AtlanticDouble(api_key=ATLANTIC_API_KEY, proving=proving)
    try:
        await atlantic.start()
    except Exception:
        await settlement.stop()
        raise
    return L3Services(settlement, atlantic, proving)


class SettledOnStarknet:
    """The settlement server's settled block, read as the devnet reads the L1 core contract."""

    def __init__(self, server: StarknetCoreServer) -> None:
        self._server = server

    async def state_block_number(self) -> int:
        number = self._server.state.block_number
        return -1 if number == FELT_MAX else number

    async def close(self) -> None:
        return None


@dataclass(frozen=True)
class L3Wiring:
    data_dir: Path
    node_url: str
    port: int
    first_block: int
    last_block: int


def l3_orchestrator_env(wiring: L3Wiring, services: L3Services, base: Mapping[str, str]) -> dict[str, str]:
    """As `env.orchestrator_env`: the devnet's tunables, then the caller's, then the L3 wiring."""
    env = {name: value for name, value in base.items() if not name.startswith(PREFIX)}
    env.update({PREFIX + name: value for name, value in {**TUNABLES, **L3_TUNABLES}.items()})
    env.update({name: value for name, value in base.items() if name.startswith(PREFIX)})
    wired = _wired(wiring, services)
    env.update({PREFIX + name: value for name, value in wired.items()})
    for name in wired:  # a NAME_FILE secret left in the caller's environment would replace the wiring
        if PREFIX + name + "_FILE" in env:
            env[PREFIX + name + "_FILE"] = ""
    return env


def _wired(wiring: L3Wiring, services: L3Services) -> dict[str, str]:
    return {
        "PROFILE": "local",
        "LAYER": "l3",
        "DATA_DIR": str(wiring.data_dir),
        "HOST": "127.0.0.1",
        "PORT": str(wiring.port),
        "MADARA_RPC_URL": wiring.node_url,
        "MADARA_FEEDER_GATEWAY_URL": wiring.node_url,
        "SNOS_RUNNER": "devnet",
        "PROVER": "atlantic",
        "ATLANTIC_SERVICE_URL": services.atlantic.url,
        "ATLANTIC_ARTIFACTS_BASE_URL": services.atlantic.artifacts_url,
        "ATLANTIC_API_KEY": ATLANTIC_API_KEY,
        "ATLANTIC_NETWORK": "TESTNET",
        "ATLANTIC_MOCK_FACT_HASH": "false",
        "ATLANTIC_SETTLEMENT_LAYER": "starknet",
        "CAIRO_V0_VERIFIER_PROGRAM_HASH": hex(CAIRO_VERIFIER_PROGRAM_HASH),
        "SETTLEMENT_LAYER": "starknet",
        "DA_LAYER": "starknet",
        "STARKNET_SETTLEMENT_RPC_URL": services.settlement.url,
        "STARKNET_PRIVATE_KEY": hex(OPERATOR_KEY),
        "STARKNET_ACCOUNT_ADDRESS": hex(ACCOUNT_ADDRESS),
        "STARKNET_CAIRO_CORE_CONTRACT_ADDRESS": hex(CORE_ADDRESS),
        "MIN_BLOCK_NO_TO_PROCESS": str(wiring.first_block),
        "MAX_BLOCK_NO_TO_PROCESS": str(wiring.last_block),
    }


async def start_l3(
    stack: AsyncExitStack, blocks: DevnetBlocks, data_dir: Path, port: int, say: Callable[[str], None]
) -> tuple[LoggedProcess, SettledOnStarknet]:
    """The recorded node, the L3 stand-ins and the orchestrator; each part is stopped by `stack`."""
    node = RecordedMadaraNode(blocks.chain)
    await node.start()
    stack.push_async_callback(node.stop)
    say(f"recorded Madara node on {node.url}: blocks up to {blocks.last}")
    services = await start_l3_services(blocks.genesis)
    stack.push_async_callback(services.stop)
    # Last word of the run (exit stacks unwind in reverse): what the settlement contract holds.
    stack.callback(write_settlement_state, data_dir / SETTLEMENT_STATE, services)
    say(
        f"Starknet settlement server on {services.settlement.url} (core {hex(CORE_ADDRESS)} at block "
        f"{blocks.genesis.block_number}); Atlantic stand-in on {services.atlantic.url}"
    )
    api = f"http://127.0.0.1:{port}"
    wiring = L3Wiring(data_dir, node.url, port, blocks.first, blocks.last)
    write_l3_description(data_dir / "devnet.json", wiring, services, api)
    env = l3_orchestrator_env(wiring, services, os.environ)
    log_file = data_dir / "orchestrator.log"
    await asyncio.to_thread(orchestrator_setup, env, log_file)
    orchestrator = await asyncio.to_thread(start_orchestrator, env, api, log_file)
    stack.callback(orchestrator.stop)
    say(f"orchestrator (layer l3) on {api} (pid {orchestrator.pid}); data {data_dir}; log {log_file}")
    return orchestrator, SettledOnStarknet(services.settlement)


def write_settlement_state(path: Path, services: L3Services) -> None:
    """The settlement contract's state and what it was sent, for whoever checks the run afterwards."""
    server = services.settlement
    state = {
        "state_root": hex(server.state.state_root),
        "block_number": server.state.block_number,
        "block_hash": hex(server.state.block_hash),
        "invokes": [{"nonce": i.nonce, "reverted": i.reverted} for i in server.invokes],
        "facts_registered": len(server.facts),
    }
    path.write_text(json.dumps(state, indent=2) + "\n")


def write_l3_description(path: Path, wiring: L3Wiring, services: L3Services, api: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    description = {
        "layer": "l3",
        "settlement_url": services.settlement.url,
        "core_contract": hex(CORE_ADDRESS),
        "atlantic_url": services.atlantic.url,
        "node_url": wiring.node_url,
        "orchestrator_url": api,
        "first_block": wiring.first_block,
        "last_block": wiring.last_block,
    }
    path.write_text(json.dumps(description, indent=2) + "\n")
