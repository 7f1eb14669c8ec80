"""`/health` (liveness: are the process's loops running?) and `/ready` (readiness: are its dependencies reachable?).

- `GET /health`: 200 `{"status": "UP", "loops": {...}}` while every supervised loop runs; 503 with
  `"status": "DOWN"` and `"down": [names]` while any loop is restarting, dead or stopped. Each loop
  shows its status, restarts and last error (`LoopSupervisor.states`).
- `GET /ready`: every dependency check (database, queue, storage) runs at once, each within a short
  timeout; 200 `{"status": "READY"}` when all answered, else 503 `"NOT_READY"` naming each failure.

`register_health` adds the routes (with no loops and no checks: an app without workers);
`use_health_sources` attaches the real ones before the app starts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

LoopStates = Callable[[], Mapping[str, Mapping[str, object]]]
Check = Callable[[], Awaitable[object]]

#: a readiness check that takes longer than this counts as failed
DEFAULT_CHECK_TIMEOUT = 2.0

LOOPS: web.AppKey[LoopStates] = web.AppKey("health_loops")
CHECKS: web.AppKey[Mapping[str, Check]] = web.AppKey("readiness_checks")
CHECK_TIMEOUT: web.AppKey[float] = web.AppKey("readiness_timeout", float)


def _no_loops() -> Mapping[str, Mapping[str, object]]:
    return {}


def use_health_sources(
    app: web.Application,
    loops: LoopStates = _no_loops,
    checks: Mapping[str, Check] | None = None,
    check_timeout: float = DEFAULT_CHECK_TIMEOUT,
) -> None:
    """What `/health` and `/ready` report on; call before the app is started (frozen)."""
    app[LOOPS] = loops
    app[CHECKS] = dict(checks or {})
    app[CHECK_TIMEOUT] = check_timeout


def register_health(app: web.Application) -> None:
    use_health_sources(app)
    app.router.add_get("/health", health)
    app.router.add_get("/ready", ready)


async def health(request: web.Request) -> web.Response:
    loops = {name: dict(state) for name, state in request.app[LOOPS]().items()}
    down = sorted(name for name, state in loops.items() if state.get("status") != "running")
    if down:
        return web.json_response({"status": "DOWN", "down": down, "loops": loops}, status=503)
    return web.json_response({"status": "UP", "loops": loops})


async def ready(request: web.Request) -> web.Response:
    checks = request.app[CHECKS]
    timeout = request.app[CHECK_TIMEOUT]
    outcomes = await asyncio.gather(*(_check(check, timeout) for check in checks.values()))
    results = dict(zip(checks, outcomes, strict=True))
    failed = {name: problem for name, problem in results.items() if problem is not None}
    body: dict[str, object] = {"checks": {name: problem or "ok" for name, problem in results.items()}}
    if failed:
        return web.json_response({"status": "NOT_READY", "failed": sorted(failed), **body}, status=503)
    return web.json_response({"status": "READY", **body})


async def _check(check: Check, timeout: float) -> str | None:
    """None when the dependency answered within `timeout`, else a one-line reason."""
    try:
        await asyncio.wait_for(check(), timeout=timeout)
    except TimeoutError:
        return f"no answer within {timeout:g} s"
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready", reported rather than raised
        return f"{type(exc).__name__}: {exc}"[:300]
    return None
