"""The recorded node's state before the Sepolia recording: aliases and values recovered from the batch files.

The strong check: over the recorded node's state, the orchestrator's own squash and stateful compression
of the 1000 recorded blocks give exactly the published squash and compression (which needed the 154
aliases assigned before the recording; the node answered 0 for them before `recorded_base`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from infra.devnet.l2 import devnet_blocks
from infra.devnet.recorded_base import derive_aliases, pre_range_storage, recorded_base_storage
from infra.devnet.recorded_chain import SEPOLIA_BATCH_FIRST_BLOCK, RecordedChain, load_fixture_chain
from orchestrator.services.da import stateful
from orchestrator.services.da.squash import squash
from orchestrator.services.da.state_update import StateUpdate

FIXTURES = Path(__file__).parents[2] / "fixtures"
BATCH = FIXTURES / "batch" / "9662264"
PRE_RANGE = SEPOLIA_BATCH_FIRST_BLOCK - 1


class ChainReader:
    """The node reads of squash and stateful compression, answered by the recorded chain directly."""

    def __init__(self, chain: RecordedChain) -> None:
        self.chain = chain

    async def get_storage_at_many(self, block_number: int, keys: Sequence[tuple[int, int]]) -> list[int]:
        return [self.chain.storage_at(address, key, block_number) for address, key in keys]

    async def get_class_hash_at_many(self, block_number: int, addresses: Sequence[int]) -> list[int]:
        return [self.chain.class_hash_at(address, block_number) or 0 for address in addresses]


def _load(name: str) -> StateUpdate:
    return StateUpdate.from_json(json.loads((BATCH / name).read_text()))


def _fixture_chain() -> RecordedChain:
    return load_fixture_chain(FIXTURES)


def _devnet_chain() -> RecordedChain:
    return devnet_blocks(FIXTURES, 999).chain  # the chain of the throughput run: every settleable block


@pytest.mark.parametrize("chain", [_fixture_chain, _devnet_chain], ids=["fixture chain", "devnet chain"])
async def test_the_recorded_node_reproduces_the_published_squash_and_compression(
    chain: Callable[[], RecordedChain],
) -> None:
    reader = ChainReader(chain())
    updates = json.loads((BATCH / "state_updates.json").read_text())
    published_squash = _load("squashed_state_update.json")

    squashed = await squash(updates, PRE_RANGE, reader)
    assert squashed.state_diff == published_squash.state_diff

    for alias_block in (PRE_RANGE, PRE_RANGE + len(updates)):  # aliases never change once assigned
        compressed = await stateful.compress(published_squash, alias_block, reader)
        assert compressed.state_diff == _load("stateful_compressed_state_update.json").state_diff


def test_the_base_holds_only_aliases_assigned_before_the_recording() -> None:
    storage = recorded_base_storage(BATCH)
    assert len(storage) == 154
    assert {contract for contract, _ in storage} == {0x2}
    assert all(alias >= 0x80 for alias in storage.values())


def test_an_ambiguous_match_is_left_out() -> None:
    # two contracts with the same storage values: which alias is which is not determined
    squashed = {
        "storage_diffs": [
            {"address": "0x1000", "storage_entries": [{"key": "0x5000", "value": "0x7"}]},
            {"address": "0x2000", "storage_entries": [{"key": "0x6000", "value": "0x7"}]},
            {"address": "0x3000", "storage_entries": [{"key": "0x7000", "value": "0x8"}]},
        ],
        "nonces": [{"contract_address": "0x4000", "nonce": "0x3"}],
    }
    compressed = {
        "storage_diffs": [
            {"address": "0x90", "storage_entries": [{"key": "0x91", "value": "0x7"}]},
            {"address": "0x92", "storage_entries": [{"key": "0x93", "value": "0x7"}]},
            {"address": "0x94", "storage_entries": [{"key": "0x95", "value": "0x8"}]},
        ],
        "nonces": [{"contract_address": "0x96", "nonce": "0x3"}],
    }
    assert derive_aliases(squashed, compressed) == {0x3000: 0x94, 0x7000: 0x95, 0x4000: 0x96}


def test_a_value_the_squash_dropped_was_the_pre_range_value() -> None:
    updates = [
        {"state_diff": {"storage_diffs": [{"address": "0x100", "storage_entries": [{"key": "0x1", "value": "0x5"}]}]}},
        {"state_diff": {"storage_diffs": [{"address": "0x100", "storage_entries": [{"key": "0x1", "value": "0x4"}]}]}},
        {"state_diff": {"storage_diffs": [{"address": "0x100", "storage_entries": [{"key": "0x2", "value": "0x9"}]}]}},
    ]
    squashed = {"storage_diffs": [{"address": "0x100", "storage_entries": [{"key": "0x2", "value": "0x9"}]}]}
    assert pre_range_storage(updates, squashed) == {(0x100, 0x1): 0x4}


def test_no_batch_files_no_base(tmp_path: Path) -> None:
    assert recorded_base_storage(tmp_path) == {}
