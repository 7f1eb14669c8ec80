"""The aws clients against LocalStack + the MongoDB-compatible server: behaviour the contract
suites do not cover (names, version filter, redrive, tagging, alerts delivery, rules)."""

from __future__ import annotations

import asyncio
import json

import pytest

from orchestrator.clients.alerts.sns import SnsAlertClient
from orchestrator.clients.aws_names import EXPIRY_TAG_KEY, AwsNames, rate_expression
from orchestrator.clients.queue.sqs import QueueControl, SqsQueueClient, queue_controls
from orchestrator.clients.storage.s3 import S3StorageClient
from orchestrator.core.clients.queue import VERSION_ATTRIBUTE
from orchestrator.core.errors import ConfigError, NotFoundError, ObjectNotFoundError
from orchestrator.core.models.queue import LAYER_QUEUES, Layer, QueueType
from orchestrator.resources.aws_setup import SetupOptions, provision_aws
from tests.plugins.aws import AwsEndpoint


async def _provision(
    endpoint: AwsEndpoint, names: AwsNames, controls: dict[QueueType, QueueControl] | None = None
) -> None:
    options = SetupOptions(poll_interval_seconds=0.2, controls=controls or queue_controls())
    await provision_aws(endpoint.connection(), names, options, lambda *_: None)


async def test_queue_names_follow_the_template_and_prefix() -> None:
    names = AwsNames(prefix="e2esetup", queue_identifier="test_{}_queue")
    assert names.queue(QueueType.SNOS_JOB_PROCESSING) == "e2esetup_test_snos_job_processing_queue"
    assert AwsNames().queue(QueueType.WORKER_TRIGGER) == "mo_worker_trigger_queue"
    assert AwsNames(prefix="p").bucket == "p-mo-bucket"
    assert AwsNames(prefix="p").topic == "p_alerts"


async def test_send_receive_ack_with_version_attribute(localstack: AwsEndpoint, aws_prefix: str) -> None:
    names = AwsNames(prefix=aws_prefix)
    await _provision(localstack, names, controls=queue_controls(visibility_timeout=30))
    client = SqsQueueClient(localstack.connection(), names, LAYER_QUEUES[Layer.L2], version="9.9.9")
    try:
        await client.setup()
        await client.send(QueueType.SNOS_JOB_PROCESSING, '{"id": "x"}')
        delivery = await client.receive(QueueType.SNOS_JOB_PROCESSING, wait_seconds=5)
        assert delivery is not None
        assert delivery.attributes[VERSION_ATTRIBUTE] == "9.9.9"
        assert delivery.receive_count == 1
        await client.ack(delivery)
        assert await client.receive(QueueType.SNOS_JOB_PROCESSING, wait_seconds=1) is None
    finally:
        await client.close()


async def test_other_versions_messages_are_left_for_their_owner(localstack: AwsEndpoint, aws_prefix: str) -> None:
    names = AwsNames(prefix=aws_prefix)
    await _provision(localstack, names, controls=queue_controls(visibility_timeout=30))
    old = SqsQueueClient(localstack.connection(), names, version="0.0.1")
    new = SqsQueueClient(localstack.connection(), names, version="0.0.2")
    try:
        await old.send(QueueType.PROVING_JOB_PROCESSING, "for-old")
        assert await new.receive(QueueType.PROVING_JOB_PROCESSING, wait_seconds=2) is None
        delivery = await old.receive(QueueType.PROVING_JOB_PROCESSING, wait_seconds=5)
        assert delivery is not None and delivery.body == "for-old"
    finally:
        await old.close()
        await new.close()


async def test_messages_without_version_are_accepted(localstack: AwsEndpoint, aws_prefix: str) -> None:
    names = AwsNames(prefix=aws_prefix)
    await _provision(localstack, names)
    client = SqsQueueClient(localstack.connection(), names)
    try:
        async with localstack.connection().client("sqs") as sqs:
            url = (await sqs.get_queue_url(QueueName=names.queue(QueueType.WORKER_TRIGGER)))["QueueUrl"]
            await sqs.send_message(QueueUrl=url, MessageBody='"Snos"')
        delivery = await client.receive(QueueType.WORKER_TRIGGER, wait_seconds=5)
        assert delivery is not None and delivery.body == '"Snos"'
    finally:
        await client.close()


