"""Running an operator's program from a command template: the mechanism shared by the SNOS and the
aggregator command runners (each adds its own files and error type).

- The template is split like a shell would (`shlex`, no shell involved) and each argument is
  formatted with the runner's fields; an unknown field or a bad placeholder is a ConfigError at start.
- The program runs in its own process group with stdin and stdout closed; a run longer than the
  timeout is killed with its whole group and is retryable.
- Exit 0 is success. Otherwise the tail of stderr is the message, and the exit is retryable when the
  code is 75 (EX_TEMPFAIL) or the runner's classifier says the message is a passing failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shlex
import signal
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.core.errors import ConfigError
from orchestrator.core.madara.felt import json_felt

EXIT_RETRYABLE = 75  # EX_TEMPFAIL
STDERR_TAIL_CHARS = 2000


class ProgramFailedError(Exception):
    """The program could not be started, failed, timed out, or wrote unusable files."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class CommandTemplate:
    what: str  # e.g. "SNOS command template", for the error messages
    parts: tuple[str, ...]
    fields: tuple[str, ...]

    @classmethod
    def parse(cls, template: str, fields: Sequence[str], what: str) -> CommandTemplate:
        try:
            parts = shlex.split(template)
        except ValueError as exc:
            raise ConfigError(f"{what}: {exc}") from exc
        if not parts:
            raise ConfigError(f"{what} is empty")
        sample = dict.fromkeys(fields, "x")
        for part in parts:
            try:
                part.format(**sample)
            except KeyError as exc:
                known = ", ".join("{" + f + "}" for f in fields)
                raise ConfigError(f"{what}: unknown field {{{exc.args[0]}}}; known: {known}") from None
            except (ValueError, IndexError) as exc:
                raise ConfigError(f"{what}: bad placeholder in {part!r}: {exc}") from None
        return cls(what, tuple(parts), tuple(fields))

    def uses(self, names: Sequence[str]) -> bool:
        """Whether any argument has a placeholder for one of `names`."""
        formatter = string.Formatter()
        used = {field for part in self.parts for _, field, _, _ in formatter.parse(part) if field}
        return bool(used & set(names))

    def argv(self, values: Mapping[str, object]) -> list[str]:
        return [part.format(**values) for part in self.parts]


def stderr_tail(text: bytes) -> str:
    return text.decode("utf-8", errors="replace").strip()[-STDERR_TAIL_CHARS:]


async def run_program(
    argv: list[str], *, timeout: float, what: str, is_retryable_message: Callable[[str], bool]
) -> bytes:
    """Run `argv` to completion; its stderr on success, ProgramFailedError otherwise."""
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,  # its own process group, so a timeout kills its children too
        )
    except OSError as exc:
        raise ProgramFailedError(
            f"cannot start the program {argv[0]!r}: {exc.strerror or exc}", retryable=False
        ) from exc
    try:
        _, stderr = await asyncio.wait_for(process.communicate(), timeout)
    except (TimeoutError, asyncio.CancelledError) as exc:
        await _kill_group(process)
        if isinstance(exc, asyncio.CancelledError):
            raise
        raise ProgramFailedError(f"{what} timed out after {timeout:g} s", retryable=True) from None
    if process.returncode != 0:
        tail = stderr_tail(stderr)
        retryable = process.returncode == EXIT_RETRYABLE or is_retryable_message(tail)
        raise ProgramFailedError(
            f"{what} exited with code {process.returncode}: {tail or '(no stderr)'}", retryable=retryable
        )
    return stderr


async def _kill_group(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        await process.wait()


def read_felts(path: Path, what: str) -> list[int]:
    """A JSON array of felts written by the program; ProgramFailedError (not retryable) otherwise."""
    try:
        raw: Any = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProgramFailedError(f"{what} ({path.name}) is unreadable: {exc}", retryable=False) from exc
    if not isinstance(raw, list):
        raise ProgramFailedError(f"{what} ({path.name}) is not a JSON array", retryable=False)
    felts: list[int] = []
    for i, value in enumerate(raw):
        try:
            felts.append(json_felt(value))
        except ValueError as exc:
            raise ProgramFailedError(f"{what} ({path.name}): entry {i} is not a felt: {exc}", retryable=False) from None
    return felts


def write_felts(path: Path, felts: Sequence[int]) -> None:
    path.write_text(json.dumps([hex(v) for v in felts]))
