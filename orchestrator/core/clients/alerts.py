"""Operator alerts (SNS topic in production, the log locally)."""

from __future__ import annotations

from typing import Protocol


class AlertClient(Protocol):
    async def send_message(self, message: str) -> None: ...

    async def health_check(self) -> None: ...
