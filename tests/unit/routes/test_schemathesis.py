"""Schemathesis over every operation of `/openapi.json`, against a real server on 127.0.0.1 with an
admin token: no 5xx, and every answer matches the document (status, content type, body schema).

The server runs in its own thread and event loop (schemathesis calls it synchronously); a few examples
per operation keep the run within seconds.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, settings

from orchestrator.bootstrap import build
from orchestrator.config import load_settings
from orchestrator.controllers.routes.app import create_app, openapi_document
from orchestrator.controllers.routes.security import SecurityConfig
from orchestrator.controllers.routes.server import GuardedAppRunner
from orchestrator.core.models.batch import AggregatorBatch, SnosBatch
from orchestrator.core.models.job import JobStatus, JobType
from orchestrator.core.models.metadata import SnosMetadata
from orchestrator.services.operations import OperationsService
from tests.e2e.counting_orchestrator import CountingHandler
from tests.unit.routes.conftest import AUTH, TOKEN

schema = schemathesis.openapi.from_dict(openapi_document())


class _ServerThread(threading.Thread):
    def __init__(self, data_dir: Path) -> None:
        super().__init__(daemon=True)
        self.data_dir = data_dir
        self.ready = threading.Event()
        self.url = ""
        self.loop = asyncio.new_event_loop()
        self._stopping = asyncio.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._serve())
        except BaseException as exc:  # noqa: BLE001 -- reported to the test, not lost in the thread
            self.error = exc
            self.ready.set()

    async def _serve(self) -> None:
        env = {"MADARA_ORCHESTRATOR_DATA_DIR": str(self.data_dir)}
        container = build(
            load_settings(environ=env, env_file=None),
            handlers={JobType.SNOS_RUN: CountingHandler(str(self.data_dir / "effects"))},
        )
        await container.start()
        await _seed(container)
        ops = OperationsService(container.engine, 20, lock=container.infra.lock)
        security = SecurityConfig(admin_enabled=True, tokens=(TOKEN,), allowed_hosts=("127.0.0.1", "localhost"))
        runner = GuardedAppRunner(create_app(container.engine, operations=ops, security=security))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        self.ready.set()
        await self._stopping.wait()
        await runner.cleanup()
        await container.close()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self._stopping.set)
        self.join(timeout=30)


async def _seed(container: object) -> None:
    from orchestrator.bootstrap import Container

    assert isinstance(container, Container)
    jobs = []
    for i in range(3):
        meta = SnosMetadata(snos_batch_index=i, start_block=i, end_block=i, num_blocks=1)
        job = await container.engine.create_job(JobType.SNOS_RUN, i, meta)
        assert job is not None
        jobs.append(job)
    await container.engine.write(jobs[-1], JobStatus.FAILED)
    await container.database.create_aggregator_batch(AggregatorBatch(index=0, start_block=0, end_block=2, num_blocks=3))
    await container.database.update_or_create_snos_batch(
        SnosBatch(index=0, aggregator_batch_index=0, start_block=0, end_block=0)
    )


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = _ServerThread(tmp_path_factory.mktemp("schemathesis"))
    server.start()
    assert server.ready.wait(timeout=60), "the API server did not start"
    assert server.error is None, server.error
    yield server.url
    server.stop()


@schema.parametrize()
@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_conforms_to_its_openapi_document(case: schemathesis.Case, server_url: str) -> None:
    case.call_and_validate(base_url=server_url, headers=AUTH)
