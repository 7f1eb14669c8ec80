"""The composition root: reads Settings, builds the clients, injects them into the services.

This is the only module that knows which implementation backs which protocol.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from orchestrator.config import Profile, Settings
from orchestrator.core.clients.alerts import AlertClient
from orchestrator.core.clients.cron import CronClient
from orchestrator.core.clients.database import DatabaseClient
from orchestrator.core.clients.lock import LockClient
from orchestrator.core.clients.queue import QueueClient
from orchestrator.core.clients.storage import StorageClient
from orchestrator.core.models.job import JobType
from orchestrator.core.models.queue import DLQ_QUEUES, QueueType, WorkerTrigger
from orchestrator.core.version import ORCHESTRATOR_VERSION
from orchestrator.services.job.engine import EngineParams, JobEngine
from orchestrator.services.job.handler import JobHandler
from orchestrator.services.job.triggers import TriggerDispatcher, TriggerFn, completion_notifier

log = logging.getLogger("orchestrator.bootstrap")


@dataclass
class Infrastructure:
    database: DatabaseClient
    queue: QueueClient
    storage: StorageClient
    alerts: AlertClient
    lock: LockClient
    cron: CronClient | None


@dataclass
class Container:
    settings: Settings
    infra: Infrastructure
    engine: JobEngine
    dispatcher: TriggerDispatcher
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def database(self) -> DatabaseClient:
        return self.infra.database

    @property
    def queue(self) -> QueueClient:
        return self.infra.queue

    async def start(self) -> None:
        await self.infra.database.connect()
        await self.infra.lock.connect()
        await self.infra.queue.setup()
        await self.infra.storage.setup()

    async def close(self) -> None:
        infra = self.infra
        for closer in (infra.queue.close, infra.storage.close, infra.lock.close, infra.database.close):
            try:
                await closer()
            except Exception:  # closing must go on for the others
                log.exception("closing a client failed")


def visibility_timeouts(settings: Settings) -> dict[QueueType, int]:
    """Per-queue visibility as the reference (§5), from the configured base timeout."""
    base = settings.queue.queue_visibility_timeout_seconds
    update_state = max(3 * base, settings.service.state_transition_timeout_seconds + 600)
    timeouts = {q: base for q in QueueType}
    timeouts[QueueType.UPDATE_STATE_JOB_PROCESSING] = update_state
    timeouts[QueueType.PRIORITY_PROCESSING_QUEUE] = update_state
    timeouts[QueueType.PRIORITY_VERIFICATION_QUEUE] = 2 * base
    return timeouts


def build_infrastructure(settings: Settings) -> Infrastructure:
    if settings.general.profile is Profile.LOCAL:
        return _local_infrastructure(settings)
    return _aws_infrastructure(settings)


def _local_infrastructure(settings: Settings) -> Infrastructure:
    from orchestrator.clients.alerts.log import LogAlertClient
    from orchestrator.clients.cron.apscheduler import ApschedulerCronClient
    from orchestrator.clients.database.sqlite import SqliteDatabaseClient
    from orchestrator.clients.lock.sqlite import SqliteLockClient
    from orchestrator.clients.queue.local import SqliteQueueClient
    from orchestrator.clients.storage.local import LocalStorageClient

    data = settings.general.data_dir
    queue = SqliteQueueClient(
        data / "queue.sqlite3",
        orchestrator_version=ORCHESTRATOR_VERSION,
        visibility_timeouts=visibility_timeouts(settings),
        max_receive_count=settings.service.max_process_retries,
        dlq_queues=DLQ_QUEUES,
    )
    return Infrastructure(
        database=SqliteDatabaseClient(data / "orchestrator.sqlite3"),
        queue=queue,
        storage=LocalStorageClient(data / "storage"),
        alerts=LogAlertClient(),
        lock=SqliteLockClient(data / "orchestrator.sqlite3"),
        cron=ApschedulerCronClient(queue),
    )


def _aws_infrastructure(settings: Settings) -> Infrastructure:
    from orchestrator.resources.aws_clients import build_aws_infrastructure

    database, queue, storage, alerts, lock, cron = build_aws_infrastructure(
        settings, visibility_timeouts(settings)
    )
    return Infrastructure(database, queue, storage, alerts, lock, cron)


def engine_params(settings: Settings) -> EngineParams:
    return EngineParams(
        orchestrator_version=ORCHESTRATOR_VERSION,
        stale_lock_seconds={JobType(k): v for k, v in settings.job_timeouts().items()},
        retry_delay_seconds=settings.service.retry_delay_seconds,
        visibility_timeout_seconds=settings.queue.queue_visibility_timeout_seconds,
    )


def build(
    settings: Settings,
    handlers: Mapping[JobType, JobHandler] | None = None,
    triggers: Mapping[WorkerTrigger, TriggerFn] | None = None,
    infra: Infrastructure | None = None,
) -> Container:
    """Wire everything. `handlers` and `triggers` replace the pipeline's own (tests, custom deployments)."""
    infra = infra or build_infrastructure(settings)
    layer = settings.general.layer
    engine = JobEngine(
        infra.database,
        infra.queue,
        infra.alerts,
        dict(handlers or {}),
        engine_params(settings),
        on_completed=completion_notifier(infra.queue, layer),
    )
    dispatcher = TriggerDispatcher(engine, dict(triggers or {}))
    return Container(settings=settings, infra=infra, engine=engine, dispatcher=dispatcher)
