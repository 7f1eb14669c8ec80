"""An `orchestrator run` process loads only the libraries its configuration uses (issue 10: idle RSS < 150 MB).

Measured on this machine: importing the run entrypoint and the composition root was 141 MB resident with
every client library imported eagerly; starknet_py (with sympy, about 40 MB), boto3/aiobotocore and
pymongo (the AWS profile's), and the OpenTelemetry SDK (only with an OTLP endpoint) are now imported by
the builder or exporter that needs them. Checked in a fresh interpreter: `sys.modules` of this process is
shared by every test.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

UNUSED_BY_A_LOCAL_L2_RUN = ("starknet_py", "sympy", "pymongo", "boto3", "botocore", "aioboto3", "opentelemetry")

BUILD_LOCAL_L2 = """
import asyncio, json, sys
import orchestrator.controllers.cli.run
from orchestrator.bootstrap import build
from orchestrator.config import load_settings

env = {
    "DATA_DIR": sys.argv[1], "LAYER": "l2", "MADARA_RPC_URL": "http://127.0.0.1:9944", "SNOS_RUNNER": "devnet",
    "AGGREGATOR_RUNNER": "devnet", "ETHEREUM_SETTLEMENT_RPC_URL": "http://127.0.0.1:8545",
    "ETHEREUM_PRIVATE_KEY": "0x" + "11" * 32, "L1_CORE_CONTRACT_ADDRESS": "0x" + "22" * 20,
}
settings = load_settings(environ={"MADARA_ORCHESTRATOR_" + k: v for k, v in env.items()}, env_file=None)
container = build(settings)
asyncio.run(container.close())
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def test_a_local_l2_run_does_not_import_the_libraries_it_does_not_use(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", BUILD_LOCAL_L2, str(tmp_path)], capture_output=True, text=True, check=False, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert "web3" in loaded, "the Ethereum settlement client is built (the check runs on a real build)"
    assert loaded.isdisjoint(UNUSED_BY_A_LOCAL_L2_RUN), sorted(loaded & set(UNUSED_BY_A_LOCAL_L2_RUN))
