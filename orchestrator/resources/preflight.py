"""Preflight of `orchestrator run`: each backing service answers within a timeout, or a line that
names the resource and says how to fix it (as the reference: database ping, HeadBucket, the
trigger queue's attributes, the topic's attributes; 30 s each by default)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from orchestrator.core.errors import NotFoundError, ServiceUnavailableError

DEFAULT_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class Check:
    #: what is checked, e.g. "SQS queue mo_worker_trigger_queue"
    resource: str
    probe: Callable[[], Awaitable[None]]
    #: how to fix a missing resource
    when_missing: str = "run `orchestrator setup` with the same profile, prefix and layer"
    #: how to fix an unreachable service
    when_unreachable: str = "check the endpoint and the credentials"


async def _run(check: Check, timeout: float) -> str | None:
    try:
        await asyncio.wait_for(check.probe(), timeout=timeout)
    except TimeoutError:
        return f"{check.resource}: no answer within {timeout:.0f}s ({check.when_unreachable})"
    except NotFoundError as exc:
        return f"{check.resource}: {exc} ({check.when_missing})"
    except ServiceUnavailableError as exc:
        return f"{check.resource}: {exc} ({check.when_unreachable})"
    except Exception as exc:  # noqa: BLE001 - any other failure is reported, never raised
        return f"{check.resource}: {type(exc).__name__}: {exc} ({check.when_unreachable})"
    return None


async def run_preflight(checks: Sequence[Check], timeout: float = DEFAULT_TIMEOUT_SECONDS) -> list[str]:
    """Every check concurrently; one problem line per failed check, [] when all pass."""
    results = await asyncio.gather(*(_run(check, timeout) for check in checks))
    return [problem for problem in results if problem is not None]


def aws_checks(
    database: Callable[[], Awaitable[None]],
    storage: Callable[[], Awaitable[None]],
    trigger_queue: Callable[[], Awaitable[None]],
    topic: Callable[[], Awaitable[None]],
    *,
    database_url: str,
    bucket: str,
    trigger_queue_name: str,
    topic_name: str,
) -> list[Check]:
    """The aws profile's four checks, given the clients' health checks and the resource names."""
    unreachable_aws = "check AWS_ENDPOINT_URL, AWS_REGION and the AWS credentials"
    return [
        Check(
            f"MongoDB {database_url}",
            database,
            when_missing="check MADARA_ORCHESTRATOR_MONGODB_CONNECTION_URL",
            when_unreachable="check MADARA_ORCHESTRATOR_MONGODB_CONNECTION_URL and that the server runs",
        ),
        Check(f"S3 bucket {bucket}", storage, when_unreachable=unreachable_aws),
        Check(f"SQS queue {trigger_queue_name}", trigger_queue, when_unreachable=unreachable_aws),
        Check(f"SNS topic {topic_name}", topic, when_unreachable=unreachable_aws),
    ]
