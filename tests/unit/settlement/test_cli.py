"""`orchestrator settlement calldata`, and `orchestrator blob kzg` on the 651053 proof at x_0."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from orchestrator.clients.settlement.blob_proofs import build_kzg_proofs
from orchestrator.clients.settlement.calldata import update_state_kzg_da_calldata
from orchestrator.controllers.cli.main import cli

FIXTURES = Path(__file__).parents[2] / "fixtures" / "settlement"
OUTPUT = FIXTURES / "program_output" / "6806848.txt"
BLOB = FIXTURES / "program_output" / "6806848.blob.hex"


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_calldata_for_the_mainnet_output(program_output_6806848: list[int], blob_6806848: bytes) -> None:
    code, out = _run("settlement", "calldata", "--program-output", str(OUTPUT), "--blob", str(BLOB))
    assert code == 0
    expected = update_state_kzg_da_calldata(
        program_output_6806848, build_kzg_proofs(program_output_6806848, [blob_6806848])
    )
    assert out.strip() == "0x" + expected.hex()
    assert out.startswith("0x507ee528")


def test_hex_program_output_and_raw_blob_give_the_same_calldata(
    tmp_path: Path, program_output_6806848: list[int]
) -> None:
    hex_output = tmp_path / "out.txt"
    hex_output.write_text("\n".join(hex(x) for x in program_output_6806848) + "\n")
    raw_blob = tmp_path / "blob.bin"
    raw_blob.write_bytes(bytes.fromhex(BLOB.read_text().strip()))
    _, reference = _run("settlement", "calldata", "--program-output", str(OUTPUT), "--blob", str(BLOB))
    code, out = _run("settlement", "calldata", "--program-output", str(hex_output), "--blob", str(raw_blob))
    assert code == 0 and out == reference


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("bad_felt", "line 3: not a decimal or 0x-hex number"),
        ("short_blob", "a blob must be 262144 hex characters"),
        ("two_blobs", "declares 1 blobs, got 2"),
        ("missing", "cannot read"),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_2(tmp_path: Path, setup: str, message: str) -> None:
    output, blobs = str(OUTPUT), [str(BLOB)]
    if setup == "bad_felt":
        bad = tmp_path / "bad.txt"
        bad.write_text("1\n2\nthree\n")
        output = str(bad)
    elif setup == "short_blob":
        short = tmp_path / "short.hex"
        short.write_text("00" * 100)
        blobs = [str(short)]
    elif setup == "two_blobs":
        blobs = [str(BLOB), str(BLOB)]
    else:
        output = str(tmp_path / "nope.txt")
    args = ["settlement", "calldata", "--program-output", output]
    for blob in blobs:
        args += ["--blob", blob]
    code, out = _run(*args)
    assert code == 2
    assert message in out and "Traceback" not in out
    assert len(out.strip().splitlines()) == 1


def test_blob_kzg_command_prints_the_recorded_proof_at_x0_of_651053() -> None:
    folder = FIXTURES / "651053"
    blob_hex = folder / "blob_data.txt"
    x_0 = (folder / "x_0.txt").read_text().strip()
    code, out = _run("blob", "kzg", str(blob_hex), "--x0", x_0)
    assert code == 0, out
    assert json.loads(out)["proof"] == (folder / "kzg_proof.txt").read_text().strip()
