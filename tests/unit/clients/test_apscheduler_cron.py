"""APScheduler cron: what only the in-process scheduler has (stopping, keeping a running timer)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from orchestrator.clients.cron.apscheduler import ApschedulerCronClient
from orchestrator.clients.queue.local import SqliteQueueClient
from orchestrator.core.models.queue import QueueType, WorkerTrigger
from tests.eventually import eventually


class FlakyQueue(SqliteQueueClient):
    """Fails the first send, as a queue that is briefly unreachable."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, "0.1.0")
        self.failures = 1

    async def send(self, queue: QueueType, body: str, delay_seconds: int = 0) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("queue down")
        await super().send(queue, body, delay_seconds)


async def _sent(queue: SqliteQueueClient) -> list[str]:
    bodies = []
    while (delivery := await queue.receive(QueueType.WORKER_TRIGGER)) is not None:
        bodies.append(delivery.body)
        await queue.ack(delivery)
    return bodies


async def test_fires_keeps_going_after_a_failed_send_and_stops_on_shutdown(tmp_path: Path) -> None:
    queue = FlakyQueue(tmp_path / "q.sqlite3")
    cron = ApschedulerCronClient(queue)
    await cron.ensure_schedules([WorkerTrigger.SNOS], 1)
    await cron.start()
    # The first firing fails, the second gets through.
    await eventually(lambda: _trigger_waiting(queue), timeout=10, what="a trigger after the failed send")
    await cron.shutdown()
    assert queue.failures == 0
    assert "Snos" in await _sent(queue)
    # Nothing can fire any more: the scheduler stopped and its schedules went with it.
    assert not cron._scheduler.running and cron._scheduler.get_jobs() == []
    await queue.close()


async def _trigger_waiting(queue: SqliteQueueClient) -> bool:
    return await queue.approximate_count(QueueType.WORKER_TRIGGER) > 0


async def test_same_interval_keeps_the_timer_and_a_new_one_replaces_it(tmp_path: Path) -> None:
    cron = ApschedulerCronClient(SqliteQueueClient(tmp_path / "q.sqlite3", "0.1.0"))
    await cron.ensure_schedules([WorkerTrigger.SNOS], 60)
    job = cron._scheduler.get_job("Snos")
    assert job is not None
    first_run = job.next_run_time
    scheduled_at = datetime.now(UTC)
    # A schedule replaced from now on would fire at a later time than first_run.
    await eventually(lambda: datetime.now(UTC) > scheduled_at)
    await cron.ensure_schedules([WorkerTrigger.SNOS], 60)
    job = cron._scheduler.get_job("Snos")
    assert job is not None and job.next_run_time == first_run
    await cron.ensure_schedules([WorkerTrigger.SNOS], 120)
    job = cron._scheduler.get_job("Snos")
    assert job is not None and job.trigger.interval.total_seconds() == 120
    assert await cron.list_schedules() == [WorkerTrigger.SNOS]
    await cron.shutdown()
    assert not cron._scheduler.running
    assert await cron.list_schedules() == []  # in-process schedules end with the scheduler


async def test_rejects_a_non_positive_interval(tmp_path: Path) -> None:
    cron = ApschedulerCronClient(SqliteQueueClient(tmp_path / "q.sqlite3", "0.1.0"))
    with pytest.raises(ValueError, match="interval_seconds must be > 0"):
        await cron.ensure_schedules([WorkerTrigger.SNOS], 0)
