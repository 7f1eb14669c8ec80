"""Squash: merging the 1000 recorded updates of batch 9662264, and the drop rules on small ranges.

What the recorded data can prove: the squashed fixture has exactly the last-written value of every
(contract, key) written in the range (1279 slots), so with this batch nothing was dropped as
unchanged; the pre-range state at block 2935725 is not recorded. The fake node below therefore
answers "changed" for every slot (and "did not exist" for contracts deployed in the range), which
is consistent with the fixture, and the drop rules are tested on small hand-made ranges.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from orchestrator.services.da.squash import SquashError, squash
from orchestrator.services.da.state_update import StateUpdate, parse_state_updates
from tests.unit.da.helpers import BATCH, load_json

PRE_RANGE_BLOCK = 2935725


class FakeNode:
    def __init__(self, class_hashes: dict[int, int], storage: dict[tuple[int, int], int]) -> None:
        self.class_hashes = class_hashes
        self.storage = storage
        self.calls: list[tuple[str, int, int]] = []

    async def get_storage_at_many(self, block_number: int, keys: Sequence[tuple[int, int]]) -> list[int]:
        self.calls.append(("storage", block_number, len(keys)))
        return [self.storage.get(k, 0) for k in keys]

    async def get_class_hash_at_many(self, block_number: int, addresses: Sequence[int]) -> list[int]:
        self.calls.append(("class", block_number, len(addresses)))
        return [self.class_hashes.get(a, 0) for a in addresses]


@pytest.fixture(scope="module")
def updates() -> list[StateUpdate]:
    return parse_state_updates(load_json(BATCH / "state_updates.json"))


async def test_batch_9662264(updates: list[StateUpdate], batch_squashed: StateUpdate) -> None:
    last_write: dict[tuple[int, int], int] = {}
    for update in updates:
        for contract in update.state_diff.storage_diffs:
            for entry in contract.storage_entries:
                last_write[(contract.address, entry.key)] = entry.value
    deployed = {d.address for u in updates for d in u.state_diff.deployed_contracts}
    touched = {address for address, _ in last_write}
    # Every slot had a different value before the range (p - 1 - v differs from v for every felt v).
    node = FakeNode(
        class_hashes={a: 0xC0FFEE for a in touched - deployed},
        storage={slot: (-1 - v) % (2**251 + 17 * 2**192 + 1) for slot, v in last_write.items()},
    )

    result = await squash(updates, PRE_RANGE_BLOCK, node)

    assert result == batch_squashed
    assert result.to_json() == load_json(BATCH / "squashed_state_update.json")
    kept = {(c.address, e.key): e.value for c in result.state_diff.storage_diffs for e in c.storage_entries}
    assert kept == last_write
    # Two batched reads at the pre-range block: class hashes, then storage of pre-existing contracts.
    n_existing_slots = sum(1 for a, _ in last_write if a not in deployed)
    assert node.calls == [("class", PRE_RANGE_BLOCK, len(touched)), ("storage", PRE_RANGE_BLOCK, n_existing_slots)]


def _update(n: int, **diff: object) -> StateUpdate:
    return StateUpdate.model_validate({"block_hash": n, "old_root": 100 + n, "new_root": 101 + n, "state_diff": diff})


def _storage(*items: tuple[int, list[tuple[int, int]]]) -> list[dict[str, object]]:
    return [{"address": a, "storage_entries": [{"key": k, "value": v} for k, v in e]} for a, e in items]


async def test_unchanged_values_are_dropped() -> None:
    updates = [
        _update(1, storage_diffs=_storage((0x500, [(1, 10), (2, 20), (3, 30)]), (0x600, [(1, 0), (2, 5)]))),
        _update(2, storage_diffs=_storage((0x500, [(1, 11), (2, 21), (4, 0)]), (0x700, [(9, 9)]))),
        _update(3, storage_diffs=_storage((0x500, [(1, 12), (2, 22)]), (0x700, [(9, 1)]))),
    ]
    node = FakeNode(
        class_hashes={0x500: 0xA, 0x700: 0xB},  # 0x600 is new in the range
        storage={(0x500, 1): 12, (0x500, 2): 7, (0x500, 3): 30, (0x700, 9): 1},
    )
    result = await squash(updates, 41, node)
    assert result.block_hash == 3 and result.old_root == 101 and result.new_root == 104
    got = {(c.address, e.key): e.value for c in result.state_diff.storage_diffs for e in c.storage_entries}
    # (0x500,1), (0x500,3), (0x700,9) end where they started; (0x500,4) and (0x600,1) are zero, as before.
    assert got == {(0x500, 2): 22, (0x600, 2): 5}
    assert [c.address for c in result.state_diff.storage_diffs] == [0x500, 0x600]  # 0x700: nothing left
    assert node.calls == [("class", 41, 3), ("storage", 41, 5)]


async def test_classes_nonces_and_declarations() -> None:
    updates = [
        _update(
            1,
            deployed_contracts=[{"address": 0x900, "class_hash": 0xC1}],
            replaced_classes=[{"contract_address": 0x800, "class_hash": 0xC5}],
            declared_classes=[{"class_hash": 0xD1, "compiled_class_hash": 0xE1}],
            nonces=[{"contract_address": 0x900, "nonce": 1}],
            deprecated_declared_classes=[0xF1],
        ),
        _update(
            2,
            replaced_classes=[
                {"contract_address": 0x900, "class_hash": 0xC2},  # folds into the deployment
                {"contract_address": 0x800, "class_hash": 0xC3},  # back to its pre-range class: dropped
                {"contract_address": 0x850, "class_hash": 0xC4},
            ],
            declared_classes=[{"class_hash": 0xD0, "compiled_class_hash": 0xE0}],
            migrated_compiled_classes=[{"class_hash": 0xD5, "compiled_class_hash": 0xE5}],
            nonces=[{"contract_address": 0x900, "nonce": 2}],
            deprecated_declared_classes=[0xF1, 0xF0],
        ),
    ]
    node = FakeNode(class_hashes={0x800: 0xC3, 0x850: 0xC0}, storage={})
    diff = (await squash(updates, 7, node)).state_diff
    assert [(d.address, d.class_hash) for d in diff.deployed_contracts] == [(0x900, 0xC2)]
    assert [(r.contract_address, r.class_hash) for r in diff.replaced_classes] == [(0x850, 0xC4)]
    assert [(n.contract_address, n.nonce) for n in diff.nonces] == [(0x900, 2)]
    assert [(c.class_hash, c.compiled_class_hash) for c in diff.declared_classes] == [(0xD0, 0xE0), (0xD1, 0xE1)]
    assert [(c.class_hash, c.compiled_class_hash) for c in diff.migrated_compiled_classes] == [(0xD5, 0xE5)]
    assert diff.deprecated_declared_classes == [0xF0, 0xF1]
    assert node.calls == [("class", 7, 2)]


async def test_from_genesis_nothing_is_read() -> None:
    updates = [
        _update(0, storage_diffs=_storage((0x500, [(1, 0), (2, 3)]), (0x600, [(1, 0)]))),
        _update(1, deployed_contracts=[{"address": 0x500, "class_hash": 0xC1}]),
    ]
    node = FakeNode({}, {})
    diff = (await squash(updates, None, node)).state_diff
    assert [(c.address, [(e.key, e.value) for e in c.storage_entries]) for c in diff.storage_diffs] == [
        (0x500, [(2, 3)])
    ]
    assert node.calls == []


async def test_empty_range_and_short_answers() -> None:
    with pytest.raises(SquashError, match="empty"):
        await squash([], 1, FakeNode({}, {}))

    class ShortNode(FakeNode):
        async def get_class_hash_at_many(self, block_number: int, addresses: Sequence[int]) -> list[int]:
            return []

    with pytest.raises(SquashError, match="answered 0 of 1"):
        await squash([_update(1, storage_diffs=_storage((0x500, [(1, 1)])))], 1, ShortNode({}, {}))
