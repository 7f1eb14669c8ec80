"""What the composition root hands to the entrypoints: the built clients, the engine, the triggers.

Every client built here that holds a connection is recorded (`OwnedClients`) when it is built, so
`Container.close()` closes each of them exactly once, in a typed loop: nothing is looked up by name.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from orchestrator.clients.http.metrics import ServiceMetrics
from orchestrator.config import Settings
from orchestrator.core.clients.alerts import AlertClient
from orchestrator.core.clients.cron import CronClient
from orchestrator.core.clients.database import DatabaseClient
from orchestrator.core.clients.lock import LockClient
from orchestrator.core.clients.queue import QueueClient
from orchestrator.core.clients.storage import StorageClient
from orchestrator.core.madara.node import ChainDetails
from orchestrator.services.job.engine import JobEngine
from orchestrator.services.job.triggers import TriggerDispatcher

log = logging.getLogger("orchestrator.bootstrap")


class Closeable(Protocol):
    """A client holding a connection (HTTP session, web3 provider, AWS client stack)."""

    async def close(self) -> None: ...


class MetricsSource(Protocol):
    def service_metrics(self) -> list[ServiceMetrics]: ...


class MeasuredClient(Closeable, MetricsSource, Protocol):
    pass


class ChainDetailsSource(Protocol):
    async def chain_details(self) -> ChainDetails: ...


C = TypeVar("C", bound=Closeable)
M = TypeVar("M", bound=MetricsSource)
MC = TypeVar("MC", bound=MeasuredClient)


@dataclass
class OwnedClients:
    """The clients the container built and must close; those with counters are also measured."""

    closeables: list[Closeable] = field(default_factory=list)
    measured: list[MetricsSource] = field(default_factory=list)

    def own(self, client: C) -> C:
        self.closeables.append(client)
        return client

    def measure(self, source: M) -> M:
        self.measured.append(source)
        return source

    def own_measured(self, client: MC) -> MC:
        return self.measure(self.own(client))


@dataclass
class Infrastructure:
    database: DatabaseClient
    queue: QueueClient
    storage: StorageClient
    alerts: AlertClient
    lock: LockClient
    cron: CronClient | None
    #: connections of the infrastructure beyond the four closed by protocol (e.g. the SNS client)
    extra: OwnedClients = field(default_factory=OwnedClients)

    def closeables(self) -> list[Closeable]:
        return [*self.extra.closeables, self.queue, self.storage, self.lock, self.database]


@dataclass
class Container:
    settings: Settings
    infra: Infrastructure
    engine: JobEngine
    dispatcher: TriggerDispatcher
    clients: OwnedClients = field(default_factory=OwnedClients)
    #: the pipeline's view of the L2 chain, fetched once at start (None without a pipeline)
    chain: ChainDetailsSource | None = None

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
        if self.chain is not None:
            details = await self.chain.chain_details()  # retried by the node client; fails the start
            log.info("L2 chain %s, STRK fee token %s", details.chain_id, details.strk_fee_token_address)

    def service_metrics(self) -> list[dict[str, Any]]:
        """Snapshots of the counters and circuit state of every external-service client."""
        return [m.snapshot() for source in self.clients.measured for m in source.service_metrics()]

    async def close(self) -> None:
        """Close every client built, the rollup clients first (they may still use the infrastructure)."""
        for client in [*self.clients.closeables, *self.infra.closeables()]:
            try:
                await client.close()
            except Exception:  # closing must go on for the others
                log.exception("closing %s failed", type(client).__name__)
