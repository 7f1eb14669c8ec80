"""The aws profile's backends for the contract suites: MongoDB (database, lock), SQS (queue),
S3 (storage), SNS (alerts), EventBridge rules (cron). Each test gets a fresh database name or
resource prefix on the session's LocalStack / MongoDB server (fixtures of tests/plugins/aws.py)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from orchestrator.clients.alerts.sns import SnsAlertClient
from orchestrator.clients.aws_connection import AwsConnection
from orchestrator.clients.aws_names import AwsNames
from orchestrator.clients.cron.eventbridge import EventBridgeCronClient
from orchestrator.clients.database.mongodb import MongoDatabaseClient
from orchestrator.clients.lock.mongodb import MongoLockClient
from orchestrator.clients.queue.sqs import QueueControl, SqsQueueClient, queue_controls
from orchestrator.clients.storage.s3 import S3StorageClient
from orchestrator.core.clients.alerts import AlertClient
from orchestrator.core.clients.cron import CronClient
from orchestrator.core.clients.database import DatabaseClient
from orchestrator.core.clients.lock import LockClient
from orchestrator.core.clients.queue import QueueClient
from orchestrator.core.clients.storage import StorageClient
from orchestrator.core.models.queue import DEFAULT_VISIBILITY_TIMEOUT, MAX_RECEIVE_COUNT, QueueType
from orchestrator.core.version import ORCHESTRATOR_VERSION
from orchestrator.resources.aws_setup import AwsProvisioner, SetupOptions
from tests.integration.contracts.contract_backends import (
    ALERTS,
    CRON,
    DATABASE,
    LOCK,
    QUEUE,
    STORAGE,
    Backend,
    _Closers,
    register,
)

_SERVICES = (pytest.mark.services,)


def _quiet(*_: object) -> None:
    pass


class MongoDatabaseHarness(_Closers):
    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self.name = f"contract_{uuid.uuid4().hex[:12]}"
        self.defer(self._drop)

    async def _drop(self) -> None:
        client = MongoDatabaseClient(self.url, self.name)
        await client.drop_all()
        await client.close()

    async def new_client(self) -> DatabaseClient:
        client = MongoDatabaseClient(self.url, self.name)
        await client.connect()
        self.defer(client.close)
        return client


class MongoLockHarness(MongoDatabaseHarness):
    async def new_client(self) -> LockClient:  # type: ignore[override]
        client = MongoLockClient(self.url, self.name)
        await client.connect()
        self.defer(client.close)
        return client


class _AwsHarness(_Closers):
    def __init__(self, connection: AwsConnection) -> None:
        super().__init__()
        self.connection = connection
        self.names = AwsNames(prefix=f"c{uuid.uuid4().hex[:10]}")

    def provisioner(self, controls: dict[QueueType, QueueControl] | None = None) -> AwsProvisioner:
        options = SetupOptions(poll_interval_seconds=0.2, timeout_seconds=30, controls=controls or queue_controls())
        return AwsProvisioner(self.connection, self.names, options, _quiet)


class SqsQueueHarness(_AwsHarness):
    def __init__(self, connection: AwsConnection) -> None:
        super().__init__(connection)
        self.arns: dict[QueueType, str] | None = None

    async def create_queues(
        self, visibility_timeouts: Mapping[QueueType, int] | None, default_visibility_timeout: int
    ) -> dict[QueueType, str]:
        if self.arns is None:
            base = queue_controls(visibility_timeout=default_visibility_timeout, max_receive_count=MAX_RECEIVE_COUNT)
            controls = {
                q: QueueControl(
                    visibility_timeout=(visibility_timeouts or {}).get(q, default_visibility_timeout),
                    dead_letter=c.dead_letter,
                    max_receive_count=c.max_receive_count,
                    concurrency=c.concurrency,
                    retention_seconds=None,  # the contract expects no silent expiry
                )
                for q, c in base.items()
            }
            provisioner = self.provisioner(controls)
            account = await provisioner.identity()
            async with self.connection.client("sqs") as sqs:
                # Every queue type, not one layer's: the suites use them all.
                arns = await provisioner.queues(sqs, account, tuple(QueueType))
            self.arns = arns
        return self.arns

    async def new_client(
        self,
        orchestrator_version: str = ORCHESTRATOR_VERSION,
        visibility_timeouts: Mapping[QueueType, int] | None = None,
        default_visibility_timeout: int = DEFAULT_VISIBILITY_TIMEOUT,
    ) -> QueueClient:
        await self.create_queues(visibility_timeouts, default_visibility_timeout)
        client = SqsQueueClient(self.connection, self.names, version=orchestrator_version)
        await client.setup()
        self.defer(client.close)
        return client


class S3StorageHarness(_AwsHarness):
    created = False

    async def new_client(self) -> StorageClient:
        if not self.created:
            async with self.connection.client("s3", s3={"addressing_style": "path"}) as s3:
                await self.provisioner().bucket(s3)
            self.created = True
        client = S3StorageClient(self.connection, self.names.bucket)
        await client.setup()
        self.defer(client.close)
        return client


class SnsAlertsHarness(_AwsHarness):
    inbox: str | None = None

    async def _subscribe(self) -> None:
        if self.inbox is not None:
            return
        async with self.connection.client("sns") as sns, self.connection.client("sqs") as sqs:
            topic_arn = await self.provisioner().topic(sns)
            self.inbox = (await sqs.create_queue(QueueName=f"{self.names.prefix}-inbox"))["QueueUrl"]
            attrs = await sqs.get_queue_attributes(QueueUrl=self.inbox, AttributeNames=["QueueArn"])
            await sns.subscribe(
                TopicArn=topic_arn,
                Protocol="sqs",
                Endpoint=attrs["Attributes"]["QueueArn"],
                Attributes={"RawMessageDelivery": "true"},
            )
        self._received: list[str] = []

    async def new_client(self) -> AlertClient:
        await self._subscribe()
        client = SnsAlertClient(self.connection, self.names.topic)
        self.defer(client.close)
        return client

    async def received(self, count: int, timeout: float) -> list[str]:
        import time

        await self._subscribe()
        deadline = time.monotonic() + timeout
        async with self.connection.client("sqs") as sqs:
            while True:
                wait = max(0, min(5, int(deadline - time.monotonic())))
                response = await sqs.receive_message(QueueUrl=self.inbox, MaxNumberOfMessages=10, WaitTimeSeconds=wait)
                for message in response.get("Messages", []):
                    self._received.append(message["Body"])
                    await sqs.delete_message(QueueUrl=self.inbox, ReceiptHandle=message["ReceiptHandle"])
                if len(self._received) >= count or time.monotonic() >= deadline:
                    return list(self._received)


class EventBridgeHarness(_AwsHarness):
    #: EventBridge rates are whole minutes
    min_interval_seconds = 60

    def __init__(self, connection: AwsConnection) -> None:
        super().__init__(connection)
        self._queues = SqsQueueHarness(connection)
        self._queues.names = self.names
        self._queue: QueueClient | None = None
        self.defer(self._queues.close_all)

    async def queue(self) -> QueueClient:
        if self._queue is None:
            self._queue = await self._queues.new_client()
        return self._queue

    async def new_client(self) -> CronClient:
        await self.queue()
        arns = await self._queues.create_queues(None, DEFAULT_VISIBILITY_TIMEOUT)
        client = EventBridgeCronClient(self.connection, self.names, "rule", arns[QueueType.WORKER_TRIGGER])
        self.defer(client.shutdown)
        return client


def _service(request: pytest.FixtureRequest, name: str) -> Any:
    try:
        return request.getfixturevalue(name)
    except pytest.FixtureLookupError:
        pytest.skip(f"fixture {name!r} missing: list 'tests.plugins.aws' in tests/conftest.py pytest_plugins")


def _with_mongo(factory: Callable[[str], _Closers]) -> Callable[[pytest.FixtureRequest, Path], Any]:
    @asynccontextmanager
    async def open_harness(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[_Closers]:
        harness = factory(_service(request, "mongo_url"))
        try:
            yield harness
        finally:
            await harness.close_all()

    return open_harness


def _with_localstack(factory: Callable[[AwsConnection], _Closers]) -> Callable[[pytest.FixtureRequest, Path], Any]:
    @asynccontextmanager
    async def open_harness(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[_Closers]:
        harness = factory(_service(request, "localstack").connection())
        try:
            yield harness
        finally:
            await harness.close_all()

    return open_harness


register(DATABASE, Backend("mongodb", _with_mongo(MongoDatabaseHarness), marks=_SERVICES))
register(LOCK, Backend("mongodb", _with_mongo(MongoLockHarness), marks=_SERVICES))
register(QUEUE, Backend("sqs", _with_localstack(SqsQueueHarness), marks=_SERVICES))
register(STORAGE, Backend("s3", _with_localstack(S3StorageHarness), marks=_SERVICES))
register(ALERTS, Backend("sns", _with_localstack(SnsAlertsHarness), marks=_SERVICES))
register(CRON, Backend("eventbridge", _with_localstack(EventBridgeHarness), marks=_SERVICES))
