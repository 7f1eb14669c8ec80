"""Watches the process's long-running loops: a loop that dies is restarted, one that keeps dying ends the process.

Each loop is a coroutine function that runs until the shared `stop` event is set. Its watcher runs it
under a tenacity policy:
- an exception, or a return while `stop` is not set, is a death: logged with its traceback, then the
  loop is restarted after an exponential backoff with jitter (counted over the recent deaths only,
  so a loop that died once yesterday restarts quickly today);
- `max_deaths` deaths within `window_seconds` mark the loop dead and set `fatal`: the process is
  expected to shut down and exit non-zero (`orchestrator run` does);
- once `stop` is set nothing is restarted and a backoff in progress ends at once.

`states()` is what `/health` shows: per loop its status, restarts and last error.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum

from tenacity import AsyncRetrying, RetryCallState
from tenacity.wait import wait_base, wait_exponential_jitter

from orchestrator.core.models.job import utc_now

log = logging.getLogger("orchestrator.supervisor")

LoopFn = Callable[[], Awaitable[None]]


class LoopStatus(StrEnum):
    RUNNING = "running"
    RESTARTING = "restarting"
    DEAD = "dead"
    STOPPED = "stopped"


@dataclass
class LoopState:
    name: str
    status: LoopStatus = LoopStatus.STOPPED
    restarts: int = 0
    last_error: str | None = None
    last_error_at: datetime | None = None

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["status"] = self.status.value
        data["last_error_at"] = self.last_error_at.isoformat() if self.last_error_at else None
        return data


@dataclass(frozen=True)
class RestartPolicy:
    """How often a loop may die before the process gives up, and how long to wait between restarts."""

    max_deaths: int = 5
    window_seconds: float = 300.0
    backoff_initial: float = 1.0
    backoff_max: float = 60.0
    jitter: float = 1.0

    def backoff(self) -> wait_base:
        return wait_exponential_jitter(multiplier=self.backoff_initial, max=self.backoff_max, jitter=self.jitter)


class LoopExitedError(RuntimeError):
    """A loop returned although nobody asked it to stop."""


@dataclass
class _Watched:
    run: LoopFn
    state: LoopState
    deaths: deque[float] = field(default_factory=deque)
    task: asyncio.Task[None] | None = None


class LoopSupervisor:
    def __init__(
        self,
        stop: asyncio.Event,
        policy: RestartPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stop = stop
        self.policy = policy or RestartPolicy()
        self.fatal = asyncio.Event()
        #: the loop that kept dying, once `fatal` is set
        self.fatal_loop: str | None = None
        self._clock = clock
        self._loops: dict[str, _Watched] = {}

    def add(self, name: str, run: LoopFn) -> None:
        if name in self._loops:
            raise ValueError(f"a loop named {name!r} is already supervised")
        self._loops[name] = _Watched(run, LoopState(name))

    def start(self) -> None:
        for name, watched in self._loops.items():
            watched.state.status = LoopStatus.RUNNING  # from now on, not once its task first runs
            watched.task = asyncio.create_task(self._watch(watched), name=f"watch:{name}")

    async def wait_stopped(self, timeout: float | None = None) -> None:
        """After `stop` is set: wait for the loops to return; cancel those still running after `timeout`."""
        tasks = [w.task for w in self._loops.values() if w.task is not None]
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            log.warning("loop %s did not stop in time; cancelling it", task.get_name().removeprefix("watch:"))
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def states(self) -> dict[str, LoopState]:
        return {name: copy.copy(w.state) for name, w in self._loops.items()}

    def down(self) -> list[str]:
        return [name for name, w in self._loops.items() if w.state.status is not LoopStatus.RUNNING]

    # --- one watcher per loop ---------------------------------------------------------------------
    async def _watch(self, watched: _Watched) -> None:
        state = watched.state
        retrying = AsyncRetrying(
            retry=self._should_restart,
            stop=lambda _: self._recent_deaths(watched) >= self.policy.max_deaths,
            wait=self._backoff_for(watched),
            sleep=self._pause,
            before_sleep=lambda rs: self._restarting(state, rs),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    await self._run_once(watched)
        except asyncio.CancelledError:
            state.status = LoopStatus.STOPPED
            raise
        except Exception as exc:  # noqa: BLE001 - the supervisor's job: any death of a loop is counted and judged
            if self.stop.is_set():
                state.status = LoopStatus.STOPPED
                return
            state.status = LoopStatus.DEAD
            self.fatal_loop = state.name
            log.critical(
                "loop %s died %d times within %.0f s; giving up, the process must exit: %r",
                state.name, self.policy.max_deaths, self.policy.window_seconds, exc,
            )  # fmt: skip
            self.fatal.set()
        else:
            state.status = LoopStatus.STOPPED

    async def _run_once(self, watched: _Watched) -> None:
        if self.stop.is_set():
            return
        watched.state.status = LoopStatus.RUNNING
        try:
            await watched.run()
            if not self.stop.is_set():
                raise LoopExitedError(f"loop {watched.state.name} returned while the process was running")
        except Exception as exc:
            watched.deaths.append(self._clock())
            watched.state.last_error = f"{type(exc).__name__}: {exc}"
            watched.state.last_error_at = utc_now()
            raise

    def _should_restart(self, rs: RetryCallState) -> bool:
        # Only ordinary errors: a cancellation (shutdown, a test) goes straight through.
        failed = rs.outcome is not None and isinstance(rs.outcome.exception(), Exception)
        return failed and not self.stop.is_set()

    def _recent_deaths(self, watched: _Watched) -> int:
        horizon = self._clock() - self.policy.window_seconds
        while watched.deaths and watched.deaths[0] < horizon:
            watched.deaths.popleft()
        return len(watched.deaths)

    def _backoff_for(self, watched: _Watched) -> Callable[[RetryCallState], float]:
        backoff = self.policy.backoff()

        def wait(rs: RetryCallState) -> float:
            recent = copy.copy(rs)
            recent.attempt_number = max(1, self._recent_deaths(watched))
            return float(backoff(recent))

        return wait

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), timeout=seconds)

    def _restarting(self, state: LoopState, rs: RetryCallState) -> None:
        state.status = LoopStatus.RESTARTING
        state.restarts += 1
        error = rs.outcome.exception() if rs.outcome is not None else None
        delay = rs.next_action.sleep if rs.next_action is not None else 0.0
        log.error("loop %s died; restarting it in %.1f s", state.name, delay, exc_info=error)
