"""Fact computation: the reference's vectors and the topology rules."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_hash.auto import keccak
from poseidon_py.poseidon_hash import poseidon_hash_many

from orchestrator.clients.snos.pie_writer import write_cairo_pie
from orchestrator.services.proof.fact import (
    BOOT_LOADER_PROGRAM_CONTRACT,
    FactError,
    FactTopology,
    get_fact_info,
    get_fact_l2,
    gps_fact,
    l2_fact,
    output_root,
    page_sizes,
)
from orchestrator.services.proof.pie import OutputPage, read_cairo_pie
from orchestrator.services.proof.program_hash import compute_hash_chain, program_hash

FIXTURES = Path(__file__).parents[2] / "fixtures" / "pie"
FIBONACCI_FACT = "0xca15503f02f8406b599cb220879e842394f5cf2cef753f3ee430647b5981b782"


def test_fibonacci_fact_matches_the_reference() -> None:
    info = get_fact_info(read_cairo_pie(FIXTURES / "fibonacci.zip"))
    assert info.fact_hex == FIBONACCI_FACT
    assert info.program_output == [89]
    assert info.fact_topology == FactTopology([1, 0], [1])


def test_merkle_root_matches_cairo_lang() -> None:
    # Vector from the reference's fact_node test, produced by cairo-lang's generate_output_root.
    topology = FactTopology([1, 0, 1, 0, 0, 2, 1, 1, 0, 2], [4, 4, 4])
    root = output_root(list(range(1, 13)), topology)
    assert root.hex() == "17f41ba1db11e3a164b23b72b52190fb0da6184b4b80cf74e0882fde7438e47f"


def test_single_page_fact_is_keccak_of_hash_and_page() -> None:
    output = [3, 1, 4, 1, 5]
    page = keccak(b"".join(w.to_bytes(32, "big") for w in output))
    assert gps_fact(42, output) == keccak((42).to_bytes(32, "big") + page)


def test_program_hash_is_a_pedersen_chain_over_header_and_data() -> None:
    pie = read_cairo_pie(FIXTURES / "fibonacci.zip")
    builtin = int.from_bytes(b"output", "big")
    chain = [0, pie.program.main, 1, builtin, *pie.program.data]
    assert program_hash(pie.program) == compute_hash_chain([len(chain), *chain])
    with pytest.raises(ValueError, match="at least one element"):
        compute_hash_chain([])
    assert compute_hash_chain([7]) == 7


def test_given_program_hash_is_used() -> None:
    pie = read_cairo_pie(FIXTURES / "fibonacci.zip")
    info = get_fact_info(pie, program_hash=1)
    assert info.fact == gps_fact(1, [89])
    assert info.fact_hex != FIBONACCI_FACT


def test_fact_with_pages_and_topology_from_the_pie() -> None:
    output = list(range(1, 13))
    pie = read_cairo_pie(
        write_cairo_pie(
            [1, 2, 3],
            output,
            n_steps=1,
            output_pages={1: (4, 4), 2: (8, 4)},
            output_attributes={"gps_fact_topology": [1, 0, 1, 0, 0, 2, 1, 1, 0, 2]},
        )
    )
    info = get_fact_info(pie, program_hash=5)
    assert info.fact_topology == FactTopology([1, 0, 1, 0, 0, 2, 1, 1, 0, 2], [4, 4, 4])
    root = bytes.fromhex("17f41ba1db11e3a164b23b72b52190fb0da6184b4b80cf74e0882fde7438e47f")
    assert info.fact == keccak((5).to_bytes(32, "big") + root)


def test_pages_without_topology_are_an_error() -> None:
    pie = read_cairo_pie(write_cairo_pie([1], [1, 2, 3, 4], n_steps=1, output_pages={1: (2, 2)}))
    with pytest.raises(FactError, match="no gps_fact_topology"):
        get_fact_info(pie, program_hash=1)


@pytest.mark.parametrize(
    ("pages", "message"),
    [
        ({2: OutputPage(1, 1)}, "ids must be 1, 2"),
        ({1: OutputPage(0, 2)}, "outside the output"),
        ({1: OutputPage(2, 1), 2: OutputPage(4, 1)}, "starts at 4, expected 3"),
        ({1: OutputPage(2, 1)}, "end at 3"),
    ],
)
def test_page_size_rules(pages: dict[int, OutputPage], message: str) -> None:
    with pytest.raises(FactError, match=message):
        page_sizes(pages, 5)


def test_page_sizes_of_valid_pages() -> None:
    assert page_sizes({}, 9) == [9]
    assert page_sizes({1: OutputPage(3, 4), 2: OutputPage(7, 2)}, 9) == [3, 4, 2]


@pytest.mark.parametrize(
    ("topology", "message"),
    [
        (FactTopology([2, 0], [1]), "asks for 2 pages"),
        (FactTopology([1, 2], [3]), "asks for 2 nodes"),
        (FactTopology([1, 0, 1, 0], [1, 2]), "leaves 2 nodes"),
        (FactTopology([1, 0], [1, 2]), "leaves 1 pages"),
        (FactTopology([1, 0], [2]), "cover 2 words"),
    ],
)
def test_topology_that_does_not_fit_the_output(topology: FactTopology, message: str) -> None:
    with pytest.raises(FactError, match=message):
        output_root([1, 2, 3], topology)


def test_l2_fact_is_poseidon_over_bootloader_and_output_hash() -> None:
    pie = read_cairo_pie(FIXTURES / "fibonacci.zip")
    expected = poseidon_hash_many([BOOT_LOADER_PROGRAM_CONTRACT, poseidon_hash_many([89])])
    assert get_fact_l2(pie) == expected.to_bytes(32, "big")
    assert l2_fact([89]) != l2_fact([90])
