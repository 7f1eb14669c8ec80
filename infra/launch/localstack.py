"""LocalStack in host mode (no Docker), from its own virtualenv under infra/.services.

`python -m infra.launch.localstack` starts one in the foreground (Ctrl-C stops it); tests use
`start_localstack()` and stop it by PID through `ServiceProcess.stop()`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from dataclasses import dataclass

from infra.launch.base import REPO, SERVICES_DIR, ServiceProcess, ServiceStartError, free_port

VENV = SERVICES_DIR / "localstack-venv"
INSTALL_SCRIPT = REPO / "scripts" / "install-localstack.sh"
#: The services the orchestrator's aws profile uses.
SERVICES = ("s3", "sqs", "sns", "events", "scheduler", "iam", "sts")


def ensure_installed() -> None:
    """Create the pinned virtualenv when it is missing (the script is idempotent and quick when done)."""
    if (VENV / "bin" / "python").exists() and (VENV / ".pins").exists():
        return
    result = subprocess.run(["bash", str(INSTALL_SCRIPT), "localstack"], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ServiceStartError(f"installing LocalStack failed:\n{result.stdout}\n{result.stderr}")


def _healthy(endpoint: str) -> bool:
    with urllib.request.urlopen(f"{endpoint}/_localstack/health", timeout=2) as response:
        status = json.load(response).get("services", {})
    return all(status.get(name) in ("available", "running") for name in SERVICES)


@dataclass
class LocalStack:
    process: ServiceProcess
    endpoint: str

    def stop(self) -> None:
        self.process.stop()


def start_localstack(port: int | None = None, name: str = "localstack") -> LocalStack:
    ensure_installed()
    port = port or free_port()
    endpoint = f"http://127.0.0.1:{port}"
    # A state root per instance: parallel instances (one per port) must not share LocalStack's
    # temporary folders, which by default live inside the virtualenv.
    root = SERVICES_DIR / "localstack-state" / str(port)
    root.mkdir(parents=True, exist_ok=True)
    process = ServiceProcess(
        name=f"{name}-{port}",
        argv=[str(VENV / "bin" / "python"), "-m", "localstack.runtime.main"],
        env={
            "OVERRIDE_IN_DOCKER": "0",  # this VM carries a docker marker file; we are on the host
            "GATEWAY_LISTEN": f"127.0.0.1:{port}",
            "SERVICES": ",".join(SERVICES),
            "FILESYSTEM_ROOT": str(root),
            "SKIP_SSL_CERT_DOWNLOAD": "1",
            "DISABLE_EVENTS": "1",  # no analytics calls home
            "LOCALSTACK_HOST": f"127.0.0.1:{port}",
        },
        ready=lambda: _healthy(endpoint),
        start_timeout=120.0,
        stop_timeout=15.0,
    )
    process.start()
    return LocalStack(process=process, endpoint=endpoint)


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 4566
    service = start_localstack(port)
    print(f"LocalStack ready at {service.endpoint} (pid {service.process.pid}); Ctrl-C stops it", flush=True)
    try:
        assert service.process.process is not None
        service.process.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        service.stop()


if __name__ == "__main__":
    main()
