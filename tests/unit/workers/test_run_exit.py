"""`orchestrator run` (serve): /health and /ready follow its loops and stores; it fails with one line naming
a loop that kept dying."""

from __future__ import annotations

import asyncio
import functools
import logging
import socket
from pathlib import Path

import aiohttp
import pytest

from orchestrator.config import load_settings
from orchestrator.controllers.cli import run
from orchestrator.controllers.cli.errors import CliFailure
from orchestrator.controllers.workers.supervision import RestartPolicy
from orchestrator.controllers.workers.supervisor import WorkerSupervisor
from tests.eventually import eventually

P = "MADARA_ORCHESTRATOR_"


async def test_serve_exits_non_zero_when_a_loop_keeps_dying(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    env = {"DATA_DIR": str(tmp_path), "PORT": "0", "LOOP_MAX_DEATHS": "2", "SWEEP_INTERVAL_SECONDS": "1"}
    settings = load_settings(environ={P + k: v for k, v in env.items()}, env_file=None)

    async def broken_sweep(self: WorkerSupervisor) -> None:
        raise ConnectionError("database unreachable")

    monkeypatch.setattr(WorkerSupervisor, "_sweep_loop", broken_sweep)
    quick = functools.partial(RestartPolicy, backoff_initial=0.01, backoff_max=0.02, jitter=0)
    monkeypatch.setattr(run, "RestartPolicy", quick)
    with caplog.at_level(logging.CRITICAL, logger="orchestrator.supervisor"), pytest.raises(CliFailure) as failure:
        await asyncio.wait_for(run.serve(settings, stop=asyncio.Event()), timeout=30)
    assert failure.value.exit_code == 1
    assert "sweep" in failure.value.message
    [line] = [r.getMessage() for r in caplog.records if r.levelno == logging.CRITICAL]
    assert "sweep" in line and "database unreachable" in line


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_serve_reports_its_loops_on_health_and_its_stores_on_ready(tmp_path: Path) -> None:
    port = _free_port()
    env = {"DATA_DIR": str(tmp_path), "PORT": str(port), "QUEUE_WAIT_TIME_SECONDS": "1"}
    settings = load_settings(environ={P + k: v for k, v in env.items()}, env_file=None)
    stop = asyncio.Event()
    serving = asyncio.create_task(run.serve(settings, stop=stop))
    health: dict[str, object] = {}
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:

            async def healthy() -> bool:
                try:
                    async with http.get("/health") as r:
                        health.update(await r.json())
                        return r.status == 200
                except aiohttp.ClientConnectionError:
                    return False

            await eventually(healthy, timeout=20, interval=0.05)
            async with http.get("/ready") as r:
                ready = await r.json()
                assert r.status == 200, ready
        loops = health["loops"]
        assert isinstance(loops, dict) and {"sweep", "cron", "consumer:worker_trigger"} <= set(loops)
        assert ready["checks"] == {"database": "ok", "queue": "ok", "storage": "ok"}
    finally:
        stop.set()
        await asyncio.wait_for(serving, timeout=30)  # a clean stop: no CliFailure


async def test_a_start_that_fails_is_one_line_and_closes_what_was_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """E.g. the node never answers the chain-details call: no traceback, exit 1, connections closed."""
    settings = load_settings(environ={P + "DATA_DIR": str(tmp_path), P + "PORT": "0"}, env_file=None)
    built = run.build(settings)
    closed: list[bool] = []

    async def unreachable_node() -> None:
        raise ConnectionError("node http://user:secret@node.example/rpc?key=abc unreachable")

    async def close() -> None:
        closed.append(True)

    monkeypatch.setattr(built, "start", unreachable_node)
    monkeypatch.setattr(built, "close", close)
    monkeypatch.setattr(run, "build", lambda *_a, **_k: built)
    with pytest.raises(CliFailure) as failure:
        await asyncio.wait_for(run.serve(settings, stop=asyncio.Event()), timeout=30)
    assert failure.value.exit_code == 1
    assert "\n" not in failure.value.message
    assert failure.value.message.startswith("could not start:")
    assert "secret" not in failure.value.message and "key=abc" not in failure.value.message
    assert closed == [True]
