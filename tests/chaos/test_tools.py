"""The chaos tools themselves (fast, no services): the overlap check, the recorder, the injectors."""

from __future__ import annotations

import random
import sqlite3
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from orchestrator.core.errors import ServiceUnavailableError
from tests.chaos.faults import OutageWindow, inject_delay, inject_failures, inject_outage, record_runs
from tests.chaos.invariants import Run, injected, overlapping_runs, read_runs
from tests.chaos.scenario import WindowFaults, is_settlement_broadcast


def run(pid: int, start: float, end: float | None, job: tuple[str, int] = ("SnosRun", 1)) -> Run:
    return Run(job, pid, start, end, "ok")


def test_runs_of_one_job_that_overlap_are_reported_and_sequential_ones_are_not() -> None:
    assert overlapping_runs([run(1, 0, 5), run(2, 5, 9), run(2, 1, 3, ("SnosRun", 2))]) == []
    found = overlapping_runs([run(1, 0, 5), run(2, 4, 9)])
    assert found == ["SnosRun/1 was processed twice at the same time: pid 1 (ok) ended 1.0s after pid 2 started"]
    assert "never ended" in overlapping_runs([run(1, 0, None), run(2, 4, 9)])[0]


class Handler:
    def __init__(self) -> None:
        self.calls = 0

    async def process_job(self, job: Any) -> str:
        self.calls += 1
        if job.internal_id == 2:
            raise RuntimeError("boom")
        return "external"


async def test_recorded_runs_end_with_their_outcome_and_a_killed_run_ends_at_its_kill(tmp_path: Path) -> None:
    class Recorded(Handler):
        pass

    runs_file, kills_file = tmp_path / "runs.jsonl", tmp_path / "kills.txt"
    record_runs(Recorded, runs_file)
    handler = Recorded()
    assert await handler.process_job(SimpleNamespace(id="j1", job_type="SnosRun", internal_id=1)) == "external"
    with pytest.raises(RuntimeError):
        await handler.process_job(SimpleNamespace(id="j2", job_type="SnosRun", internal_id=2))
    # a start without an end: the process died; its kill time closes the run
    killed = '{"event": "start", "run": "x", "job_type": "SnosRun", "internal_id": 3, "pid": 42, "t": 1.0}\n'
    runs_file.write_text(runs_file.read_text() + killed)
    kills_file.write_text("42 7.5\n")

    runs = read_runs(runs_file, kills_file)
    assert [(r.job, r.outcome.split(":")[0]) for r in runs] == [
        (("SnosRun", 3), "killed"),
        (("SnosRun", 1), "ok"),
        (("SnosRun", 2), "error"),
    ]
    assert runs[0].end == 7.5 and all(r.end is not None and r.end >= r.start for r in runs)


async def test_injected_failures_follow_the_seed_and_a_lost_reply_still_took_effect() -> None:
    class Client:
        def __init__(self) -> None:
            self.effects = 0

        async def write(self) -> int:
            self.effects += 1
            return self.effects

        async def close(self) -> None:  # lifecycle methods are spared
            self.effects += 100

    async def outcomes(seed: int) -> tuple[list[str], int]:
        cls = type("C", (Client,), {})
        counts = inject_failures(cls, fail_rate=0.2, lost_reply_rate=0.1, rng=random.Random(seed))
        client = cls()
        seen = []
        for _ in range(300):
            try:
                await client.write()
                seen.append("ok")
            except sqlite3.OperationalError:
                seen.append("failed")
        await client.close()
        assert counts.calls == 300 and counts.before + counts.after == seen.count("failed")
        # every call but the ones failed before the client ran took effect
        assert client.effects == 300 - counts.before + 100
        return seen, counts.after

    first, lost = await outcomes(5)
    assert (first, lost) == await outcomes(5)
    assert 50 <= first.count("failed") <= 130 and lost > 0


async def test_an_outage_window_makes_every_call_a_503_until_it_ends(tmp_path: Path) -> None:
    class Prover:
        async def submit_task(self, task: str) -> str:
            return task

    window_file = tmp_path / "window"
    inject_outage(Prover, window_file, "the prover")
    assert await Prover().submit_task("a") == "a"  # no window written yet
    OutageWindow(time.time() - 1, 60).write(window_file)
    with pytest.raises(ServiceUnavailableError):
        await Prover().submit_task("b")
    OutageWindow(time.time() - 61, 60).write(window_file)
    assert await Prover().submit_task("c") == "c"


async def test_a_delay_applies_only_to_the_chosen_calls() -> None:
    class Runner:
        async def run(self, request: Any) -> int:
            return int(request.start_block)

    inject_delay(Runner, "run", 0.2, lambda request: request.start_block == 7)
    started = time.monotonic()
    assert await Runner().run(SimpleNamespace(start_block=1)) == 1
    assert time.monotonic() - started < 0.15
    assert await Runner().run(SimpleNamespace(start_block=7)) == 7
    assert time.monotonic() - started >= 0.2


def test_only_a_blob_transaction_counts_as_a_settlement_broadcast() -> None:
    assert is_settlement_broadcast(["eth_sendRawTransaction"], [["0x03f9abc"]])
    assert not is_settlement_broadcast(["eth_sendRawTransaction"], [["0x02f8abc"]])  # a fact registration
    assert not is_settlement_broadcast(["eth_call"], [["0x03"]])


def test_the_node_window_serves_503_only_while_open() -> None:
    faults = WindowFaults(OutageWindow(time.time() - 1, 60))
    assert faults.take("POST /") is not None and faults.served["503"] == 1
    assert WindowFaults(OutageWindow(time.time() + 60, 60)).take("POST /") is None


def test_injected_faults_are_counted_from_the_processes_logs(tmp_path: Path) -> None:
    log = tmp_path / "orchestrator-1.log"
    log.write_text(
        "2026-11-29 16:57:54,488 WARNING tests.chaos.faults: chaos: X.receive failed before reaching the client (1)\n"
        "2026-11-29 16:57:54,489 WARNING tests.chaos.faults: chaos: X.update_job took effect, its reply is lost (1)\n"
        "2026-11-29 16:57:54,490 WARNING orchestrator.job: job 1 failed transiently (chaos: injected)\n"
    )
    devnet: Any = SimpleNamespace(processes=[SimpleNamespace(log_path=log)])
    assert injected(devnet) == {"call failed": 1, "reply lost": 1}
