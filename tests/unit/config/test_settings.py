from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.config import Layer, Profile, ProverKind, SettingsError, load_settings, run_problems

REPO = Path(__file__).resolve().parents[3]


def test_defaults_are_the_reference_ones() -> None:
    s = load_settings(environ={}, env_file=None)
    assert s.general.profile is Profile.LOCAL
    assert s.queue.aws_sqs_queue_identifier == "mo_{}_queue"
    assert s.storage.aws_s3_bucket_identifier == "mo-bucket"
    assert s.service.max_concurrent_snos_jobs == 5
    assert s.service.max_concurrent_proving_jobs == 10
    assert s.service.graceful_shutdown_timeout == 120
    assert s.batching.max_num_blobs == 6
    assert s.settlement.ethereum_l2_state_update_max_fee_wei == 10**16
    # The reference's per-type stale-lock limits (300 s) are handler timeouts here (leases heal).
    assert s.job_timeouts()["SnosRun"] > s.snos.snos_timeout_seconds
    assert min(s.job_timeouts().values()) >= 300


def test_environment_names_and_layer_aliases() -> None:
    s = load_settings(
        environ={
            "MADARA_ORCHESTRATOR_LAYER": "layer3",
            "MADARA_ORCHESTRATOR_PROVER": "ATLANTIC",
            "MADARA_ORCHESTRATOR_SNOS_JOB_TIMEOUT_SECONDS": "3600",
            "AWS_REGION": "eu-west-1",
        },
        env_file=None,
    )
    assert s.general.layer is Layer.L3
    assert s.prover.prover is ProverKind.ATLANTIC
    assert s.job_timeouts()["SnosRun"] == 3600
    assert s.aws.aws_region == "eu-west-1"


def test_file_secret_wins_over_plain_value(tmp_path: Path) -> None:
    secret = tmp_path / "key"
    secret.write_text("  0xabc\n")
    s = load_settings(
        environ={
            "MADARA_ORCHESTRATOR_ETHEREUM_PRIVATE_KEY": "0xplain",
            "MADARA_ORCHESTRATOR_ETHEREUM_PRIVATE_KEY_FILE": str(secret),
        },
        env_file=None,
    )
    assert s.settlement.ethereum_private_key is not None
    assert s.settlement.ethereum_private_key.get_secret_value() == "0xabc"


def test_empty_or_missing_secret_file_is_a_problem(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(SettingsError) as raised:
        load_settings(
            environ={
                "MADARA_ORCHESTRATOR_ATLANTIC_API_KEY_FILE": str(empty),
                "MADARA_ORCHESTRATOR_MONGODB_CONNECTION_URL_FILE": str(tmp_path / "missing"),
            },
            env_file=None,
        )
    text = "\n".join(raised.value.problems)
    assert "MADARA_ORCHESTRATOR_ATLANTIC_API_KEY_FILE" in text and "is empty" in text
    assert "MADARA_ORCHESTRATOR_MONGODB_CONNECTION_URL_FILE" in text


def test_every_problem_is_one_line_naming_the_setting() -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(
            environ={
                "MADARA_ORCHESTRATOR_PORT": "eighty",
                "MADARA_ORCHESTRATOR_MAX_PRIORITY_QUEUE_SIZE": "0",
                "MADARA_ORCHESTRATOR_AWS_SQS_QUEUE_IDENTIFIER": "no_placeholder",
                "MADARA_ORCHESTRATOR_SNOS_LAYOUT_NAME": "bogus",
            },
            env_file=None,
        )
    problems = raised.value.problems
    assert len(problems) == 4
    for env in ("PORT", "MAX_PRIORITY_QUEUE_SIZE", "AWS_SQS_QUEUE_IDENTIFIER", "SNOS_LAYOUT_NAME"):
        assert sum(p.startswith(f"MADARA_ORCHESTRATOR_{env}:") for p in problems) == 1
    assert all("\n" not in p for p in problems)


def test_dotenv_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = tmp_path / ".env"
    env.write_text("MADARA_ORCHESTRATOR_PORT=4242\n")
    monkeypatch.delenv("MADARA_ORCHESTRATOR_PORT", raising=False)
    assert load_settings(env_file=env).server.port == 4242


def test_run_requirements_depend_on_the_prover() -> None:
    s = load_settings(environ={"MADARA_ORCHESTRATOR_PROVER": "sharp"}, env_file=None)
    problems = run_problems(s)
    assert any("SHARP_URL" in p for p in problems)
    assert run_problems(load_settings(environ={}, env_file=None)) == []
    with_node = load_settings(environ={"MADARA_ORCHESTRATOR_MADARA_RPC_URL": "http://n"}, env_file=None)
    assert any("SNOS_COMMAND" in p for p in run_problems(with_node)), "the real OS runs by default"
    aws_devnet = load_settings(
        environ={
            "MADARA_ORCHESTRATOR_PROFILE": "aws",
            "MADARA_ORCHESTRATOR_MADARA_RPC_URL": "http://n",
            "MADARA_ORCHESTRATOR_SNOS_RUNNER": "devnet",
        },
        env_file=None,
    )
    assert any("SNOS_RUNNER" in p for p in run_problems(aws_devnet)), "no stand-in in production"


def test_cli_reports_bad_settings_without_traceback(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "orchestrator", "run", "--env-file", str(tmp_path / "none")],
        env={"PATH": "/usr/bin:/bin", "MADARA_ORCHESTRATOR_PORT": "x", "MADARA_ORCHESTRATOR_LAYER": "l9"},
        capture_output=True,
        check=False,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "MADARA_ORCHESTRATOR_PORT:" in result.stderr
    assert "MADARA_ORCHESTRATOR_LAYER:" in result.stderr


def test_env_example_is_current() -> None:
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import gen_env_example
    finally:
        sys.path.pop(0)
    assert (REPO / ".env.example").read_text() == gen_env_example.render(), "run: python scripts/gen_env_example.py"
