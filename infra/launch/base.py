"""Start a test service as a child process, wait until it answers, stop it by its PID.

Every launcher in this package builds on `ServiceProcess`, so services are never killed by name.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
#: Where service installs (LocalStack's venv, npm packages) and logs live; ignored by git.
SERVICES_DIR = REPO / "infra" / ".services"


class ServiceStartError(RuntimeError):
    pass


@dataclass
class ServiceProcess:
    name: str
    argv: Sequence[str]
    ready: Callable[[], bool]
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    start_timeout: float = 60.0
    stop_timeout: float = 10.0
    process: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return SERVICES_DIR / "logs" / f"{self.name}.log"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self) -> ServiceProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        # A new session, so that stopping the service reaches its children too (by process group id).
        self.process = subprocess.Popen(
            list(self.argv),
            env={**os.environ, **self.env},
            cwd=self.cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServiceStartError(f"{self.name} exited with {self.process.returncode}; see {self.log_path}")
            with contextlib.suppress(Exception):  # not ready yet, whatever the probe raised
                if self.ready():
                    return self
            time.sleep(0.2)
        self.stop()
        raise ServiceStartError(f"{self.name} not ready after {self.start_timeout:.0f}s; see {self.log_path}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        pgid = self.process.pid  # the session leader's pid is its group id
        try:
            os.killpg(pgid, signal.SIGTERM)
            self.process.wait(timeout=self.stop_timeout)
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGKILL)
            self.process.wait(timeout=self.stop_timeout)
        except ProcessLookupError:
            pass


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
