"""Acceptance: an EventBridge rate(1 minute) rule created by `orchestrator setup` delivers its
trigger name to the trigger queue within 90 s, and a running orchestrator acts on it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from infra.launch.base import free_port
from orchestrator.core.models.queue import LAYER_TRIGGERS, Layer, WorkerTrigger
from tests.e2e.harness import REPO, OrchestratorProcess
from tests.plugins.aws import AwsEndpoint

pytestmark = pytest.mark.slow


def test_rule_from_setup_reaches_the_running_orchestrator_within_90s(
    localstack: AwsEndpoint, mongo_url: str, aws_prefix: str, mongo_database_name: str, tmp_path: Path
) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MADARA_ORCHESTRATOR_", "AWS_"))}
    env = {
        **clean,
        **localstack.env(),
        "PYTHONPATH": str(REPO),
        "MADARA_ORCHESTRATOR_PROFILE": "aws",
        "MADARA_ORCHESTRATOR_AWS_PREFIX": aws_prefix,
        "MADARA_ORCHESTRATOR_MONGODB_CONNECTION_URL": mongo_url,
        "MADARA_ORCHESTRATOR_DATABASE_NAME": mongo_database_name,
        "MADARA_ORCHESTRATOR_MADARA_RPC_URL": "http://127.0.0.1:9",
        "MADARA_ORCHESTRATOR_QUEUE_WAIT_TIME_SECONDS": "1",
        "MADARA_ORCHESTRATOR_PORT": str(free_port()),
        "COUNTING_EFFECTS_FILE": str(tmp_path / "jobs.txt"),
        "TRIGGER_EFFECTS_FILE": str(tmp_path / "triggers.txt"),
        "LOG_LEVEL": "WARNING",
    }
    setup = subprocess.run(
        [sys.executable, "-m", "orchestrator", "setup", "--event-bridge-type", "rule", "--poll-interval", "1"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        check=False,
        text=True,
        timeout=120,
    )
    assert setup.returncode == 0, setup.stderr
    rules_created = time.monotonic()

    log_path = tmp_path / "orchestrator.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.aws.trigger_orchestrator"],
            env=env,
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    orchestrator = OrchestratorProcess(process, int(env["MADARA_ORCHESTRATOR_PORT"]), log_path)
    triggers_file = tmp_path / "triggers.txt"
    try:
        orchestrator.wait_healthy(timeout=60)
        fired: set[str] = set()
        while time.monotonic() - rules_created < 90:
            if triggers_file.exists():
                fired = {line.split()[0] for line in triggers_file.read_text().splitlines()}
            if fired:
                break
            time.sleep(1)
        assert fired, f"no trigger reached the orchestrator within 90 s: {orchestrator.log()}"
        assert fired <= {t.value for t in LAYER_TRIGGERS[Layer.L2]}
        assert all(WorkerTrigger(name) for name in fired)
        assert {str(process.pid)} == {line.split()[1] for line in triggers_file.read_text().splitlines()}
    finally:
        assert orchestrator.terminate(timeout=60) == 0, orchestrator.log()
