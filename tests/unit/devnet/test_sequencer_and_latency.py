"""The devnet's sequencer (blocks revealed at a cadence) and its block→L1 latency figures."""

from __future__ import annotations

import asyncio
import re

import pytest

from infra.devnet.latency import SettlementTracker, latency_line, percentile
from infra.devnet.recorded_chain import RecordedBlock, RecordedChain
from infra.devnet.recorded_node import RecordedMadaraNode
from infra.devnet.sequencer import Sequencer

LINE = re.compile(r"^latency block→L1: p50 \d+\.\ds, p95 \d+\.\ds, max \d+\.\ds over \d+ blocks$")


def chain(first: int = 10, count: int = 4) -> RecordedChain:
    blocks = [
        RecordedBlock(first + i, {"block_hash": hex(first + i), "state_diff": {}}, "0.14.1") for i in range(count)
    ]
    return RecordedChain(blocks)


class Ticks:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        self.now += 1.5
        return self.now


def test_the_sequencer_hides_the_blocks_to_settle_then_reveals_them_one_at_a_time() -> None:
    recorded = chain()
    sequencer = Sequencer(recorded, first=11, last=13, block_time=2, clock=Ticks())
    assert recorded.head == 10  # the block before the first to settle is served from the start
    assert sequencer.reveal_next() == 11
    assert recorded.head == 11
    assert sequencer.produced == {11: 1001.5}
    assert recorded.header(recorded.blocks[11])["timestamp"] == 1001  # its header carries the reveal time
    sequencer.reveal_next()
    sequencer.reveal_next()
    assert sequencer.done
    with pytest.raises(RuntimeError, match="revealed already"):
        sequencer.reveal_next()


async def test_the_node_does_not_serve_a_block_before_its_reveal() -> None:
    recorded = chain()
    sequencer = Sequencer(recorded, first=11, last=13, block_time=0.01)
    async with RecordedMadaraNode(recorded) as node:
        assert node._dispatch("starknet_blockNumber", []) == 10
        await asyncio.wait_for(sequencer.run(), timeout=5)
        assert node._dispatch("starknet_blockNumber", []) == 13
    assert sorted(sequencer.produced) == [11, 12, 13]
    assert sequencer.produced[11] <= sequencer.produced[12] <= sequencer.produced[13]


async def test_block_time_zero_reveals_everything_at_once() -> None:
    recorded = chain(count=6)
    sequencer = Sequencer(recorded, first=11, last=15, block_time=0)
    await asyncio.wait_for(sequencer.run(), timeout=5)
    assert recorded.head == 15 and len(sequencer.produced) == 5


def test_bad_sequencer_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        Sequencer(chain(), 11, 13, -1)
    with pytest.raises(ValueError, match="no block"):
        Sequencer(chain(), 13, 11, 1)


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 21)]  # 1..20
    assert percentile(values, 0.5) == 10
    assert percentile(values, 0.95) == 19
    assert percentile([7.0], 0.95) == 7
    with pytest.raises(ValueError, match="no values"):
        percentile([], 0.5)


def test_the_latency_line_reads_exactly_as_specified() -> None:
    line = latency_line([12.04, 15.0, 9.96, 30.25])
    assert line == "latency block→L1: p50 12.0s, p95 30.2s, max 30.2s over 4 blocks"
    assert LINE.match(line)
    assert latency_line([]) == "latency block→L1: no block settled"


def test_the_tracker_settles_every_produced_block_up_to_the_l1_state_block_once() -> None:
    produced = {11: 100.0, 12: 102.0, 13: 104.0}
    tracker = SettlementTracker(11, produced)
    assert tracker.observe(10, 105.0) == []  # the genesis block is not one of ours
    assert tracker.observe(12, 110.0) == [11, 12]
    assert tracker.observe(12, 111.0) == []  # seen once
    assert tracker.latency(12) == 8.0 and tracker.latency(13) is None
    assert tracker.observe(13, 120.0) == [13]
    assert tracker.latencies() == [10.0, 8.0, 16.0]
    assert tracker.line() == "latency block→L1: p50 10.0s, p95 16.0s, max 16.0s over 3 blocks"
    assert tracker.record()["12"] == {"produced": 102.0, "settled": 110.0, "latency": 8.0}


def test_a_block_not_settled_yet_is_recorded_without_a_settle_time() -> None:
    tracker = SettlementTracker(11, {11: 100.0, 12: 102.0})
    tracker.observe(11, 105.0)
    assert tracker.record() == {
        "11": {"produced": 100.0, "settled": 105.0, "latency": 5.0},
        "12": {"produced": 102.0, "settled": None, "latency": None},
    }
