"""Hypothesis fuzz of the operator tools: binary, deeply nested, huge and truncated inputs end in one
line and exit 2, never a traceback or exit 0; a zip bomb is refused before it is unpacked."""

from __future__ import annotations

import io
import tempfile
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.controllers.cli.main import cli

FIXTURES = Path(__file__).parents[1] / "fixtures"
STATE_UPDATE = (FIXTURES / "da" / "state_update" / "178.json").read_bytes()
PIE = (FIXTURES / "pie" / "fibonacci.zip").read_bytes()
PROGRAM_OUTPUT = (FIXTURES / "settlement" / "651053" / "program_output.txt").read_bytes()

COMMANDS = {
    "blob-encode": lambda f, out: ["blob", "encode", f, "-o", out],
    "blob-encode-batch": lambda f, out: ["blob", "encode", "--batch", f, "-o", out],
    "blob-kzg": lambda f, out: ["blob", "kzg", f],
    "pie-fact": lambda f, out: ["pie", "fact", f],
    "pie-fact-l2": lambda f, out: ["pie", "fact", "--l2", f],
    "calldata": lambda f, out: ["settlement", "calldata", "--program-output", f, "--blob", f],
}


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def _zip(members: dict[str, bytes]) -> bytes:
    stream = io.BytesIO()
    with zipfile.ZipFile(stream, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return stream.getvalue()


malformed = st.one_of(
    st.binary(max_size=2048),
    st.integers(min_value=1, max_value=200_000).map(_nested),
    st.integers(min_value=4301, max_value=20_000).map(lambda n: b'{"block_hash": 1' + b"0" * n + b"}"),
    st.integers(min_value=0, max_value=len(STATE_UPDATE) - 1).map(lambda n: STATE_UPDATE[:n]),
    st.integers(min_value=0, max_value=len(PIE) - 1).map(lambda n: PIE[:n]),
    st.integers(min_value=0, max_value=len(PROGRAM_OUTPUT) - 1).map(lambda n: b"\xff" + PROGRAM_OUTPUT[:n]),
    st.binary(max_size=512).map(lambda b: _zip({"metadata.json": b, "memory.bin": b})),
    st.integers(min_value=1, max_value=5000).map(lambda n: _zip({"metadata.json": _nested(n), "memory.bin": b""})),
)


def _run(command: str, data: bytes) -> tuple[int, str, BaseException | None]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "input"
        path.write_bytes(data)
        result = CliRunner().invoke(cli, COMMANDS[command](str(path), str(Path(tmp) / "out")))
    return result.exit_code, result.output, result.exception


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(command=st.sampled_from(sorted(COMMANDS)), data=malformed)
def test_malformed_input_is_one_line_and_exit_2(command: str, data: bytes) -> None:
    code, output, exc = _run(command, data)
    if code == 0:
        # a truncated input may still be whole (e.g. a state update cut after its last brace)
        assert command.startswith("blob-encode") or command == "pie-fact", output
        return
    assert isinstance(exc, SystemExit) and code == 2, f"{type(exc).__name__}: {exc}\n{output}"
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:"), output
    assert "Traceback" not in output


@pytest.mark.parametrize("case", ["encrypted flag", "unsupported compression"])
def test_encrypted_or_unsupported_zips_are_refused(case: str, tmp_path: Path) -> None:
    data = bytearray(_zip({"metadata.json": b"{}", "memory.bin": b"\x00" * 64}))
    # flip the flag bits / compression method in every local and central header
    for signature, flag_at, method_at in ((b"PK\x03\x04", 6, 8), (b"PK\x01\x02", 8, 10)):
        start = 0
        while (start := data.find(signature, start)) != -1:
            if case == "encrypted flag":
                data[start + flag_at] |= 0x01
            else:
                data[start + method_at] = 99  # AES, which zipfile cannot read
            start += 4
    path = tmp_path / "pie.zip"
    path.write_bytes(bytes(data))
    result = CliRunner().invoke(cli, ["pie", "fact", str(path)])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    assert result.output.startswith("Error:") and len(result.output.strip().splitlines()) == 1


def test_a_zip_bomb_is_refused_without_unpacking_it(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        with zipfile.ZipFile(io.BytesIO(PIE)) as real:
            archive.writestr("metadata.json", real.read("metadata.json"))
        with archive.open("memory.bin", "w", force_zip64=True) as member:
            zeros = bytes(16 * 1024 * 1024)
            for _ in range(16):  # 256 MiB of zeros, about 250 KB compressed
                member.write(zeros)
    assert bomb.stat().st_size < 1024 * 1024
    tracemalloc.start()
    try:
        result = CliRunner().invoke(cli, ["pie", "fact", str(bomb)])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.exit_code == 2 and "memory.bin" in result.output, result.output
    assert peak < 64 * 1024 * 1024, f"peak {peak} bytes: the member was unpacked"
