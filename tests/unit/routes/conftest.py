"""An API on the local profile's real database and queue (files in a temp dir), with a test token."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from orchestrator.bootstrap import Container, build
from orchestrator.config import load_settings
from orchestrator.controllers.routes.app import create_app
from orchestrator.controllers.routes.security import SecurityConfig
from orchestrator.controllers.routes.table import Route
from orchestrator.core.models.job import JobItem, JobStatus, JobType
from orchestrator.core.models.metadata import SnosMetadata
from orchestrator.services.operations import OperationsService
from tests.e2e.counting_orchestrator import CountingHandler

TOKEN = "test-admin-token-0123456789"
OTHER_TOKEN = "rotated-token-abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def container(tmp_path: Path) -> AsyncIterator[Container]:
    settings = load_settings(environ={"MADARA_ORCHESTRATOR_DATA_DIR": str(tmp_path)}, env_file=None)
    c = build(settings, handlers={JobType.SNOS_RUN: CountingHandler(str(tmp_path / "effects"))})
    await c.start()
    yield c
    await c.close()


ApiFactory = Callable[..., Awaitable[TestClient]]


@pytest.fixture
async def api(container: Container) -> AsyncIterator[ApiFactory]:
    """`await api(admin=True, ...)` gives a started TestClient; all are closed at the end."""
    clients: list[TestClient] = []

    async def make(
        admin: bool = True,
        tokens: Sequence[str] = (TOKEN, OTHER_TOKEN),
        reads_need_token: bool = False,
        max_priority: int = 20,
        allowed_hosts: tuple[str, ...] = (),
        extra_routes: Sequence[Route] = (),
        service_metrics: Callable[[], list[dict[str, Any]]] = list,
    ) -> TestClient:
        ops = OperationsService(container.engine, max_priority, lock=container.infra.lock)
        security = SecurityConfig(
            admin_enabled=admin,
            tokens=tuple(tokens),
            token_required_for_reads=reads_need_token,
            allowed_hosts=allowed_hosts,
        )
        app = create_app(
            container.engine,
            service_metrics=service_metrics,
            operations=ops,
            security=security,
            extra_routes=extra_routes,
        )
        client = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


async def new_job(container: Container, internal_id: int = 1, status: JobStatus | None = None) -> JobItem:
    meta = SnosMetadata(snos_batch_index=internal_id, start_block=internal_id, end_block=internal_id + 1, num_blocks=2)
    job = await container.engine.create_job(JobType.SNOS_RUN, internal_id, meta)
    assert job is not None
    if status is not None:
        job = await container.engine.write(job, status)
    return job
