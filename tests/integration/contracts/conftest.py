"""Fixtures of the contract suites: each is parametrised over the backends registered for its
protocol in contract_backends.py (see there how to add one)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from orchestrator.core.clients.database import DatabaseClient, JobRepository
from orchestrator.core.clients.lock import LockClient
from orchestrator.core.clients.queue import QueueClient
from orchestrator.core.clients.storage import StorageClient
from tests.integration.contracts.contract_backends import ALERTS, CRON, DATABASE, JOBS, LOCK, QUEUE, STORAGE, Backend


def _params(registry: dict[str, Backend]) -> list[Any]:
    return [pytest.param(name, marks=list(backend.marks), id=name) for name, backend in registry.items()]


@asynccontextmanager
async def _harness(registry: dict[str, Backend], request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    backend = registry[request.param]
    reason = backend.unavailable()
    if reason:
        pytest.skip(f"backend {backend.name} unavailable: {reason}")
    async with backend.open(request, tmp_path) as harness:
        yield harness


@pytest.fixture(params=_params(DATABASE))
async def database_harness(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    async with _harness(DATABASE, request, tmp_path) as harness:
        yield harness


#: every store that is a JobRepository: the databases and the job-only fakes
_JOB_STORES = {**DATABASE, **JOBS}


@pytest.fixture(params=_params(_JOB_STORES))
async def jobs_harness(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    async with _harness(_JOB_STORES, request, tmp_path) as harness:
        yield harness


@pytest.fixture(params=_params(QUEUE))
async def queue_harness(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    async with _harness(QUEUE, request, tmp_path) as harness:
        yield harness


@pytest.fixture(params=_params(STORAGE))
async def storage_harness(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    async with _harness(STORAGE, request, tmp_path) as harness:
        yield harness


@pytest.fixture(params=_params(LOCK))
async def lock_harness(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    async with _harness(LOCK, request, tmp_path) as harness:
        yield harness


@pytest.fixture(params=_params(CRON))
async def cron_harness(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    async with _harness(CRON, request, tmp_path) as harness:
        yield harness


@pytest.fixture(params=_params(ALERTS))
async def alerts_harness(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    async with _harness(ALERTS, request, tmp_path) as harness:
        yield harness


@pytest.fixture
async def database(database_harness: Any) -> DatabaseClient:
    client: DatabaseClient = await database_harness.new_client()
    return client


@pytest.fixture
async def jobs(jobs_harness: Any) -> JobRepository:
    client: JobRepository = await jobs_harness.new_client()
    return client


@pytest.fixture
async def queue(queue_harness: Any) -> QueueClient:
    client: QueueClient = await queue_harness.new_client()
    return client


@pytest.fixture
async def storage(storage_harness: Any) -> StorageClient:
    client: StorageClient = await storage_harness.new_client()
    return client


@pytest.fixture
async def lock(lock_harness: Any) -> LockClient:
    client: LockClient = await lock_harness.new_client()
    return client
