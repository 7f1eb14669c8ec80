"""Reading a Cairo PIE (Position Independent Execution) zip without cairo-lang.

A PIE zip (cairo-lang / cairo-vm format, version "1.1") holds:
- `metadata.json`: the stripped program (data, builtins, main, prime) and the segment layout;
- `memory.bin`: the memory, one entry per cell: an 8-byte little-endian address followed by a
  little-endian value of `ceil(prime bits / 8)` bytes (32 for the Starknet prime);
- `additional_data.json`: per-builtin extra data (the output builtin's pages and attributes);
- `execution_resources.json`: `n_steps`, memory holes, builtin counters;
- `version.json`.

Addresses are always relocatable; values are integers or relocatable. A relocatable is encoded
with the top bit of its width set, then `segment * 2^47 + offset` (cairo-lang
`RelocatableValue.to_bytes`, OFFSET_BITS = 47, whatever the width).
"""

from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from orchestrator.core.errors import OrchestratorError
from orchestrator.core.madara.felt import STARK_PRIME

ADDRESS_BYTES = 8
OFFSET_BITS = 47
OUTPUT_BUILTIN = "output"
OUTPUT_BUILTIN_DATA = "output_builtin"


#: limits checked on a member's declared size before it is unpacked
MAX_MEMORY_BIN_BYTES = 4 << 30
MAX_JSON_MEMBER_BYTES = 256 << 20
#: real memory.bin files compress about 10:1; a bomb of zeros about 1000:1
MAX_COMPRESSION_RATIO = 200
RATIO_FREE_BYTES = 1 << 20


class PieError(OrchestratorError, ValueError):
    """The bytes are not a readable Cairo PIE, or the PIE lacks what was asked of it."""


@dataclass(frozen=True)
class Relocatable:
    segment: int
    offset: int


MaybeRelocatable = int | Relocatable


@dataclass(frozen=True)
class SegmentInfo:
    index: int
    size: int


@dataclass(frozen=True)
class StrippedProgram:
    data: list[int]
    builtins: list[str]
    main: int
    prime: int


@dataclass(frozen=True)
class OutputPage:
    start: int
    size: int


@dataclass(frozen=True)
class OutputBuiltinData:
    pages: dict[int, OutputPage] = field(default_factory=dict)
    attributes: dict[str, list[int]] = field(default_factory=dict)


@dataclass(frozen=True)
class CairoPie:
    program: StrippedProgram
    builtin_segments: dict[str, SegmentInfo]
    #: memory.bin as is: a SNOS PIE holds millions of cells, decoded only where needed
    memory_bytes: bytes
    field_bytes: int
    additional_data: dict[str, Any]
    execution_resources: dict[str, Any]
    version: dict[str, Any]

    @cached_property
    def memory(self) -> dict[tuple[int, int], MaybeRelocatable]:
        """Every cell, decoded: {(segment, offset): value}."""
        return parse_memory(self.memory_bytes, self.field_bytes)

    def segment(self, index: int) -> dict[int, MaybeRelocatable]:
        """The cells of one segment, {offset: value}, without decoding the others."""
        return segment_cells(self.memory_bytes, self.field_bytes, index)

    @property
    def n_steps(self) -> int | None:
        value = self.execution_resources.get("n_steps")
        return value if isinstance(value, int) else None

    def output_builtin_data(self) -> OutputBuiltinData | None:
        """The output builtin's pages and attributes, or None when the PIE has none."""
        raw = self.additional_data.get(OUTPUT_BUILTIN_DATA)
        if raw is None:
            return None
        if not isinstance(raw, dict):
            raise PieError("additional_data.output_builtin is not an object")
        pages: dict[int, OutputPage] = {}
        for page_id, page in (raw.get("pages") or {}).items():
            # cairo-lang writes [start, size]; accept an object too.
            if isinstance(page, list) and len(page) == 2:
                start, size = page
            elif isinstance(page, dict):
                start, size = page.get("start"), page.get("size")
            else:
                raise PieError(f"output page {page_id}: expected [start, size], got {page!r}")
            pages[_as_int(page_id, f"output page id {page_id!r}")] = OutputPage(
                _as_int(start, f"output page {page_id} start"), _as_int(size, f"output page {page_id} size")
            )
        attributes = {
            str(name): [_as_int(v, f"output attribute {name}") for v in values]
            for name, values in (raw.get("attributes") or {}).items()
        }
        return OutputBuiltinData(pages=pages, attributes=attributes)


