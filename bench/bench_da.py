"""Data-availability speed: the FFT alone, and a whole blob (encode + FFT + KZG commitment + proof).

Run: `.venv/bin/python bench/bench_da.py [--runs N]`. Input is block 631861 (3935 felts, one
nearly full blob) from tests/fixtures. The trusted setup is loaded before timing (a one-off
cost of a few seconds per process). Prints: name | median ms | target ms | ok.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from orchestrator.crypto import kzg  # noqa: E402
from orchestrator.services.da import fft  # noqa: E402
from orchestrator.services.da.blob import BLOB_LEN, felts_to_blobs  # noqa: E402
from orchestrator.services.da.encoder import RecordedNonces, encode_block_state_update  # noqa: E402
from orchestrator.services.da.state_update import StateUpdate, parse_nonces  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "da"
BLOCK = 631861
X0 = 0x121C6E75C343723FC3ED51125BA4B4215E3381618FF821F8E729D3AA35F68ED


def _median_ms(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm caches (twiddle tables, trusted setup)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)

    state_update = StateUpdate.from_json(json.loads((FIXTURES / "state_update" / f"{BLOCK}.json").read_text()))
    nonces = RecordedNonces(parse_nonces(json.loads((FIXTURES / "nonces" / f"{BLOCK}.json").read_text())))
    felts = asyncio.run(encode_block_state_update(state_update, BLOCK, (0, 13, 2), nonces))
    coefficients = felts + [0] * (BLOB_LEN - len(felts))
    values = fft.evaluate(coefficients)

    def whole_blob() -> None:
        encoded = asyncio.run(encode_block_state_update(state_update, BLOCK, (0, 13, 2), nonces))
        [blob] = felts_to_blobs(encoded)
        commitment = kzg.blob_to_commitment(blob)
        kzg.compute_proof(blob, X0)
        kzg.compute_blob_proof(blob, commitment)

    rows = [
        ("da: fft 4096 (coefficients -> blob values)", _median_ms(lambda: fft.evaluate(coefficients), args.runs), 100),
        (
            "da: inverse fft 4096 (blob values -> coefficients)",
            _median_ms(lambda: fft.interpolate(values), args.runs),
            100,
        ),
        ("da: encode + fft + commitment + proofs, 1 blob", _median_ms(whole_blob, args.runs), 1000),
    ]
    width = max(len(name) for name, _, _ in rows)
    print(f"{'name':<{width}} | median ms | target ms | ok")
    failed = False
    for name, median, target in rows:
        ok = median < target
        failed |= not ok
        print(f"{name:<{width}} | {median:9.1f} | {target:9d} | {'yes' if ok else 'NO'}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
