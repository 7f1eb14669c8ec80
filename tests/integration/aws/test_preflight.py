"""Preflight of the aws profile: each failing check names the resource and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.config import load_settings
from orchestrator.controllers.cli.errors import CliFailure
from orchestrator.controllers.cli.run import serve
from orchestrator.core.models.job import JobType
from orchestrator.resources.aws_clients import aws_connection, aws_names, aws_preflight, build_aws_infrastructure
from orchestrator.resources.aws_setup import SetupOptions, provision_aws
from tests.e2e.counting_orchestrator import CountingHandler
from tests.plugins.aws import AwsEndpoint


def _env(localstack: AwsEndpoint, mongo_url: str, prefix: str, database: str) -> dict[str, str]:
    return {
        **localstack.env(),
        "MADARA_ORCHESTRATOR_PROFILE": "aws",
        "MADARA_ORCHESTRATOR_AWS_PREFIX": prefix,
        "MADARA_ORCHESTRATOR_MONGODB_CONNECTION_URL": mongo_url,
        "MADARA_ORCHESTRATOR_DATABASE_NAME": database,
        "MADARA_ORCHESTRATOR_MADARA_RPC_URL": "http://127.0.0.1:9",
    }


async def test_missing_resources_name_themselves_and_setup(
    localstack: AwsEndpoint, mongo_url: str, aws_prefix: str, mongo_database_name: str
) -> None:
    settings = load_settings(environ=_env(localstack, mongo_url, aws_prefix, mongo_database_name), env_file=None)
    database, queue, storage, alerts, lock, _ = build_aws_infrastructure(settings)
    try:
        problems = await aws_preflight(settings, database, storage, queue, alerts, timeout=10)
        assert len(problems) == 3, problems
        joined = "\n".join(problems)
        for name in (f"{aws_prefix}-mo-bucket", f"{aws_prefix}_mo_worker_trigger_queue", f"{aws_prefix}_alerts"):
            assert name in joined
        assert all("orchestrator setup" in p for p in problems)

        names = aws_names(settings)
        await provision_aws(aws_connection(settings), names, SetupOptions(poll_interval_seconds=0.2), lambda *_: None)
        assert await aws_preflight(settings, database, storage, queue, alerts, timeout=10) == []
    finally:
        for client in (database, queue, storage, alerts, lock):
            await client.close()


async def test_unreachable_database_names_the_url_setting(
    localstack: AwsEndpoint, aws_prefix: str, mongo_database_name: str
) -> None:
    env = _env(localstack, "mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=300", aws_prefix, mongo_database_name)
    settings = load_settings(environ=env, env_file=None)
    database, queue, storage, alerts, lock, _ = build_aws_infrastructure(settings)
    try:
        problems = await aws_preflight(settings, database, storage, queue, alerts, timeout=10)
        mongo = [p for p in problems if p.startswith("MongoDB")]
        assert len(mongo) == 1 and "MADARA_ORCHESTRATOR_MONGODB_CONNECTION_URL" in mongo[0], problems
    finally:
        for client in (database, queue, storage, alerts, lock):
            await client.close()


async def test_run_without_setup_fails_with_exit_1_and_the_fix(
    localstack: AwsEndpoint, mongo_url: str, aws_prefix: str, mongo_database_name: str, tmp_path: Path
) -> None:
    # serve() is `orchestrator run`'s body; the job handler is a stand-in so that no settlement,
    # prover or node settings are needed to reach the preflight.
    env = {**_env(localstack, mongo_url, aws_prefix, mongo_database_name), "MADARA_ORCHESTRATOR_PORT": "0"}
    settings = load_settings(environ=env, env_file=None)
    handler = CountingHandler(str(tmp_path / "effects.txt"))
    with pytest.raises(CliFailure) as info:
        await serve(settings, handlers={JobType.SNOS_RUN: handler})
    assert info.value.exit_code == 1
    assert "orchestrator setup" in info.value.message
    assert f"{aws_prefix}_mo_worker_trigger_queue" in info.value.message
