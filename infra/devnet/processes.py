"""The devnet's child processes besides anvil: `orchestrator setup` and `orchestrator run`.

Both run as `python -m orchestrator` from the repository with the devnet's environment; `run` is a
`ServiceProcess` (its own session, stopped by its PID) whose log is kept in the data directory.
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from infra.launch.base import REPO, ServiceProcess, ServiceStartError

# No dotenv file: the devnet's environment is the whole configuration (os.devnull is not a regular
# file, so the CLI reads none).
_NO_ENV_FILE = ["--env-file", os.devnull]


@dataclass
class LoggedProcess(ServiceProcess):
    """A ServiceProcess whose log lives where the caller says (the devnet's data directory)."""

    log_file: Path = field(default_factory=Path)

    @property
    def log_path(self) -> Path:
        return self.log_file


def orchestrator_setup(
    env: Mapping[str, str], log_file: Path, options: Sequence[str] = ("--profile", "local"), timeout: float = 120
) -> None:
    """`orchestrator setup` (by default `--profile local`: the database, queue and storage in the data directory)."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        done = subprocess.run(
            [sys.executable, "-m", "orchestrator", "setup", *options, *_NO_ENV_FILE],
            env=dict(env),
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            timeout=timeout,
            check=False,
        )
    if done.returncode != 0:
        raise ServiceStartError(f"orchestrator setup {' '.join(options)} exited with {done.returncode}; see {log_file}")


def _healthy(url: str) -> bool:
    with urllib.request.urlopen(url + "/health", timeout=2) as response:
        return bool(response.status == 200)


def start_orchestrator(env: Mapping[str, str], api_url: str, log_file: Path) -> LoggedProcess:
    """`orchestrator run`, once its HTTP API answers /health (blocking: call it off the event loop)."""
    process = LoggedProcess(
        name="devnet-orchestrator",
        argv=[sys.executable, "-m", "orchestrator", "run", *_NO_ENV_FILE],
        ready=lambda: _healthy(api_url),
        env=dict(env),
        cwd=REPO,
        start_timeout=90,
        stop_timeout=30,  # above the graceful shutdown timeout the devnet sets
        log_file=log_file,
    )
    return process.start()  # type: ignore[return-value]


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
