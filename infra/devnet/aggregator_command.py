"""DEVNET STAND-IN for StarkWare's aggregator program, run as the aggregator command runner runs the
real one.

The aws profile refuses the in-process devnet aggregator runner, so the aws devnet configures
`MADARA_ORCHESTRATOR_AGGREGATOR_RUNNER=command` with this module as the program. It runs the same
stand-in (`orchestrator/clients/aggregator/devnet.py`: the aggregator's output layout and fact, no
Cairo run) and honours the command runner's contract (`orchestrator/clients/aggregator/command.py`):
it reads `children.json`, `da_segment.json` and `blob_<i>.bin` from `--input`, writes
`cairo_pie.zip`, `program_output.json`, `fact.txt` and `da_segment.json` into `--output`; exit 0
on success, 75 (EX_TEMPFAIL) when a retry may succeed, 1 otherwise, with the reason on stderr.
The stand-in reads the batch's header words (roots, block numbers and hashes) from the L2 node,
whose URL the devnet writes into the template (the runner has no field for it).

    python -m infra.devnet.aggregator_command --rpc-url URL --batch {batch_index} \\
        --blocks {start_block} {end_block} --input {input_dir} --output {output_dir}
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from orchestrator.clients.aggregator.command import (
    CHILDREN_FILE,
    DA_SEGMENT_FILE,
    FACT_FILE,
    PIE_FILE,
    PROGRAM_OUTPUT_FILE,
)
from orchestrator.clients.aggregator.devnet import DevnetAggregatorRunner
from orchestrator.clients.node.madara import MadaraNodeClient
from orchestrator.core.madara.aggregator import AggregatorError, AggregatorOutput, AggregatorRequest

EXIT_RETRYABLE = 75  # EX_TEMPFAIL


def _felts(values: object, what: str) -> list[int]:
    if not isinstance(values, list):
        raise AggregatorError(f"{what} is not a JSON array", retryable=False)
    try:
        return [int(v, 16) if isinstance(v, str) else int(v) for v in values]
    except (TypeError, ValueError):
        raise AggregatorError(f"{what} holds a value that is not a felt", retryable=False) from None


def read_request(batch: int, start: int, end: int, input_dir: Path) -> AggregatorRequest:
    try:
        children = json.loads((input_dir / CHILDREN_FILE).read_text())
        da_segment = json.loads((input_dir / DA_SEGMENT_FILE).read_text())
    except (OSError, ValueError) as exc:
        raise AggregatorError(f"the aggregator's input is unreadable: {exc}", retryable=False) from None
    if not isinstance(children, list) or not all(isinstance(c, dict) for c in children):
        raise AggregatorError(f"{CHILDREN_FILE} is not an array of objects", retryable=False)
    blob_files = sorted(input_dir.glob("blob_*.bin"), key=lambda p: int(p.stem.removeprefix("blob_")))
    return AggregatorRequest(
        batch_index=batch,
        start_block=start,
        end_block=end,
        children_outputs=[
            _felts(c.get("program_output"), f"child {i}'s program_output") for i, c in enumerate(children)
        ],
        children_keys=[str(c.get("key")) for c in children],
        da_segment=_felts(da_segment, DA_SEGMENT_FILE),
        blobs=[path.read_bytes() for path in blob_files],
    )


async def aggregate(rpc_url: str, request: AggregatorRequest) -> AggregatorOutput:
    node = MadaraNodeClient(rpc_url)
    try:
        return await DevnetAggregatorRunner(node).run(request)
    finally:
        await node.close()


def write_outputs(output: AggregatorOutput, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / PIE_FILE).write_bytes(output.cairo_pie)
    (directory / PROGRAM_OUTPUT_FILE).write_text(json.dumps([hex(v) for v in output.program_output]))
    (directory / DA_SEGMENT_FILE).write_text(json.dumps([hex(v) for v in output.da_segment]))
    (directory / FACT_FILE).write_text(output.fact + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.devnet.aggregator_command", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--rpc-url", required=True)
    parser.add_argument("--batch", type=int, required=True)
    parser.add_argument("--blocks", nargs=2, type=int, required=True, metavar=("START", "END"))
    parser.add_argument("--input", type=Path, required=True)
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        request = read_request(args.batch, args.blocks[0], args.blocks[1], args.input)
        output = asyncio.run(aggregate(args.rpc_url, request))
    except AggregatorError as exc:
        print(f"devnet aggregator stand-in: {exc}", file=sys.stderr)
        return EXIT_RETRYABLE if exc.retryable else 1
    write_outputs(output, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
