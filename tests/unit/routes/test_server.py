"""The served API against slow and malformed clients: header deadline, connection cap, JSON errors."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from orchestrator.bootstrap import Container
from orchestrator.controllers.routes.app import create_app
from orchestrator.controllers.routes.server import ConnectionLimits, GuardedAppRunner, quiet_resource_errors
from tests.eventually import eventually

DEADLINE = 5.0


@pytest.fixture
async def served(container: Container) -> AsyncIterator[tuple[int, ConnectionLimits]]:
    limits = ConnectionLimits(header_timeout=0.3, keepalive_timeout=5, max_connections=3)
    runner = GuardedAppRunner(create_app(container.engine), limits, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield port, limits
    await runner.cleanup()


async def _exchange(port: int, raw: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(raw)
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), DEADLINE)
    writer.close()
    return data


async def test_a_client_that_never_finishes_its_headers_is_cut_off(served: tuple[int, ConnectionLimits]) -> None:
    port, limits = served
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    await writer.drain()
    assert await asyncio.wait_for(reader.read(), DEADLINE) == b"", "closed by the server, without an answer"
    writer.close()
    await eventually(lambda: limits.open_connections == 0, DEADLINE, what="the server closed the connection")


async def test_a_complete_request_is_not_cut_off(served: tuple[int, ConnectionLimits]) -> None:
    port, _ = served
    reply = await _exchange(port, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 200") and reply.endswith(b'"loops": {}}')


async def test_connections_over_the_cap_are_refused(served: tuple[int, ConnectionLimits]) -> None:
    port, limits = served
    held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(limits.max_connections)]
    await eventually(lambda: limits.open_connections == limits.max_connections, DEADLINE, what="the cap is reached")
    reply = await _exchange(port, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 503") and b'"success": false' in reply
    for _, writer in held:
        writer.close()


async def test_malformed_http_gets_the_envelope_and_one_log_line(
    served: tuple[int, ConnectionLimits], caplog: pytest.LogCaptureFixture
) -> None:
    port, _ = served
    with caplog.at_level(logging.DEBUG):
        reply = await _exchange(port, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header\r\n\r\n")
    assert reply.startswith((b"HTTP/1.0 400", b"HTTP/1.1 400"))
    assert reply.endswith(b'{"success": false, "message": "Malformed HTTP request"}')
    records = [r for r in caplog.records if r.name.startswith(("orchestrator", "aiohttp"))]
    assert len(records) == 1 and records[0].exc_info is None and "malformed request" in records[0].getMessage()


async def test_out_of_descriptors_is_one_line_per_retry(caplog: pytest.LogCaptureFixture) -> None:
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    try:
        quiet_resource_errors(loop)
        error = OSError(24, "Too many open files")
        with caplog.at_level(logging.DEBUG):
            loop.call_exception_handler({"message": "socket.accept() out of system resource", "exception": error})
        (record,) = [r for r in caplog.records if "out of system resource" in r.getMessage()]
        assert record.exc_info is None and "Too many open files" in record.getMessage()
    finally:
        loop.set_exception_handler(previous)


async def test_a_body_that_never_arrives_is_a_408(
    served: tuple[int, ConnectionLimits], monkeypatch: pytest.MonkeyPatch
) -> None:
    from orchestrator.controllers.routes import security

    monkeypatch.setattr(security, "BODY_READ_TIMEOUT", 0.3)
    port, _ = served
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = b"POST /admin/jobs/requeue/created HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    writer.write(head + b"Content-Length: 100\r\n\r\n{")
    await writer.drain()
    reply = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), DEADLINE)
    writer.close()
    assert reply.startswith(b"HTTP/1.1 408"), reply[:200]
