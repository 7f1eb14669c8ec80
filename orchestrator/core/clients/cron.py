"""Periodic triggers: one schedule per trigger, delivering the trigger name to the trigger queue."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from orchestrator.core.models.queue import WorkerTrigger


class CronClient(Protocol):
    async def ensure_schedules(self, triggers: Sequence[WorkerTrigger], interval_seconds: int) -> None:
        """Create (or keep) exactly one schedule per trigger; idempotent."""

    async def list_schedules(self) -> list[WorkerTrigger]:
        """The triggers that have a schedule."""

    async def start(self) -> None:
        """Begin firing (a no-op where the cloud fires them)."""

    async def shutdown(self) -> None:
        """Stop firing (a no-op where the cloud fires them)."""