async def test_redrive_moves_a_poison_message_to_the_failure_queue(localstack: AwsEndpoint, aws_prefix: str) -> None:
    names = AwsNames(prefix=aws_prefix)
    await _provision(localstack, names, controls=queue_controls(visibility_timeout=1, max_receive_count=2))
    client = SqsQueueClient(localstack.connection(), names)
    try:
        await client.send(QueueType.SNOS_JOB_PROCESSING, "poison")
        counts = []
        for _ in range(2):
            delivery = await client.receive(QueueType.SNOS_JOB_PROCESSING, wait_seconds=5)
            assert delivery is not None
            counts.append(delivery.receive_count)
            await client.nack(delivery)
        assert counts == [1, 2]
        # SQS moves the message when a receive would exceed maxReceiveCount.
        assert await client.receive(QueueType.SNOS_JOB_PROCESSING, wait_seconds=2) is None
        failed = await client.receive(QueueType.JOB_HANDLE_FAILURE, wait_seconds=10)
        assert failed is not None and failed.body == "poison"
    finally:
        await client.close()


async def test_delayed_message_and_counts(localstack: AwsEndpoint, aws_prefix: str) -> None:
    names = AwsNames(prefix=aws_prefix)
    await _provision(localstack, names)
    client = SqsQueueClient(localstack.connection(), names)
    try:
        await client.send(QueueType.SNOS_JOB_VERIFICATION, "later", delay_seconds=2)
        assert await client.receive(QueueType.SNOS_JOB_VERIFICATION, wait_seconds=0) is None
        assert await client.approximate_count(QueueType.SNOS_JOB_VERIFICATION) == 1
        delivery = await client.receive(QueueType.SNOS_JOB_VERIFICATION, wait_seconds=6)
        assert delivery is not None and delivery.body == "later"
        assert await client.in_flight_count(QueueType.SNOS_JOB_VERIFICATION) == 1
    finally:
        await client.close()


async def test_missing_queue_is_reported_by_name(localstack: AwsEndpoint, aws_prefix: str) -> None:
    client = SqsQueueClient(localstack.connection(), AwsNames(prefix=aws_prefix))
    try:
        with pytest.raises(NotFoundError, match=f"{aws_prefix}_mo_worker_trigger_queue"):
            await client.health_check()
    finally:
        await client.close()


async def test_s3_round_trip_and_expiry_tag(localstack: AwsEndpoint, aws_prefix: str) -> None:
    names = AwsNames(prefix=aws_prefix)
    missing = S3StorageClient(localstack.connection(), names.bucket)
    with pytest.raises(NotFoundError, match=names.bucket):
        await missing.health_check()
    await missing.close()
    await _provision(localstack, names)
    storage = S3StorageClient(localstack.connection(), names.bucket)
    try:
        await storage.health_check()
        await storage.put("7/cairo_pie.zip", b"pie")
        await storage.put("artifacts/batch/3/program_output.txt", b"out")
        assert await storage.get("7/cairo_pie.zip") == b"pie"
        assert await storage.list("artifacts/") == ["artifacts/batch/3/program_output.txt"]
        await storage.mark_for_expiry("7/cairo_pie.zip")
        assert await storage.get_tags("7/cairo_pie.zip") == {EXPIRY_TAG_KEY: "true"}
        with pytest.raises(ObjectNotFoundError):
            await storage.get("nope")
        with pytest.raises(ObjectNotFoundError):
            await storage.tag("nope", {"a": "b"})
        async with localstack.connection().client("s3", s3={"addressing_style": "path"}) as s3:
            rules = (await s3.get_bucket_lifecycle_configuration(Bucket=names.bucket))["Rules"]
        assert rules[0]["ID"] == "expire-settled-artifacts"
        assert rules[0]["Filter"]["Tag"] == {"Key": EXPIRY_TAG_KEY, "Value": "true"}
        assert rules[0]["Expiration"]["Days"] == 14
    finally:
        await storage.close()


