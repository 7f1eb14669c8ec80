"""Stands in for the operator's aggregator program in the aggregator command runner tests.

Usage: fake_aggregator.py MODE INPUT_DIR OUTPUT_DIR BATCH_INDEX CHAIN_ID_HEX FEE_TOKEN
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from orchestrator.clients.snos.pie_writer import write_cairo_pie


def main() -> int:
    mode, input_dir, output_dir, batch_index, chain_id_hex, fee_token = sys.argv[1:7]
    inp, out = Path(input_dir), Path(output_dir)
    children = json.loads((inp / "children.json").read_text())
    blobs = sorted(p.name for p in inp.glob("blob_*.bin"))
    if mode == "success":
        # the output echoes what the program was given, so the test can check the contract
        own = [int(batch_index), len(children), len(blobs), int(chain_id_hex, 16), int(fee_token, 16)]
        own += [int(v, 16) for child in children for v in child["program_output"]]
        (out / "cairo_pie.zip").write_bytes(write_cairo_pie([7], own, n_steps=10))
        (out / "program_output.json").write_text(json.dumps([hex(v) for v in own]))
        (out / "fact.txt").write_text("0x" + "AB" * 32 + "\n")
        return 0
    if mode == "bad-fact":
        (out / "cairo_pie.zip").write_bytes(write_cairo_pie([7], [1], n_steps=10))
        (out / "program_output.json").write_text("[1]")
        (out / "fact.txt").write_text("not a fact")
        return 0
    if mode == "no-pie":
        return 0
    if mode == "rpc-error":
        print("fetching block: RPC client error: connection refused", file=sys.stderr)
        return 1
    if mode == "tempfail":
        print("the prover's store is busy", file=sys.stderr)
        return 75
    if mode == "fatal":
        print("Error: assertion failed: children do not chain (state root)", file=sys.stderr)
        return 1
    if mode == "hang":
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        (inp.parent.parent / f"{Path(input_dir).parent.name}.child").write_text(str(child.pid))
        time.sleep(120)
        return 0
    print(f"unknown mode {mode}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
