"""The aws-profile and L3 devnets' orchestrator environments are configurations `run` accepts, wired
as each shape needs (command runners on aws; Atlantic and Starknet settlement on L3)."""

from __future__ import annotations

from pathlib import Path

from infra.devnet.atlantic import AtlanticDouble
from infra.devnet.atlantic_proving import DevnetProving, VerifierSetup
from infra.devnet.aws import AwsServices, aws_env
from infra.devnet.env import Wiring, orchestrator_env
from infra.devnet.l3 import PROGRAMS, L3Services, L3Wiring, l3_orchestrator_env
from infra.devnet.starknet_core import StarknetCoreServer
from orchestrator.clients.prover.atlantic import L2_VERIFICATION_LAYOUT
from orchestrator.config import Profile, ProverKind, SettlementLayer, load_settings, run_problems
from orchestrator.core.models.queue import Layer

P = "MADARA_ORCHESTRATOR_"


def local_env(tmp_path: Path, caller: dict[str, str]) -> dict[str, str]:
    wiring = Wiring(
        data_dir=tmp_path,
        node_url="http://127.0.0.1:9944",
        l1_url="http://127.0.0.1:8545",
        operator_key="0x" + "11" * 32,
        verifier_key="0x" + "22" * 32,
        core_address="0x" + "33" * 20,
        registry_address="0x" + "44" * 20,
        first_block=10,
        last_block=20,
        port=3000,
    )
    return orchestrator_env(wiring, caller)


def test_the_aws_devnet_runs_command_runners_on_the_aws_profile(tmp_path: Path) -> None:
    caller = {P + "MAX_BATCH_SIZE": "3", P + "SNOS_COMMAND_FILE": "/tmp/stale", P + "PROFILE": "local"}
    env = aws_env(local_env(tmp_path, caller), AwsServices("http://127.0.0.1:4566", "mongodb://127.0.0.1:1", "db_x"))
    settings = load_settings(environ=env, env_file=None)

    assert run_problems(settings) == []
    assert settings.general.profile is Profile.AWS
    assert settings.snos.snos_runner == "command" and "infra.devnet.os_command" in str(settings.snos.snos_command)
    assert settings.snos.aggregator_runner == "command"
    # the aggregator program reads the devnet's node: its URL is in the template
    assert "--rpc-url http://127.0.0.1:9944 " in str(settings.snos.aggregator_command)
    assert settings.setup.event_bridge_type == "rule" and settings.setup.event_bridge_interval_seconds == 60
    assert settings.database.database_name == "db_x"
    assert settings.batching.max_batch_size == 3, "the caller's tunables still apply"
    assert env[P + "SNOS_COMMAND_FILE"] == "", "a stale secret file must not replace the wiring"


def test_the_l3_devnet_proves_with_atlantic_and_settles_on_starknet(tmp_path: Path) -> None:
    server = StarknetCoreServer(program_info=PROGRAMS)
    server.port = 5050
    proving = DevnetProving(VerifierSetup(1, L2_VERIFICATION_LAYOUT, PROGRAMS), server.register_fact)
    atlantic = AtlanticDouble(api_key="k", proving=proving)
    atlantic.port = 6060
    wiring = L3Wiring(tmp_path, "http://127.0.0.1:9944", 3000, 10, 20)
    env = l3_orchestrator_env(wiring, L3Services(server, atlantic, proving), {P + "LAYER": "l2"})
    settings = load_settings(environ=env, env_file=None)

    assert run_problems(settings) == []
    assert settings.general.layer is Layer.L3 and settings.general.profile is Profile.LOCAL
    assert settings.prover.prover is ProverKind.ATLANTIC
    assert settings.prover.atlantic_service_url == "http://127.0.0.1:6060"
    assert settings.settlement.settlement_layer is SettlementLayer.STARKNET
    assert settings.batching.max_blocks_per_snos_batch == 1, "an L3 DataSubmission job covers one block"
    assert settings.snos.prover_layout_name == L2_VERIFICATION_LAYOUT, "the layout the L2 verification takes"
