"""Recorded chain data placed at block numbers, and what a node reads from it.

`RecordedChain` is the model the devnet's L2 node (`infra.devnet.recorded_node`) serves: recorded
`starknet_getStateUpdate` results, a movable chain head, and storage, nonce and class-hash reads
derived from the state diffs over a base state. The loaders build it from the fixture layout
(`tests/fixtures` or `../shared/fixtures`) described in `recorded_node`.
"""

from __future__ import annotations

import bisect
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.devnet.recorded_base import as_int, recorded_base_storage

SEPOLIA_BATCH_FIRST_BLOCK = 2935726  # the recording starts right after block 2935725
SEPOLIA_CHAIN_ID = "SN_SEPOLIA"
# Starknet's published Sepolia addresses (fee tokens on L2, core contract and verifier on L1).
SEPOLIA_CONTRACT_ADDRESSES = {
    "Starknet": "0xE2Bb56ee936fd6433DC0F6e7e3b8365C906AA057",
    "GpsStatementVerifier": "0xf294781D719D2F4169cE54469C28908E6FA752C1",
    "eth_l2_token_address": "0x49d36570d4e46f48e99674bd3fcc84644ddd6b96f7c741b1562b82f9e004dc7",
    "strk_l2_token_address": "0x4718f5a0fc34cc1af16a1cdee98ffb20c31f5cd61d6ab07201858f4287c938d",
}
CONTRACT_NOT_FOUND = (20, "Contract not found")
BLOCK_NOT_FOUND = (24, "Block not found")
INVALID_PARAMS = (-32602, "Invalid params")
METHOD_NOT_FOUND = (-32601, "Method not found")


class RpcFailure(Exception):
    def __init__(self, error: tuple[int, str], data: Any = None) -> None:
        super().__init__(error[1])
        self.code, self.message = error
        self.data = data


@dataclass
class RecordedBlock:
    number: int
    state_update: dict[str, Any]
    starknet_version: str
    nonces: dict[int, int] = field(default_factory=dict)  # extra recorded nonces (address -> nonce)


class _History:
    """Values written at block numbers; `at(n)` is the last one written at or before n."""

    def __init__(self) -> None:
        self._blocks: dict[Any, list[int]] = defaultdict(list)
        self._values: dict[Any, list[int]] = defaultdict(list)

    def write(self, key: Any, block: int, value: int) -> None:
        blocks, values = self._blocks[key], self._values[key]
        position = bisect.bisect_right(blocks, block)
        if position and blocks[position - 1] == block:
            values[position - 1] = value
        else:
            blocks.insert(position, block)
            values.insert(position, value)

    def at(self, key: Any, block: int) -> int | None:
        blocks = self._blocks.get(key)
        if not blocks:
            return None
        position = bisect.bisect_right(blocks, block)
        return self._values[key][position - 1] if position else None


@dataclass
class BaseState:
    """State before the first recorded block (for reads the recordings cannot answer)."""

    storage: dict[tuple[int, int], int] = field(default_factory=dict)
    nonces: dict[int, int] = field(default_factory=dict)
    class_hashes: dict[int, int] = field(default_factory=dict)


