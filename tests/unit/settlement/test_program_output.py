from __future__ import annotations

import pytest

from orchestrator.clients.settlement.program_output import (
    STARK_PRIME,
    KzgSegment,
    ProgramOutputError,
    new_block_number,
    parse_felts,
)
from orchestrator.crypto import kzg


def test_parse_felts_accepts_decimal_and_hex_and_skips_blank_lines() -> None:
    assert parse_felts("1\n0x10\n\n  0XfF \n") == [1, 16, 255]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1\nabc\n", "line 2: not a decimal or 0x-hex number"),
        (f"{STARK_PRIME}\n", "line 1: .* is not a felt"),
        ("-1\n", "is not a felt"),
        ("\n\n", "is empty"),
    ],
)
def test_parse_felts_rejects_bad_input_clearly(text: str, message: str) -> None:
    with pytest.raises(ProgramOutputError, match=message):
        parse_felts(text)


def test_kzg_segment_of_mainnet_output(program_output_6806848: list[int], blob_6806848: bytes) -> None:
    segment = KzgSegment.from_program_output(program_output_6806848)
    assert segment.x_0 == program_output_6806848[10]
    assert segment.n_blobs == 1
    assert segment.commitments[0] == kzg.blob_to_commitment(blob_6806848)
    assert segment.y_0[0] == (program_output_6806848[15] << 128) | program_output_6806848[14]
    assert new_block_number(program_output_6806848) == 218402


def test_kzg_segment_errors(program_output_6806848: list[int]) -> None:
    with pytest.raises(ProgramOutputError, match="no KZG segment"):
        KzgSegment.from_program_output(program_output_6806848[:11])
    no_kzg = list(program_output_6806848)
    no_kzg[8] = 0
    with pytest.raises(ProgramOutputError, match="does not use KZG DA"):
        KzgSegment.from_program_output(no_kzg)
    two_blobs = list(program_output_6806848)
    two_blobs[11] = 6
    with pytest.raises(ProgramOutputError, match="6 blobs need 36"):
        KzgSegment.from_program_output(two_blobs)
