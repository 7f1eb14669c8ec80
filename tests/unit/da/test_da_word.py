"""The DA-word table of the reference (compression tests), both layouts."""

from __future__ import annotations

import pytest

from orchestrator.services.da.da_word import DaWordError, da_word
from orchestrator.services.da.version import parse_starknet_version


@pytest.mark.parametrize(
    ("version", "class_flag", "nonce", "n_updates", "word"),
    [
        ("0.13.2", False, 1, 1, 18446744073709551617),
        ("0.13.2", False, 1, 0, 18446744073709551616),
        ("0.13.2", False, 0, 6, 6),
        ("0.13.2", True, 1, 0, 340282366920938463481821351505477763072),
        ("0.13.5", False, 0, 15, 62),
        ("0.13.5", False, 0, 1024, 4096),
        ("0.13.5", False, 10, 0, 10242),
        ("0.13.5", False, 15, 2025, 1106804644422573105060),
        ("0.13.5", True, 0, 10, 43),
        ("0.13.5", True, 0, 1000, 4001),
        ("0.13.5", True, 20, 255, 21503),
        ("0.13.5", True, 1000, 256, 73786976294838206465025),
    ],
)
def test_da_word_table(version: str, class_flag: bool, nonce: int, n_updates: int, word: int) -> None:
    assert da_word(class_flag, nonce, n_updates, parse_starknet_version(version)) == word


def test_version_boundary_selects_the_layout() -> None:
    assert da_word(False, None, 1, parse_starknet_version("0.13.2.1")) == 1
    assert da_word(False, None, 1, parse_starknet_version("0.13.3")) == 0b110


def test_nonce_must_fit_in_64_bits() -> None:
    with pytest.raises(DaWordError, match="64 bits"):
        da_word(False, 1 << 64, 0, (0, 13, 5))


@pytest.mark.parametrize("text", ["", "0.13", "abc", "0.13.x", "1.2.3.4.5"])
def test_version_parsing(text: str) -> None:
    if text == "0.13":
        assert parse_starknet_version(text) == (0, 13)
        return
    with pytest.raises(ValueError, match="not a Starknet version"):
        parse_starknet_version(text)
