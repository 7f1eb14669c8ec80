"""Run the Starknet OS as an external program (for example a `generate-pie` binary).

Contract with the program:
- It is started from a command template, split like a shell would (`shlex`, no shell involved)
  and then each argument formatted with these fields: `{start_block}`, `{end_block}`,
  `{num_blocks}`, `{rpc_url}`, `{layout}`, `{output_dir}`, `{full_output}` and `{use_kzg_da}`
  (`true`/`false`). Example:
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

import asyncio
import contextlib
import io
import json
import os
import shlex
import signal
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from orchestrator.clients.snos.classify import is_retryable_message
from orchestrator.core.errors import ConfigError
from orchestrator.core.madara.felt import json_felt
from orchestrator.core.madara.snos import SnosError, SnosOutput, SnosRequest

PIE_FILE = "cairo_pie.zip"
SNOS_OUTPUT_FILE = "snos_output.json"
PROGRAM_OUTPUT_FILE = "program_output.json"
EXIT_RETRYABLE = 75  # EX_TEMPFAIL
TEMPLATE_FIELDS = (
    "start_block",
    "end_block",
    "num_blocks",
    "rpc_url",
    "layout",
    "output_dir",
    "full_output",
    "use_kzg_da",
)
_STDERR_TAIL_CHARS = 2000


def _check_template(template: str) -> list[str]:
    try:
        parts = shlex.split(template)
    except ValueError as exc:
        raise ConfigError(f"SNOS command template: {exc}") from exc
    if not parts:
        raise ConfigError("SNOS command template is empty")
    sample = dict.fromkeys(TEMPLATE_FIELDS, "x")
    for part in parts:
        try:
            part.format(**sample)
        except KeyError as exc:
            fields = ", ".join("{" + f + "}" for f in TEMPLATE_FIELDS)
            raise ConfigError(f"SNOS command template: unknown field {{{exc.args[0]}}}; known: {fields}") from None
        except (ValueError, IndexError) as exc:
            raise ConfigError(f"SNOS command template: bad placeholder in {part!r}: {exc}") from None
    return parts


def _felts(path: Path, what: str) -> list[int]:
    try:
        raw: Any = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SnosError(f"SNOS {what} ({path.name}) is unreadable: {exc}", retryable=False) from exc
    if not isinstance(raw, list):
        raise SnosError(f"SNOS {what} ({path.name}) is not a JSON array", retryable=False)
    felts: list[int] = []
    for i, value in enumerate(raw):
        try:
            felts.append(json_felt(value))
        except ValueError as exc:
            raise SnosError(f"SNOS {what} ({path.name}): entry {i} is not a felt: {exc}", retryable=False) from None
    return felts


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


def _tail(text: bytes) -> str:
    decoded = text.decode("utf-8", errors="replace").strip()
    return decoded[-_STDERR_TAIL_CHARS:]


class CommandSnosRunner:
    """A `SnosRunner` that starts the OS program once per request."""

    def __init__(self, command_template: str, *, timeout_seconds: float, work_dir: str | Path | None = None) -> None:
        self._parts = _check_template(command_template)
        if timeout_seconds <= 0:
            raise ConfigError("SNOS timeout must be positive")
        self._timeout = timeout_seconds
        self._work_dir = Path(work_dir) if work_dir is not None else None

    def command_for(self, request: SnosRequest, output_dir: Path) -> list[str]:
        fields = {
            "start_block": request.start_block,
            "end_block": request.end_block,
            "num_blocks": request.end_block - request.start_block + 1,
            "rpc_url": request.rpc_url,
            "layout": request.layout,
            "output_dir": str(output_dir),
            "full_output": str(request.full_output).lower(),
            "use_kzg_da": str(request.use_kzg_da).lower(),
        }
        return [part.format(**fields) for part in self._parts]

    async def run(self, request: SnosRequest) -> SnosOutput:
        if request.end_block < request.start_block:
            raise SnosError(
                f"invalid block range {request.start_block}..{request.end_block}: end before start",
                retryable=False,
            )
        if self._work_dir is not None:
            self._work_dir.mkdir(parents=True, exist_ok=True)
        blocks = f"blocks {request.start_block}..={request.end_block}"
        with tempfile.TemporaryDirectory(prefix="snos-", dir=self._work_dir) as tmp:
            output_dir = Path(tmp)
            argv = self.command_for(request, output_dir)
            stderr = await self._execute(argv, blocks)
            return self._read_outputs(output_dir, blocks, stderr)

    async def _execute(self, argv: list[str], blocks: str) -> bytes:
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,  # its own process group, so a timeout kills its children too
            )
        except OSError as exc:
            raise SnosError(
                f"cannot start the SNOS program {argv[0]!r}: {exc.strerror or exc}", retryable=False
            ) from exc
        try:
            _, stderr = await asyncio.wait_for(process.communicate(), self._timeout)
        except (TimeoutError, asyncio.CancelledError) as exc:
            await self._kill(process)
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise SnosError(f"SNOS run for {blocks} timed out after {self._timeout:g} s", retryable=True) from None
        if process.returncode != 0:
            tail = _tail(stderr)
            retryable = process.returncode == EXIT_RETRYABLE or is_retryable_message(tail)
            raise SnosError(
                f"SNOS run for {blocks} exited with code {process.returncode}: {tail or '(no stderr)'}",
                retryable=retryable,
            )
        return stderr

    @staticmethod
    async def _kill(process: asyncio.subprocess.Process) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            await process.wait()

    @staticmethod
    def _read_outputs(output_dir: Path, blocks: str, stderr: bytes) -> SnosOutput:
        pie_path = output_dir / PIE_FILE
        if not pie_path.is_file():
            hint = f"; stderr: {_tail(stderr)}" if stderr.strip() else ""
            raise SnosError(f"SNOS run for {blocks} succeeded but wrote no {PIE_FILE}{hint}", retryable=False)
        if not (output_dir / SNOS_OUTPUT_FILE).is_file():
            raise SnosError(f"SNOS run for {blocks} succeeded but wrote no {SNOS_OUTPUT_FILE}", retryable=False)
        snos_output = _felts(output_dir / SNOS_OUTPUT_FILE, "OS output")
        program_path = output_dir / PROGRAM_OUTPUT_FILE
        program_output = _felts(program_path, "program output") if program_path.is_file() else list(snos_output)
        pie = pie_path.read_bytes()
        return SnosOutput(
            cairo_pie=pie,
            snos_output=snos_output,
            program_output=program_output,
            n_steps=_n_steps(pie, blocks),
        )
