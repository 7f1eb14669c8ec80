"""Models carry aware UTC datetimes only, whatever a store or a client hands them (issue 13 item 7)."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from orchestrator.clients.database.sqlite import SqliteDatabaseClient
from orchestrator.core.models.audit import AuditEntry
from orchestrator.core.models.batch import SnosBatch
from orchestrator.core.models.job import JobItem, JobLease, JobType
from orchestrator.core.models.metadata import JobMetadata, SnosMetadata

NAIVE = datetime(2026, 11, 29, 12, 0, 0)  # noqa: DTZ001 - a naive value is what this test feeds in
PLUS_TWO = datetime(2026, 11, 29, 14, 0, 0, tzinfo=timezone(timedelta(hours=2)))
NOON_UTC = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)


def _job(**times: datetime) -> JobItem:
    meta = JobMetadata(specific=SnosMetadata(snos_batch_index=1, start_block=1, end_block=1, num_blocks=1))
    return JobItem(internal_id=1, job_type=JobType.SNOS_RUN, metadata=meta, **times)


def test_naive_and_foreign_zone_times_become_utc_on_every_model() -> None:
    job = _job(created_at=NAIVE, updated_at=PLUS_TWO)
    assert job.created_at == NOON_UTC and job.created_at.tzinfo is UTC
    assert job.updated_at == NOON_UTC and job.updated_at.tzinfo is UTC
    assert JobLease(owner="w", expires_at=NAIVE).expires_at.tzinfo is UTC
    assert AuditEntry(at=NAIVE, actor="a", action="POST /x", status=200, result="ok").at.tzinfo is UTC
    batch = SnosBatch(index=1, start_block=0, end_block=0, created_at=NAIVE)
    assert batch.created_at.tzinfo is UTC


def test_a_naive_time_read_from_json_is_utc() -> None:
    data = json.loads(_job().model_dump_json())
    data["created_at"] = "2026-11-29T12:00:00"  # as an older writer or a hand-made row stores it
    assert JobItem.model_validate(data).created_at == NOON_UTC


async def test_sqlite_decodes_a_stored_naive_time_as_utc(tmp_path: Path) -> None:
    db = SqliteDatabaseClient(tmp_path / "db.sqlite3")
    await db.connect()
    try:
        job = await db.create_job(_job())
        with sqlite3.connect(tmp_path / "db.sqlite3") as conn:
            (raw,) = conn.execute("SELECT data FROM jobs WHERE id = ?", (str(job.id),)).fetchone()
            data = json.loads(raw)
            data["updated_at"] = "2026-11-29T12:00:00"
            conn.execute("UPDATE jobs SET data = ? WHERE id = ?", (json.dumps(data), str(job.id)))
        stored = await db.get_job_by_id(job.id)
        assert stored is not None
        assert stored.updated_at == NOON_UTC and stored.updated_at.tzinfo is UTC
        assert stored.updated_at - stored.created_at < timedelta(days=3650)  # aware minus aware: no TypeError
    finally:
        await db.close()
