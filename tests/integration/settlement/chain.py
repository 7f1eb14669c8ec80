"""Deploys the test core contract and its mock fact registry on anvil; registers facts."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from eth_utils import keccak
from web3 import AsyncHTTPProvider, AsyncWeb3

from infra.launch.anvil import DEV_PRIVATE_KEYS
from infra.launch.solc import CompiledContract, compile_project_contracts

FIXTURES = Path(__file__).parents[2] / "fixtures" / "settlement"
#: The program hash the test contract expects in its facts (any value works: the test registers it).
PROGRAM_HASH = 0x1E324682835E60C4779A683B32713504AED894FD73842F7D05B18E7BD29CD70
OPERATOR_KEY = DEV_PRIVATE_KEYS[0]
DEPLOYER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"  # anvil dev account 1 (unlocked)


def read_program_output(name: str = "6806848") -> list[int]:
    return [int(x) for x in (FIXTURES / "program_output" / f"{name}.txt").read_text().split()]


def read_blob(name: str = "6806848") -> bytes:
    return bytes.fromhex((FIXTURES / "program_output" / f"{name}.blob.hex").read_text().strip())


def state_transition_fact(program_hash: int, program_output: Sequence[int]) -> bytes:
    """The contract's rule: keccak256(abi.encode(programHash, keccak256(abi.encodePacked(output))))."""
    output_hash = keccak(b"".join(x.to_bytes(32, "big") for x in program_output))
    return keccak(program_hash.to_bytes(32, "big") + output_hash)


@cache
def contracts() -> dict[str, CompiledContract]:
    return compile_project_contracts("MockFactRegistry.sol", "TestStarknetCore.sol")


@dataclass
class CoreDeployment:
    w3: AsyncWeb3
    core: Any
    registry: Any
    automine: bool

    @property
    def address(self) -> str:
        return str(self.core.address)

    async def transact(self, fn: Any) -> Any:
        tx_hash = await fn.transact({"from": DEPLOYER})
        return await wait_mined(self.w3, tx_hash, self.automine)

    async def register_fact(self, program_output: Sequence[int]) -> bytes:
        fact = state_transition_fact(PROGRAM_HASH, program_output)
        await self.transact(self.registry.functions.registerFact(fact))
        return fact

    async def close(self) -> None:
        await self.w3.provider.disconnect()

    async def state_block_number(self) -> int:
        return int(await self.core.functions.stateBlockNumber().call())


async def wait_mined(w3: AsyncWeb3, tx_hash: Any, automine: bool) -> Any:
    if not automine:
        await w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    return await w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)


async def deploy_core(
    url: str, genesis_output: Sequence[int], *, automine: bool = True, genesis_block_number: int | None = None
) -> CoreDeployment:
    """A fresh registry and core contract whose stored state is the output's previous state
    (or that state with another block number, e.g. -1 for "nothing settled")."""
    w3 = AsyncWeb3(AsyncHTTPProvider(url))
    built = await asyncio.to_thread(contracts)

    async def deploy(name: str, *args: Any) -> Any:
        item = built[name]
        factory = w3.eth.contract(abi=item.abi, bytecode=item.bytecode)
        tx_hash = await factory.constructor(*args).transact({"from": DEPLOYER})
        receipt = await wait_mined(w3, tx_hash, automine)
        assert receipt["status"] == 1, f"deploying {name} failed"
        return w3.eth.contract(address=receipt["contractAddress"], abi=item.abi)

    registry = await deploy("MockFactRegistry")
    core = await deploy(
        "TestStarknetCore",
        registry.address,
        PROGRAM_HASH,
        genesis_output[0],
        genesis_output[2] if genesis_block_number is None else genesis_block_number,
        genesis_output[4],
    )
    return CoreDeployment(w3, core, registry, automine)


async def state_update_txs(w3: AsyncWeb3, core_address: str) -> list[Any]:
    """Every mined transaction that called updateStateKzgDA on the contract, in chain order."""
    selector = keccak(text="updateStateKzgDA(uint256[],bytes[])")[:4]
    found = []
    for number in range(int(await w3.eth.block_number) + 1):
        block = await w3.eth.get_block(number, full_transactions=True)
        for tx in block["transactions"]:
            assert not isinstance(tx, bytes)  # full transactions were asked for
            if tx["to"] == core_address and bytes(tx["input"])[:4] == selector:
                found.append(tx)
    return found
