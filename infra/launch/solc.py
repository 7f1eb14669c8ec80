"""Compile Solidity with npm `solc` (solcjs, wasm) through Node: no native solc download needed.

solcjs's command line has no `--evm-version`, so this drives its JS API with standard JSON.
Install the package with scripts/install-node-tools.sh first.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.launch.base import SERVICES_DIR

NODE_DIR = SERVICES_DIR / "node"
CONTRACTS_DIR = Path(__file__).resolve().parents[1] / "contracts"

# Reads standard JSON on stdin, writes solc's standard JSON output on stdout.
_DRIVER = """
const solc = require('solc');
let input = '';
process.stdin.on('data', (c) => { input += c; });
process.stdin.on('end', () => { process.stdout.write(solc.compile(input)); });
"""


class SolcError(RuntimeError):
    pass


@dataclass(frozen=True)
class CompiledContract:
    name: str
    abi: list[dict[str, Any]]
    bytecode: str  # 0x-hex creation code


def compile_sources(
    sources: Mapping[str, str], *, evm_version: str = "cancun", optimize: bool = True
) -> dict[str, CompiledContract]:
    """Compile {file name: source text}; returns every contract by name. Raises SolcError on errors."""
    node = shutil.which("node")
    if node is None:
        raise SolcError("node is not installed")
    if not (NODE_DIR / "node_modules" / "solc").is_dir():
        raise SolcError(f"npm solc is not installed in {NODE_DIR}; run scripts/install-node-tools.sh")
    request = {
        "language": "Solidity",
        "sources": {name: {"content": text} for name, text in sources.items()},
        "settings": {
            "evmVersion": evm_version,
            "optimizer": {"enabled": optimize, "runs": 200},
            "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}},
        },
    }
    done = subprocess.run(
        [node, "-e", _DRIVER],
        input=json.dumps(request).encode(),
        capture_output=True,
        cwd=NODE_DIR,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise SolcError(f"solc driver failed: {done.stderr.decode(errors='replace').strip()}")
    output = json.loads(done.stdout)
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise SolcError("\n".join(e.get("formattedMessage", e.get("message", "")) for e in errors))
    contracts: dict[str, CompiledContract] = {}
    for per_file in output.get("contracts", {}).values():
        for name, item in per_file.items():
            contracts[name] = CompiledContract(name, item["abi"], "0x" + item["evm"]["bytecode"]["object"])
    return contracts


def compile_project_contracts(*names: str, evm_version: str = "cancun") -> dict[str, CompiledContract]:
    """Compile the given files (or every .sol) from infra/contracts."""
    paths = [CONTRACTS_DIR / n for n in names] if names else sorted(CONTRACTS_DIR.glob("*.sol"))
    return compile_sources({p.name: p.read_text() for p in paths}, evm_version=evm_version)