class RecordedChain:
    def __init__(
        self,
        blocks: list[RecordedBlock],
        *,
        chain_id: str = SEPOLIA_CHAIN_ID,
        contract_addresses: dict[str, str] | None = None,
        base: BaseState | None = None,
        latest: int | None = None,
        pre_confirmed_from: int | None = None,
    ) -> None:
        if not blocks:
            raise ValueError("a recorded chain needs at least one block")
        self.blocks = {b.number: b for b in blocks}
        self.chain_id = chain_id
        self.contract_addresses = dict(contract_addresses or SEPOLIA_CONTRACT_ADDRESSES)
        self.base = base or BaseState()
        self.latest = latest
        self.pre_confirmed_from = pre_confirmed_from
        #: header timestamps (seconds) by block number; the devnet's sequencer sets them as it reveals blocks
        self.timestamps: dict[int, int] = {}
        self._storage = _History()
        self._nonces = _History()
        self._classes = _History()
        for block in sorted(blocks, key=lambda b: b.number):
            self._index(block)

    def _index(self, block: RecordedBlock) -> None:
        diff = block.state_update.get("state_diff", {})
        n = block.number
        for entry in diff.get("storage_diffs", []):
            address = as_int(entry["address"])
            for item in entry.get("storage_entries", []):
                self._storage.write((address, as_int(item["key"])), n, as_int(item["value"]))
        for entry in diff.get("nonces", []):
            self._nonces.write(as_int(entry["contract_address"]), n, as_int(entry["nonce"]))
        for address, nonce in block.nonces.items():
            self._nonces.write(address, n, nonce)
        for entry in [*diff.get("deployed_contracts", []), *diff.get("replaced_classes", [])]:
            self._classes.write(
                as_int(entry.get("address", entry.get("contract_address"))), n, as_int(entry["class_hash"])
            )

    # -- the chain head -------------------------------------------------------------------------

    @property
    def head(self) -> int:
        top = max(self.blocks)
        return top if self.latest is None else min(top, self.latest)

    def block(self, block_id: Any) -> RecordedBlock:
        if block_id in ("latest", "pre_confirmed", "pending", "l1_accepted"):
            return self.blocks[self.head]
        if isinstance(block_id, dict) and "block_number" in block_id:
            number = block_id["block_number"]
            if not isinstance(number, int) or isinstance(number, bool):
                raise RpcFailure(INVALID_PARAMS, f"block_number must be an integer, got {number!r}")
            if number > self.head or number not in self.blocks:
                raise RpcFailure(BLOCK_NOT_FOUND)
            return self.blocks[number]
        if isinstance(block_id, dict) and "block_hash" in block_id:
            wanted = as_int(block_id["block_hash"])
            for block in self.blocks.values():
                if block.number <= self.head and as_int(block.state_update.get("block_hash", "0x0")) == wanted:
                    return block
            raise RpcFailure(BLOCK_NOT_FOUND)
        raise RpcFailure(INVALID_PARAMS, f"unsupported block id {block_id!r}")

    def is_pre_confirmed(self, number: int) -> bool:
        return self.pre_confirmed_from is not None and number >= self.pre_confirmed_from

    # -- reads ----------------------------------------------------------------------------------

    def state_update(self, block: RecordedBlock) -> dict[str, Any]:
        if self.is_pre_confirmed(block.number):
            return {
                "state_diff": block.state_update.get("state_diff", {}),
                "old_root": block.state_update.get("old_root"),
            }
        return block.state_update

    def header(self, block: RecordedBlock) -> dict[str, Any]:
        parent = self.blocks.get(block.number - 1)
        gas = {"price_in_fri": "0x1", "price_in_wei": "0x1"}
        header: dict[str, Any] = {
            "block_number": block.number,
            "parent_hash": parent.state_update.get("block_hash", "0x0") if parent else "0x0",
            "timestamp": self.timestamps.get(block.number, 1_700_000_000 + block.number),
            "sequencer_address": "0x1",
            "l1_gas_price": gas,
            "l2_gas_price": gas,
            "l1_data_gas_price": gas,
            "l1_da_mode": "BLOB",
            "starknet_version": block.starknet_version,
            "transactions": [],
        }
        if self.is_pre_confirmed(block.number):
            return {**header, "status": "PRE_CONFIRMED"}
        return {
            **header,
            "status": "ACCEPTED_ON_L2",
            "block_hash": block.state_update.get("block_hash", "0x0"),
            "new_root": block.state_update.get("new_root", "0x0"),
        }

    def storage_at(self, address: int, key: int, block: int) -> int:
        value = self._storage.at((address, key), block)
        return value if value is not None else self.base.storage.get((address, key), 0)

    def nonce_at(self, address: int, block: int) -> int:
        value = self._nonces.at(address, block)
        return value if value is not None else self.base.nonces.get(address, 0)

    def class_hash_at(self, address: int, block: int) -> int | None:
        value = self._classes.at(address, block)
        return value if value is not None else self.base.class_hashes.get(address)

    def bouncer_weights(self, block: RecordedBlock) -> dict[str, int]:
        diff = block.state_update.get("state_diff", {})
        size = sum(len(e.get("storage_entries", [])) for e in diff.get("storage_diffs", []))
        size += sum(len(diff.get(k, [])) for k in ("nonces", "deployed_contracts", "replaced_classes"))
        size += sum(len(diff.get(k, [])) for k in ("declared_classes", "migrated_compiled_classes"))
        return {
            "l1_gas": 0,
            "message_segment_length": 0,
            "n_events": 0,
            "state_diff_size": size,
            "sierra_gas": 0,
            "n_txs": len(diff.get("nonces", [])),
            "proving_gas": 0,
            "receipt_l2_gas": 0,
        }


# -- loading -------------------------------------------------------------------------------------


def load_state_updates(path: Path, first_block: int, starknet_version: str) -> list[RecordedBlock]:
    updates = json.loads(path.read_text())
    if not isinstance(updates, list):
        raise ValueError(f"{path}: expected a JSON array of state updates")
    return [RecordedBlock(first_block + i, su, starknet_version) for i, su in enumerate(updates)]


def load_single_block(path: Path, nonces_path: Path | None, starknet_version: str) -> RecordedBlock:
    nonces: dict[int, int] = {}
    if nonces_path is not None and nonces_path.is_file():
        # the recorded nonces: {"address": decimal, "nonce": hex digits without 0x}
        for entry in json.loads(nonces_path.read_text()):
            nonces[int(entry["address"])] = int(entry["nonce"], 16)
    return RecordedBlock(int(path.stem), json.loads(path.read_text()), starknet_version, nonces)


def load_fixture_chain(
    data_dir: Path,
    *,
    batch_starknet_version: str = "0.14.1",
    da_starknet_version: str = "0.13.2",
    **chain_options: Any,
) -> RecordedChain:
    """The chain of a fixtures folder: the Sepolia batch recording plus the single DA blocks; the
    state before the recording is what `recorded_base` recovers from the batch files.

    The Sepolia blocks carry `migrated_compiled_classes`, which exists from Starknet 0.14.1 on.
    """
    blocks: list[RecordedBlock] = []
    batch = data_dir / "batch" / "9662264" / "state_updates.json"
    if batch.is_file():
        blocks += load_state_updates(batch, SEPOLIA_BATCH_FIRST_BLOCK, batch_starknet_version)
        # the state before the recording that the batch files determine (aliases of older keys)
        chain_options.setdefault("base", BaseState(storage=recorded_base_storage(batch.parent)))
    for path in sorted((data_dir / "da" / "state_update").glob("*.json")):
        blocks.append(load_single_block(path, data_dir / "da" / "nonces" / path.name, da_starknet_version))
    if not blocks:
        raise ValueError(f"{data_dir}: no recorded state updates found (batch/9662264 or da/state_update)")
    return RecordedChain(blocks, **chain_options)
