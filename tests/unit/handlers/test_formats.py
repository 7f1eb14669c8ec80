"""The artifact formats the handlers share: bincode program output, felt JSON, proof outputs, keys."""

from __future__ import annotations

import json

import pytest

from orchestrator.services import storage_layout
from orchestrator.services.job.handlers.bincode import BincodeError, decode_felts, encode_felts
from orchestrator.services.job.handlers.felts import FeltJsonError, decode_felts_json, encode_felts_json
from orchestrator.services.job.handlers.stark_proof import StarkProofError, parse_proof, public_output


def test_bincode_layout_is_le_length_then_be_words() -> None:
    data = encode_felts([1, 0x0102])
    assert data[:8] == (2).to_bytes(8, "little")
    assert data[8:40] == b"\x00" * 31 + b"\x01"
    assert data[40:72] == b"\x00" * 30 + b"\x01\x02"
    assert len(data) == 8 + 2 * 32
    assert decode_felts(data) == [1, 0x0102]


def test_bincode_empty_and_round_trip() -> None:
    assert encode_felts([]) == b"\x00" * 8
    values = [0, 2**251, 2**256 - 1, 12345]
    assert decode_felts(encode_felts(values)) == values


@pytest.mark.parametrize(
    "data",
    [b"", b"\x01\x00\x00", (2).to_bytes(8, "little") + b"\x00" * 32, (1).to_bytes(8, "little") + b"\x00" * 33],
)
def test_bincode_rejects_malformed(data: bytes) -> None:
    with pytest.raises(BincodeError):
        decode_felts(data)


def test_bincode_rejects_oversized_word() -> None:
    with pytest.raises(BincodeError):
        encode_felts([2**256])


def test_felt_json_writes_hex_and_reads_hex_decimal_and_ints() -> None:
    assert json.loads(encode_felts_json([0, 255])) == ["0x0", "0xff"]
    assert decode_felts_json(b'["0x1f", "31", 31]') == [31, 31, 31]


@pytest.mark.parametrize("data", [b"{}", b"not json", b'["zz"]', b"[true]", b"[-1]", f'["{hex(2**252)}"]'.encode()])
def test_felt_json_rejects_non_felts(data: bytes) -> None:
    with pytest.raises(FeltJsonError):
        decode_felts_json(data)


def stone_proof(output: list[int], *, before: int = 3, other_page: int = 2) -> bytes:
    """A proof whose public memory holds `before` program cells, then the output cells, plus cells
    of another page (which the main page must ignore)."""
    memory = [{"address": i + 1, "page": 0, "value": hex(100 + i)} for i in range(before)]
    memory += [{"address": 50 + i, "page": 0, "value": hex(v)} for i, v in enumerate(output)]
    memory += [{"address": 900 + i, "page": 1, "value": hex(7)} for i in range(other_page)]
    return json.dumps(
        {
            "proof_parameters": {},
            "public_input": {
                "layout": "recursive",
                "memory_segments": {
                    "program": {"begin_addr": 1, "stop_ptr": 5},
                    "execution": {"begin_addr": 5, "stop_ptr": 50},
                    "output": {"begin_addr": 50, "stop_ptr": 50 + len(output)},
                },
                "public_memory": memory,
            },
        }
    ).encode()


def test_public_output_is_the_tail_of_the_main_page() -> None:
    assert public_output(stone_proof([11, 12, 13])) == [11, 12, 13]
    assert public_output(stone_proof([])) == []


@pytest.mark.parametrize(
    "data",
    [
        b"[]",
        b"{",
        json.dumps({"public_input": {"public_memory": []}}).encode(),
        json.dumps({"public_input": {"memory_segments": {}, "public_memory": []}}).encode(),
        json.dumps(
            {
                "public_input": {
                    "memory_segments": {"output": {"begin_addr": 0, "stop_ptr": 5}},
                    "public_memory": [{"address": 1, "page": 0, "value": "0x1"}],
                }
            }
        ).encode(),
    ],
)
def test_public_output_rejects_unusable_proofs(data: bytes) -> None:
    with pytest.raises(StarkProofError):
        public_output(data)


def test_parse_proof_needs_a_public_input() -> None:
    with pytest.raises(StarkProofError):
        parse_proof(b'{"proof_parameters": {}}')
    assert "public_input" in parse_proof(stone_proof([1]))


def test_storage_layout_matches_the_reference() -> None:
    assert storage_layout.cairo_pie_path(7) == "7/cairo_pie.zip"
    assert storage_layout.snos_output_path(7) == "7/snos_output.json"
    assert storage_layout.program_output_path(7) == "7/program_output.txt"
    assert storage_layout.on_chain_data_path(7) == "7/onchain_data.json"
    assert storage_layout.blob_data_path(7) == "7/blob_data.txt"
    assert storage_layout.proof_path(7) == "7/proof.json"
    assert storage_layout.proof_part2_path(7) == "7/proof_part2.json"
    assert storage_layout.aggregator_cairo_pie_path(3) == "artifacts/batch/3/cairo_pie.zip"
    assert storage_layout.aggregator_da_segment_path(3) == "artifacts/batch/3/da_blob.json"
    assert storage_layout.aggregator_program_output_path(3) == "artifacts/batch/3/program_output.txt"
    assert storage_layout.aggregator_snos_output_path(3) == "artifacts/batch/3/snos_output.json"
    assert storage_layout.aggregator_proof_path(3) == "artifacts/batch/3/proof.json"
    assert storage_layout.batch_blob_dir(3) == "blob/batch/3"
    assert storage_layout.batch_blob_path(3, 1) == "blob/batch/3/1.txt"
    assert storage_layout.squashed_state_update_path(3) == "state_update/batch/3.json"
    with pytest.raises(ValueError, match="numbered from 1"):
        storage_layout.batch_blob_path(3, 0)
