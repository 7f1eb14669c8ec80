"""Configurations that could start but never settle a batch are refused by `orchestrator run`:
exit 2 and one line naming the variable, never a traceback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from orchestrator.controllers.cli.main import cli

P = "MADARA_ORCHESTRATOR_"
BASE = {
    "MADARA_RPC_URL": "http://127.0.0.1:9",
    "SNOS_RUNNER": "devnet",
    "ETHEREUM_SETTLEMENT_RPC_URL": "http://127.0.0.1:9",
    "ETHEREUM_PRIVATE_KEY": "0x" + "11" * 32,
    "L1_CORE_CONTRACT_ADDRESS": "0x" + "22" * 20,
}
SHARP = {
    "PROVER": "sharp",
    "SHARP_URL": "https://127.0.0.1:9",
    "SHARP_CUSTOMER_ID": "c",
    "SHARP_USER_CRT_FILE": "user.crt",
    "SHARP_USER_KEY_FILE": "user.key",
    "SHARP_SERVER_CRT_FILE": "server.crt",
    "SHARP_SETTLEMENT_LAYER": "starknet",
}

#: An L3 configuration that can work but for its SNOS batch size (the default, 10 blocks).
L3_ATLANTIC = {
    "LAYER": "l3",
    "PROVER": "atlantic",
    "ATLANTIC_SERVICE_URL": "http://127.0.0.1:9",
    "ATLANTIC_API_KEY": "k",
    "ATLANTIC_NETWORK": "TESTNET",
    "ATLANTIC_SETTLEMENT_LAYER": "starknet",
    "SETTLEMENT_LAYER": "starknet",
    "DA_LAYER": "starknet",
    "STARKNET_SETTLEMENT_RPC_URL": "http://127.0.0.1:9",
    "STARKNET_PRIVATE_KEY": "0x1234",
    "STARKNET_ACCOUNT_ADDRESS": "0x" + "33" * 31,
    "STARKNET_CAIRO_CORE_CONTRACT_ADDRESS": "0x" + "44" * 31,
}


@pytest.mark.parametrize(
    ("env", "line"),
    [
        pytest.param({}, f"{P}AGGREGATOR_RUNNER: required on L2 with the mock prover", id="l2-mock-no-aggregator"),
        pytest.param(SHARP, f"{P}AGGREGATOR_RUNNER: required on L2 with the sharp prover", id="l2-sharp-no-aggregator"),
        pytest.param({"LAYER": "l3"}, f"{P}PROVER: L3 needs the atlantic prover", id="l3-mock"),
        pytest.param({**SHARP, "LAYER": "l3"}, f"{P}PROVER: L3 needs the atlantic prover", id="l3-sharp"),
        pytest.param(
            {
                "PROFILE": "aws",
                "SNOS_RUNNER": "command",
                "SNOS_COMMAND": "os {output_dir}",
                "AGGREGATOR_RUNNER": "devnet",
            },
            f"{P}AGGREGATOR_RUNNER: the devnet stand-in runs on the local profile only",
            id="aws-devnet-aggregator",
        ),
        pytest.param(L3_ATLANTIC, f"{P}MAX_BLOCKS_PER_SNOS_BATCH: must be 1 on L3", id="l3-multi-block-snos-batches"),
        pytest.param(
            {**L3_ATLANTIC, "MAX_BLOCKS_PER_SNOS_BATCH": "1", "FIXED_BLOCKS_PER_SNOS_BATCH": "2"},
            f"{P}MAX_BLOCKS_PER_SNOS_BATCH: must be 1 on L3",
            id="l3-fixed-multi-block-snos-batches",
        ),
        pytest.param(
            {"AGGREGATOR_RUNNER": "command"},
            f"{P}AGGREGATOR_COMMAND: required when the aggregator runner is command",
            id="command-aggregator-without-command",
        ),
    ],
)
def test_a_config_that_cannot_work_is_refused_at_start(tmp_path: Path, env: dict[str, str], line: str) -> None:
    environ = {P + k: v for k, v in {**BASE, "DATA_DIR": str(tmp_path / "data"), **env}.items()}
    # only this test's settings: unset every other MADARA_ORCHESTRATOR_ variable of the environment
    unset: dict[str, str | None] = dict.fromkeys((k for k in os.environ if k.startswith(P)), None)
    result = CliRunner().invoke(cli, ["run", "--env-file", str(tmp_path / "none")], env={**unset, **environ})
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), "no traceback"
    problems = [ln.strip() for ln in result.output.splitlines() if ln.strip().startswith(P)]
    assert len(problems) == 1 and problems[0].startswith(line), result.output
