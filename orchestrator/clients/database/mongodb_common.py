"""Names and conversions shared by the MongoDB job and batch stores."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

Doc = dict[str, Any]

JOBS = "jobs"
SNOS_BATCHES = "snos_batches"
AGGREGATOR_BATCHES = "aggregator_batches"
BLOCK_BATCH_LOOKUPS = "block_batch_lookups"
AUDIT_LOG = "audit_log"

#: How many candidates one round of an anti-join reads; bounds every scan's memory and latency.
ANTI_JOIN_WINDOW = 500
#: block_batch_lookups are written in chunks of this many blocks (as the reference).
LOOKUP_CHUNK = 1000


def from_ts(value: Any) -> datetime:
    return datetime.fromtimestamp(float(value), UTC)


def enum_values(values: Sequence[Any]) -> list[str]:
    """Enum members (statuses, job types) as the strings stored."""
    return [getattr(v, "value", v) for v in values]
