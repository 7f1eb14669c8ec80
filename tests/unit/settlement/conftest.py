"""Fixture files of the settlement tests."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).parents[2] / "fixtures" / "settlement"


@pytest.fixture(scope="session")
def program_output_6806848() -> list[int]:
    return [int(x) for x in (FIXTURES / "program_output" / "6806848.txt").read_text().split()]


@pytest.fixture(scope="session")
def blob_6806848() -> bytes:
    return bytes.fromhex((FIXTURES / "program_output" / "6806848.blob.hex").read_text().strip())
