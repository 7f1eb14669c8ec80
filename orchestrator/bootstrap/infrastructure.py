"""The profile's infrastructure (database, queue, storage, alerts, lock, cron) and the job engine over it."""

from __future__ import annotations

from collections.abc import Mapping

from orchestrator.bootstrap.container import Infrastructure, OwnedClients
from orchestrator.bootstrap.engine import engine_params
from orchestrator.clients.alerts.log import LogAlertClient
from orchestrator.clients.cron.apscheduler import ApschedulerCronClient
from orchestrator.clients.database.sqlite import SqliteDatabaseClient
from orchestrator.clients.failures import classify_failure
from orchestrator.clients.lock.sqlite import SqliteLockClient
from orchestrator.clients.queue.local import SqliteQueueClient
from orchestrator.clients.storage.local import LocalStorageClient
from orchestrator.clients.telemetry import process_telemetry
from orchestrator.config import Profile, Settings
from orchestrator.core.models.job import JobType
from orchestrator.core.models.queue import DLQ_QUEUES, QueueType
from orchestrator.core.models.queue import visibility_timeouts as queue_visibility_timeouts
from orchestrator.core.version import ORCHESTRATOR_VERSION
from orchestrator.services.job.engine import JobEngine
from orchestrator.services.job.handler import JobHandler
from orchestrator.services.job.triggers import completion_notifier
from orchestrator.services.observability import instrumented_database, traced_handlers


def visibility_timeouts(settings: Settings) -> dict[QueueType, int]:
    """Per-queue visibility (the rule is `core.models.queue.visibility_timeouts`) from the settings."""
    return queue_visibility_timeouts(
        settings.queue.queue_visibility_timeout_seconds, settings.service.state_transition_timeout_seconds
    )


def build_infrastructure(settings: Settings) -> Infrastructure:
    local = settings.general.profile is Profile.LOCAL
    infra = local_infrastructure(settings) if local else aws_infrastructure(settings)
    # Every job write passes through the database: the job metrics observe it there.
    infra.database = instrumented_database(infra.database, process_telemetry())
    return infra


def local_infrastructure(settings: Settings) -> Infrastructure:
    data = settings.general.data_dir
    queue = SqliteQueueClient(
        data / "queue.sqlite3",
        orchestrator_version=ORCHESTRATOR_VERSION,
        visibility_timeouts=visibility_timeouts(settings),
        max_receive_count=settings.service.max_process_retries,
        dlq_queues=DLQ_QUEUES,
    )
    return Infrastructure(
        database=SqliteDatabaseClient(data / "orchestrator.sqlite3"),
        queue=queue,
        storage=LocalStorageClient(data / "storage"),
        alerts=LogAlertClient(),
        lock=SqliteLockClient(data / "orchestrator.sqlite3"),
        cron=ApschedulerCronClient(queue),
    )


def aws_infrastructure(settings: Settings) -> Infrastructure:
    # Imported here: boto3/aiobotocore and pymongo are resident memory the local profile never uses.
    from orchestrator.resources.aws_clients import build_aws_infrastructure  # noqa: PLC0415

    database, queue, storage, alerts, lock, cron = build_aws_infrastructure(settings, visibility_timeouts(settings))
    extra = OwnedClients()
    extra.own(alerts)  # the SNS client keeps an AWS client open; the AlertClient protocol has no close
    return Infrastructure(database, queue, storage, alerts, lock, cron, extra)


def build_engine(settings: Settings, infra: Infrastructure, handlers: Mapping[JobType, JobHandler]) -> JobEngine:
    """The engine over a finished handler mapping: nothing is added to it afterwards."""
    return JobEngine(
        infra.database,
        infra.queue,
        infra.alerts,
        traced_handlers(handlers, process_telemetry()),
        engine_params(settings),
        on_completed=completion_notifier(infra.queue, settings.general.layer),
        classify=classify_failure,
    )
