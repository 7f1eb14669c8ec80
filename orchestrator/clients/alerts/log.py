"""Operator alerts written to the log (the local profile's SNS topic)."""

from __future__ import annotations

import logging

LOGGER_NAME = "orchestrator.alerts"


class LogAlertClient:
    """Logs each alert at WARNING, or at ERROR when it is marked critical ("[CRITICAL]" in it)."""

    def __init__(self, logger_name: str = LOGGER_NAME) -> None:
        self._log = logging.getLogger(logger_name)

    async def send_message(self, message: str) -> None:
        level = logging.ERROR if "[CRITICAL]" in message.upper() else logging.WARNING
        self._log.log(level, "ALERT: %s", message)

    async def health_check(self) -> None:
        return None
