"""DEVNET STAND-IN for the Starknet OS program, run as the SNOS command runner runs the real one.

The aws profile refuses the in-process devnet SNOS runner (a production deployment runs the real OS
as a program), so the aws devnet configures `MADARA_ORCHESTRATOR_SNOS_RUNNER=command` with this
module as the program. It runs the same stand-in (`orchestrator/clients/snos/devnet.py`: outputs in
the OS output layout, no OS execution) against the node at `--rpc-url` and honours the command
runner's contract (`orchestrator/clients/snos/command.py`): `cairo_pie.zip`, `snos_output.json` and
`program_output.json` in `--output`; exit 0 on success, 75 (EX_TEMPFAIL) when a retry may succeed,
1 otherwise, with the reason on stderr.

    python -m infra.devnet.os_command --rpc-url {rpc_url} --blocks {start_block} {end_block} \\
        --full-output {full_output} --output {output_dir}
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from functools import partial
from pathlib import Path

from orchestrator.clients.node.madara import MadaraNodeClient
from orchestrator.clients.snos.command import EXIT_RETRYABLE, PIE_FILE, PROGRAM_OUTPUT_FILE, SNOS_OUTPUT_FILE
from orchestrator.clients.snos.devnet import BlobBuilder, DevnetSnosRunner
from orchestrator.core.madara.node import L2NodeClient
from orchestrator.core.madara.snos import SnosError, SnosOutput, SnosRequest
from orchestrator.services.da.batch import batch_blobs


def blob_builder(node: L2NodeClient) -> BlobBuilder:
    """The batch DA pipeline the stand-in's KZG words commit to (the one the orchestrator's devnet runner uses)."""
    return partial(batch_blobs, node)


async def run_os(request: SnosRequest) -> SnosOutput:
    node = MadaraNodeClient(request.rpc_url)
    try:
        return await DevnetSnosRunner(node, blob_builder(node)).run(request)
    finally:
        await node.close()


def write_outputs(output: SnosOutput, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / PIE_FILE).write_bytes(output.cairo_pie)
    (directory / SNOS_OUTPUT_FILE).write_text(json.dumps([hex(word) for word in output.snos_output]))
    (directory / PROGRAM_OUTPUT_FILE).write_text(json.dumps([hex(word) for word in output.program_output]))


def _flag(value: str) -> bool:
    if value not in ("true", "false"):
        raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")
    return value == "true"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.devnet.os_command", description=__doc__.split("\n")[0])
    parser.add_argument("--rpc-url", required=True)
    parser.add_argument("--blocks", nargs=2, type=int, required=True, metavar=("START", "END"))
    parser.add_argument("--full-output", type=_flag, default=False)
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args(argv)
    request = SnosRequest(
        start_block=args.blocks[0], end_block=args.blocks[1], rpc_url=args.rpc_url, full_output=args.full_output
    )
    try:
        output = asyncio.run(run_os(request))
    except SnosError as exc:
        print(f"devnet OS stand-in: {exc}", file=sys.stderr)
        return EXIT_RETRYABLE if exc.retryable else 1
    write_outputs(output, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