def _as_int(value: Any, what: str) -> int:
    """Accepts ints, decimal strings and 0x-hex strings (cairo-lang and cairo-vm differ here)."""
    if isinstance(value, bool):
        raise PieError(f"{what}: expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value, 16) if value.lower().startswith(("0x", "-0x")) else int(value)
        except ValueError:
            pass
    raise PieError(f"{what}: expected an integer, got {value!r}")


def read_member(archive: zipfile.ZipFile, name: str) -> bytes:
    """One member, its declared size checked *before* it is unpacked (a 1 MB zip can hold a GiB of
    zeros); KeyError when absent, PieError when too large, too compressed, encrypted or corrupt."""
    info = archive.getinfo(name)
    limit = MAX_MEMORY_BIN_BYTES if name.endswith("memory.bin") else MAX_JSON_MEMBER_BYTES
    if info.file_size > limit:
        raise PieError(f"{name} unpacks to {info.file_size} bytes, over the limit of {limit}")
    if info.file_size > RATIO_FREE_BYTES and info.file_size > MAX_COMPRESSION_RATIO * max(1, info.compress_size):
        ratio = info.file_size // max(1, info.compress_size)
        raise PieError(f"{name} is compressed {ratio}:1 (over {MAX_COMPRESSION_RATIO}:1): refused as a zip bomb")
    if info.flag_bits & 0x1:
        raise PieError(f"{name} is encrypted")
    try:
        return archive.read(info)
    except (RuntimeError, NotImplementedError, zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise PieError(f"cannot unpack {name}: {exc}") from None


def _read_json(archive: zipfile.ZipFile, name: str, *, required: bool = True) -> Any:
    try:
        raw = read_member(archive, name)
    except KeyError:
        if required:
            raise PieError(f"the PIE has no {name}") from None
        return {}
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:  # bad JSON, bad UTF-8, nesting or integers too deep/long
        raise PieError(f"{name} is not valid JSON: {str(exc)[:200]}") from None


def _entry_name(archive: zipfile.ZipFile, name: str) -> str:
    """Some writers nest the files in a folder; find `name` at the root or one level down."""
    names = archive.namelist()
    if name in names:
        return name
    for candidate in names:
        if candidate.endswith("/" + name) and candidate.count("/") == 1:
            return candidate
    return name


def _decode_value(raw: int, n_bytes: int) -> MaybeRelocatable:
    top_bit = 1 << (8 * n_bytes - 1)
    if raw & top_bit:
        raw -= top_bit
        return Relocatable(raw >> OFFSET_BITS, raw & ((1 << OFFSET_BITS) - 1))
    return raw


def _check_memory_size(data: bytes, field_bytes: int) -> int:
    entry = ADDRESS_BYTES + field_bytes
    if len(data) % entry:
        raise PieError(f"memory.bin has {len(data)} bytes, not a multiple of the {entry}-byte entry size")
    return entry


def segment_cells(data: bytes, field_bytes: int, index: int) -> dict[int, MaybeRelocatable]:
    """The cells of segment `index` in memory.bin, {offset: value}."""
    _check_memory_size(data, field_bytes)
    address_top = 1 << (8 * ADDRESS_BYTES - 1)
    cells: dict[int, MaybeRelocatable] = {}
    # struct walks the entries in C; only the wanted segment's values are decoded in Python.
    for tagged_address, raw_value in struct.iter_unpack(f"<Q{field_bytes}s", data):
        if not tagged_address & address_top:
            raise PieError("memory.bin holds an address that is not relocatable")
        address = tagged_address - address_top
        if address >> OFFSET_BITS == index:
            offset = address & ((1 << OFFSET_BITS) - 1)
            cells[offset] = _decode_value(int.from_bytes(raw_value, "little"), field_bytes)
    return cells


def parse_memory(data: bytes, field_bytes: int) -> dict[tuple[int, int], MaybeRelocatable]:
    """Decode memory.bin into {(segment, offset): value}."""
    entry = _check_memory_size(data, field_bytes)
    memory: dict[tuple[int, int], MaybeRelocatable] = {}
    for pos in range(0, len(data), entry):
        address = _decode_value(int.from_bytes(data[pos : pos + ADDRESS_BYTES], "little"), ADDRESS_BYTES)
        if not isinstance(address, Relocatable):
            raise PieError(f"memory.bin entry {pos // entry}: the address is not relocatable")
        value = _decode_value(int.from_bytes(data[pos + ADDRESS_BYTES : pos + entry], "little"), field_bytes)
        memory[(address.segment, address.offset)] = value
    return memory


def _program(metadata: dict[str, Any]) -> StrippedProgram:
    program = metadata.get("program")
    if not isinstance(program, dict):
        raise PieError("metadata.json has no program")
    data = program.get("data")
    if not isinstance(data, list):
        raise PieError("metadata.program.data is not a list")
    builtins = program.get("builtins", [])
    if not isinstance(builtins, list) or not all(isinstance(b, str) for b in builtins):
        raise PieError("metadata.program.builtins is not a list of names")
    return StrippedProgram(
        data=[_as_int(word, f"program data word {i}") for i, word in enumerate(data)],
        builtins=list(builtins),
        main=_as_int(program.get("main", 0), "metadata.program.main"),
        prime=_as_int(program.get("prime", STARK_PRIME), "metadata.program.prime"),
    )


def _segments(metadata: dict[str, Any]) -> dict[str, SegmentInfo]:
    raw = metadata.get("builtin_segments", {})
    if not isinstance(raw, dict):
        raise PieError("metadata.builtin_segments is not an object")
    segments: dict[str, SegmentInfo] = {}
    for name, info in raw.items():
        if not isinstance(info, dict):
            raise PieError(f"builtin segment {name}: expected an object")
        segments[name] = SegmentInfo(
            _as_int(info.get("index"), f"builtin segment {name} index"),
            _as_int(info.get("size"), f"builtin segment {name} size"),
        )
    return segments


def _checked(memory_bytes: bytes, field_bytes: int) -> bytes:
    _check_memory_size(memory_bytes, field_bytes)
    return memory_bytes


def read_cairo_pie(source: bytes | str | Path) -> CairoPie:
    """Read a PIE from zip bytes or a path to a zip file."""
    try:
        stream: Any = io.BytesIO(source) if isinstance(source, bytes) else Path(source)
        archive = zipfile.ZipFile(stream)
    except FileNotFoundError as exc:
        raise PieError(f"no such file: {exc.filename}") from exc
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise PieError(f"not a Cairo PIE zip: {exc}") from exc
    with archive:
        metadata = _read_json(archive, _entry_name(archive, "metadata.json"))
        if not isinstance(metadata, dict):
            raise PieError("metadata.json is not an object")
        program = _program(metadata)
        field_bytes = (program.prime.bit_length() + 7) // 8
        try:
            memory_bytes = read_member(archive, _entry_name(archive, "memory.bin"))
        except KeyError:
            raise PieError("the PIE has no memory.bin") from None
        additional = _read_json(archive, _entry_name(archive, "additional_data.json"), required=False)
        resources = _read_json(archive, _entry_name(archive, "execution_resources.json"), required=False)
        version = _read_json(archive, _entry_name(archive, "version.json"), required=False)
    return CairoPie(
        program=program,
        builtin_segments=_segments(metadata),
        memory_bytes=_checked(memory_bytes, field_bytes),
        field_bytes=field_bytes,
        additional_data=additional if isinstance(additional, dict) else {},
        execution_resources=resources if isinstance(resources, dict) else {},
        version=version if isinstance(version, dict) else {},
    )
