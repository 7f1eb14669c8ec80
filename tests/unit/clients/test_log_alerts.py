"""Log alerts: the level depends on the message's severity."""

from __future__ import annotations

import logging

import pytest

from orchestrator.clients.alerts.log import LOGGER_NAME, LogAlertClient


async def test_levels(caplog: pytest.LogCaptureFixture) -> None:
    client = LogAlertClient()
    with caplog.at_level(logging.DEBUG, logger=LOGGER_NAME):
        await client.send_message("Job Verification Timeout Alert: job 7")
        await client.send_message("[CRITICAL] AggregatorBatching worker failed")
    records = [r for r in caplog.records if r.name == LOGGER_NAME]
    assert [(r.levelno, r.getMessage()) for r in records] == [
        (logging.WARNING, "ALERT: Job Verification Timeout Alert: job 7"),
        (logging.ERROR, "ALERT: [CRITICAL] AggregatorBatching worker failed"),
    ]
