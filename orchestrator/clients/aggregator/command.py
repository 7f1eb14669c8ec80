"""Run the operator's aggregator program (L2 with SHARP or the mock prover), as the SNOS command
runner runs the OS: same template rules, timeout with process-group kill, stderr tail and exit
classification (`clients/snos/program.py`).

Contract with the program:
- Template fields: `{batch_index}`, `{start_block}`, `{end_block}`, `{num_children}`,
  `{input_dir}`, `{output_dir}`, `{chain_id}` (the chain's ASCII name), `{chain_id_hex}` and
  `{fee_token_address}` (the STRK fee token), the last three fetched from the L2 node at start.
  Example: `run-aggregator --input {input_dir} --output {output_dir} --chain-id {chain_id_hex}`
- `{input_dir}` holds, for this aggregator batch: `children.json` (a JSON array, per child SNOS
  batch in order, of `{"key": prover job key, "program_output": [0x-hex felts]}`), `da_segment.json`
  (the batch's DA felts) and `blob_<i>.bin` (its raw 131072-byte blobs, i from 0).
- It writes into `{output_dir}`: `cairo_pie.zip` (required, the aggregator's PIE),
  `program_output.json` (required: the aggregator's own output, without the echoed children),
  `fact.txt` (required: the 0x-hex fact of that output, as the prover will register it) and
  optionally `da_segment.json` (defaults to the input's).
- Exit 0 is success; 75 (EX_TEMPFAIL) or a stderr naming a passing trouble (RPC, timeout, …) is
  retryable; any other failure is not. Both directories are fresh per run and removed afterwards.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

from orchestrator.clients.snos.classify import is_retryable_message
from orchestrator.clients.snos.program import (
    CommandTemplate,
    ProgramFailedError,
    read_felts,
    run_program,
    write_felts,
)
from orchestrator.core.errors import ConfigError
from orchestrator.core.madara.aggregator import AggregatorError, AggregatorOutput, AggregatorRequest
from orchestrator.core.madara.node import ChainDetails, ChainDetailsSource

PIE_FILE = "cairo_pie.zip"
PROGRAM_OUTPUT_FILE = "program_output.json"
FACT_FILE = "fact.txt"
DA_SEGMENT_FILE = "da_segment.json"
CHILDREN_FILE = "children.json"
TEMPLATE_FIELDS = (
    "batch_index",
    "start_block",
    "end_block",
    "num_children",
    "input_dir",
    "output_dir",
    "chain_id",
    "chain_id_hex",
    "fee_token_address",
)
_FACT = re.compile(r"0x[0-9a-fA-F]{64}")


class CommandAggregatorRunner:
    """An `AggregatorRunner` that starts the operator's aggregator program once per batch."""

    def __init__(
        self,
        command_template: str,
        *,
        timeout_seconds: float,
        chain: ChainDetailsSource,
        work_dir: str | Path | None = None,
    ) -> None:
        self._template = CommandTemplate.parse(command_template, TEMPLATE_FIELDS, "aggregator command template")
        if timeout_seconds <= 0:
            raise ConfigError("aggregator timeout must be positive")
        self._timeout = timeout_seconds
        self._chain = chain
        self._work_dir = Path(work_dir) if work_dir is not None else None

    def command_for(
        self, request: AggregatorRequest, chain: ChainDetails, input_dir: Path, output_dir: Path
    ) -> list[str]:
        return self._template.argv(
            {
                "batch_index": request.batch_index,
                "start_block": request.start_block,
                "end_block": request.end_block,
                "num_children": len(request.children_outputs),
                "input_dir": str(input_dir),
                "output_dir": str(output_dir),
                "chain_id": chain.chain_id,
                "chain_id_hex": chain.chain_id_hex,
                "fee_token_address": chain.strk_fee_token_address,
            }
        )

    async def run(self, request: AggregatorRequest) -> AggregatorOutput:
        if len(request.children_outputs) != len(request.children_keys):
            raise AggregatorError(
                f"aggregator batch {request.batch_index}: {len(request.children_outputs)} child outputs "
                f"but {len(request.children_keys)} child keys",
                retryable=False,
            )
        chain = await self._chain.chain_details()
        if self._work_dir is not None:
            self._work_dir.mkdir(parents=True, exist_ok=True)
        what = f"aggregator run for batch {request.batch_index} (blocks {request.start_block}..={request.end_block})"
        with tempfile.TemporaryDirectory(prefix="aggregator-", dir=self._work_dir) as tmp:
            input_dir, output_dir = Path(tmp) / "input", Path(tmp) / "output"
            input_dir.mkdir()
            output_dir.mkdir()
            _write_inputs(request, input_dir)
            try:
                await run_program(
                    self.command_for(request, chain, input_dir, output_dir),
                    timeout=self._timeout,
                    what=what,
                    is_retryable_message=is_retryable_message,
                )
                return _read_outputs(request, output_dir, what)
            except ProgramFailedError as exc:
                raise AggregatorError(str(exc), retryable=exc.retryable) from exc


def _write_inputs(request: AggregatorRequest, input_dir: Path) -> None:
    children = [
        {"key": key, "program_output": [hex(v) for v in output]}
        for key, output in zip(request.children_keys, request.children_outputs, strict=True)
    ]
    (input_dir / CHILDREN_FILE).write_text(json.dumps(children))
    write_felts(input_dir / DA_SEGMENT_FILE, request.da_segment)
    for i, blob in enumerate(request.blobs):
        (input_dir / f"blob_{i}.bin").write_bytes(blob)


def _read_outputs(request: AggregatorRequest, output_dir: Path, what: str) -> AggregatorOutput:
    for name in (PIE_FILE, PROGRAM_OUTPUT_FILE, FACT_FILE):
        if not (output_dir / name).is_file():
            raise ProgramFailedError(f"{what} succeeded but wrote no {name}", retryable=False)
    fact = (output_dir / FACT_FILE).read_text().strip()
    if not _FACT.fullmatch(fact):
        raise ProgramFailedError(
            f"{what} wrote a {FACT_FILE} that is not 0x + 64 hex digits: {fact[:80]!r}", retryable=False
        )
    da_path = output_dir / DA_SEGMENT_FILE
    return AggregatorOutput(
        program_output=read_felts(output_dir / PROGRAM_OUTPUT_FILE, "aggregator program output"),
        da_segment=read_felts(da_path, "aggregator DA segment") if da_path.is_file() else list(request.da_segment),
        cairo_pie=(output_dir / PIE_FILE).read_bytes(),
        fact=fact.lower(),
    )
