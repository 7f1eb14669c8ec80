"""`orchestrator blob encode|kzg`: real fixtures in, fixture files out; bad input is one line, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from orchestrator.controllers.cli.main import cli
from tests.unit.da.helpers import BATCH, FIXTURES


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_encode_block(tmp_path: Path) -> None:
    code, out, _ = _run(
        "blob", "encode", str(FIXTURES / "da/state_update/631861.json"),
        "--nonces", str(FIXTURES / "da/nonces/631861.json"),
        "--starknet-version", "0.13.2", "-o", str(tmp_path / "out"),
    )  # fmt: skip
    assert code == 0, out
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["1.hex"]
    assert (tmp_path / "out/1.hex").read_text() == (FIXTURES / "da/blob/631861.hex").read_text().strip()


def test_encode_batch(tmp_path: Path) -> None:
    code, out, _ = _run(
        "blob", "encode", str(BATCH / "stateful_compressed_state_update.json"),
        "--batch", "--starknet-version", "0.13.5", "-o", str(tmp_path),
    )  # fmt: skip
    assert code == 0, out
    for name in ("1.hex", "2.hex"):
        assert (tmp_path / name).read_text() == (BATCH / "blobs" / name).read_text().strip()


def test_kzg(tmp_path: Path) -> None:
    code, out, _ = _run("blob", "kzg", str(FIXTURES / "kzg/20462788.blob.hex"))
    assert code == 0
    result = json.loads(out)
    assert result["commitment"] == (FIXTURES / "kzg/20462788.commitment.hex").read_text().strip()
    assert result["blob_proof"] == (FIXTURES / "kzg/20462788.proof.hex").read_text().strip()
    assert result["versioned_hash"].startswith("0x01") and len(result["versioned_hash"]) == 66
    assert "proof" not in result

    blob = tmp_path / "651053.hex"
    blob.write_text((FIXTURES / "kzg/651053/blob_data.txt").read_text())
    x0 = (FIXTURES / "kzg/651053/x_0.txt").read_text().strip()
    code, out, _ = _run("blob", "kzg", str(blob), "--x0", x0)
    assert code == 0
    assert json.loads(out)["proof"] == (FIXTURES / "kzg/651053/kzg_proof.txt").read_text().strip()


@pytest.fixture
def bad_files(tmp_path: Path) -> Path:
    (tmp_path / "not.json").write_text("{nope")
    (tmp_path / "types.json").write_text(
        json.dumps({"state_diff": {"nonces": [{"contract_address": "0x1", "nonce": 3}]}})
    )
    (tmp_path / "nonces.json").write_text(json.dumps([{"nonce": 5, "address": "12"}]))
    (tmp_path / "short.hex").write_text("00" * 100)
    (tmp_path / "nothex.hex").write_text("zz" * 131072)
    return tmp_path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["encode", "{d}/not.json", "-o", "{d}/o"], "is not valid JSON"),
        (["encode", "{d}/types.json", "-o", "{d}/o"], "state_diff.nonces.0.nonce"),
        (["encode", "{d}/missing.json", "-o", "{d}/o"], "cannot read"),
        (["encode", str(FIXTURES / "da/state_update/178.json"), "-o", "{d}/o"], "pass it in --nonces"),
        (
            ["encode", str(FIXTURES / "da/state_update/178.json"), "--nonces", "{d}/nonces.json", "-o", "{d}/o"],
            "nonces[0]",
        ),
        (["encode", "{d}/types.json", "--starknet-version", "zero", "-o", "{d}/o"], "not a Starknet version"),
        (["encode", "{d}/types.json", "--batch", "--nonces", "{d}/nonces.json", "-o", "{d}/o"], "per-block"),
        (["kzg", "{d}/short.hex"], "262144 hex characters"),
        (["kzg", "{d}/nothex.hex"], "only hex digits"),
        (["kzg", str(FIXTURES / "kzg/20462788.blob.hex"), "--x0", "xyz"], "--x0 must be a hex number"),
        (["kzg", str(FIXTURES / "kzg/20462788.blob.hex"), "--x0", "0x" + "f" * 64], "not a BLS12-381"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(bad_files: Path, args: list[str], message: str) -> None:
    code, _out, err = _run("blob", *[a.format(d=bad_files) for a in args])
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0], err
