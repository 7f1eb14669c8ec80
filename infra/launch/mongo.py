"""A MongoDB wire-protocol server for tests: the real mongod at MONGODB_URL when that is set,
otherwise nx-27017 (pure Python, on SQLite) from its own virtualenv under infra/.services.

nx-27017 has known gaps (README.md, "The MongoDB test server's gaps"); the MongoDB client avoids
them by its choice of operations, so the same tests run against both.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass

from infra.launch.base import REPO, SERVICES_DIR, ServiceProcess, ServiceStartError, free_port

VENV = SERVICES_DIR / "nx27017-venv"
INSTALL_SCRIPT = REPO / "scripts" / "install-localstack.sh"


def ensure_installed() -> None:
    if (VENV / "bin" / "nx-27017").exists() and (VENV / ".pins").exists():
        return
    result = subprocess.run(["bash", str(INSTALL_SCRIPT), "mongo"], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ServiceStartError(f"installing nx-27017 failed:\n{result.stdout}\n{result.stderr}")


def _ping(url: str) -> bool:
    from pymongo import MongoClient

    client: MongoClient[dict[str, object]] = MongoClient(url, serverSelectionTimeoutMS=1000)
    try:
        client.admin.command("ping")
        return True
    finally:
        client.close()


@dataclass
class MongoServer:
    url: str
    process: ServiceProcess | None  # None: an external mongod we did not start and must not stop

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


def start_mongo(port: int | None = None, name: str = "nx27017") -> MongoServer:
    external = os.environ.get("MONGODB_URL")
    if external:
        try:
            _ping(external)
        except Exception as exc:
            raise ServiceStartError(f"MONGODB_URL={external} does not answer a ping: {exc}") from exc
        return MongoServer(url=external, process=None)
    ensure_installed()
    port = port or free_port()
    url = f"mongodb://127.0.0.1:{port}"
    logs = SERVICES_DIR / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    process = ServiceProcess(
        name=f"{name}-{port}",
        argv=[
            str(VENV / "bin" / "nx-27017"),
            "--db",
            "memory",
            "--host",
            "127.0.0.1",
            "-p",
            str(port),
            "--log-file",
            str(logs / f"{name}-{port}.server.log"),
            "--pid-file",
            str(logs / f"{name}-{port}.pid"),
        ],
        ready=lambda: _ping(url),
        start_timeout=60.0,
    )
    process.start()
    return MongoServer(url=url, process=process)


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 27017
    server = start_mongo(port)
    print(f"MongoDB-compatible server ready at {server.url}; Ctrl-C stops it", flush=True)
    try:
        if server.process and server.process.process:
            server.process.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
