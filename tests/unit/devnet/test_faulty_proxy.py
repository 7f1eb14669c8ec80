"""The L1 fault-injecting proxy: each fault does what it says, and the same seed gives the same faults."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from infra.devnet.faulty_proxy import FaultPlan, FaultyProxy, parse_args, rpc_calls


class Upstream:
    """A JSON-RPC server that answers every call with its method name and counts what reached it."""

    def __init__(self) -> None:
        self.received: list[str] = []
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def _rpc(self, request: web.Request) -> web.Response:
        payload = await request.json()
        self.received.append(payload["method"])
        return web.json_response({"jsonrpc": "2.0", "id": payload["id"], "result": payload["method"]})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/", self._rpc)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    server = Upstream()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as client:
        yield client


async def call(session: aiohttp.ClientSession, url: str, method: str, params: Any = None) -> str:
    """ "ok", "503" or "disconnected": what the caller saw."""
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}
    try:
        async with session.post(url, json=body) as response:
            if response.status == 503:
                return "503"
            assert (await response.json())["result"] == method
            return "ok"
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError):  # the proxy closed the connection
        return "disconnected"


async def test_no_fault_forwards_every_request(upstream: Upstream, session: aiohttp.ClientSession) -> None:
    async with FaultyProxy(upstream.url) as proxy:
        assert [await call(session, proxy.url, f"m{i}") for i in range(5)] == ["ok"] * 5
    assert upstream.received == [f"m{i}" for i in range(5)]
    assert proxy.stats.forwarded == 5


async def test_an_injected_error_is_a_503_that_never_reaches_the_upstream(
    upstream: Upstream, session: aiohttp.ClientSession
) -> None:
    async with FaultyProxy(upstream.url, FaultPlan(error_rate=1.0)) as proxy:
        assert await call(session, proxy.url, "eth_blockNumber") == "503"
    assert upstream.received == []
    assert proxy.stats.errors == 1


async def test_a_dropped_request_reached_the_upstream_before_the_caller_is_disconnected(
    upstream: Upstream, session: aiohttp.ClientSession
) -> None:
    seen: list[tuple[list[str], list[Any], int]] = []
    async with FaultyProxy(upstream.url, FaultPlan(drop_rate=1.0)) as proxy:
        # The hook runs once the upstream answered: the request was forwarded before the drop.
        proxy.on_forwarded.append(lambda m, p, s: seen.append((m, p, s)))
        outcome = await call(session, proxy.url, "eth_sendRawTransaction", ["0x03ab"])
    assert outcome == "disconnected"
    assert upstream.received == ["eth_sendRawTransaction"]
    assert seen == [(["eth_sendRawTransaction"], [["0x03ab"]], 200)]
    assert (proxy.stats.dropped, proxy.stats.forwarded) == (1, 0)


async def test_the_same_seed_gives_the_same_faults_at_about_the_configured_rates(
    upstream: Upstream, session: aiohttp.ClientSession
) -> None:
    plan = FaultPlan(error_rate=0.2, drop_rate=0.1, seed=7)

    async def outcomes() -> list[str]:
        async with FaultyProxy(upstream.url, plan) as proxy:
            return [await call(session, proxy.url, "eth_chainId") for _ in range(200)]

    first, second = await outcomes(), await outcomes()
    assert first == second
    assert 20 <= first.count("503") <= 60  # 40 expected
    assert 8 <= first.count("disconnected") <= 35  # 20 expected
    # Every request but the 503s reached the upstream, the dropped ones included.
    assert len(upstream.received) == 2 * (200 - first.count("503"))


async def test_an_outage_refuses_every_request_until_it_ends(
    upstream: Upstream, session: aiohttp.ClientSession
) -> None:
    now = [100.0]
    async with FaultyProxy(upstream.url, FaultPlan(), clock=lambda: now[0]) as proxy:
        proxy.start_outage(30)
        assert await call(session, proxy.url, "a") == "disconnected"
        now[0] += 29.9
        assert await call(session, proxy.url, "b") == "disconnected"
        now[0] += 0.1
        assert await call(session, proxy.url, "c") == "ok"
    assert upstream.received == ["c"]
    assert proxy.stats.outage == 2


async def test_a_scheduled_503_outage_starts_after_its_delay(
    upstream: Upstream, session: aiohttp.ClientSession
) -> None:
    now = [0.0]
    plan = FaultPlan(outage_after=10, outage_seconds=5, outage_mode="503")
    async with FaultyProxy(upstream.url, plan, clock=lambda: now[0]) as proxy:
        assert await call(session, proxy.url, "before") == "ok"
        now[0] = 12
        assert await call(session, proxy.url, "during") == "503"
        now[0] = 15
        assert await call(session, proxy.url, "after") == "ok"
    assert upstream.received == ["before", "after"]


def test_batch_bodies_give_every_method_and_other_bodies_none() -> None:
    batch = b'[{"method": "eth_chainId", "params": []}, {"method": "eth_call", "params": [1]}]'
    assert rpc_calls(batch) == (["eth_chainId", "eth_call"], [[], [1]])
    assert rpc_calls(b"not json") == ([], [])


@pytest.mark.parametrize(
    "argv",
    [
        ["--upstream", "http://x", "--error-rate", "0.8", "--drop-rate", "0.5"],
        ["--upstream", "http://x", "--error-rate", "-0.1"],
        ["--upstream", "http://x", "--outage-seconds", "-1"],
    ],
)
def test_bad_rates_are_a_usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_args(argv)
    assert exit_info.value.code == 2
    assert "error:" in capsys.readouterr().err
