"""The JSON documents `orchestrator setup` writes on AWS (IAM trust and send policies, the trigger queue's
policy, the bucket's lifecycle rule), and how an existing queue attribute is compared with the wanted one."""

from __future__ import annotations

import json
from typing import Any

from orchestrator.clients.aws_names import EXPIRY_TAG_KEY, EXPIRY_TAG_VALUE, LIFECYCLE_RULE_ID


def trust_policy() -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": ["scheduler.amazonaws.com", "events.amazonaws.com"]},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )


def send_policy(queue_arn: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": queue_arn}],
    }


def queue_policy(queue_arn: str, rule_arn_pattern: str) -> dict[str, Any]:
    """Lets the trigger rules (and only them) send to the worker-trigger queue."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "orchestrator-trigger-rules",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnLike": {"aws:SourceArn": rule_arn_pattern}},
            }
        ],
    }


def lifecycle_rule(days: int) -> dict[str, Any]:
    return {
        "ID": LIFECYCLE_RULE_ID,
        "Status": "Enabled",
        "Filter": {"Tag": {"Key": EXPIRY_TAG_KEY, "Value": EXPIRY_TAG_VALUE}},
        "Expiration": {"Days": days},
    }


def same_attribute(name: str, wanted: str, current: str | None) -> bool:
    if current is None:
        return False
    if name in ("RedrivePolicy", "Policy"):
        try:
            a, b = json.loads(wanted), json.loads(current)
        except ValueError:
            return False
        if name == "RedrivePolicy":
            return a.get("deadLetterTargetArn") == b.get("deadLetterTargetArn") and str(
                a.get("maxReceiveCount")
            ) == str(b.get("maxReceiveCount"))
        return bool(a == b)
    return wanted == current
