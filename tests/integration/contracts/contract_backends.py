"""The backends the contract suites run against: one registry per protocol.

A registry maps a backend name to a `Backend`. `Backend.open(request, tmp_path)` is an async
context manager that yields a *harness* for one test: an isolated, empty store (a fresh file,
directory, queue prefix or database name) from which the test makes as many clients as it needs
(two clients of one store stand for two processes). `unavailable()` says why the backend cannot run
here (the tests are then skipped) or returns None; `marks` are added to every test of the backend.

Adding backends (e.g. the AWS ones) without touching the suites: write a module named
`contract_backends_<name>.py` next to this one (it is imported at the end of this file) that
builds harnesses satisfying the `*Harness` protocols below and calls, for example,

    register(QUEUE, Backend("sqs", open_sqs_harness, unavailable=localstack_missing,
                            marks=(pytest.mark.services,)))

A factory may use pytest fixtures through `request.getfixturevalue("localstack")`; put such
session fixtures in a conftest.py above this folder (tests/conftest.py or
tests/integration/conftest.py), since this folder's conftest.py is the contracts' own.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pytest

from orchestrator.clients.alerts.log import LOGGER_NAME, LogAlertClient
from orchestrator.clients.cron.apscheduler import ApschedulerCronClient
from orchestrator.clients.database.sqlite import SqliteDatabaseClient
from orchestrator.clients.lock.sqlite import SqliteLockClient
from orchestrator.clients.queue.local import SqliteQueueClient
from orchestrator.clients.storage.local import LocalStorageClient
from orchestrator.core.clients.alerts import AlertClient
from orchestrator.core.clients.cron import CronClient
from orchestrator.core.clients.database import DatabaseClient, JobRepository
from orchestrator.core.clients.lock import LockClient
from orchestrator.core.clients.queue import QueueClient
from orchestrator.core.clients.storage import StorageClient
from orchestrator.core.models.queue import DEFAULT_VISIBILITY_TIMEOUT, MAX_RECEIVE_COUNT, QueueType
from orchestrator.core.version import ORCHESTRATOR_VERSION
from tests.fakes import FakeAlerts, FakeDatabase, FakeQueue, FakeQueueStore, FakeStorage

# --- what a backend hands the suites ----------------------------------------------------------


class DatabaseHarness(Protocol):
    async def new_client(self) -> DatabaseClient:
        """A connected client of this test's (initially empty) database."""


class JobsHarness(Protocol):
    async def new_client(self) -> JobRepository:
        """A client of this test's (initially empty) job store."""


class QueueHarness(Protocol):
    async def new_client(
        self,
        orchestrator_version: str = ORCHESTRATOR_VERSION,
        visibility_timeouts: Mapping[QueueType, int] | None = None,
        default_visibility_timeout: int = DEFAULT_VISIBILITY_TIMEOUT,
    ) -> QueueClient:
        """A set-up client of this test's (initially empty) queues, with a dead-letter policy of
        MAX_RECEIVE_COUNT receives on the DLQ_QUEUES."""


class StorageHarness(Protocol):
    async def new_client(self) -> StorageClient: ...


class LockHarness(Protocol):
    async def new_client(self) -> LockClient: ...


class CronHarness(Protocol):
    #: the smallest interval the backend fires at (EventBridge rates are whole minutes)
    min_interval_seconds: int

    async def new_client(self) -> CronClient:
        """A cron client that delivers to `queue()`'s worker-trigger queue."""

    async def queue(self) -> QueueClient:
        """Where the triggers arrive."""


class AlertsHarness(Protocol):
    async def new_client(self) -> AlertClient: ...

    async def received(self, count: int, timeout: float) -> list[str]:
        """The alert texts delivered so far, waiting up to `timeout` for at least `count`."""


@dataclass(frozen=True)
class Backend:
    name: str
    open: Callable[[pytest.FixtureRequest, Path], AbstractAsyncContextManager[Any]]
    unavailable: Callable[[], str | None] = lambda: None
    marks: tuple[pytest.MarkDecorator, ...] = field(default=())


DATABASE: dict[str, Backend] = {}
#: Stores that are only a JobRepository (the unit tests' fakes); the job suites run on these and on DATABASE.
JOBS: dict[str, Backend] = {}
QUEUE: dict[str, Backend] = {}
STORAGE: dict[str, Backend] = {}
LOCK: dict[str, Backend] = {}
CRON: dict[str, Backend] = {}
ALERTS: dict[str, Backend] = {}


def register(registry: dict[str, Backend], backend: Backend) -> None:
    if backend.name in registry:
        raise ValueError(f"backend {backend.name!r} is registered twice")
    registry[backend.name] = backend


# --- the local backends -------------------------------------------------------------------------


class _Closers:
    """Remembers what a harness opened, to close it when the test ends (last opened first)."""

    def __init__(self) -> None:
        self._closers: list[Callable[[], Any]] = []

    def defer(self, closer: Callable[[], Any]) -> None:
        self._closers.append(closer)

    async def close_all(self) -> None:
        for closer in reversed(self._closers):
            await closer()


class SqliteDatabaseHarness(_Closers):
    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

    async def new_client(self) -> DatabaseClient:
        client = SqliteDatabaseClient(self.path)
        await client.connect()
        self.defer(client.close)
        return client


