"""/health follows the supervised loops; /ready checks the dependencies, each within its timeout."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from orchestrator.controllers.routes.health import Check, register_health, use_health_sources
from orchestrator.controllers.workers.supervision import LoopStatus, LoopSupervisor, RestartPolicy
from tests.eventually import eventually


@pytest.fixture
async def client_for() -> AsyncIterator[Callable[..., object]]:
    clients: list[TestClient] = []

    async def make(
        loops: Callable[[], Mapping[str, Mapping[str, object]]] | None = None,
        checks: Mapping[str, Check] | None = None,
        timeout: float = 2.0,
    ) -> TestClient:
        app = web.Application()
        register_health(app)
        if loops is not None or checks is not None:
            use_health_sources(app, loops or (lambda: {}), checks, timeout)
        client = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


async def test_health_is_up_while_every_loop_runs_and_names_the_down_ones(client_for) -> None:  # type: ignore[no-untyped-def]
    stop = asyncio.Event()
    supervisor = LoopSupervisor(stop, RestartPolicy(backoff_initial=3600, backoff_max=3600, jitter=0))
    broken = asyncio.Event()

    async def consumer() -> None:
        await stop.wait()

    async def sweep() -> None:
        await broken.wait()
        raise ConnectionError("database gone")

    supervisor.add("consumer:q", consumer)
    supervisor.add("sweep", sweep)
    supervisor.start()
    client = await client_for(lambda: {n: s.as_dict() for n, s in supervisor.states().items()})
    try:
        r = await client.get("/health")
        body = await r.json()
        assert r.status == 200 and body["status"] == "UP"
        assert {n: s["status"] for n, s in body["loops"].items()} == {"consumer:q": "running", "sweep": "running"}

        broken.set()
        await eventually(lambda: supervisor.states()["sweep"].status is LoopStatus.RESTARTING)
        r = await client.get("/health")
        body = await r.json()
        assert r.status == 503 and body["status"] == "DOWN" and body["down"] == ["sweep"]
        assert body["loops"]["sweep"]["last_error"] == "ConnectionError: database gone"
        assert body["loops"]["sweep"]["restarts"] == 1
    finally:
        stop.set()
        await supervisor.wait_stopped(timeout=5)


async def test_health_without_workers_is_up(client_for) -> None:  # type: ignore[no-untyped-def]
    client = await client_for()
    r = await client.get("/health")
    assert r.status == 200 and (await r.json()) == {"status": "UP", "loops": {}}


async def test_ready_only_when_every_dependency_answers(client_for) -> None:  # type: ignore[no-untyped-def]
    queue_up = asyncio.Event()
    hang = asyncio.Event()

    async def database() -> None:
        return None

    async def queue() -> None:
        if not queue_up.is_set():
            raise ConnectionError("connection refused")

    async def storage() -> None:
        await hang.wait()  # a frozen endpoint: no answer at all

    client = await client_for(checks={"database": database, "queue": queue, "storage": storage}, timeout=0.1)
    r = await client.get("/ready")
    body = await r.json()
    assert r.status == 503 and body["status"] == "NOT_READY" and body["failed"] == ["queue", "storage"]
    assert body["checks"] == {
        "database": "ok",
        "queue": "ConnectionError: connection refused",
        "storage": "no answer within 0.1 s",
    }

    queue_up.set()
    hang.set()
    r = await client.get("/ready")
    assert r.status == 200 and (await r.json())["status"] == "READY"
