"""`orchestrator setup` for the aws profile: the bucket (+ lifecycle rule), the layer's queues with
their dead-letter redrive, the alerts topic, the IAM role and policy EventBridge uses, and one rule
or schedule per trigger of the layer.

Every step looks before it creates, so a second run creates nothing (IAM included: the role and
policy have fixed names derived from the prefix). Each resource is then polled until AWS reports
it usable, and reported on one line: created / already present / updated, and ready.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal

from orchestrator.clients.alerts.sns import find_topic_arn
from orchestrator.clients.aws_connection import AwsConnection, error_code, translate
from orchestrator.clients.aws_names import (
    LIFECYCLE_RULE_ID,
    Arn,
    AwsNames,
    is_arn,
    rate_expression,
)
from orchestrator.clients.cron.eventbridge import EventBridgeCronClient, EventBridgeMode
from orchestrator.clients.queue.sqs import NONEXISTENT_QUEUE_CODES, QueueControl, queue_controls
from orchestrator.core.errors import ConfigError, OrchestratorError
from orchestrator.core.models.queue import LAYER_QUEUES, LAYER_TRIGGERS, Layer, QueueType
from orchestrator.resources.aws_documents import (
    lifecycle_rule,
    queue_policy,
    same_attribute,
    send_policy,
    trust_policy,
)

State = Literal["created", "already present", "updated"]
Report = Callable[[str, str, str], None]
_ENSURE_STATES: dict[str, State] = {"created": "created", "present": "already present", "updated": "updated"}


class ProvisioningError(OrchestratorError):
    """A resource could not be created or did not become ready."""


@dataclass(frozen=True)
class SetupOptions:
    layer: Layer = Layer.L2
    event_bridge_type: EventBridgeMode = "rule"
    interval_seconds: int = 60
    storage_expiration_days: int = 14
    timeout_seconds: float = 300
    poll_interval_seconds: float = 5
    controls: dict[QueueType, QueueControl] = field(default_factory=queue_controls)


@dataclass
class SetupResult:
    resources: list[tuple[str, str, str]] = field(default_factory=list)

    def states(self, kind: str | None = None) -> dict[str, str]:
        return {name: state for k, name, state in self.resources if kind is None or k == kind}


async def poll_until(check: Callable[[], Awaitable[bool]], what: str, timeout: float, interval: float) -> float:
    """Call `check` until it is true; seconds taken, or ProvisioningError after `timeout`."""
    started = time.monotonic()
    while True:
        try:
            if await check():
                return time.monotonic() - started
        except OrchestratorError:
            raise
        except Exception as exc:
            code = error_code(exc)
            if not code:
                raise
        if time.monotonic() - started >= timeout:
            raise ProvisioningError(f"{what} is not ready after {timeout:.0f}s")
        await asyncio.sleep(interval)


def _answers(call: Callable[[], Awaitable[object]]) -> Callable[[], Awaitable[bool]]:
    """A readiness check: the resource is ready once `call` (a describe/get of it) succeeds."""

    async def check() -> bool:
        await call()
        return True

    return check


class AwsProvisioner:
    def __init__(self, connection: AwsConnection, names: AwsNames, options: SetupOptions, report: Report) -> None:
        self.connection = connection
        self.names = names
        self.options = options
        self._report = report
        self.result = SetupResult()
        #: from the caller's ARN: "aws", or "aws-cn" / "aws-us-gov" in the other partitions
        self.partition = "aws"

    def _done(self, kind: str, name: str, state: str, ready_after: float | None = None) -> None:
        line_state = state if ready_after is None else f"{state}, ready"
        self.result.resources.append((kind, name, state))
        self._report(kind, name, line_state)

    async def _ready(self, check: Callable[[], Awaitable[bool]], what: str) -> float:
        return await poll_until(check, what, self.options.timeout_seconds, self.options.poll_interval_seconds)

    @contextlib.contextmanager
    def _provisioning(self, what: str) -> Iterator[None]:
        """Any failure of the block but our own errors (and cancellation) becomes a ProvisioningError naming `what`."""
        try:
            yield
        except OrchestratorError:
            raise
        except Exception as exc:
            raise self._fail(exc, what) from exc

    def _fail(self, exc: Exception, what: str) -> Exception:
        translated = translate(exc, self.connection, what)
        if translated is exc and not isinstance(exc, OrchestratorError):
            code = error_code(exc)
            return ProvisioningError(f"{what}: {code or type(exc).__name__}: {exc}")
        return translated

    # --- entry point ----------------------------------------------------------------------------
    async def run(self) -> SetupResult:
        # Bad names or intervals are input errors: report them before anything is created.
        self.names.validate()
        rate_expression(self.options.interval_seconds)
        account = await self.identity()
        async with (
            self.connection.client("s3", s3={"addressing_style": "path"}) as s3,
            self.connection.client("sqs") as sqs,
            self.connection.client("sns") as sns,
            self.connection.client("iam") as iam,
        ):
            _, queue_arns, _, role_arn = await asyncio.gather(
                self.bucket(s3),
                self.queues(sqs, account),
                self.topic(sns),
                self.trigger_role(iam, account),
            )
        trigger_arn = queue_arns[QueueType.WORKER_TRIGGER]
        await self.schedules(trigger_arn, role_arn)
        return self.result

    async def identity(self) -> str:
        """The account id; also proves the endpoint answers and accepts the credentials."""
        try:
            async with self.connection.client("sts") as sts:
                identity = await sts.get_caller_identity()
        except Exception as exc:
            raise self._fail(exc, "STS GetCallerIdentity") from exc
        with contextlib.suppress(KeyError, ConfigError):  # an emulator may answer without an ARN; "aws" stays
            self.partition = Arn.parse(str(identity["Arn"])).partition
        return str(identity["Account"])

    # --- S3 -------------------------------------------------------------------------------------
    async def bucket(self, s3: Any) -> None:
        name = self.names.bucket
        state: State = "already present"
        with self._provisioning(f"S3 bucket {name}"):
            try:
                await s3.head_bucket(Bucket=name)
            except Exception as exc:
                if error_code(exc) not in ("404", "NoSuchBucket", "NotFound"):
                    raise
                if is_arn(self.names.bucket_identifier):
                    raise ProvisioningError(
                        f"bucket {name} (given by ARN) does not exist; setup creates buckets by name only"
                    ) from exc
                kwargs: dict[str, Any] = {"Bucket": name}
                if self.connection.region != "us-east-1":
                    kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.connection.region}
                await s3.create_bucket(**kwargs)
                state = "created"

            waited = await self._ready(_answers(partial(s3.head_bucket, Bucket=name)), f"bucket {name}")
            self._done("bucket", name, state, waited)
            await self.lifecycle(s3, name)

    async def lifecycle(self, s3: Any, bucket: str) -> None:
        wanted = lifecycle_rule(self.options.storage_expiration_days)
        try:
            current = (await s3.get_bucket_lifecycle_configuration(Bucket=bucket)).get("Rules", [])
        except Exception as exc:
            if error_code(exc) != "NoSuchLifecycleConfiguration":
                raise
            current = []
        ours = [r for r in current if r.get("ID") == LIFECYCLE_RULE_ID]
        if ours and ours[0].get("Expiration", {}).get("Days") == wanted["Expiration"]["Days"]:
            state: State = "already present"
        else:
            # Keep any other rules an operator added; replace ours.
            rules = [r for r in current if r.get("ID") != LIFECYCLE_RULE_ID] + [wanted]
            await s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
            state = "updated" if ours else "created"

        async def rule_ready() -> bool:
            rules = (await s3.get_bucket_lifecycle_configuration(Bucket=bucket)).get("Rules", [])
            return any(r.get("ID") == LIFECYCLE_RULE_ID for r in rules)

        waited = await self._ready(rule_ready, f"lifecycle rule {LIFECYCLE_RULE_ID} of {bucket}")
        self._done("lifecycle", f"{bucket}/{LIFECYCLE_RULE_ID}", state, waited)

    # --- SQS ------------------------------------------------------------------------------------
    def _queue_attributes(self, queue: QueueType, dlq_arn: str | None, policy: str | None) -> dict[str, str]:
        control = self.options.controls[queue]
        attributes = {"VisibilityTimeout": str(control.visibility_timeout)}
        if control.retention_seconds is not None:
            attributes["MessageRetentionPeriod"] = str(control.retention_seconds)
        if control.dead_letter is not None and dlq_arn is not None:
            attributes["RedrivePolicy"] = json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(control.max_receive_count)}
            )
        if policy is not None:
            attributes["Policy"] = policy
        return attributes

    async def _queue(self, sqs: Any, queue: QueueType, attributes: dict[str, str]) -> str:
        """Create or reconcile one queue; returns its ARN once it is ready."""
        name = self.names.queue(queue)
        with self._provisioning(f"SQS queue {name}"):
            state: State
            try:
                url = (await sqs.get_queue_url(QueueName=name))["QueueUrl"]
                current = (await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"]))["Attributes"]
                changed = {k: v for k, v in attributes.items() if not same_attribute(k, v, current.get(k))}
                if changed:
                    await sqs.set_queue_attributes(QueueUrl=url, Attributes=changed)
                    state = "updated"
                else:
                    state = "already present"
            except Exception as exc:
                if error_code(exc) not in NONEXISTENT_QUEUE_CODES:
                    raise
                url = (await sqs.create_queue(QueueName=name, Attributes=attributes))["QueueUrl"]
                state = "created"
            arn = ""

            async def queue_ready() -> bool:
                nonlocal arn
                attrs = (await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"]))["Attributes"]
                arn = attrs.get("QueueArn", "")
                return bool(arn) and all(same_attribute(k, v, attrs.get(k)) for k, v in attributes.items())

            waited = await self._ready(queue_ready, f"queue {name}")
            self._done("queue", name, state, waited)
            return arn

    async def queues(self, sqs: Any, account: str, queues: Sequence[QueueType] | None = None) -> dict[QueueType, str]:
        """The layer's queues (or `queues`), the dead-letter queue first (the others' redrive
        policy names it)."""
        layer_queues = LAYER_QUEUES[self.options.layer] if queues is None else queues
        arns: dict[QueueType, str] = {}
        dlq = QueueType.JOB_HANDLE_FAILURE
        arns[dlq] = await self._queue(sqs, dlq, self._queue_attributes(dlq, None, None))
        trigger_policy: str | None = None
        others = [q for q in layer_queues if q is not dlq]
        for queue in others:
            policy = None
            if queue is QueueType.WORKER_TRIGGER:
                region, name = self.connection.region, self.names.queue(QueueType.WORKER_TRIGGER)
                queue_arn = str(Arn(self.partition, "sqs", region, account, name))
                rule_pattern = str(
                    Arn(self.partition, "events", region, account, f"rule/{self.names.trigger_rule_prefix}*")
                )
                trigger_policy = json.dumps(queue_policy(queue_arn, rule_pattern))
                policy = trigger_policy
            arns[queue] = await self._queue(sqs, queue, self._queue_attributes(queue, arns[dlq], policy))
        return arns

    # --- SNS ------------------------------------------------------------------------------------
    async def topic(self, sns: Any) -> str:
        name = self.names.topic
        with self._provisioning(f"SNS topic {name}"):
            arn = self.names.topic_arn or await find_topic_arn(sns, self.connection, name)
            state: State = "already present"
            if arn is None:
                arn = str((await sns.create_topic(Name=name))["TopicArn"])
                state = "created"
            topic_arn = arn

            topic_ready = _answers(partial(sns.get_topic_attributes, TopicArn=topic_arn))
            waited = await self._ready(topic_ready, f"topic {name}")
            self._done("topic", name, state, waited)
            return topic_arn

    # --- IAM ------------------------------------------------------------------------------------
    async def trigger_role(self, iam: Any, account: str) -> str:
        """The role EventBridge Scheduler assumes to send trigger messages, and its inline policy."""
        role, policy = self.names.trigger_role, self.names.trigger_policy
        trigger_queue_arn = str(
            Arn(self.partition, "sqs", self.connection.region, account, self.names.queue(QueueType.WORKER_TRIGGER))
        )
        with self._provisioning(f"IAM role {role}"):
            state: State = "already present"
            try:
                role_arn = str((await iam.get_role(RoleName=role))["Role"]["Arn"])
            except Exception as exc:
                if error_code(exc) != "NoSuchEntity":
                    raise
                created = await iam.create_role(
                    RoleName=role,
                    AssumeRolePolicyDocument=trust_policy(),
                    Description="orchestrator: lets EventBridge deliver trigger messages to the worker-trigger queue",
                )
                role_arn = str(created["Role"]["Arn"])
                state = "created"

            waited = await self._ready(_answers(partial(iam.get_role, RoleName=role)), f"IAM role {role}")
            self._done("iam-role", role, state, waited)

            wanted = send_policy(trigger_queue_arn)
            try:
                document = (await iam.get_role_policy(RoleName=role, PolicyName=policy))["PolicyDocument"]
                if isinstance(document, str):
                    document = json.loads(document)
                policy_state: State = "already present" if document == wanted else "updated"
            except Exception as exc:
                if error_code(exc) != "NoSuchEntity":
                    raise
                policy_state = "created"
            if policy_state != "already present":
                await iam.put_role_policy(RoleName=role, PolicyName=policy, PolicyDocument=json.dumps(wanted))

            policy_ready = _answers(partial(iam.get_role_policy, RoleName=role, PolicyName=policy))
            waited = await self._ready(policy_ready, f"IAM policy {policy}")
            self._done("iam-policy", policy, policy_state, waited)
            return role_arn

    # --- EventBridge ----------------------------------------------------------------------------
    async def schedules(self, trigger_queue_arn: str, role_arn: str) -> None:
        cron = EventBridgeCronClient(
            self.connection, self.names, self.options.event_bridge_type, trigger_queue_arn, role_arn
        )
        kind = self.options.event_bridge_type
        try:
            for trigger in LAYER_TRIGGERS[self.options.layer]:
                outcome = await cron.ensure_schedule(trigger, self.options.interval_seconds)
                state = _ENSURE_STATES[outcome]
                name = self.names.trigger_rule(trigger)

                async def exists(t: Any = trigger) -> bool:
                    return await cron.describe(t) is not None

                waited = await self._ready(exists, f"{kind} {name}")
                self._done(kind, name, state, waited)
        finally:
            await cron.shutdown()


async def provision_aws(
    connection: AwsConnection, names: AwsNames, options: SetupOptions, report: Report
) -> SetupResult:
    return await AwsProvisioner(connection, names, options, report).run()


def layer_resource_counts(layer: Layer) -> dict[str, int]:
    """How many of each kind setup makes for a layer (documentation and tests)."""
    return {"queue": len(LAYER_QUEUES[layer]), "trigger": len(LAYER_TRIGGERS[layer])}


__all__: Sequence[str] = (
    "AwsProvisioner",
    "ProvisioningError",
    "SetupOptions",
    "SetupResult",
    "layer_resource_counts",
    "poll_until",
    "provision_aws",
)
