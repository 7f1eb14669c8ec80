"""Shared shapes of the batching loops: what one block did to the batch being built."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Generic, TypeVar

Clock = Callable[[], float]
DEFAULT_CLOCK: Clock = time.time

_Open = TypeVar("_Open")


@dataclass(frozen=True)
class EmptyState:
    """No open batch: the next block starts batch `next_index`."""

    next_index: int


class Outcome(StrEnum):
    ACCUMULATED = "accumulated"  # the block joined the open batch (or started one)
    COMPLETED = "completed"  # the open batch closed; the block started the next one
    NOT_BATCHED = "not_batched"  # the block was left out; batching stops for this run


class CloseReason(StrEnum):
    GAP = "gap in block numbers"
    CLOSED = "batch is closed"
    ORCHESTRATOR_VERSION = "batch was built by another orchestrator version"
    STARKNET_VERSION = "Starknet version changed"
    UNSUPPORTED_VERSION = "unsupported Starknet version"
    MAX_BLOCKS = "maximum number of blocks reached"
    FIXED_SIZE = "fixed number of blocks reached"
    TIME_LIMIT = "batch is older than the time limit"
    WEIGHTS = "bouncer weights over the limit"
    AGGREGATOR_BATCH = "block belongs to another aggregator batch"
    INPUT_SIZE = "aggregator input size over the limit"
    BLOB_SIZE = "compressed state diff over the blob space"


@dataclass
class Step(Generic[_Open]):
    outcome: Outcome
    state: _Open | EmptyState
    #: the batch that the block closed (COMPLETED only)
    completed: _Open | None = None


def timestamp(clock: Clock) -> datetime:
    """Batch timestamps have second precision, as the reference stores them."""
    return datetime.fromtimestamp(clock(), UTC).replace(microsecond=0)


def age_seconds(created_at: datetime, clock: Clock) -> float:
    return abs(clock() - created_at.timestamp())
