"""Stands in for the Starknet OS program in the command runner tests.

Usage: fake_os.py MODE OUTPUT_DIR START END RPC_URL LAYOUT FULL_OUTPUT USE_KZG_DA
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from orchestrator.clients.snos.pie_writer import write_cairo_pie


def main() -> int:
    mode, output_dir, start, end, rpc_url, layout, full_output, use_kzg_da = sys.argv[1:9]
    out = Path(output_dir)
    (out / "args.json").write_text(json.dumps(sys.argv[1:]))
    if mode == "success":
        output = [int(start), int(end), len(rpc_url), len(layout), int(full_output == "true"), 1]
        (out / "cairo_pie.zip").write_bytes(write_cairo_pie([1, 2, 3], output, n_steps=1234))
        (out / "snos_output.json").write_text(json.dumps([hex(v) for v in output]))
        # echo the arguments back through the program output so the test can check them
        args = [int(start), int(end), int(full_output == "true"), int(use_kzg_da == "true")]
        (out / "program_output.json").write_text(json.dumps([str(v) for v in args]))
        print("progress: done", file=sys.stderr)
        return 0
    if mode == "success-no-program-output":
        (out / "cairo_pie.zip").write_bytes(write_cairo_pie([1], [5, 6], n_steps=2))
        (out / "snos_output.json").write_text(json.dumps([5, 6]))
        return 0
    if mode == "no-pie":
        return 0
    if mode == "bad-output":
        (out / "cairo_pie.zip").write_bytes(write_cairo_pie([1], [5], n_steps=2))
        (out / "snos_output.json").write_text(json.dumps(["0x5", {"not": "a felt"}]))
        return 0
    if mode == "rpc-error":
        print("loading block 12", file=sys.stderr)
        print(
            f"Error: Block processing failed for block {start}: RPC client error: transport error",
            file=sys.stderr,
        )
        return 1
    if mode == "block-not-found":
        print(f"Block processing failed for block {end}: RPC client error: BlockNotFound", file=sys.stderr)
        return 1
    if mode == "os-error":
        print("Error: OS execution failed: cairo execution failed at pc 0:1234", file=sys.stderr)
        return 1
    if mode == "contract-not-found":
        print("RPC client error: StarknetError(ContractNotFound)", file=sys.stderr)
        return 1
    if mode == "tempfail":
        print("the node asked us to come back later", file=sys.stderr)
        return 75
    if mode == "hang":
        # a child in the same process group: the runner must kill it too
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        Path(rpc_url).write_text(str(child.pid))
        time.sleep(120)
        return 0
    print(f"unknown mode {mode}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