async def test_sns_alert_is_delivered(localstack: AwsEndpoint, aws_prefix: str) -> None:
    names = AwsNames(prefix=aws_prefix)
    await _provision(localstack, names)
    alerts = SnsAlertClient(localstack.connection(), names.topic)
    async with localstack.connection().client("sqs") as sqs, localstack.connection().client("sns") as sns:
        inbox = (await sqs.create_queue(QueueName=f"{aws_prefix}-inbox"))["QueueUrl"]
        inbox_arn = (await sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"]))["Attributes"][
            "QueueArn"
        ]
        await sns.subscribe(TopicArn=await alerts.topic_arn(), Protocol="sqs", Endpoint=inbox_arn)
        await alerts.health_check()
        await alerts.send_message("Job Failed Alert: job 1\nreason: boom")
        messages = (await sqs.receive_message(QueueUrl=inbox, WaitTimeSeconds=10)).get("Messages", [])
    await alerts.close()
    assert messages, "the alert did not reach the subscribed queue"
    assert json.loads(messages[0]["Body"])["Message"] == "Job Failed Alert: job 1\nreason: boom"


async def test_missing_topic_is_reported(localstack: AwsEndpoint, aws_prefix: str) -> None:
    alerts = SnsAlertClient(localstack.connection(), f"{aws_prefix}_alerts")
    with pytest.raises(NotFoundError, match=f"{aws_prefix}_alerts"):
        await alerts.health_check()
    await alerts.close()


async def test_concurrent_receivers_share_a_queue(localstack: AwsEndpoint, aws_prefix: str) -> None:
    names = AwsNames(prefix=aws_prefix)
    await _provision(localstack, names, controls=queue_controls(visibility_timeout=30))
    client = SqsQueueClient(localstack.connection(), names)
    try:
        await asyncio.gather(*(client.send(QueueType.SNOS_JOB_PROCESSING, str(i)) for i in range(20)))
        seen: list[str] = []

        async def drain() -> None:
            while (d := await client.receive(QueueType.SNOS_JOB_PROCESSING, wait_seconds=2)) is not None:
                seen.append(d.body)
                await client.ack(d)

        await asyncio.gather(*(drain() for _ in range(4)))
        assert sorted(seen, key=int) == [str(i) for i in range(20)]
    finally:
        await client.close()


def test_queue_controls_are_the_references() -> None:
    controls = queue_controls()
    assert controls[QueueType.SNOS_JOB_PROCESSING].visibility_timeout == 360
    assert controls[QueueType.UPDATE_STATE_JOB_PROCESSING].visibility_timeout == 1080
    assert controls[QueueType.PRIORITY_PROCESSING_QUEUE].visibility_timeout == 1080
    assert controls[QueueType.PRIORITY_VERIFICATION_QUEUE].visibility_timeout == 720
    assert controls[QueueType.WORKER_TRIGGER].retention_seconds == 60
    assert controls[QueueType.WORKER_TRIGGER].dead_letter is None
    assert controls[QueueType.JOB_HANDLE_FAILURE].dead_letter is None
    assert controls[QueueType.PROVING_JOB_VERIFICATION].dead_letter is QueueType.JOB_HANDLE_FAILURE
    assert {c.max_receive_count for c in controls.values()} == {5}
    assert controls[QueueType.SNOS_JOB_PROCESSING].concurrency == 5
    assert controls[QueueType.WORKER_TRIGGER].concurrency == 50


def test_rate_expressions() -> None:
    assert rate_expression(60) == "rate(1 minute)"
    assert rate_expression(120) == "rate(2 minutes)"
    assert rate_expression(3600) == "rate(1 hour)"
    assert rate_expression(86400 * 2) == "rate(2 days)"
    for bad in (30, 90):
        with pytest.raises(ConfigError):
            rate_expression(bad)
