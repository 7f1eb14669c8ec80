"""LoopSupervisor: restart with backoff, give up after repeated deaths, stop, the states /health shows."""

from __future__ import annotations

import asyncio
import logging

import pytest

from orchestrator.controllers.workers.supervision import LoopStatus, LoopSupervisor, RestartPolicy
from tests.eventually import eventually
from tests.fakes import FakeClock

QUICK = RestartPolicy(max_deaths=3, window_seconds=60, backoff_initial=0.001, backoff_max=0.01, jitter=0)


class Loop:
    """A loop that dies `deaths` times (raising, or returning when `returns`), then runs until stopped."""

    def __init__(self, stop: asyncio.Event, deaths: int = 0, returns: bool = False) -> None:
        self.stop = stop
        self.deaths = deaths
        self.returns = returns
        self.starts = 0

    async def __call__(self) -> None:
        self.starts += 1
        if self.deaths:
            self.deaths -= 1
            if self.returns:
                return
            raise ConnectionError(f"boom {self.starts}")
        await self.stop.wait()


async def test_a_dying_loop_is_logged_with_its_traceback_and_restarted(caplog: pytest.LogCaptureFixture) -> None:
    stop = asyncio.Event()
    supervisor = LoopSupervisor(stop, QUICK)
    loop = Loop(stop, deaths=2)
    supervisor.add("consumer:q", loop)
    with caplog.at_level(logging.ERROR, logger="orchestrator.supervisor"):
        supervisor.start()
        await eventually(lambda: loop.starts == 3)
        state = supervisor.states()["consumer:q"]
        assert state.status is LoopStatus.RUNNING and state.restarts == 2
        assert state.last_error == "ConnectionError: boom 2" and state.last_error_at is not None
        assert not supervisor.fatal.is_set() and supervisor.down() == []
        stop.set()
        await supervisor.wait_stopped(timeout=5)
    deaths = [r for r in caplog.records if "died" in r.getMessage()]
    assert len(deaths) == 2 and all(r.exc_info for r in deaths), "each death logged with its traceback"
    assert supervisor.states()["consumer:q"].status is LoopStatus.STOPPED


async def test_a_loop_that_keeps_dying_is_dead_and_fatal(caplog: pytest.LogCaptureFixture) -> None:
    stop = asyncio.Event()
    supervisor = LoopSupervisor(stop, QUICK)
    dying = Loop(stop, deaths=1_000, returns=True)  # returning unasked counts as a death
    healthy = Loop(stop)
    supervisor.add("sweep", dying)
    supervisor.add("cron", healthy)
    with caplog.at_level(logging.CRITICAL, logger="orchestrator.supervisor"):
        supervisor.start()
        await asyncio.wait_for(supervisor.fatal.wait(), timeout=5)
    assert supervisor.fatal_loop == "sweep" and dying.starts == QUICK.max_deaths
    states = supervisor.states()
    assert states["sweep"].status is LoopStatus.DEAD and "returned" in (states["sweep"].last_error or "")
    assert states["cron"].status is LoopStatus.RUNNING
    assert supervisor.down() == ["sweep"]
    [line] = [r for r in caplog.records if r.levelno == logging.CRITICAL]
    assert "sweep" in line.getMessage()
    stop.set()
    await supervisor.wait_stopped(timeout=5)


async def test_deaths_spread_wider_than_the_window_never_add_up() -> None:
    stop = asyncio.Event()
    clock = FakeClock()
    supervisor = LoopSupervisor(stop, QUICK, clock=clock)
    starts = 0

    async def dies_once_a_window() -> None:
        nonlocal starts
        starts += 1
        clock.advance(QUICK.window_seconds + 1)
        raise RuntimeError("rare")

    supervisor.add("rare", dies_once_a_window)
    supervisor.start()
    await eventually(lambda: starts >= 2 * QUICK.max_deaths)
    assert not supervisor.fatal.is_set()
    stop.set()
    await supervisor.wait_stopped(timeout=5)


async def test_stop_ends_a_backoff_at_once_and_nothing_restarts() -> None:
    stop = asyncio.Event()
    slow = RestartPolicy(max_deaths=3, window_seconds=60, backoff_initial=3600, backoff_max=3600, jitter=0)
    supervisor = LoopSupervisor(stop, slow)
    loop = Loop(stop, deaths=1)
    supervisor.add("cron", loop)
    supervisor.start()
    await eventually(lambda: supervisor.states()["cron"].status is LoopStatus.RESTARTING)
    assert supervisor.down() == ["cron"]
    stop.set()
    await asyncio.wait_for(supervisor.wait_stopped(timeout=5), timeout=2)
    assert loop.starts == 1 and supervisor.states()["cron"].status is LoopStatus.STOPPED


async def test_a_loop_that_ignores_stop_is_cancelled_after_the_timeout() -> None:
    stop = asyncio.Event()
    supervisor = LoopSupervisor(stop, QUICK)

    async def stubborn() -> None:
        await asyncio.Event().wait()

    supervisor.add("stubborn", stubborn)
    supervisor.start()
    stop.set()
    await asyncio.wait_for(supervisor.wait_stopped(timeout=0.05), timeout=2)
    assert not supervisor.fatal.is_set() and supervisor.states()["stubborn"].status is LoopStatus.STOPPED


def test_states_are_plain_data_for_health() -> None:
    supervisor = LoopSupervisor(asyncio.Event(), QUICK)
    supervisor.add("sweep", Loop(asyncio.Event()))
    assert supervisor.states()["sweep"].as_dict() == {
        "name": "sweep",
        "status": "stopped",
        "restarts": 0,
        "last_error": None,
        "last_error_at": None,
    }
    with pytest.raises(ValueError, match="already"):
        supervisor.add("sweep", Loop(asyncio.Event()))
