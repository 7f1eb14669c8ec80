"""Stateful (alias) compression of a state update, Starknet 0.13.4 and later.

Contract 0x2 maps every contract address and storage key of at least 128 to a short alias (its
storage under that key). `compress(state_update, pre_range_block, reader)` replaces, outside the
system range (< 128), contract addresses (storage diffs, deployments, class replacements, nonces)
and the storage keys of those contracts by their aliases; the storage diffs of contracts below
128 (including 0x2 itself) stay as they are. An alias comes from 0x2's storage writes in the same
diff when the key was aliased in the range, otherwise from 0x2's storage at `pre_range_block`
(one batched read). The result is sorted (`sort_state_diff`).
"""

from __future__ import annotations

from orchestrator.services.da.state_reader import StateReader
from orchestrator.services.da.state_update import (
    ContractStorageDiff,
    DeployedContract,
    NonceUpdate,
    ReplacedClass,
    StateDiff,
    StateUpdate,
    StateUpdateLike,
    StorageEntry,
    as_state_update,
    sort_state_diff,
)

ALIAS_CONTRACT = 0x2
MIN_ALIASED = 0x80


class StatefulCompressionError(ValueError):
    pass


def _aliased(value: int) -> bool:
    return value >= MIN_ALIASED


def keys_to_alias(diff: StateDiff) -> set[int]:
    """Every address and storage key the compression replaces."""
    keys: set[int] = set()
    for contract in diff.storage_diffs:
        if _aliased(contract.address):
            keys.add(contract.address)
            keys.update(e.key for e in contract.storage_entries)
    keys.update(d.address for d in diff.deployed_contracts)
    keys.update(n.contract_address for n in diff.nonces)
    keys.update(r.contract_address for r in diff.replaced_classes)
    return keys


async def alias_mapping(diff: StateDiff, pre_range_block: int, reader: StateReader) -> dict[int, int]:
    new_aliases = {
        e.key: e.value
        for c in diff.storage_diffs
        if c.address == ALIAS_CONTRACT
        for e in c.storage_entries
        if _aliased(e.key)
    }
    mapping: dict[int, int] = {}
    to_read: list[int] = []
    for key in sorted(keys_to_alias(diff)):
        if not _aliased(key):
            mapping[key] = key
        elif key in new_aliases:
            mapping[key] = new_aliases[key]
        else:
            to_read.append(key)
    if to_read:
        values = await reader.get_storage_at_many(pre_range_block, [(ALIAS_CONTRACT, k) for k in to_read])
        if len(values) != len(to_read):
            raise StatefulCompressionError(f"the node answered {len(values)} of {len(to_read)} alias reads")
        for key, alias in zip(to_read, values, strict=True):
            # The OS aliases every key it writes; no alias means the update does not match the node's state.
            if alias == 0:
                raise StatefulCompressionError(f"no alias for {key:#x} at block {pre_range_block}")
            mapping[key] = alias
    return mapping


async def compress(raw_update: StateUpdateLike, pre_range_block: int, reader: StateReader) -> StateUpdate:
    state_update = as_state_update(raw_update)
    diff = state_update.state_diff
    alias = await alias_mapping(diff, pre_range_block, reader)
    storage_diffs = [
        c
        if not _aliased(c.address)
        else ContractStorageDiff(
            address=alias[c.address],
            storage_entries=[StorageEntry(key=alias[e.key], value=e.value) for e in c.storage_entries],
        )
        for c in diff.storage_diffs
    ]
    compressed = diff.model_copy(
        update={
            "storage_diffs": storage_diffs,
            "deployed_contracts": [
                DeployedContract(address=alias[d.address], class_hash=d.class_hash) for d in diff.deployed_contracts
            ],
            "replaced_classes": [
                ReplacedClass(contract_address=alias[r.contract_address], class_hash=r.class_hash)
                for r in diff.replaced_classes
            ],
            "nonces": [NonceUpdate(contract_address=alias[n.contract_address], nonce=n.nonce) for n in diff.nonces],
        }
    )
    return state_update.model_copy(update={"state_diff": sort_state_diff(compressed)})
