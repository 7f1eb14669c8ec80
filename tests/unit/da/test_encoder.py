"""Encoders: the per-block blobs posted for blocks 631861 and 178, and the batch layout."""

from __future__ import annotations

import pytest

from orchestrator.services.da.blob import felts_to_blobs
from orchestrator.services.da.encoder import (
    RecordedNonces,
    encode_batch_state_update,
    encode_block_state_update,
)
from orchestrator.services.da.state_update import StateUpdate, parse_nonces
from orchestrator.services.da.version import parse_starknet_version
from tests.unit.da.helpers import FIXTURES, load_blob, load_json, load_state_update

V0_13_2 = parse_starknet_version("0.13.2")
V0_13_5 = parse_starknet_version("0.13.5")


class RecordingNonces:
    """The L2 node's get_nonce, answering from the recorded nonce file and logging each call."""

    def __init__(self, nonces: dict[int, int]) -> None:
        self.nonces = nonces
        self.calls: list[tuple[int, int]] = []

    async def get_nonce(self, block_number: int, address: int) -> int:
        self.calls.append((block_number, address))
        return self.nonces[address]


@pytest.mark.parametrize("block", [631861, 178])
async def test_block_encoder_reproduces_the_posted_blob(block: int) -> None:
    state_update = load_state_update(FIXTURES / "da" / "state_update" / f"{block}.json")
    source = RecordingNonces(parse_nonces(load_json(FIXTURES / "da" / "nonces" / f"{block}.json")))
    felts = await encode_block_state_update(state_update, block, V0_13_2, source)
    assert felts_to_blobs(felts) == [load_blob(FIXTURES / "da" / "blob" / f"{block}.hex")]

    # Nonces are looked up at this block exactly for contracts with storage writes and no nonce update.
    diff = state_update.state_diff
    with_nonce = {n.contract_address for n in diff.nonces}
    expected = {d.address for d in diff.storage_diffs if d.storage_entries} - with_nonce - {1, 2}
    assert {address for _, address in source.calls} == expected
    assert {b for b, _ in source.calls} == {block}
    assert len(source.calls) == len(expected)


def _update(**diff: object) -> StateUpdate:
    return StateUpdate.model_validate({"state_diff": diff})


async def test_block_encoder_layout() -> None:
    update = _update(
        storage_diffs=[
            {"address": 0x300, "storage_entries": [{"key": 9, "value": 1}, {"key": 2, "value": 7}]},
            {"address": 0x2, "storage_entries": [{"key": 0x500, "value": 0x80}]},
        ],
        deployed_contracts=[{"address": 0x400, "class_hash": 0xC1}],
        replaced_classes=[
            {"contract_address": 0x300, "class_hash": 0xC2},
            {"contract_address": 0x600, "class_hash": 0xC3},
        ],
        nonces=[{"contract_address": 0x100, "nonce": 5}],
        declared_classes=[
            {"class_hash": 0xD2, "compiled_class_hash": 0xE2},
            {"class_hash": 0xD1, "compiled_class_hash": 0xE1},
        ],
        deprecated_declared_classes=[0xAA],
    )
    source = RecordingNonces({0x300: 3})
    felts = await encode_block_state_update(update, 7, V0_13_2, source)
    assert source.calls == [(7, 0x300)]  # not 0x2, not the contracts without storage writes
    assert felts == [
        4,  # 0x2, 0x100 (nonce only), 0x300, 0x400 (deployed only); a class replacement alone adds nothing
        0x2, 1, 0x500, 0x80,
        0x100, 5 << 64,
        0x300, (1 << 128) | (3 << 64) | 2, 0xC2, 2, 7, 9, 1,
        0x400, 1 << 128, 0xC1,
        2, 0xD1, 0xE1, 0xD2, 0xE2,
    ]  # fmt: skip


async def test_recorded_nonces_report_the_missing_contract() -> None:
    with pytest.raises(LookupError, match="0x300"):
        await RecordedNonces({}).get_nonce(1, 0x300)


def test_batch_encoder_layout() -> None:
    update = _update(
        storage_diffs=[
            {"address": 0x300, "storage_entries": [{"key": 9, "value": 1}, {"key": 2, "value": 7}]},
            {"address": 0x200, "storage_entries": []},
        ],
        deployed_contracts=[{"address": 0x400, "class_hash": 0xC1}, {"address": 0x300, "class_hash": 0xC4}],
        replaced_classes=[{"contract_address": 0x600, "class_hash": 0xC3}],
        nonces=[{"contract_address": 0x100, "nonce": 5}, {"contract_address": 0x400, "nonce": 1}],
        declared_classes=[{"class_hash": 0xD2, "compiled_class_hash": 0xE2}],
        migrated_compiled_classes=[{"class_hash": 0xD1, "compiled_class_hash": 0xE1}],
    )
    felts = encode_batch_state_update(update, V0_13_5)
    assert felts == [
        5,
        0x100, (5 << 10) | 0b10,
        0x200, 0b10,
        0x300, (2 << 2) | 0b11, 0xC4, 9, 1, 2, 7,  # entries keep their order: the input is pre-sorted
        0x400, (1 << 10) | 0b11, 0xC1,
        0x600, 0b11, 0xC3,
        2, 0xD1, 0xE1, 0xD2, 0xE2,
    ]  # fmt: skip


def test_batch_encoder_size_on_the_real_batch(batch_stateful: StateUpdate) -> None:
    felts = encode_batch_state_update(batch_stateful, V0_13_5)
    diff = batch_stateful.state_diff
    assert felts[0] == len(
        {d.address for d in diff.storage_diffs}
        | {d.address for d in diff.deployed_contracts}
        | {n.contract_address for n in diff.nonces}
    )
    n_classes = len(diff.declared_classes) + len(diff.migrated_compiled_classes)
    assert felts[-(2 * n_classes + 1)] == n_classes
