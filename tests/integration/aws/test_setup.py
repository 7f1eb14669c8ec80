"""`orchestrator setup --profile aws` against LocalStack, run as the operator runs it (a subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.clients.aws_names import AwsNames
from orchestrator.core.models.queue import DLQ_QUEUES, LAYER_QUEUES, LAYER_TRIGGERS, Layer, QueueType
from tests.plugins.aws import AwsEndpoint

ORCHESTRATOR = [sys.executable, "-m", "orchestrator"]


def _run_setup(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MADARA_ORCHESTRATOR_", "AWS_"))}
    return subprocess.run(
        [*ORCHESTRATOR, "setup", "--profile", "aws", "--poll-interval", "1", "--timeout", "60", *args],
        env={**clean, **env},
        cwd=cwd,
        capture_output=True,
        check=False,
        text=True,
        timeout=300,
    )


async def _inventory(endpoint: AwsEndpoint, prefix: str) -> dict[str, object]:
    connection = endpoint.connection()
    async with connection.client("sqs") as sqs, connection.client("events") as events, connection.client("iam") as iam:
        urls = (await sqs.list_queues(QueueNamePrefix=f"{prefix}_")).get("QueueUrls", [])
        rules = (await events.list_rules(NamePrefix=f"{prefix}-")).get("Rules", [])
        roles = (await iam.list_roles())["Roles"]
        redrive: dict[str, dict[str, str] | None] = {}
        for url in urls:
            attrs = (await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"]))["Attributes"]
            policy = attrs.get("RedrivePolicy")
            redrive[url.rsplit("/", 1)[-1]] = json.loads(policy) if policy else None
    return {
        "queues": sorted(redrive),
        "redrive": redrive,
        "rules": sorted(r["Name"] for r in rules),
        "roles": len(roles),
        "our_roles": sorted(r["RoleName"] for r in roles if r["RoleName"].startswith(f"{prefix}-")),
    }


@pytest.mark.parametrize("layer", [Layer.L2, Layer.L3])
async def test_setup_twice_creates_nothing_the_second_time(
    localstack: AwsEndpoint, aws_prefix: str, tmp_path: Path, layer: Layer
) -> None:
    env = {**localstack.env(), "MADARA_ORCHESTRATOR_AWS_PREFIX": aws_prefix}
    first = _run_setup(env, tmp_path, "--layer", layer.value)
    assert first.returncode == 0, first.stderr
    lines = first.stdout.strip().splitlines()
    resources = [line for line in lines if ": " in line and not line.startswith("setup complete")]
    assert all(line.endswith("created, ready") for line in resources), first.stdout
    after_first = await _inventory(localstack, aws_prefix)

    names = AwsNames(prefix=aws_prefix)
    expected_queues = sorted(names.queue(q) for q in LAYER_QUEUES[layer])
    assert after_first["queues"] == expected_queues
    assert len(expected_queues) == {Layer.L2: 12, Layer.L3: 14}[layer]
    assert after_first["rules"] == sorted(names.trigger_rule(t) for t in LAYER_TRIGGERS[layer])
    assert after_first["our_roles"] == [names.trigger_role]
    dlq_arn_suffix = names.queue(QueueType.JOB_HANDLE_FAILURE)
    redrive = after_first["redrive"]
    assert isinstance(redrive, dict)
    for queue in LAYER_QUEUES[layer]:
        policy = redrive[names.queue(queue)]
        if queue in DLQ_QUEUES:
            assert policy is not None, queue
            assert policy["deadLetterTargetArn"].endswith(f":{dlq_arn_suffix}")
            assert str(policy["maxReceiveCount"]) == "5"
        else:
            assert policy is None, queue

    second = _run_setup(env, tmp_path, "--layer", layer.value)
    assert second.returncode == 0, second.stderr
    resources = [line for line in second.stdout.strip().splitlines() if not line.startswith("setup complete")]
    assert len(resources) == len(lines) - 1
    assert all(line.endswith("already present, ready") for line in resources), second.stdout
    assert "0 created" in second.stdout
    assert await _inventory(localstack, aws_prefix) == after_first


async def test_schedule_mode_creates_schedules_with_the_role(
    localstack: AwsEndpoint, aws_prefix: str, tmp_path: Path
) -> None:
    env = {**localstack.env(), "MADARA_ORCHESTRATOR_AWS_PREFIX": aws_prefix}
    result = _run_setup(env, tmp_path, "--event-bridge-type", "schedule")
    assert result.returncode == 0, result.stderr
    names = AwsNames(prefix=aws_prefix)
    async with localstack.connection().client("scheduler") as scheduler:
        for trigger in LAYER_TRIGGERS[Layer.L2]:
            schedule = await scheduler.get_schedule(Name=names.trigger_rule(trigger))
            assert schedule["ScheduleExpression"] == "rate(1 minute)"
            assert schedule["Target"]["RoleArn"].endswith(f":role/{names.trigger_role}")
            assert schedule["Target"]["Input"] == trigger.value
    again = _run_setup(env, tmp_path, "--event-bridge-type", "schedule")
    assert again.returncode == 0 and "0 created" in again.stdout, again.stdout


def test_unreachable_endpoint_is_a_clear_error(tmp_path: Path) -> None:
    env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y"}
    result = _run_setup(env, tmp_path)
    assert result.returncode == 1
    assert "cannot reach http://127.0.0.1:9" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_credentials_are_a_clear_error(localstack: AwsEndpoint, tmp_path: Path) -> None:
    env = {
        "AWS_ENDPOINT_URL": localstack.url,
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    result = _run_setup(env, tmp_path)
    assert result.returncode == 1
    assert "no AWS credentials" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_input_exits_2(tmp_path: Path) -> None:
    result = _run_setup({}, tmp_path, "--event-bridge-type", "cron")
    assert result.returncode == 2
    result = _run_setup({"MADARA_ORCHESTRATOR_AWS_SQS_QUEUE_IDENTIFIER": "no_placeholder"}, tmp_path)
    assert result.returncode == 2 and "must contain {}" in result.stderr


def test_invalid_names_and_intervals_exit_2_before_creating_anything(tmp_path: Path) -> None:
    env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y"}
    result = _run_setup({**env, "MADARA_ORCHESTRATOR_AWS_PREFIX": "Upper_Case"}, tmp_path)
    assert result.returncode == 2 and "invalid S3 bucket name" in result.stderr, result.stderr
    result = _run_setup({**env, "MADARA_ORCHESTRATOR_EVENT_BRIDGE_INTERVAL_SECONDS": "90"}, tmp_path)
    assert result.returncode == 2 and "multiple of 60" in result.stderr, result.stderr
