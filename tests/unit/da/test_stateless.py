"""Stateless compression: batch 9662264 exactly, and decompression as its inverse."""

from __future__ import annotations

import random

import pytest

from orchestrator.services.da import stateless
from orchestrator.services.da.batch import encode_and_compress
from orchestrator.services.da.blob import felts_to_blobs
from orchestrator.services.da.encoder import encode_batch_state_update
from orchestrator.services.da.state_update import StateUpdate, StateUpdateFormatError
from orchestrator.services.da.version import parse_starknet_version
from tests.unit.da.helpers import BATCH, load_blob, load_json

V0_13_5 = parse_starknet_version("0.13.5")


def test_batch_9662264_compresses_to_the_recorded_felts(
    batch_stateful: StateUpdate, batch_stateless_felts: list[int]
) -> None:
    assert encode_and_compress(batch_stateful, V0_13_5) == batch_stateless_felts
    assert len(batch_stateless_felts) == 5120


def test_batch_9662264_blobs(batch_stateless_felts: list[int]) -> None:
    blobs = felts_to_blobs(batch_stateless_felts)
    assert blobs == [load_blob(BATCH / "blobs" / "1.hex"), load_blob(BATCH / "blobs" / "2.hex")]


def test_batch_9662264_decompresses_to_the_encoding(
    batch_stateful: StateUpdate, batch_stateless_felts: list[int]
) -> None:
    assert stateless.decompress(batch_stateless_felts) == encode_batch_state_update(batch_stateful, V0_13_5)


def test_before_0_13_3_there_is_no_stateless_compression(batch_stateful: StateUpdate) -> None:
    version = parse_starknet_version("0.13.2")
    assert encode_and_compress(batch_stateful, version) == encode_batch_state_update(batch_stateful, version)


@pytest.mark.parametrize(
    "data",
    [
        [],
        [0],
        [1, 1, 1],
        [2**251, 2**125 - 1, 2**125, 2**83, 2**62, 2**31, 2**15, 2**15 - 1, 0],
        [5, 2**200, 5, 2**200, 7, 2**40, 2**40],
    ],
)
def test_round_trip_edge_cases(data: list[int]) -> None:
    assert stateless.decompress(stateless.compress(data)) == data


def test_round_trip_random() -> None:
    rng = random.Random(7)
    pool = [rng.getrandbits(rng.choice([3, 15, 16, 31, 40, 62, 70, 83, 100, 125, 200, 251])) for _ in range(300)]
    data = [rng.choice(pool) for _ in range(3000)]
    compressed = stateless.compress(data)
    assert len(compressed) < len(data)
    assert stateless.decompress(compressed) == data


def test_header_of_empty_data() -> None:
    assert stateless.compress([]) == [0]


def test_malformed_input() -> None:
    with pytest.raises(stateless.CompressionError, match="more than a felt"):
        stateless.compress([2**252])
    with pytest.raises(stateless.CompressionError, match="too long"):
        stateless.compress([0] * stateless.HEADER_ELM_BOUND)
    good = stateless.compress([1, 2, 3, 2**200])
    with pytest.raises(stateless.CompressionError, match="ends early"):
        stateless.decompress(good[:-1])
    with pytest.raises(stateless.CompressionError, match="trailing"):
        stateless.decompress([*good, 0])
    with pytest.raises(stateless.CompressionError, match="version"):
        stateless.decompress([1])


def test_raw_rpc_results_and_version_strings_are_accepted(batch_stateless_felts: list[int]) -> None:
    raw = load_json(BATCH / "stateful_compressed_state_update.json")
    assert encode_and_compress(raw, "0.13.5") == batch_stateless_felts
    with pytest.raises(StateUpdateFormatError, match="state_diff"):
        encode_and_compress({"state_diff": {"nonces": "x"}}, "0.13.5")
