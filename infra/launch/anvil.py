"""anvil (Foundry's Ethereum dev node, from npm @foundry-rs/anvil) as a child process.

Blob (EIP-4844) transactions and the point-evaluation precompile need cancun or later; the default
here is prague. Install with scripts/install-node-tools.sh first.
"""

from __future__ import annotations

import json
import platform
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from infra.launch.base import SERVICES_DIR, ServiceProcess, ServiceStartError, free_port

NODE_DIR = SERVICES_DIR / "node"
#: anvil's default dev accounts ("test test ... junk" mnemonic), funded with 10000 ETH each.
DEV_PRIVATE_KEYS = (
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
)


def anvil_binary() -> Path:
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine().lower(), platform.machine().lower()
    )
    system = platform.system().lower()
    path = NODE_DIR / "node_modules" / "@foundry-rs" / f"anvil-{system}-{arch}" / "bin" / "anvil"
    if not path.exists():
        raise ServiceStartError(f"anvil not found at {path}; run scripts/install-node-tools.sh")
    return path


def _rpc(url: str, method: str, params: list[object] | None = None, timeout: float = 30) -> object:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        reply = json.loads(response.read())
    if "error" in reply:
        raise RuntimeError(f"{method}: {reply['error']}")
    return reply["result"]


@dataclass
class Anvil:
    """A running anvil; `url` is its JSON-RPC endpoint."""

    service: ServiceProcess
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.service.pid

    def rpc(self, method: str, params: list[object] | None = None) -> object:
        return _rpc(self.url, method, params)

    def stop(self) -> None:
        self.service.stop()


def start_anvil(
    *, port: int | None = None, hardfork: str = "prague", block_time: int | None = None, name: str = "anvil"
) -> Anvil:
    port = port or free_port()
    argv = [str(anvil_binary()), "--host", "127.0.0.1", "--port", str(port), "--hardfork", hardfork, "--silent"]
    if block_time is not None:
        argv += ["--block-time", str(block_time)]
    url = f"http://127.0.0.1:{port}"
    service = ServiceProcess(
        name, argv, ready=lambda: _rpc(url, "eth_chainId", timeout=2) is not None, start_timeout=30
    )
    service.start()
    return Anvil(service, port)
