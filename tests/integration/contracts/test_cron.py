"""Contract of CronClient: every implementation must pass these."""

from __future__ import annotations

import time

from orchestrator.core.models.queue import QueueType, WorkerTrigger

TRIGGERS = [WorkerTrigger.SNOS, WorkerTrigger.PROVING]


async def test_ensure_schedules_is_idempotent(cron_harness) -> None:
    cron = await cron_harness.new_client()
    interval = max(60, cron_harness.min_interval_seconds)
    await cron.ensure_schedules(TRIGGERS, interval)
    await cron.ensure_schedules(TRIGGERS, interval)
    await cron.ensure_schedules([WorkerTrigger.PROVING], interval * 2)  # changed interval: replaced
    assert sorted(await cron.list_schedules()) == sorted(TRIGGERS)
    await cron.ensure_schedules([WorkerTrigger.UPDATE_STATE], interval)
    assert sorted(await cron.list_schedules()) == sorted([*TRIGGERS, WorkerTrigger.UPDATE_STATE])


async def test_each_trigger_is_delivered_to_the_trigger_queue(cron_harness) -> None:
    queue = await cron_harness.queue()
    cron = await cron_harness.new_client()
    interval = cron_harness.min_interval_seconds
    await cron.ensure_schedules(TRIGGERS, interval)
    await cron.start()

    seen: dict[WorkerTrigger, int] = {}
    deadline = time.monotonic() + 3 * interval + 10
    while time.monotonic() < deadline and not all(seen.get(t, 0) >= 2 for t in TRIGGERS):
        delivery = await queue.receive(QueueType.WORKER_TRIGGER, wait_seconds=1, visibility_timeout=60)
        if delivery is not None:
            trigger = WorkerTrigger.parse(delivery.body)
            seen[trigger] = seen.get(trigger, 0) + 1
            await queue.ack(delivery)
    assert all(seen.get(t, 0) >= 2 for t in TRIGGERS), seen  # fired repeatedly, each its own name

    await cron.shutdown()
