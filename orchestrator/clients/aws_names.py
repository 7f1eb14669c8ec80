"""AWS resource names, shared by the clients and by `orchestrator setup`, so both find the same
resources. The templates are the reference's; the IAM names are fixed (no random suffix) so a
second setup run finds what the first one created.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from orchestrator.core.errors import ConfigError
from orchestrator.core.models.queue import QueueType, WorkerTrigger

#: The S3 object tag that marks an artifact for expiry, and the lifecycle rule that acts on it.
EXPIRY_TAG_KEY = "expire-after-settlement"
EXPIRY_TAG_VALUE = "true"
LIFECYCLE_RULE_ID = "expire-settled-artifacts"

_TOPIC_NAME = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_QUEUE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_RULE_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


@dataclass(frozen=True)
class Arn:
    partition: str
    service: str
    region: str
    account: str
    resource: str

    @classmethod
    def parse(cls, text: str) -> Arn:
        parts = text.split(":", 5)
        if len(parts) != 6 or parts[0] != "arn":
            raise ConfigError(f"not an ARN: {text!r}")
        return cls(*parts[1:])

    def __str__(self) -> str:
        return f"arn:{self.partition}:{self.service}:{self.region}:{self.account}:{self.resource}"


def is_arn(identifier: str) -> bool:
    return identifier.startswith("arn:")


@dataclass(frozen=True)
class AwsNames:
    """Every resource name for one deployment: a prefix plus the configured identifiers."""

    prefix: str | None = None
    bucket_identifier: str = "mo-bucket"
    queue_identifier: str = "mo_{}_queue"
    topic_identifier: str = "alerts"

    def _with(self, name: str, separator: str) -> str:
        return f"{self.prefix}{separator}{name}" if self.prefix else name

    # --- S3 ------------------------------------------------------------------------------------
    @property
    def bucket(self) -> str:
        if is_arn(self.bucket_identifier):
            return Arn.parse(self.bucket_identifier).resource
        return self._with(self.bucket_identifier, "-")

    # --- SQS -----------------------------------------------------------------------------------
    def queue(self, queue: QueueType) -> str:
        """The physical queue name: the template with {} replaced by the queue type."""
        template = self.queue_identifier
        if is_arn(template):
            template = Arn.parse(template).resource
        if "{}" not in template:
            raise ConfigError(f"queue identifier {self.queue_identifier!r} must contain {{}}")
        return self._with(template.replace("{}", queue.value), "_")

    def queue_arn_template(self) -> Arn | None:
        """When the identifier is an ARN, its region and account locate every queue."""
        return Arn.parse(self.queue_identifier) if is_arn(self.queue_identifier) else None

    # --- SNS -----------------------------------------------------------------------------------
    @property
    def topic(self) -> str:
        if is_arn(self.topic_identifier):
            return Arn.parse(self.topic_identifier).resource
        name = self._with(self.topic_identifier, "_")
        if not _TOPIC_NAME.match(name):
            raise ConfigError(f"invalid SNS topic name {name!r}: 1-256 letters, digits, '-' or '_'")
        return name

    @property
    def topic_arn(self) -> str | None:
        return self.topic_identifier if is_arn(self.topic_identifier) else None

    # --- EventBridge and IAM -----------------------------------------------------------------
    def trigger_rule(self, trigger: WorkerTrigger) -> str:
        """The rule (or schedule) name of a trigger, e.g. mo-wt-rule-snosbatching."""
        return self._with(f"mo-wt-rule-{trigger.value.lower()}", "-")

    @property
    def trigger_rule_prefix(self) -> str:
        return self._with("mo-wt-rule-", "-")

    @property
    def trigger_role(self) -> str:
        return self._with("mo-wt-role", "-")

    @property
    def trigger_policy(self) -> str:
        return self._with("mo-wt-policy", "-")

    def validate(self) -> None:
        """Raise ConfigError naming the first resource name AWS would reject (before anything is made)."""
        if not _BUCKET_NAME.match(self.bucket):
            raise ConfigError(
                f"invalid S3 bucket name {self.bucket!r}: 3-63 lowercase letters, digits, '.' or '-'"
                " (check MADARA_ORCHESTRATOR_AWS_PREFIX and MADARA_ORCHESTRATOR_AWS_S3_BUCKET_IDENTIFIER)"
            )
        for queue in QueueType:
            name = self.queue(queue)
            if not _QUEUE_NAME.match(name):
                raise ConfigError(f"invalid SQS queue name {name!r}: 1-80 letters, digits, '-' or '_'")
        _ = self.topic
        for trigger in WorkerTrigger:
            name = self.trigger_rule(trigger)
            if not _RULE_NAME.match(name):
                raise ConfigError(f"invalid EventBridge rule name {name!r}: 1-64 letters, digits, '.', '-' or '_'")
        if len(self.trigger_role) > 64:
            raise ConfigError(f"IAM role name {self.trigger_role!r} is longer than 64 characters")


def rate_expression(interval_seconds: int) -> str:
    """An EventBridge rate expression; the interval must be a whole number of minutes."""
    if interval_seconds < 60 or interval_seconds % 60:
        raise ConfigError(f"EventBridge interval must be a multiple of 60 seconds, got {interval_seconds}")
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if interval_seconds % size == 0:
            count = interval_seconds // size
            return f"rate({count} {unit}{'' if count == 1 else 's'})"
    raise AssertionError("unreachable")  # 60 divides every accepted interval
