"""FFT: the O(n log n) transform equals the reference's O(n^2) definition; real blobs round-trip."""

from __future__ import annotations

import random

import pytest

from orchestrator.services.da import fft
from orchestrator.services.da.blob import BlobFormatError, blob_to_felts, deserialize, felts_to_blobs
from tests.unit.da.helpers import FIXTURES, load_blob


@pytest.mark.parametrize("n", [1, 2, 4, 8, 32, 256])
def test_ntt_equals_the_definition(n: int) -> None:
    rng = random.Random(n)
    coefficients = [rng.randrange(fft.BLS_MODULUS) for _ in range(n)]
    values = fft.evaluate(coefficients)
    assert values == fft.evaluate_naive(coefficients)
    assert fft.interpolate(values) == coefficients


def test_full_size_evaluation_points() -> None:
    # Checking all 4096 points with Horner is O(n^2); a spread of indices pins the bit-reversed order.
    rng = random.Random(4096)
    coefficients = [rng.randrange(fft.BLS_MODULUS) for _ in range(fft.BLOB_LEN)]
    values = fft.evaluate(coefficients)
    for i in (0, 1, 2, 3, 100, 2047, 2048, 4095):
        x = pow(fft.GENERATOR, fft.bit_reverse(i, 12), fft.BLS_MODULUS)
        assert values[i] == sum(c * pow(x, j, fft.BLS_MODULUS) for j, c in enumerate(coefficients)) % (fft.BLS_MODULUS)


def test_generator_is_a_primitive_4096th_root() -> None:
    assert pow(fft.GENERATOR, 4096, fft.BLS_MODULUS) == 1
    assert pow(fft.GENERATOR, 2048, fft.BLS_MODULUS) != 1


@pytest.mark.parametrize("name", ["639404", "640644"])
def test_real_blob_round_trip(name: str) -> None:
    blob = load_blob(FIXTURES / "da" / "blob" / f"{name}.hex")
    felts = blob_to_felts(blob)
    # The posted data is a Starknet state diff: coefficients are small felts, not random field elements.
    assert felts[0] > 0 and all(f < 2**252 for f in felts)
    assert felts_to_blobs(felts) == [blob]


def test_felts_are_split_and_padded_into_blobs() -> None:
    felts = list(range(1, 5000))
    blobs = felts_to_blobs(felts)
    assert len(blobs) == 2 and all(len(b) == 131072 for b in blobs)
    assert blob_to_felts(blobs[0]) == felts[:4096]
    assert blob_to_felts(blobs[1]) == felts[4096:] + [0] * (2 * 4096 - len(felts))
    assert felts_to_blobs([]) == []


def test_bad_blobs_are_rejected() -> None:
    with pytest.raises(BlobFormatError, match="131072 bytes"):
        deserialize(b"\x00" * 31)
    with pytest.raises(BlobFormatError, match="not a BLS12-381"):
        deserialize(b"\xff" * 131072)
    with pytest.raises(ValueError, match="not an element"):
        fft.evaluate([fft.BLS_MODULUS])
    with pytest.raises(ValueError, match="power of two"):
        fft.evaluate([1, 2, 3])
