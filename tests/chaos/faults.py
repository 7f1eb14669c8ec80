"""Fault injection for a chaos orchestrator process (never loaded by production code paths).

Each `inject_*` function patches the methods of an implementation class in this process only, so the
faults reach every instance however the composition root wires it:
- `inject_failures`: coroutine methods fail at a seeded rate, before reaching the client (the call had
  no effect) or after it (the call took effect but its reply was lost);
- `inject_outage`: coroutine methods raise ServiceUnavailableError (what the HTTP clients raise for a
  503) while the outage window that the harness writes into a file is open;
- `inject_delay`: a coroutine method starts `seconds` late for the calls a predicate picks;
- `record_runs`: `process_job` appends a start and an end line to a file shared by every process, so
  the harness can check that no job was processed twice at the same time.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import logging
import os
import random
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.core.errors import ServiceUnavailableError

log = logging.getLogger("tests.chaos.faults")

#: lifecycle methods are left alone: a process that cannot start tests nothing
SPARED = frozenset({"connect", "close", "setup", "health_check"})


def sqlite_error(name: str) -> Exception:
    """What the local profile's SQLite really raises when the file is busy."""
    return sqlite3.OperationalError(f"database is locked (chaos: injected into {name})")


@dataclass
class FaultCounts:
    calls: int = 0
    before: int = 0  # failed without reaching the client
    after: int = 0  # reached the client, reply lost


def coroutine_methods(cls: type, names: frozenset[str] | None = None) -> list[str]:
    found = []
    for name, _member in inspect.getmembers(cls, inspect.iscoroutinefunction):
        if name.startswith("_") or name in SPARED or (names is not None and name not in names):
            continue
        found.append(name)
    return found


def inject_failures(
    cls: type,
    *,
    fail_rate: float,
    lost_reply_rate: float = 0.0,
    rng: random.Random,
    methods: frozenset[str] | None = None,
    error: Callable[[str], Exception] = sqlite_error,
) -> FaultCounts:
    counts = FaultCounts()
    for name in coroutine_methods(cls, methods):
        original = getattr(cls, name)

        def wrap(original: Any, label: str) -> Any:
            @functools.wraps(original)
            async def call(*args: Any, **kwargs: Any) -> Any:
                counts.calls += 1
                draw = rng.random()
                if draw < fail_rate:
                    counts.before += 1
                    log.warning("chaos: %s failed before reaching the client (%d so far)", label, counts.before)
                    raise error(label)
                result = await original(*args, **kwargs)
                if draw < fail_rate + lost_reply_rate:
                    counts.after += 1
                    log.warning("chaos: %s took effect, its reply is lost (%d so far)", label, counts.after)
                    raise error(label)
                return result

            return call

        setattr(cls, name, wrap(original, f"{cls.__name__}.{name}"))
    return counts


@dataclass(frozen=True)
class OutageWindow:
    """[start, start + seconds) in wall-clock time (shared by the harness and its processes)."""

    start: float
    seconds: float

    def active(self, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        return self.start <= now < self.start + self.seconds

    def write(self, path: Path) -> None:
        path.write_text(f"{self.start} {self.seconds}\n")

    @classmethod
    def read(cls, path: Path) -> OutageWindow | None:
        """The window the harness wrote into `path`; None while it has written none."""
        try:
            start, seconds = path.read_text().split()
        except (OSError, ValueError):
            return None
        return cls(float(start), float(seconds))


def inject_outage(cls: type, window_file: Path, what: str) -> FaultCounts:
    counts = FaultCounts()
    for name in coroutine_methods(cls):
        original = getattr(cls, name)

        def wrap(original: Any, label: str) -> Any:
            @functools.wraps(original)
            async def call(*args: Any, **kwargs: Any) -> Any:
                counts.calls += 1
                window = OutageWindow.read(window_file)
                if window is not None and window.active():
                    counts.before += 1
                    log.warning("chaos: %s answered 503 (%d so far)", label, counts.before)
                    raise ServiceUnavailableError(f"{what} answered 503 Service Unavailable (chaos outage)")
                return await original(*args, **kwargs)

            return call

        setattr(cls, name, wrap(original, f"{cls.__name__}.{name}"))
    return counts


def inject_delay(cls: type, method: str, seconds: float, applies: Callable[..., bool]) -> None:
    original = getattr(cls, method)

    @functools.wraps(original)
    async def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        if applies(*args, **kwargs):
            log.warning("chaos: %s.%s starts %.0fs late", cls.__name__, method, seconds)
            await asyncio.sleep(seconds)
        return await original(self, *args, **kwargs)

    setattr(cls, method, call)


def append_line(path: Path, record: dict[str, Any]) -> None:
    # One short O_APPEND write is atomic: lines from several processes never interleave.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (json.dumps(record) + "\n").encode())
    finally:
        os.close(fd)


def record_runs(cls: type, runs_file: Path) -> None:
    """`cls.process_job(job)` records {event start|end, run, job_id, job_type, internal_id, pid, t, outcome}."""
    original = cls.process_job  # type: ignore[attr-defined]

    def record(event: str, job: Any, run: str, outcome: str = "") -> None:
        append_line(
            runs_file,
            {
                "event": event,
                "run": run,
                "job_id": str(job.id),
                "job_type": str(job.job_type),
                "internal_id": job.internal_id,
                "pid": os.getpid(),
                "t": time.time(),
                "outcome": outcome,
            },
        )

    @functools.wraps(original)
    async def process_job(self: Any, job: Any) -> Any:
        run = f"{os.getpid()}-{time.monotonic_ns()}"
        record("start", job, run)
        outcome = "cancelled"
        try:
            result = await original(self, job)
            outcome = "ok"
            return result
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            outcome = f"error: {type(exc).__name__}: {exc}"[:300]
            raise
        finally:
            record("end", job, run, outcome)

    cls.process_job = process_job  # type: ignore[attr-defined]
