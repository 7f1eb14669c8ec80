"""The live devnet's acceptance: `python -m infra.devnet --block-time 2 --blocks 12 --until-settled`.

Blocks are revealed one every 2 s while the pipeline runs; every one of them must reach L1, and the
run's last line is the block→L1 latency line (its shape is checked, not its figures). Minutes long.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from infra.devnet.l2 import FIRST_SETTLED_BLOCK
from infra.launch.anvil import Anvil
from infra.launch.solc import NODE_DIR
from tests.e2e.devnet_run import devnet_env, failure_report, run_devnet, state_block_number
from tests.services import service_unavailable

pytestmark = [pytest.mark.services, pytest.mark.slow]

BLOCKS = 12
TIMEOUT = 600
LATENCY_LINE = re.compile(r"^latency block→L1: p50 \d+\.\ds, p95 \d+\.\ds, max \d+\.\ds over (\d+) blocks$")


def test_the_live_devnet_settles_every_block_and_reports_its_latency(
    tmp_path: Path, anvil_factory: Callable[..., Anvil]
) -> None:
    if not (NODE_DIR / "node_modules" / "solc").is_dir():
        service_unavailable("npm solc is not installed (scripts/install-node-tools.sh)")
    l1 = anvil_factory(block_time=1)
    data_dir = tmp_path / "devnet"
    args = ["--block-time", "2", "--blocks", str(BLOCKS), "--until-settled"]
    args += ["--port", "0", "--data-dir", str(data_dir), "--l1-url", l1.url]

    done = run_devnet(args, devnet_env(), TIMEOUT)

    assert done.returncode == 0, failure_report(done, data_dir)
    run = json.loads((data_dir / "devnet.json").read_text())
    assert run["last_block"] == FIRST_SETTLED_BLOCK + BLOCKS - 1
    assert asyncio.run(state_block_number(l1.url, run["core_contract"])) == run["last_block"]
    lines = done.stdout.strip().splitlines()
    match = LATENCY_LINE.match(lines[-1])
    assert match is not None, lines[-5:]
    assert int(match.group(1)) == BLOCKS  # every block produced was seen settled
    revealed = re.compile(rf"produced block (\d+\.\.)?{run['last_block']}$")
    assert any(revealed.search(line) for line in lines)  # the sequencer revealed the last block
