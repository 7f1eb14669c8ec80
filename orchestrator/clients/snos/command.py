"""Run the Starknet OS as an external program (for example a `generate-pie` binary).

Contract with the program:
- It is started from a command template, split like a shell would (`shlex`, no shell involved)
  and then each argument formatted with these fields: `{start_block}`, `{end_block}`,
  `{num_blocks}`, `{rpc_url}`, `{layout}`, `{output_dir}`, `{full_output}` and `{use_kzg_da}`
  (`true`/`false`), and the chain's `{chain_id}` (ASCII name), `{chain_id_hex}` and
  `{fee_token_address}` (STRK), fetched from the L2 node at start. Example:
  `generate-pie --rpc-url {rpc_url} --blocks {start_block}..={end_block} --output {output_dir}`
- It writes into `{output_dir}` (a fresh directory per run, removed afterwards):
  - `cairo_pie.zip` (required): the PIE;
  - `snos_output.json` (required): the raw OS output, a JSON array of felts (ints, decimal or
    0x-hex strings);
  - `program_output.json` (optional): the program output, same format; when absent it is the OS
    output (the OS writes its output to the output builtin);
  `n_steps` is taken from the PIE's `execution_resources.json`.
- Exit code 0 means success. On failure the tail of stderr is the error message and decides
  whether the failure is retryable (see `classify.py`); exit code 75 (EX_TEMPFAIL) always means
  retryable. A run longer than the timeout is killed (its whole process group) and is retryable.
"""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from pathlib import Path

from orchestrator.clients.snos.classify import is_retryable_message
from orchestrator.clients.snos.program import (
    EXIT_RETRYABLE,
    CommandTemplate,
    ProgramFailedError,
    read_felts,
    run_program,
    stderr_tail,
)
from orchestrator.core.errors import ConfigError
from orchestrator.core.madara.node import ChainDetails, ChainDetailsSource
from orchestrator.core.madara.snos import SnosError, SnosOutput, SnosRequest

__all__ = ["EXIT_RETRYABLE", "PIE_FILE", "PROGRAM_OUTPUT_FILE", "SNOS_OUTPUT_FILE", "CommandSnosRunner"]

PIE_FILE = "cairo_pie.zip"
SNOS_OUTPUT_FILE = "snos_output.json"
PROGRAM_OUTPUT_FILE = "program_output.json"
#: fetched from the L2 node at start (ChainDetails): the chain's ASCII name, its felt, the STRK fee token
CHAIN_FIELDS = ("chain_id", "chain_id_hex", "fee_token_address")
TEMPLATE_FIELDS = (
    "start_block",
    "end_block",
    "num_blocks",
    "rpc_url",
    "layout",
    "output_dir",
    "full_output",
    "use_kzg_da",
    *CHAIN_FIELDS,
)


def _n_steps(pie: bytes, blocks: str) -> int | None:
    try:
        with zipfile.ZipFile(io.BytesIO(pie)) as archive:
            names = [n for n in archive.namelist() if n.rsplit("/", 1)[-1] == "execution_resources.json"]
            if not names:
                return None
            resources = json.loads(archive.read(names[0]))
    except (zipfile.BadZipFile, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SnosError(f"SNOS run for {blocks} wrote an unreadable {PIE_FILE}: {exc}", retryable=False) from exc
    n_steps = resources.get("n_steps") if isinstance(resources, dict) else None
    return n_steps if isinstance(n_steps, int) else None


class CommandSnosRunner:
    """A `SnosRunner` that starts the OS program once per request."""

    def __init__(
        self,
        command_template: str,
        *,
        timeout_seconds: float,
        work_dir: str | Path | None = None,
        chain: ChainDetailsSource | None = None,
    ) -> None:
        self._template = CommandTemplate.parse(command_template, TEMPLATE_FIELDS, "SNOS command template")
        if timeout_seconds <= 0:
            raise ConfigError("SNOS timeout must be positive")
        if chain is None and self._template.uses(CHAIN_FIELDS):
            raise ConfigError("SNOS command template: {chain_id}, {chain_id_hex} and {fee_token_address} need the node")
        self._timeout = timeout_seconds
        self._work_dir = Path(work_dir) if work_dir is not None else None
        self._chain = chain

    def command_for(self, request: SnosRequest, output_dir: Path, chain: ChainDetails | None = None) -> list[str]:
        fields: dict[str, object] = {
            "chain_id": chain.chain_id if chain else "",
            "chain_id_hex": chain.chain_id_hex if chain else "",
            "fee_token_address": chain.strk_fee_token_address if chain else "",
            "start_block": request.start_block,
            "end_block": request.end_block,
            "num_blocks": request.end_block - request.start_block + 1,
            "rpc_url": request.rpc_url,
            "layout": request.layout,
            "output_dir": str(output_dir),
            "full_output": str(request.full_output).lower(),
            "use_kzg_da": str(request.use_kzg_da).lower(),
        }
        return self._template.argv(fields)

    async def run(self, request: SnosRequest) -> SnosOutput:
        if request.end_block < request.start_block:
            raise SnosError(
                f"invalid block range {request.start_block}..{request.end_block}: end before start",
                retryable=False,
            )
        chain = await self._chain.chain_details() if self._chain is not None else None
        if self._work_dir is not None:
            self._work_dir.mkdir(parents=True, exist_ok=True)
        blocks = f"blocks {request.start_block}..={request.end_block}"
        with tempfile.TemporaryDirectory(prefix="snos-", dir=self._work_dir) as tmp:
            output_dir = Path(tmp)
            argv = self.command_for(request, output_dir, chain)
            try:
                stderr = await run_program(
                    argv,
                    timeout=self._timeout,
                    what=f"SNOS run for {blocks}",
                    is_retryable_message=is_retryable_message,
                )
                return self._read_outputs(output_dir, blocks, stderr)
            except ProgramFailedError as exc:
                raise SnosError(f"SNOS: {exc}", retryable=exc.retryable) from exc

    @staticmethod
    def _read_outputs(output_dir: Path, blocks: str, stderr: bytes) -> SnosOutput:
        pie_path = output_dir / PIE_FILE
        if not pie_path.is_file():
            hint = f"; stderr: {stderr_tail(stderr)}" if stderr.strip() else ""
            raise SnosError(f"SNOS run for {blocks} succeeded but wrote no {PIE_FILE}{hint}", retryable=False)
        if not (output_dir / SNOS_OUTPUT_FILE).is_file():
            raise SnosError(f"SNOS run for {blocks} succeeded but wrote no {SNOS_OUTPUT_FILE}", retryable=False)
        snos_output = read_felts(output_dir / SNOS_OUTPUT_FILE, "SNOS OS output")
        program_path = output_dir / PROGRAM_OUTPUT_FILE
        program_output = read_felts(program_path, "SNOS program output") if program_path.is_file() else snos_output
        pie = pie_path.read_bytes()
        return SnosOutput(
            cairo_pie=pie,
            snos_output=snos_output,
            program_output=list(program_output),
            n_steps=_n_steps(pie, blocks),
        )
