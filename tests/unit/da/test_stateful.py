"""Stateful (alias) compression: batch 9662264, and the rules on small diffs.

The recorded batch only gives the aliases of keys first aliased in the range (0x2's writes in the
squashed diff). The aliases of older keys live in the node's state at block 2935725, which is not
recorded; `infra.devnet.recorded_base.derive_aliases` (the recorded node's source for them) recovers
them from the recorded input/output pair by matching contracts, entries, nonces and deployments on
their (unaliased) values, without using the code under test.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from infra.devnet.recorded_base import derive_aliases
from orchestrator.services.da import stateful
from orchestrator.services.da.state_update import StateUpdate
from tests.unit.da.helpers import BATCH, load_json

PRE_RANGE_BLOCK = 2935725


class AliasNode:
    """Batched starknet_getStorageAt over contract 0x2, from a table; logs every batch."""

    def __init__(self, aliases: dict[int, int]) -> None:
        self.aliases = aliases
        self.batches: list[tuple[int, list[tuple[int, int]]]] = []

    async def get_storage_at_many(self, block_number: int, keys: Sequence[tuple[int, int]]) -> list[int]:
        self.batches.append((block_number, list(keys)))
        return [self.aliases.get(key, 0) if contract == 0x2 else 0 for contract, key in keys]

    async def get_class_hash_at_many(self, block_number: int, addresses: Sequence[int]) -> list[int]:
        raise AssertionError("stateful compression reads no class hashes")


async def test_batch_9662264(batch_squashed: StateUpdate, batch_stateful: StateUpdate) -> None:
    aliases = derive_aliases(batch_squashed.to_json()["state_diff"], batch_stateful.to_json()["state_diff"])
    needed = {k for k in stateful.keys_to_alias(batch_squashed.state_diff) if k >= 128}
    assert needed <= aliases.keys()  # the matching pinned every alias down
    node = AliasNode(aliases)

    result = await stateful.compress(batch_squashed, PRE_RANGE_BLOCK, node)

    assert result == batch_stateful
    assert result.to_json() == load_json(BATCH / "stateful_compressed_state_update.json")
    # One batch, at the pre-range block, for exactly the keys not aliased inside the range.
    in_range = {e.key for c in batch_squashed.state_diff.storage_diffs if c.address == 2 for e in c.storage_entries}
    assert len(node.batches) == 1
    block, keys = node.batches[0]
    assert block == PRE_RANGE_BLOCK
    assert {k for _, k in keys} == needed - in_range
    assert len(keys) == 154


def _update(**diff: object) -> StateUpdate:
    return StateUpdate.model_validate({"state_diff": diff})


async def test_rules_on_a_small_diff() -> None:
    update = _update(
        storage_diffs=[
            {"address": 0x1, "storage_entries": [{"key": 0x1000, "value": 0x5}]},
            {"address": 0x2, "storage_entries": [{"key": 0x0, "value": 0x99}, {"key": 0x1234, "value": 0x98}]},
            {"address": 0x1234, "storage_entries": [{"key": 0x5, "value": 0xABCD}, {"key": 0x7777, "value": 0x1234}]},
        ],
        deployed_contracts=[{"address": 0x1234, "class_hash": 0xC}],
        nonces=[{"contract_address": 0x8888, "nonce": 3}, {"contract_address": 0x7, "nonce": 1}],
        replaced_classes=[{"contract_address": 0x9999, "class_hash": 0xD}],
    )
    node = AliasNode({0x7777: 0x85, 0x8888: 0x81, 0x9999: 0x90, 0x1234: 0x4242})
    result = await stateful.compress(update, 10, node)
    assert result.to_json()["state_diff"] == {
        "storage_diffs": [
            {"address": "0x1", "storage_entries": [{"key": "0x1000", "value": "0x5"}]},  # system: untouched
            {
                "address": "0x2",
                "storage_entries": [{"key": "0x0", "value": "0x99"}, {"key": "0x1234", "value": "0x98"}],
            },
            # the alias written in the range wins over the node's; keys < 128 stay; values are never aliased
            {
                "address": "0x98",
                "storage_entries": [{"key": "0x5", "value": "0xabcd"}, {"key": "0x85", "value": "0x1234"}],
            },
        ],
        "deprecated_declared_classes": [],
        "declared_classes": [],
        "migrated_compiled_classes": [],
        "deployed_contracts": [{"address": "0x98", "class_hash": "0xc"}],
        "replaced_classes": [{"contract_address": "0x90", "class_hash": "0xd"}],
        "nonces": [{"contract_address": "0x7", "nonce": "0x1"}, {"contract_address": "0x81", "nonce": "0x3"}],
    }
    assert node.batches == [(10, [(2, 0x7777), (2, 0x8888), (2, 0x9999)])]


async def test_a_key_without_alias_is_an_error() -> None:
    update = _update(storage_diffs=[{"address": 0x1234, "storage_entries": []}])
    with pytest.raises(stateful.StatefulCompressionError, match="no alias for 0x1234 at block 5"):
        await stateful.compress(update, 5, AliasNode({}))