class SqliteQueueHarness(_Closers):
    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

    async def new_client(
        self,
        orchestrator_version: str = ORCHESTRATOR_VERSION,
        visibility_timeouts: Mapping[QueueType, int] | None = None,
        default_visibility_timeout: int = DEFAULT_VISIBILITY_TIMEOUT,
    ) -> QueueClient:
        client = SqliteQueueClient(
            self.path,
            orchestrator_version=orchestrator_version,
            visibility_timeouts=visibility_timeouts,
            default_visibility_timeout=default_visibility_timeout,
            max_receive_count=MAX_RECEIVE_COUNT,
            poll_interval_seconds=0.05,
        )
        await client.setup()
        self.defer(client.close)
        return client


class LocalStorageHarness(_Closers):
    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root

    async def new_client(self) -> StorageClient:
        client = LocalStorageClient(self.root, fsync=False)
        await client.setup()
        self.defer(client.close)
        return client


class SqliteLockHarness(_Closers):
    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

    async def new_client(self) -> LockClient:
        client = SqliteLockClient(self.path)
        await client.connect()
        self.defer(client.close)
        return client


class ApschedulerHarness(_Closers):
    min_interval_seconds = 1

    def __init__(self, queue_path: Path) -> None:
        super().__init__()
        self._queues = SqliteQueueHarness(queue_path)
        self._queue: QueueClient | None = None
        self.defer(self._queues.close_all)

    async def queue(self) -> QueueClient:
        if self._queue is None:
            self._queue = await self._queues.new_client()
        return self._queue

    async def new_client(self) -> CronClient:
        client = ApschedulerCronClient(await self.queue())
        self.defer(client.shutdown)
        return client


class _RecordingHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class LogAlertsHarness(_Closers):
    def __init__(self) -> None:
        super().__init__()
        self.handler = _RecordingHandler()
        logger = logging.getLogger(LOGGER_NAME)
        previous_level = logger.level
        logger.addHandler(self.handler)
        logger.setLevel(logging.DEBUG)

        async def detach() -> None:
            logger.removeHandler(self.handler)
            logger.setLevel(previous_level)

        self.defer(detach)

    async def new_client(self) -> AlertClient:
        return LogAlertClient()

    async def received(self, count: int, timeout: float) -> list[str]:
        # Logging is synchronous: whatever was sent is there already.
        return [record.getMessage() for record in self.handler.records]


class FakeJobsHarness(_Closers):
    """The in-memory fake the services' unit tests use; one store, so two clients share what they write."""

    def __init__(self) -> None:
        super().__init__()
        self.store = FakeDatabase()

    async def new_client(self) -> JobRepository:
        return self.store


class FakeQueueHarness(_Closers):
    """The unit tests' in-memory queue on the real clock, with the contract's dead-letter policy."""

    def __init__(self) -> None:
        super().__init__()
        self.messages = FakeQueueStore()

    async def new_client(
        self,
        orchestrator_version: str = ORCHESTRATOR_VERSION,
        visibility_timeouts: Mapping[QueueType, int] | None = None,
        default_visibility_timeout: int = DEFAULT_VISIBILITY_TIMEOUT,
    ) -> QueueClient:
        return FakeQueue(
            time.time,
            default_visibility_timeout,
            visibility_timeouts=visibility_timeouts,
            orchestrator_version=orchestrator_version,
            max_receive_count=MAX_RECEIVE_COUNT,
            store=self.messages,
        )


class FakeStorageHarness(_Closers):
    def __init__(self) -> None:
        super().__init__()
        self.client = FakeStorage()  # one in-memory store: a second client sees the first's objects

    async def new_client(self) -> StorageClient:
        return self.client


class FakeAlertsHarness(_Closers):
    def __init__(self) -> None:
        super().__init__()
        self.client = FakeAlerts()

    async def new_client(self) -> AlertClient:
        return self.client

    async def received(self, count: int, timeout: float) -> list[str]:
        return list(self.client.messages)  # in memory: whatever was sent is there already


def _local(factory: Callable[[Path], _Closers]) -> Callable[[pytest.FixtureRequest, Path], Any]:
    @asynccontextmanager
    async def open_harness(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[_Closers]:
        harness = factory(tmp_path)
        try:
            yield harness
        finally:
            await harness.close_all()

    return open_harness


register(DATABASE, Backend("sqlite", _local(lambda tmp: SqliteDatabaseHarness(tmp / "db.sqlite3"))))
register(JOBS, Backend("fake", _local(lambda _tmp: FakeJobsHarness())))
register(QUEUE, Backend("fake", _local(lambda _tmp: FakeQueueHarness())))
register(STORAGE, Backend("fake", _local(lambda _tmp: FakeStorageHarness())))
register(ALERTS, Backend("fake", _local(lambda _tmp: FakeAlertsHarness())))
register(QUEUE, Backend("sqlite", _local(lambda tmp: SqliteQueueHarness(tmp / "queue.sqlite3"))))
register(STORAGE, Backend("local", _local(lambda tmp: LocalStorageHarness(tmp / "storage"))))
register(LOCK, Backend("sqlite", _local(lambda tmp: SqliteLockHarness(tmp / "db.sqlite3"))))
register(CRON, Backend("apscheduler", _local(lambda tmp: ApschedulerHarness(tmp / "queue.sqlite3"))))
register(ALERTS, Backend("log", _local(lambda tmp: LogAlertsHarness())))


# --- extensions ---------------------------------------------------------------------------------

_PACKAGE = __name__.rpartition(".")[0]  # tests.integration.contracts
for _module in sorted(Path(__file__).parent.glob("contract_backends_*.py")):
    importlib.import_module(f"{_PACKAGE}.{_module.stem}")
