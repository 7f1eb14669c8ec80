"""The devnet's L1 side: deploy MockFactRegistry and TestStarknetCore on anvil, read the settled block.

The core contract starts at the recorded chain's state right before the first block the devnet
settles, and expects facts over the devnet program hash (the one the devnet SNOS stand-in and
aggregator use), so the pipeline's own outputs are what it accepts.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from web3 import AsyncHTTPProvider, AsyncWeb3

from infra.launch.solc import CompiledContract, compile_project_contracts


@dataclass(frozen=True)
class L2State:
    """What the core contract stores: the state root, block number and block hash of the last settled block."""

    root: int
    block_number: int
    block_hash: int


@dataclass(frozen=True)
class Deployment:
    registry: str
    core: str


class CoreContract:
    """A read-only view of the deployed core contract."""

    def __init__(self, rpc_url: str, address: str, abi: list[dict[str, Any]]) -> None:
        self._w3 = AsyncWeb3(AsyncHTTPProvider(rpc_url, request_kwargs={"timeout": 10}))
        self._contract = self._w3.eth.contract(address=self._w3.to_checksum_address(address), abi=abi)

    async def state_block_number(self) -> int:
        return int(await self._contract.functions.stateBlockNumber().call())

    async def close(self) -> None:
        await self._w3.provider.disconnect()


def compile_contracts() -> dict[str, CompiledContract]:
    return compile_project_contracts("MockFactRegistry.sol", "TestStarknetCore.sol")


async def deploy(
    rpc_url: str, deployer: str, contracts: dict[str, CompiledContract], program_hash: int, genesis: L2State
) -> Deployment:
    """Deploys from `deployer` (an unlocked anvil account) and waits for each receipt."""
    w3 = AsyncWeb3(AsyncHTTPProvider(rpc_url))
    try:

        async def create(name: str, *args: Any) -> str:
            item = contracts[name]
            factory = w3.eth.contract(abi=item.abi, bytecode=item.bytecode)
            tx_hash = await factory.constructor(*args).transact({"from": w3.to_checksum_address(deployer)})
            receipt = await w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60, poll_latency=0.2)
            if receipt["status"] != 1:
                raise RuntimeError(f"deploying {name} reverted (tx {tx_hash.hex()})")
            return str(receipt["contractAddress"])

        registry = await create("MockFactRegistry")
        core = await create(
            "TestStarknetCore", registry, program_hash, genesis.root, genesis.block_number, genesis.block_hash
        )
        return Deployment(registry=registry, core=core)
    finally:
        await w3.provider.disconnect()


async def compile_and_deploy(
    rpc_url: str, deployer: str, program_hash: int, genesis: L2State
) -> tuple[Deployment, CoreContract]:
    contracts = await asyncio.to_thread(compile_contracts)  # solcjs takes seconds: keep the loop free
    deployment = await deploy(rpc_url, deployer, contracts, program_hash, genesis)
    return deployment, CoreContract(rpc_url, deployment.core, contracts["TestStarknetCore"].abi)
