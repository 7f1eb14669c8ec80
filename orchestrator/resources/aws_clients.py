"""Building the aws profile's clients from Settings (the composition root calls this)."""

from __future__ import annotations

from collections.abc import Mapping

from orchestrator.clients.alerts.sns import SnsAlertClient
from orchestrator.clients.aws_connection import AwsConnection
from orchestrator.clients.aws_names import AwsNames
from orchestrator.clients.database.mongodb import MongoDatabaseClient, redact_url
from orchestrator.clients.lock.mongodb import MongoLockClient
from orchestrator.clients.queue.sqs import SqsQueueClient
from orchestrator.clients.storage.s3 import S3StorageClient
from orchestrator.config import Settings
from orchestrator.core.clients.alerts import AlertClient
from orchestrator.core.clients.cron import CronClient
from orchestrator.core.clients.database import DatabaseClient
from orchestrator.core.clients.queue import QueueClient
from orchestrator.core.clients.storage import StorageClient
from orchestrator.core.models.queue import LAYER_QUEUES, QueueType
from orchestrator.core.version import ORCHESTRATOR_VERSION
from orchestrator.resources.preflight import DEFAULT_TIMEOUT_SECONDS, aws_checks, run_preflight


def aws_connection(settings: Settings) -> AwsConnection:
    aws = settings.aws
    secret = aws.aws_secret_access_key.get_secret_value() if aws.aws_secret_access_key else None
    return AwsConnection(
        region=aws.aws_region,
        endpoint_url=aws.aws_endpoint_url,
        access_key_id=aws.aws_access_key_id,
        secret_access_key=secret,
    )


def aws_names(settings: Settings) -> AwsNames:
    return AwsNames(
        prefix=settings.aws.aws_prefix or None,
        bucket_identifier=settings.storage.aws_s3_bucket_identifier,
        queue_identifier=settings.queue.aws_sqs_queue_identifier,
        topic_identifier=settings.alerts.aws_sns_topic_identifier,
    )


def build_aws_infrastructure(
    settings: Settings, visibility_timeouts: Mapping[QueueType, int] | None = None
) -> tuple[MongoDatabaseClient, SqsQueueClient, S3StorageClient, SnsAlertClient, MongoLockClient, CronClient | None]:
    """(database, queue, storage, alerts, lock, cron). The queues' visibility timeouts are set on
    the queues by `orchestrator setup`, so `visibility_timeouts` is not needed here. The cron is
    None: EventBridge rules or schedules (created by setup) fire in AWS, not in this process."""
    connection = aws_connection(settings)
    names = aws_names(settings)
    url = settings.database.mongodb_connection_url.get_secret_value()
    db_name = settings.database.database_name
    return (
        MongoDatabaseClient(url, db_name),
        SqsQueueClient(connection, names, LAYER_QUEUES[settings.general.layer], ORCHESTRATOR_VERSION),
        S3StorageClient(connection, names.bucket),
        SnsAlertClient(connection, names.topic, names.topic_arn),
        MongoLockClient(url, db_name),
        None,
    )


async def aws_preflight(
    settings: Settings,
    database: DatabaseClient,
    storage: StorageClient,
    queue: QueueClient,
    alerts: AlertClient,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> list[str]:
    """The reference's four preflight checks; one line per problem naming the resource and the fix."""
    names = aws_names(settings)
    checks = aws_checks(
        database.health_check,
        storage.health_check,
        queue.health_check,
        alerts.health_check,
        database_url=redact_url(settings.database.mongodb_connection_url.get_secret_value()),
        bucket=names.bucket,
        trigger_queue_name=names.queue(QueueType.WORKER_TRIGGER),
        topic_name=names.topic,
    )
    return await run_preflight(checks, timeout)
