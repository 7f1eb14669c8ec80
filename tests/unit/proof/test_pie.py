"""Reading Cairo PIEs: the recorded fibonacci PIE and PIEs written for the test."""

from __future__ import annotations

import dataclasses
import io
import zipfile
from pathlib import Path

import pytest

from orchestrator.clients.snos.pie_writer import write_cairo_pie
from orchestrator.services.proof.pie import (
    CairoPie,
    MaybeRelocatable,
    PieError,
    Relocatable,
    parse_memory,
    read_cairo_pie,
)
from orchestrator.services.proof.program_output import aggregator_own_output, program_output

FIXTURES = Path(__file__).parents[2] / "fixtures" / "pie"


def test_fibonacci_pie_is_read() -> None:
    pie = read_cairo_pie(FIXTURES / "fibonacci.zip")
    assert pie.program.builtins == ["output"]
    assert len(pie.program.data) == 27
    assert pie.program.data[0] == 1226245742482522112
    assert pie.n_steps == 72
    assert pie.builtin_segments["output"].index == 2
    # the fibonacci program writes fib(10)-style result 89 to its output
    assert program_output(pie) == [89]
    # the return-address cell of the execution segment is relocatable: (segment 2, offset 0)
    assert pie.memory[(1, 0)] == Relocatable(2, 0)


def test_bytes_and_path_give_the_same_pie() -> None:
    path = FIXTURES / "fibonacci.zip"
    assert read_cairo_pie(path.read_bytes()) == read_cairo_pie(path)


def test_memory_entries_decode_ints_and_relocatables() -> None:
    top = 1 << 63
    address = (top + (3 << 47) + 5).to_bytes(8, "little")
    reloc_value = ((1 << 255) + (7 << 47) + 9).to_bytes(32, "little")
    int_value = (12345).to_bytes(32, "little")
    address2 = (top + (3 << 47) + 6).to_bytes(8, "little")
    memory = parse_memory(address + reloc_value + address2 + int_value, 32)
    assert memory == {(3, 5): Relocatable(7, 9), (3, 6): 12345}


def test_truncated_memory_is_an_error() -> None:
    with pytest.raises(PieError, match="multiple of the 40-byte"):
        parse_memory(b"\x00" * 41, 32)


def test_not_a_zip_is_an_error() -> None:
    with pytest.raises(PieError, match="not a Cairo PIE zip"):
        read_cairo_pie(b"definitely not a zip")


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PieError, match="no such file"):
        read_cairo_pie(tmp_path / "absent.zip")


def _without(member: str) -> bytes:
    source = zipfile.ZipFile(FIXTURES / "fibonacci.zip")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as target:
        for name in source.namelist():
            if name != member:
                target.writestr(name, source.read(name))
    return buffer.getvalue()


@pytest.mark.parametrize("member", ["metadata.json", "memory.bin"])
def test_pie_without_a_required_member_is_an_error(member: str) -> None:
    with pytest.raises(PieError, match=f"no {member}"):
        read_cairo_pie(_without(member))


def test_written_pie_round_trips() -> None:
    data = [1, 2, 3]
    output = [10, 20, 30, 40]
    pie = read_cairo_pie(write_cairo_pie(data, output, n_steps=7, output_pages={1: (2, 2)}))
    assert pie.program.data == data
    assert pie.n_steps == 7
    assert program_output(pie) == output
    builtin = pie.output_builtin_data()
    assert builtin is not None and builtin.pages[1].start == 2 and builtin.pages[1].size == 2


def _encode(memory: dict[tuple[int, int], MaybeRelocatable]) -> bytes:
    def word(value: MaybeRelocatable, n_bytes: int) -> bytes:
        if isinstance(value, Relocatable):
            value = (1 << (8 * n_bytes - 1)) + (value.segment << 47) + value.offset
        return value.to_bytes(n_bytes, "little")

    return b"".join(word(Relocatable(*address), 8) + word(value, 32) for address, value in memory.items())


def _with_memory(pie: CairoPie, memory: dict[tuple[int, int], MaybeRelocatable]) -> CairoPie:
    return dataclasses.replace(pie, memory_bytes=_encode(memory))


def test_memory_re_encoding_round_trips() -> None:
    pie = read_cairo_pie(FIXTURES / "fibonacci.zip")
    assert _encode(pie.memory) == pie.memory_bytes
    assert pie.segment(2) == {0: 89}


def test_relocatable_in_the_output_is_an_error() -> None:
    pie = read_cairo_pie(FIXTURES / "fibonacci.zip")
    broken = _with_memory(pie, {**pie.memory, (2, 0): Relocatable(1, 0)})
    with pytest.raises(PieError, match="relocatable"):
        program_output(broken)


def test_unset_output_cell_is_an_error() -> None:
    pie = read_cairo_pie(FIXTURES / "fibonacci.zip")
    broken = _with_memory(pie, {k: v for k, v in pie.memory.items() if k[0] != 2})
    with pytest.raises(PieError, match="1 unset cells"):
        program_output(broken)


def test_output_cell_beyond_the_segment_is_an_error() -> None:
    pie = read_cairo_pie(FIXTURES / "fibonacci.zip")
    broken = _with_memory(pie, {**pie.memory, (2, 1): 5})
    with pytest.raises(PieError, match="beyond the segment size"):
        program_output(broken)


def _os_output(n_blobs: int, l2_to_l1: list[int], l1_to_l2: list[int]) -> list[int]:
    header = list(range(100, 110))  # 10 header words
    kzg = [777, n_blobs] + [5] * (4 * n_blobs)
    return header + kzg + [len(l2_to_l1), *l2_to_l1, len(l1_to_l2), *l1_to_l2]


def test_aggregator_output_skips_children_and_padding() -> None:
    own = _os_output(2, [1, 2, 3], [4, 5])
    # two children; each size counts its own word
    children = [2, 3, 0xAA, 0xBB, 4, 0xCC, 0xDD, 0xEE]
    full = children + own + [0, 0, 0]
    assert aggregator_own_output(full) == own


def test_aggregator_output_ending_with_the_messages() -> None:
    own = _os_output(1, [], [7])
    assert aggregator_own_output([0, *own]) == own
    # one L1->L2 message word missing
    with pytest.raises(PieError, match="too short"):
        aggregator_own_output([0, *own[:-1]])


def test_aggregator_output_truncated_is_an_error() -> None:
    with pytest.raises(PieError, match="too short"):
        aggregator_own_output([3, 2])
    with pytest.raises(PieError, match="empty"):
        aggregator_own_output([])
