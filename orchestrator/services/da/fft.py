"""Coefficient form <-> EIP-4844 evaluation form over the BLS12-381 scalar field.

A blob holds a polynomial's values at the 4096th roots of unity in bit-reversed order:
element i is P(GENERATOR ** bitreverse12(i)). `evaluate` maps coefficients to that form with a
radix-2 decimation-in-frequency NTT (natural-order input gives bit-reversed output, so no
permutation pass is needed); `interpolate` is its inverse (decimation in time, then 1/n).
Both are O(n log n); the reference evaluates the same sums with Horner's rule in O(n^2).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

BLS_MODULUS = 52435875175126190479447740508185965837690552500527637822603658699938581184513
# A primitive 4096th root of unity in the BLS12-381 scalar field (the reference's GENERATOR).
GENERATOR = 39033254847818212395286706435128746857159659164139250548781411570340225835782
BLOB_LEN = 4096


def bit_reverse(i: int, n_bits: int) -> int:
    return int(format(i, f"0{n_bits}b")[::-1], 2) if n_bits else 0


@cache
def _stage_roots(n: int, inverse: bool) -> tuple[tuple[int, ...], ...]:
    """For each butterfly span m = n, n/2, ..., 2: the powers w_m^k, k < m/2 (w_m a primitive m-th root)."""
    if n < 1 or n & (n - 1) or BLOB_LEN % n:
        raise ValueError(f"the transform size must be a power of two dividing {BLOB_LEN}, got {n}")
    p = BLS_MODULUS
    root_n = pow(GENERATOR, BLOB_LEN // n, p)
    if inverse:
        root_n = pow(root_n, -1, p)
    stages = []
    m, root = n, root_n
    while m > 1:
        powers = [1] * (m // 2)
        for k in range(1, m // 2):
            powers[k] = powers[k - 1] * root % p
        stages.append(tuple(powers))
        m //= 2
        root = root * root % p
    return tuple(stages)


def _check(values: Sequence[int]) -> list[int]:
    out = list(values)
    for v in out:
        if not 0 <= v < BLS_MODULUS:
            raise ValueError(f"{v:#x} is not an element of the BLS12-381 scalar field")
    return out


def evaluate(coefficients: Sequence[int]) -> list[int]:
    """Values of the polynomial at GENERATOR^(4096/n * bitreverse(i)), i < n (n = len, a power of two)."""
    a = _check(coefficients)
    n = len(a)
    p = BLS_MODULUS
    for roots in _stage_roots(n, False):
        half = len(roots)
        m = 2 * half
        if half >= n // m:
            # Few wide blocks: process each block's halves as whole slices.
            for start in range(0, n, m):
                lo = a[start : start + half]
                hi = a[start + half : start + m]
                a[start : start + half] = [(u + v) % p for u, v in zip(lo, hi, strict=True)]
                a[start + half : start + m] = [(u - v) * r % p for u, v, r in zip(lo, hi, roots, strict=True)]
        else:
            # Many narrow blocks: for each offset k the twiddle is constant, so stride across blocks.
            for k, r in enumerate(roots):
                lo = a[k::m]
                hi = a[k + half :: m]
                a[k::m] = [(u + v) % p for u, v in zip(lo, hi, strict=True)]
                a[k + half :: m] = [(u - v) * r % p for u, v in zip(lo, hi, strict=True)]
    return a


def interpolate(evaluations: Sequence[int]) -> list[int]:
    """Inverse of `evaluate`: the coefficients of the polynomial with these bit-reversed evaluations."""
    a = _check(evaluations)
    n = len(a)
    p = BLS_MODULUS
    for roots in reversed(_stage_roots(n, True)):
        half = len(roots)
        m = 2 * half
        if half >= n // m:
            for start in range(0, n, m):
                lo = a[start : start + half]
                hi = [v * r % p for v, r in zip(a[start + half : start + m], roots, strict=True)]
                a[start : start + half] = [(u + v) % p for u, v in zip(lo, hi, strict=True)]
                a[start + half : start + m] = [(u - v) % p for u, v in zip(lo, hi, strict=True)]
        else:
            for k, r in enumerate(roots):
                lo = a[k::m]
                hi = [v * r % p for v in a[k + half :: m]]
                a[k::m] = [(u + v) % p for u, v in zip(lo, hi, strict=True)]
                a[k + half :: m] = [(u - v) % p for u, v in zip(lo, hi, strict=True)]
    n_inv = pow(n, -1, p)
    return [v * n_inv % p for v in a]


def evaluate_naive(coefficients: Sequence[int]) -> list[int]:
    """The reference's O(n^2) definition (Horner at each bit-reversed root); for tests only."""
    n = len(coefficients)
    n_bits = n.bit_length() - 1
    root_n = pow(GENERATOR, BLOB_LEN // n, BLS_MODULUS)
    out = []
    for i in range(n):
        x = pow(root_n, bit_reverse(i, n_bits), BLS_MODULUS)
        acc = 0
        for c in reversed(coefficients):
            acc = (acc * x + c) % BLS_MODULUS
        out.append(acc)
    return out
