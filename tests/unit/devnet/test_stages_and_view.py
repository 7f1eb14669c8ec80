"""The devnet's per-batch stages (read from the local store) and their plain and live forms."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from rich.console import Console

from infra.devnet.latency import SettlementTracker
from infra.devnet.stages import AGGREGATED, BATCHED, ON_L1, PRODUCED, PROVEN, SNOS, BatchStage, batch_stages
from infra.devnet.view import LiveView, PlainView, Snapshot, make_view
from orchestrator.clients.database.sqlite import SqliteDatabaseClient
from orchestrator.core.models.batch import AggregatorBatch, AggregatorBatchStatus, SnosBatch, SnosBatchStatus
from orchestrator.core.models.job import JobItem, JobStatus, JobType
from orchestrator.core.models.metadata import AggregatorMetadata, JobMetadata, SnosMetadata

A = AggregatorBatchStatus


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[SqliteDatabaseClient]:
    database = SqliteDatabaseClient(tmp_path / "orchestrator.sqlite3")
    await database.connect()
    try:
        yield database
    finally:
        await database.close()


async def add_batch(db: SqliteDatabaseClient, index: int, blocks: list[tuple[int, int]], status: A) -> None:
    start, end = blocks[0][0], blocks[-1][1]
    await db.create_aggregator_batch(AggregatorBatch(index=index, start_block=start, end_block=end, status=status))
    latest = await db.get_latest_snos_batch()
    first = 1 if latest is None else latest.index + 1
    for i, (s, e) in enumerate(blocks):
        snos_status = SnosBatchStatus.OPEN if status is A.OPEN else SnosBatchStatus.CLOSED
        batch = SnosBatch(index=first + i, aggregator_batch_index=index, start_block=s, end_block=e, status=snos_status)
        await db.create_snos_batch(batch)


async def complete(db: SqliteDatabaseClient, job_type: JobType, internal_id: int) -> None:
    if job_type is JobType.AGGREGATOR:
        specific: AggregatorMetadata | SnosMetadata = AggregatorMetadata(batch_num=internal_id)
    else:
        specific = SnosMetadata(snos_batch_index=internal_id, start_block=0, end_block=0, num_blocks=1)
    metadata = JobMetadata(specific=specific)
    await db.create_job(
        JobItem(internal_id=internal_id, job_type=job_type, status=JobStatus.COMPLETED, metadata=metadata)
    )


async def test_each_batch_is_at_the_stage_of_its_least_advanced_block(db: SqliteDatabaseClient) -> None:
    await add_batch(db, 1, [(10, 11)], A.COMPLETED)  # settled
    await add_batch(db, 2, [(12, 12), (13, 13)], A.PENDING_AGGREGATOR_VERIFICATION)
    await complete(db, JobType.AGGREGATOR, 2)
    await add_batch(db, 3, [(14, 14), (15, 15)], A.CLOSED)  # SNOS batches 4, 5: both proven
    for snos in (4, 5):
        await complete(db, JobType.SNOS_RUN, snos)
        await complete(db, JobType.PROOF_CREATION, snos)
    await add_batch(db, 4, [(16, 16), (17, 17)], A.CLOSED)  # SNOS ran for both, one proven
    for snos in (6, 7):
        await complete(db, JobType.SNOS_RUN, snos)
    await complete(db, JobType.PROOF_CREATION, 6)
    await add_batch(db, 5, [(18, 18)], A.OPEN)

    rows = await batch_stages(db, settled=11, head=20)

    assert [(r.index, r.start, r.end, r.stage) for r in rows] == [
        (1, 10, 11, ON_L1),
        (2, 12, 13, AGGREGATED),
        (3, 14, 15, PROVEN),
        (4, 16, 17, SNOS),
        (5, 18, 18, BATCHED),
        (None, 19, 20, PRODUCED),  # revealed, in no batch yet
    ]
    assert rows[3].detail == "closed; SNOS 2/2, proven 1/2"


def snapshot(batches: list[BatchStage], settled: int, newly: list[int], head: int = 13) -> Snapshot:
    return Snapshot(head, settled, 11, 13, batches, "Completed 3", newly)


def test_plain_lines_say_what_changed_once() -> None:
    lines: list[str] = []
    view = PlainView(lines.append, interval=3600)
    tracker = SettlementTracker(11, {11: 100.0, 12: 102.0, 13: 104.0})
    view.update(snapshot([BatchStage(1, 11, 12, PROVEN, "closed")], 10, [], head=12), tracker)
    view.update(snapshot([BatchStage(1, 11, 12, PROVEN, "closed")], 10, []), tracker)
    newly = tracker.observe(12, 112.5)
    view.update(snapshot([BatchStage(1, 11, 12, ON_L1)], 12, newly), tracker)
    assert lines[0] == "produced block 11..12"
    assert lines[1] == "batch 1 (blocks 11..12): proven (closed)"
    assert lines[2].startswith("L2 head 12 (2/3 produced) · L1 settled block 10 (0/3) · no block on L1 yet")
    assert lines[3:] == [
        "produced block 13",
        "on L1: block 11..12 (L1 settled block 12), latency 12.5s 10.5s",
    ]


def test_the_live_view_draws_a_row_per_batch_with_latencies() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=140, color_system=None)
    view = make_view(lambda _: None, 5, console)
    assert isinstance(view, LiveView)
    tracker = SettlementTracker(11, {11: 100.0, 12: 102.0, 13: 104.0})
    tracker.observe(12, 110.0)
    view.update(snapshot([BatchStage(1, 11, 12, ON_L1), BatchStage(2, 13, 13, BATCHED, "open")], 12, [11, 12]), tracker)
    view.close()
    text = out.getvalue()
    assert "L1 settled block 12 (2/3)" in text
    assert "on L1" in text and "10.0s 8.0s" in text and "open" in text


def test_a_pipe_gets_plain_lines() -> None:
    console = Console(file=io.StringIO(), force_terminal=False)
    assert isinstance(make_view(lambda _: None, 5, console), PlainView)
