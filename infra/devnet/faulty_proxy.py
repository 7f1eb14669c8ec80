"""A fault-injecting reverse proxy for an L1 JSON-RPC endpoint (chaos tests; operators' drills).

Every POST is forwarded to the upstream unless a fault is drawn for it:
- error: answer 503 without forwarding (an overloaded load balancer);
- drop: forward the request, wait for the upstream's answer, then close the connection without
  replying (the call took effect upstream, e.g. a transaction was broadcast, but the caller never
  learns it);
- outage: a timed window during which no request is forwarded: the connection is closed at once
  (mode "refuse") or answered 503 (mode "503").

One seeded random draw per request decides error / drop / forward, so a given seed and a given order
of requests give the same faults. Hooks (`on_forwarded`) see each forwarded request's JSON-RPC
methods and parameters once the upstream has answered, before the caller gets the answer: a chaos
harness kills the orchestrator right after it broadcast a transaction this way.

As a process: `python -m infra.devnet.faulty_proxy --upstream http://127.0.0.1:8545 --error-rate 0.1
--drop-rate 0.03 --outage-after 60 --outage-seconds 30 --seed 1`; it prints `listening on URL` and a
line of counters when stopped (SIGINT/SIGTERM).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

#: (methods, params of each call, upstream status) of a forwarded request
ForwardHook = Callable[[list[str], list[Any], int], None]


@dataclass(frozen=True)
class FaultPlan:
    error_rate: float = 0.0
    drop_rate: float = 0.0
    #: seconds after the proxy starts; None: no scheduled outage (start_outage() still works)
    outage_after: float | None = None
    outage_seconds: float = 0.0
    outage_mode: str = "refuse"  # or "503"
    seed: int = 0

    def __post_init__(self) -> None:
        if not (0 <= self.error_rate <= 1 and 0 <= self.drop_rate <= 1 and self.error_rate + self.drop_rate <= 1):
            raise ValueError("error_rate and drop_rate must be in [0, 1] and add up to at most 1")
        if self.outage_mode not in ("refuse", "503"):
            raise ValueError("outage_mode must be 'refuse' or '503'")
        if self.outage_seconds < 0 or (self.outage_after is not None and self.outage_after < 0):
            raise ValueError("outage times must not be negative")


@dataclass
class ProxyStats:
    forwarded: int = 0  # answered by the upstream and passed back
    errors: int = 0  # 503 without forwarding
    dropped: int = 0  # forwarded, then the connection closed without a reply
    outage: int = 0  # refused or 503 during an outage
    upstream_failures: int = 0  # the upstream itself did not answer (502 passed back)
    methods: Counter[str] = field(default_factory=Counter)  # every method received, faulted or not

    def line(self) -> str:
        return (
            f"forwarded {self.forwarded}, injected 503 {self.errors}, dropped after forwarding {self.dropped}, "
            f"outage {self.outage}, upstream failures {self.upstream_failures}"
        )


def rpc_calls(body: bytes) -> tuple[list[str], list[Any]]:
    """The JSON-RPC methods and params of a request body (a batch gives several); empty if not JSON-RPC."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return [], []
    calls = payload if isinstance(payload, list) else [payload]
    methods = [str(c.get("method")) for c in calls if isinstance(c, dict)]
    params = [c.get("params") for c in calls if isinstance(c, dict)]
    return methods, params


class FaultyProxy:
    def __init__(
        self, upstream: str, plan: FaultPlan | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.upstream = upstream.rstrip("/")
        self.plan = plan or FaultPlan()
        self.stats = ProxyStats()
        self.on_forwarded: list[ForwardHook] = []
        self._rng = random.Random(self.plan.seed)
        self._clock = clock
        self._outage: tuple[float, float] | None = None
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start_outage(self, seconds: float) -> None:
        """No request is forwarded for the next `seconds`."""
        now = self._clock()
        self._outage = (now, now + seconds)

    def in_outage(self) -> bool:
        return self._outage is not None and self._outage[0] <= self._clock() < self._outage[1]

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> FaultyProxy:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120))
        app = web.Application(client_max_size=256 * 1024**2)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, host, port).start()
        except OSError:
            await self.stop()
            raise
        self.port = int(self._runner.addresses[0][1])
        if self.plan.outage_after is not None:
            start = self._clock() + self.plan.outage_after
            self._outage = (start, start + self.plan.outage_seconds)
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> FaultyProxy:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _draw(self) -> str:
        draw = self._rng.random()
        if draw < self.plan.error_rate:
            return "error"
        if draw < self.plan.error_rate + self.plan.drop_rate:
            return "drop"
        return "forward"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        methods, params = rpc_calls(body)
        self.stats.methods.update(methods)
        if self.in_outage():
            self.stats.outage += 1
            if self.plan.outage_mode == "503":
                return web.Response(status=503, text="503 Service Unavailable (injected outage)")
            return _close(request)
        fault = self._draw()
        if fault == "error":
            self.stats.errors += 1
            return web.Response(status=503, text="503 Service Unavailable (injected)")
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() in ("content-type", "accept")}
        try:
            async with self._session.request(
                request.method, self.upstream + request.path_qs, data=body, headers=headers
            ) as upstream:
                status, reply = upstream.status, await upstream.read()
                content_type = upstream.headers.get("Content-Type", "application/json")
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.stats.upstream_failures += 1
            return web.Response(status=502, text=f"upstream failed: {exc}")
        for hook in self.on_forwarded:
            hook(methods, params, status)
        if fault == "drop":
            self.stats.dropped += 1
            return _close(request)
        self.stats.forwarded += 1
        return web.Response(status=status, body=reply, headers={"Content-Type": content_type})


def _close(request: web.Request) -> web.StreamResponse:
    """Close the connection without a reply; the caller sees a disconnect."""
    if request.transport is not None:
        request.transport.close()
    # aiohttp does not write to a closed transport; this response goes nowhere.
    return web.Response(status=499)


def parse_args(argv: list[str] | None) -> tuple[str, int, FaultPlan]:
    parser = argparse.ArgumentParser(prog="python -m infra.devnet.faulty_proxy", description=__doc__.split("\n")[0])
    parser.add_argument("--upstream", required=True, help="the JSON-RPC URL to forward to")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: any free one)")
    parser.add_argument("--error-rate", type=float, default=0.0, help="share of requests answered 503")
    parser.add_argument("--drop-rate", type=float, default=0.0, help="share forwarded, then dropped unanswered")
    parser.add_argument("--outage-after", type=float, default=None, help="seconds until an outage starts")
    parser.add_argument("--outage-seconds", type=float, default=0.0, help="how long the outage lasts")
    parser.add_argument("--outage-mode", choices=("refuse", "503"), default="refuse")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fault draws")
    args = parser.parse_args(argv)
    try:
        plan = FaultPlan(
            args.error_rate, args.drop_rate, args.outage_after, args.outage_seconds, args.outage_mode, args.seed
        )
    except ValueError as exc:
        parser.error(str(exc))
    return args.upstream, args.port, plan


async def serve(upstream: str, port: int, plan: FaultPlan) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    proxy = await FaultyProxy(upstream, plan).start(port=port)
    try:
        print(f"listening on {proxy.url}", flush=True)
        await stop.wait()
        print(proxy.stats.line(), flush=True)
    finally:
        await proxy.stop()


def main(argv: list[str] | None = None) -> int:
    upstream, port, plan = parse_args(argv)
    try:
        asyncio.run(serve(upstream, port, plan))
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
