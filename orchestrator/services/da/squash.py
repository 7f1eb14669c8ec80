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
from dataclasses import dataclass, field

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


@dataclass
class _LastWrites:
    """The range's writes, the last one winning."""

    storage: dict[int, dict[int, int]] = field(default_factory=dict)
    deployed: dict[int, int] = field(default_factory=dict)
    replaced: dict[int, int] = field(default_factory=dict)
    declared: dict[int, int] = field(default_factory=dict)
    migrated: dict[int, int] = field(default_factory=dict)
    nonces: dict[int, int] = field(default_factory=dict)
    deprecated: set[int] = field(default_factory=set)

    def add(self, diff: StateDiff) -> None:
        for contract in diff.storage_diffs:
            slots = self.storage.setdefault(contract.address, {})
            for entry in contract.storage_entries:
                slots[entry.key] = entry.value
        self.deployed.update((d.address, d.class_hash) for d in diff.deployed_contracts)
        self.replaced.update((r.contract_address, r.class_hash) for r in diff.replaced_classes)
        self.declared.update((c.class_hash, c.compiled_class_hash) for c in diff.declared_classes)
        self.migrated.update((c.class_hash, c.compiled_class_hash) for c in diff.migrated_compiled_classes)
        self.nonces.update((n.contract_address, n.nonce) for n in diff.nonces)
        self.deprecated.update(diff.deprecated_declared_classes)


async def squash(
    raw_updates: Sequence[StateUpdateLike], pre_range_block: int | None, reader: StateReader
) -> StateUpdate:
    updates = [as_state_update(u) for u in raw_updates]
    if not updates:
        raise SquashError("cannot squash an empty list of state updates")
    writes = _LastWrites()
    for update in updates:
        writes.add(update.state_diff)

    pre_values = await _pre_range_storage(writes.storage, pre_range_block, reader)
    storage_diffs = []
    for address, slots in writes.storage.items():
        entries = [
            StorageEntry(key=key, value=value)
            for key, value in slots.items()
            if value != pre_values.get((address, key), 0)
        ]
        if entries:
            storage_diffs.append(ContractStorageDiff(address=address, storage_entries=entries))
    replaced = await _replacements(writes, pre_range_block, reader)

    diff = StateDiff(
        storage_diffs=storage_diffs,
        deprecated_declared_classes=list(writes.deprecated),
        declared_classes=[DeclaredClass(class_hash=h, compiled_class_hash=c) for h, c in writes.declared.items()],
        migrated_compiled_classes=[
            DeclaredClass(class_hash=h, compiled_class_hash=c) for h, c in writes.migrated.items()
        ],
        deployed_contracts=[DeployedContract(address=a, class_hash=h) for a, h in writes.deployed.items()],
        replaced_classes=[ReplacedClass(contract_address=a, class_hash=h) for a, h in replaced.items()],
        nonces=[NonceUpdate(contract_address=a, nonce=n) for a, n in writes.nonces.items()],
    )
    return StateUpdate(
        block_hash=updates[-1].block_hash,
        old_root=updates[0].old_root,
        new_root=updates[-1].new_root,
        state_diff=sort_state_diff(diff),
    )


async def _replacements(writes: _LastWrites, pre_range_block: int | None, reader: StateReader) -> dict[int, int]:
    """The class replacements left once those of contracts deployed in the range fold into their
    deployment (updating `writes.deployed`) and those restoring the pre-range class are dropped."""
    replaced = dict(writes.replaced)
    for address in [a for a in replaced if a in writes.deployed]:
        writes.deployed[address] = replaced.pop(address)
    if pre_range_block is None or not replaced:
        return {}
    addresses = list(replaced)
    previous = await reader.get_class_hash_at_many(pre_range_block, addresses)
    _check_answers("class hash", previous, addresses)
    before = dict(zip(addresses, previous, strict=True))
    return {a: h for a, h in replaced.items() if h != before[a]}


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
