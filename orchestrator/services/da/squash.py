"""Squash consecutive state updates into one (the state change over the whole range).

`squash(updates, pre_range_block, reader)`:
- the last write wins for storage values, deployments, class replacements, nonces and declared
  (and migrated) classes;
- a storage value equal to its value at `pre_range_block` (the block before the range) is dropped;
  contracts that did not exist then (class hash 0) count as all-zero storage. The reads are two
  batched calls: class hashes of the touched contracts, then the storage of the existing ones;
- a class replacement of a contract deployed in the range folds into its deployment, and one that
  leaves the class as it was at `pre_range_block` is dropped;
- with `pre_range_block=None` (the range starts at genesis) nothing is read: zero values are
  dropped, and every replaced contract was deployed in the range;
- block hash and new root come from the last update, old root from the first; lists are sorted.
"""

from __future__ import annotations

from collections.abc import Sequence

from orchestrator.services.da.state_reader import StateReader
from orchestrator.services.da.state_update import (
    ContractStorageDiff,
    DeclaredClass,
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


class SquashError(ValueError):
    pass


async def squash(
    raw_updates: Sequence[StateUpdateLike], pre_range_block: int | None, reader: StateReader
) -> StateUpdate:
    updates = [as_state_update(u) for u in raw_updates]
    if not updates:
        raise SquashError("cannot squash an empty list of state updates")

    storage: dict[int, dict[int, int]] = {}
    deployed: dict[int, int] = {}
    replaced: dict[int, int] = {}
    declared: dict[int, int] = {}
    migrated: dict[int, int] = {}
    nonces: dict[int, int] = {}
    deprecated: set[int] = set()
    for update in updates:
        diff = update.state_diff
        for contract in diff.storage_diffs:
            slots = storage.setdefault(contract.address, {})
            for entry in contract.storage_entries:
                slots[entry.key] = entry.value
        deployed.update((d.address, d.class_hash) for d in diff.deployed_contracts)
        replaced.update((r.contract_address, r.class_hash) for r in diff.replaced_classes)
        declared.update((c.class_hash, c.compiled_class_hash) for c in diff.declared_classes)
        migrated.update((c.class_hash, c.compiled_class_hash) for c in diff.migrated_compiled_classes)
        nonces.update((n.contract_address, n.nonce) for n in diff.nonces)
        deprecated.update(diff.deprecated_declared_classes)

    pre_values = await _pre_range_storage(storage, pre_range_block, reader)
    storage_diffs = []
    for address, slots in storage.items():
        entries = [
            StorageEntry(key=key, value=value)
            for key, value in slots.items()
            if value != pre_values.get((address, key), 0)
        ]
        if entries:
            storage_diffs.append(ContractStorageDiff(address=address, storage_entries=entries))

    for address in [a for a in replaced if a in deployed]:
        deployed[address] = replaced.pop(address)
    if pre_range_block is None:
        replaced = {}
    elif replaced:
        addresses = list(replaced)
        previous = await reader.get_class_hash_at_many(pre_range_block, addresses)
        _check_answers("class hash", previous, addresses)
        replaced = {a: h for a, h in replaced.items() if h != dict(zip(addresses, previous, strict=True))[a]}

    diff = StateDiff(
        storage_diffs=storage_diffs,
        deprecated_declared_classes=list(deprecated),
        declared_classes=[DeclaredClass(class_hash=h, compiled_class_hash=c) for h, c in declared.items()],
        migrated_compiled_classes=[DeclaredClass(class_hash=h, compiled_class_hash=c) for h, c in migrated.items()],
        deployed_contracts=[DeployedContract(address=a, class_hash=h) for a, h in deployed.items()],
        replaced_classes=[ReplacedClass(contract_address=a, class_hash=h) for a, h in replaced.items()],
        nonces=[NonceUpdate(contract_address=a, nonce=n) for a, n in nonces.items()],
    )
    return StateUpdate(
        block_hash=updates[-1].block_hash,
        old_root=updates[0].old_root,
        new_root=updates[-1].new_root,
        state_diff=sort_state_diff(diff),
    )


async def _pre_range_storage(
    storage: dict[int, dict[int, int]], pre_range_block: int | None, reader: StateReader
) -> dict[tuple[int, int], int]:
    if pre_range_block is None or not storage:
        return {}
    contracts = list(storage)
    class_hashes = await reader.get_class_hash_at_many(pre_range_block, contracts)
    _check_answers("class hash", class_hashes, contracts)
    existing = [c for c, h in zip(contracts, class_hashes, strict=True) if h != 0]
    queries = [(c, k) for c in existing for k in storage[c]]
    if not queries:
        return {}
    values = await reader.get_storage_at_many(pre_range_block, queries)
    _check_answers("storage value", values, queries)
    return dict(zip(queries, values, strict=True))


def _check_answers(what: str, answers: Sequence[int], asked: Sequence[object]) -> None:
    if len(answers) != len(asked):
        raise SquashError(f"the node answered {len(answers)} of {len(asked)} {what} reads")
