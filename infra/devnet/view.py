"""The devnet's progress for a person: a live table on a terminal (rich), plain lines otherwise.

Both show the same facts: each aggregator batch's blocks and stage (produced, batched, SNOS, proven,
aggregated, on L1), the block the core contract has settled, and each settled block's block→L1 latency.
The plain form prints only what changed (a batch reaching a stage, blocks produced or settled), so a
log of a run reads as its history.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from infra.devnet.latency import SettlementTracker
from infra.devnet.stages import ON_L1, BatchStage

Say = Callable[[str], None]


@dataclass(frozen=True)
class Snapshot:
    head: int  # the newest block revealed on L2
    settled: int  # the core contract's stateBlockNumber
    first: int
    last: int
    batches: list[BatchStage]
    jobs: str  # jobs by status, one line
    newly_settled: list[int]


class View(Protocol):
    def update(self, snapshot: Snapshot, tracker: SettlementTracker) -> None: ...

    def close(self) -> None: ...


def _range(start: int, end: int) -> str:
    return str(start) if start == end else f"{start}..{end}"


def _latencies(tracker: SettlementTracker, start: int, end: int) -> str:
    values = [v for b in range(start, end + 1) if (v := tracker.latency(b)) is not None]
    if not values:
        return ""
    return " ".join(f"{v:.1f}s" for v in values) if len(values) <= 4 else f"{min(values):.1f}..{max(values):.1f}s"


def headline(snapshot: Snapshot, tracker: SettlementTracker) -> str:
    total = snapshot.last - snapshot.first + 1
    produced = max(0, snapshot.head - snapshot.first + 1)
    settled = max(0, snapshot.settled - snapshot.first + 1)
    latency = tracker.line() if tracker.settled else "no block on L1 yet"
    return (
        f"L2 head {snapshot.head} ({produced}/{total} produced) · L1 settled block {snapshot.settled} "
        f"({settled}/{total}) · {latency}"
    )


class PlainView:
    """Lines for logs and pipes: what changed since the previous poll, and a status line now and then."""

    def __init__(self, say: Say, interval: float) -> None:
        self.say = say
        self.interval = interval
        self._stages: dict[int | None, tuple[int, str]] = {}
        self._head: int | None = None
        self._last_line: float | None = None

    def update(self, snapshot: Snapshot, tracker: SettlementTracker) -> None:
        if self._head is None or snapshot.head > self._head:
            start = snapshot.first if self._head is None else self._head + 1
            if snapshot.head >= start:
                self.say(f"produced block {_range(start, snapshot.head)}")
            self._head = snapshot.head
        for row in snapshot.batches:
            if row.index is None or row.stage == ON_L1:
                continue
            if self._stages.get(row.index) != (row.end, row.stage):
                self._stages[row.index] = (row.end, row.stage)
                detail = f" ({row.detail})" if row.detail else ""
                self.say(f"batch {row.index} (blocks {_range(row.start, row.end)}): {row.stage}{detail}")
        if snapshot.newly_settled:
            start, end = snapshot.newly_settled[0], snapshot.newly_settled[-1]
            self.say(
                f"on L1: block {_range(start, end)} (L1 settled block {snapshot.settled}), "
                f"latency {_latencies(tracker, start, end)}"
            )
        if self._last_line is None or time.monotonic() - self._last_line >= self.interval:
            self.say(f"{headline(snapshot, tracker)} | jobs: {snapshot.jobs}")
            self._last_line = time.monotonic()

    def close(self) -> None:
        pass


class LiveView:
    """A table redrawn in place on a terminal; messages (`say`) scroll above it."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console()
        self.live = Live(console=self.console, refresh_per_second=4, transient=False)
        self.live.start()

    def update(self, snapshot: Snapshot, tracker: SettlementTracker) -> None:
        table = Table(expand=False)
        for column in ("batch", "blocks", "stage", "detail", "block→L1"):
            table.add_column(column)
        for row in snapshot.batches:
            style = "green" if row.stage == ON_L1 else None
            table.add_row(
                row.label,
                _range(row.start, row.end),
                Text(row.stage, style=style or ""),
                row.detail,
                _latencies(tracker, row.start, row.end),
            )
        self.live.update(Group(Text(headline(snapshot, tracker)), Text(f"jobs: {snapshot.jobs}"), table))

    def close(self) -> None:
        self.live.stop()


def make_view(say: Say, interval: float, console: Console | None = None) -> View:
    """A live table when stdout is a terminal, plain lines otherwise."""
    console = console or Console()
    return LiveView(console) if console.is_terminal else PlainView(say, interval)
