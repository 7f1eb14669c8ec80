"""`orchestrator setup`: create what `run` needs, idempotently.

aws profile: the S3 bucket and its lifecycle rule, the layer's SQS queues with dead-letter redrive,
the SNS topic, the IAM role and policy for EventBridge, one EventBridge rule or Scheduler schedule
per trigger. local profile: the data directory, the SQLite database, the queue file, the storage
directory. One line per resource says whether it was created or already present, and ready.
"""

from __future__ import annotations

import asyncio
from typing import Any

import click

from orchestrator.config import Profile, Settings
from orchestrator.controllers.cli.errors import CliError, CliFailure
from orchestrator.controllers.cli.options import load_from_cli, settings_options
from orchestrator.core.errors import ConfigError, OrchestratorError, ServiceUnavailableError

SETUP_AREAS = ("general", "aws", "storage", "queue", "alerts")


def _print(kind: str, name: str, state: str) -> None:
    click.echo(f"{kind:<10} {name}: {state}")


async def _setup_aws(settings: Settings) -> None:
    from orchestrator.clients.queue.sqs import queue_controls
    from orchestrator.resources.aws_clients import aws_connection, aws_names
    from orchestrator.resources.aws_setup import SetupOptions, provision_aws

    s = settings.service
    options = SetupOptions(
        layer=settings.general.layer,
        event_bridge_type=settings.setup.event_bridge_type,
        interval_seconds=settings.setup.event_bridge_interval_seconds,
        storage_expiration_days=settings.storage.storage_expiration_days,
        timeout_seconds=settings.setup.setup_timeout,
        poll_interval_seconds=settings.setup.setup_resource_poll_interval,
        controls=queue_controls(
            visibility_timeout=settings.queue.queue_visibility_timeout_seconds,
            state_transition_timeout=s.state_transition_timeout_seconds,
            max_receive_count=s.max_process_retries,
            snos_concurrency=s.max_concurrent_snos_jobs,
            proving_concurrency=s.max_concurrent_proving_jobs,
            aggregator_concurrency=s.max_concurrent_aggregator_jobs,
        ),
    )
    result = await provision_aws(aws_connection(settings), aws_names(settings), options, _print)
    created = sum(1 for _, _, state in result.resources if state == "created")
    click.echo(f"setup complete: {len(result.resources)} resources, {created} created")


async def _setup_local(settings: Settings) -> None:
    from orchestrator.bootstrap import build_infrastructure
    from orchestrator.resources.local_setup import provision_local

    infra = build_infrastructure(settings)
    await provision_local(settings.general.data_dir, infra.database, infra.lock, infra.queue, infra.storage, _print)
    click.echo("setup complete")


@click.command("setup")
@click.option("--env-file", default=".env", show_default=True, help="dotenv file to read (if it exists)")
@click.option(
    "--event-bridge-type",
    type=click.Choice(["rule", "schedule"]),
    default=None,
    help="aws: EventBridge rules (LocalStack fires these) or Scheduler schedules "
    "[env MADARA_ORCHESTRATOR_EVENT_BRIDGE_TYPE; default rule]",
)
@click.option(
    "--interval-seconds",
    type=click.IntRange(min=60),
    default=None,
    help="aws: how often each trigger fires, a multiple of 60 "
    "[env MADARA_ORCHESTRATOR_EVENT_BRIDGE_INTERVAL_SECONDS; default 60]",
)
@click.option(
    "--timeout",
    type=click.IntRange(min=1),
    default=None,
    help="seconds to wait for each resource to be ready [env MADARA_ORCHESTRATOR_SETUP_TIMEOUT; default 300]",
)
@click.option(
    "--poll-interval",
    type=click.IntRange(min=1),
    default=None,
    help="seconds between readiness checks [env MADARA_ORCHESTRATOR_SETUP_RESOURCE_POLL_INTERVAL; default 5]",
)
@settings_options(SETUP_AREAS)
def setup_command(
    env_file: str,
    event_bridge_type: str | None,
    interval_seconds: int | None,
    timeout: int | None,
    poll_interval: int | None,
    **options: Any,
) -> None:
    """Create the resources `orchestrator run` needs for the profile and layer.

    Running it again creates nothing: every resource is reported as already present.
    """
    for key, value in (
        ("setup__event_bridge_type", event_bridge_type),
        ("setup__event_bridge_interval_seconds", interval_seconds),
        ("setup__setup_timeout", timeout),
        ("setup__setup_resource_poll_interval", poll_interval),
    ):
        if value is not None:
            options[key] = value
    settings = load_from_cli(options, env_file)
    runner = _setup_aws if settings.general.profile is Profile.AWS else _setup_local
    try:
        asyncio.run(runner(settings))
    except ConfigError as exc:
        raise CliError(str(exc)) from None
    except ServiceUnavailableError as exc:
        raise CliFailure(f"{exc}\n(check AWS_ENDPOINT_URL / AWS_REGION and the AWS credentials)") from None
    except OrchestratorError as exc:
        raise CliFailure(str(exc)) from None
    except OSError as exc:
        raise CliFailure(f"setup failed: {exc}") from None
