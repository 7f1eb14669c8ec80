"""The job and batch store in one SQLite file (the local profile's MongoDB).

Each row keeps the full record as JSON (`data`) plus the columns its queries filter and sort on,
all written from the same model in the same statement, so they cannot drift apart. Timestamps in
the columns are UTC unix seconds (REAL); the JSON keeps the model's own ISO form.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from orchestrator.clients.database.sqlite_batches import SqliteBatchStore
from orchestrator.clients.database.sqlite_query import Where as _Where
from orchestrator.clients.database.sqlite_query import in_clause as _in
from orchestrator.clients.database.sqlite_query import limit_clause as _limit
from orchestrator.clients.database.sqlite_query import ts as _ts
from orchestrator.clients.sqlite_support import DEFAULT_BUSY_TIMEOUT_SECONDS, SqliteConnection
from orchestrator.core.clients.database import (
    JOB_TYPES_BY_BLOCK_NUMBER,
    JOB_TYPES_BY_BLOCK_RANGE,
    JOB_TYPES_BY_TO_SETTLE,
)
from orchestrator.core.errors import (
    EmptyUpdateError,
    JobAlreadyExistsError,
    VersionConflictError,
)
from orchestrator.core.models.audit import AuditEntry
from orchestrator.core.models.job import JobItem, JobItemUpdates, JobStatus, JobType, utc_now
from orchestrator.core.models.metadata import (
    DaMetadata,
    ProvingMetadata,
    SnosMetadata,
    StateUpdateMetadata,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    job_type TEXT NOT NULL,
    internal_id INTEGER NOT NULL,
    status TEXT NOT NULL,
    version INTEGER NOT NULL,
    orchestrator_version TEXT NOT NULL,
    block_number INTEGER,
    to_settle INTEGER,
    start_block INTEGER,
    end_block INTEGER,
    artifacts_tagged INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    data TEXT NOT NULL,
    UNIQUE (job_type, internal_id)
);
CREATE INDEX IF NOT EXISTS jobs_type_status_internal ON jobs (job_type, status, internal_id);
CREATE INDEX IF NOT EXISTS jobs_status_internal ON jobs (status, internal_id);
CREATE INDEX IF NOT EXISTS jobs_status_updated ON jobs (status, updated_at);
CREATE INDEX IF NOT EXISTS jobs_internal_id ON jobs (internal_id);
CREATE INDEX IF NOT EXISTS jobs_block_number ON jobs (block_number) WHERE block_number IS NOT NULL;
CREATE INDEX IF NOT EXISTS jobs_to_settle ON jobs (to_settle) WHERE to_settle IS NOT NULL;
CREATE INDEX IF NOT EXISTS jobs_block_range ON jobs (start_block, end_block) WHERE start_block IS NOT NULL;
CREATE INDEX IF NOT EXISTS jobs_untagged ON jobs (internal_id)
    WHERE job_type = 'StateTransition' AND status = 'Completed' AND artifacts_tagged = 0;

CREATE TABLE IF NOT EXISTS snos_batches (
    id TEXT PRIMARY KEY,
    batch_index INTEGER NOT NULL UNIQUE,
    aggregator_batch_index INTEGER,
    status TEXT NOT NULL,
    orchestrator_version TEXT NOT NULL,
    start_block INTEGER NOT NULL UNIQUE,
    end_block INTEGER NOT NULL UNIQUE,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS snos_batches_aggregator ON snos_batches (aggregator_batch_index, batch_index);
CREATE INDEX IF NOT EXISTS snos_batches_status ON snos_batches (status, batch_index);

CREATE TABLE IF NOT EXISTS aggregator_batches (
    id TEXT PRIMARY KEY,
    batch_index INTEGER NOT NULL UNIQUE,
    status TEXT NOT NULL,
    orchestrator_version TEXT NOT NULL,
    start_block INTEGER NOT NULL UNIQUE,
    end_block INTEGER NOT NULL UNIQUE,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS aggregator_batches_status ON aggregator_batches (status, batch_index);

CREATE TABLE IF NOT EXISTS block_batch_lookups (
    block_number INTEGER PRIMARY KEY,
    snos_batch_index INTEGER,
    aggregator_batch_index INTEGER,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS lookups_snos ON block_batch_lookups (snos_batch_index);
CREATE INDEX IF NOT EXISTS lookups_aggregator ON block_batch_lookups (aggregator_batch_index);

CREATE TABLE IF NOT EXISTS audit_log (
    id TEXT PRIMARY KEY,
    at REAL NOT NULL,
    actor TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log (at);
"""

#: Completed StateTransition jobs whose artifacts are not tagged yet (the partial index's condition).
_UNTAGGED = "job_type = 'StateTransition' AND status = 'Completed' AND artifacts_tagged = 0"

_JOB_COLUMNS = (
    "id, job_type, internal_id, status, version, orchestrator_version, block_number, to_settle, "
    "start_block, end_block, artifacts_tagged, created_at, updated_at, data"
)


def _job_row(job: JobItem) -> tuple[Any, ...]:
    specific = job.metadata.specific
    block_number = to_settle = start_block = end_block = None
    tagged = 0
    if isinstance(specific, ProvingMetadata | DaMetadata):
        block_number = specific.block_number
    elif isinstance(specific, StateUpdateMetadata):
        to_settle = specific.context.to_settle
        tagged = int(specific.storage_artifacts_tagged_at is not None)
    elif isinstance(specific, SnosMetadata):
        start_block, end_block = specific.start_block, specific.end_block
    return (
        str(job.id),
        job.job_type.value,
        job.internal_id,
        job.status.value,
        job.version,
        job.metadata.common.orchestrator_version,
        block_number,
        to_settle,
        start_block,
        end_block,
        tagged,
        _ts(job.created_at),
        _ts(job.updated_at),
        job.model_dump_json(),
    )


def _jobs(rows: Sequence[sqlite3.Row]) -> list[JobItem]:
    return [JobItem.model_validate_json(row["data"]) for row in rows]


class SqliteDatabaseClient(SqliteBatchStore):
    """DatabaseClient on one SQLite file; several processes may share the file. The batch methods
    are `SqliteBatchStore`'s."""

    def __init__(self, path: str | Path, busy_timeout_seconds: float = DEFAULT_BUSY_TIMEOUT_SECONDS) -> None:
        self._db = SqliteConnection(path, SCHEMA, busy_timeout_seconds)

    async def connect(self) -> None:
        await self._db.open()

    async def close(self) -> None:
        await self._db.close()

    async def health_check(self) -> None:
        await self._db.read(lambda conn: conn.execute("SELECT 1").fetchone())

    # --- jobs -------------------------------------------------------------------------------
    async def _select_jobs(
        self, where: _Where, order: str = "internal_id ASC", limit: int | None = None
    ) -> list[JobItem]:
        sql = f"SELECT data FROM jobs{where.sql()} ORDER BY {order}{_limit(limit)}"
        rows = await self._db.read(lambda conn: conn.execute(sql, where.params).fetchall())
        return _jobs(rows)

    async def create_job(self, job: JobItem) -> JobItem:
        row = _job_row(job)

        def insert(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(f"INSERT INTO jobs ({_JOB_COLUMNS}) VALUES ({', '.join('?' for _ in row)})", row)
            except sqlite3.IntegrityError as exc:
                raise JobAlreadyExistsError(
                    f"job {job.job_type.value}/{job.internal_id} (id {job.id}) already exists"
                ) from exc

        await self._db.write(insert)
        return job.model_copy(deep=True)

    async def get_job_by_id(self, job_id: uuid.UUID) -> JobItem | None:
        return await self._one(_Where().add("id = ?", str(job_id)))

    async def _one(self, where: _Where, order: str = "internal_id ASC") -> JobItem | None:
        jobs = await self._select_jobs(where, order, limit=1)
        return jobs[0] if jobs else None

    async def get_job_by_internal_id_and_type(self, internal_id: int, job_type: JobType) -> JobItem | None:
        return await self._one(_Where().add("job_type = ? AND internal_id = ?", job_type.value, internal_id))

    async def get_jobs_by_internal_ids_and_type(self, internal_ids: Sequence[int], job_type: JobType) -> list[JobItem]:
        if not internal_ids:
            return []
        return await self._select_jobs(_Where().add("job_type = ?", job_type.value).add_in("internal_id", internal_ids))

    async def update_job(self, job: JobItem, updates: JobItemUpdates) -> JobItem:
        if updates.is_empty():
            raise EmptyUpdateError(f"update of job {job.id} has no field to change")

        def cas(conn: sqlite3.Connection) -> JobItem:
            found = conn.execute(
                "SELECT data FROM jobs WHERE id = ? AND version = ?", (str(job.id), job.version)
            ).fetchone()
            if found is None:
                raise VersionConflictError(
                    f"job {job.id}: version {job.version} is outdated (or the job does not exist)"
                )
            stored = JobItem.model_validate_json(found["data"])
            if updates.status is not None:
                stored.status = updates.status
            if updates.external_id is not None:
                stored.external_id = updates.external_id
            if updates.metadata is not None:
                stored.metadata = updates.metadata.model_copy(deep=True)
            stored.lease = updates.lease_after(stored.lease)
            stored.version = job.version + 1
            stored.updated_at = utc_now()
            row = _job_row(stored)
            cursor = conn.execute(
                "UPDATE jobs SET status = ?, version = ?, orchestrator_version = ?, block_number = ?, "
                "to_settle = ?, start_block = ?, end_block = ?, artifacts_tagged = ?, updated_at = ?, "
                "data = ? WHERE id = ? AND version = ?",
                (*row[3:11], row[12], row[13], str(job.id), job.version),
            )
            if cursor.rowcount != 1:  # cannot happen under BEGIN IMMEDIATE; kept as a guard
                raise VersionConflictError(f"job {job.id}: version {job.version} is outdated")
            return stored

        return await self._db.write(cas)

    async def get_latest_job_by_type(
        self, job_type: JobType, orchestrator_version: str | None = None
    ) -> JobItem | None:
        where = _Where().add("job_type = ?", job_type.value)
        if orchestrator_version is not None:
            where.add("orchestrator_version = ?", orchestrator_version)
        return await self._one(where, "internal_id DESC")

    async def get_latest_job_by_type_and_status(self, job_type: JobType, status: JobStatus) -> JobItem | None:
        return await self._one(
            _Where().add("job_type = ? AND status = ?", job_type.value, status.value), "internal_id DESC"
        )

    async def get_oldest_job_by_type_excluding_statuses(
        self, job_type: JobType, statuses: Sequence[JobStatus], orchestrator_version: str | None = None
    ) -> JobItem | None:
        # The lowest id of each other status, each one seek in (job_type, status, internal_id): a
        # `NOT IN` would walk the type's ids from the oldest, and the unfinished ones are the newest.
        version = "" if orchestrator_version is None else " AND orchestrator_version = ?"
        sql = f"SELECT internal_id FROM jobs WHERE job_type = ? AND status = ?{version} ORDER BY internal_id LIMIT 1"

        def oldest(conn: sqlite3.Connection) -> list[sqlite3.Row]:
            found = []
            for status in JobStatus:
                if status in statuses:
                    continue
                params = [job_type.value, status.value] + ([orchestrator_version] if orchestrator_version else [])
                row = conn.execute(sql, params).fetchone()
                if row is not None:
                    found.append(int(row["internal_id"]))
            if not found:
                return []
            by_id = "SELECT data FROM jobs WHERE job_type = ? AND internal_id = ?"
            return conn.execute(by_id, (job_type.value, min(found))).fetchall()

        jobs = _jobs(await self._db.read(oldest))
        return jobs[0] if jobs else None

    async def get_jobs_without_successor(
        self,
        job_type: JobType,
        status: JobStatus,
        successor_type: JobType,
        orchestrator_version: str | None = None,
        min_internal_id: int = 0,
        limit: int | None = None,
    ) -> list[JobItem]:
        # An anti-join served by the UNIQUE (job_type, internal_id) index.
        where = _Where().add(
            "a.job_type = ? AND a.status = ? AND a.internal_id >= ?", job_type.value, status.value, min_internal_id
        )
        if orchestrator_version is not None:
            where.add("a.orchestrator_version = ?", orchestrator_version)
        where.add(
            "NOT EXISTS (SELECT 1 FROM jobs b WHERE b.job_type = ? AND b.internal_id = a.internal_id)",
            successor_type.value,
        )
        sql = f"SELECT a.data FROM jobs a{where.sql()} ORDER BY a.internal_id ASC{_limit(limit)}"
        return _jobs(await self._db.read(lambda conn: conn.execute(sql, where.params).fetchall()))

    async def get_jobs_after_internal_id_by_job_type(
        self, job_type: JobType, status: JobStatus, internal_id: int, orchestrator_version: str | None = None
    ) -> list[JobItem]:
        where = _Where().add(
            "job_type = ? AND status = ? AND internal_id > ?", job_type.value, status.value, internal_id
        )
        if orchestrator_version is not None:
            where.add("orchestrator_version = ?", orchestrator_version)
        return await self._select_jobs(where)

    async def get_jobs_by_types_and_statuses(
        self,
        job_types: Sequence[JobType],
        statuses: Sequence[JobStatus],
        limit: int | None = None,
        orchestrator_version: str | None = None,
    ) -> list[JobItem]:
        where = _Where().add_in("job_type", job_types).add_in("status", statuses)
        if orchestrator_version is not None:
            where.add("orchestrator_version = ?", orchestrator_version)
        return await self._select_jobs(where, "internal_id ASC, job_type ASC", limit)

    async def get_jobs_between_internal_ids(
        self, job_type: JobType, status: JobStatus, gte: int, lte: int
    ) -> list[JobItem]:
        return await self._select_jobs(
            _Where().add(
                "job_type = ? AND status = ? AND internal_id >= ? AND internal_id <= ?",
                job_type.value,
                status.value,
                gte,
                lte,
            )
        )

    async def get_jobs_by_status(self, status: JobStatus, limit: int | None = None) -> list[JobItem]:
        return await self._select_jobs(_Where().add("status = ?", status.value), "internal_id ASC, job_type ASC", limit)

    async def get_jobs_updated_before(
        self, statuses: Sequence[JobStatus], before: datetime, limit: int
    ) -> list[JobItem]:
        where = _Where().add_in("status", statuses).add("updated_at < ?", _ts(before))
        return await self._select_jobs(where, "updated_at ASC, internal_id ASC", limit)

    async def get_jobs_without_storage_artifacts_tagged(self, limit: int) -> list[JobItem]:
        # The partial index `jobs_untagged` holds only these jobs, so the work is the untagged jobs,
        # not the history; its condition is written literally (a bound parameter could not match it).
        sql = (
            f"SELECT data FROM jobs INDEXED BY jobs_untagged WHERE {_UNTAGGED} ORDER BY internal_id ASC{_limit(limit)}"
        )
        return _jobs(await self._db.read(lambda conn: conn.execute(sql).fetchall()))

    async def get_jobs_by_block_number(self, block_number: int) -> list[JobItem]:
        # The reference's union of three finds (§6), in one statement.
        block_in, block_params = _in("job_type", [t.value for t in JOB_TYPES_BY_BLOCK_NUMBER])
        settle_in, settle_params = _in("job_type", [t.value for t in JOB_TYPES_BY_TO_SETTLE])
        range_in, range_params = _in("job_type", [t.value for t in JOB_TYPES_BY_BLOCK_RANGE])
        sql = (
            f"SELECT data FROM jobs WHERE ({block_in} AND block_number = ?)"
            f" OR ({settle_in} AND to_settle = ?)"
            f" OR ({range_in} AND start_block <= ? AND end_block >= ?)"
            " ORDER BY job_type ASC, internal_id ASC"
        )
        params = [*block_params, block_number, *settle_params, block_number, *range_params, block_number, block_number]
        return _jobs(await self._db.read(lambda conn: conn.execute(sql, params).fetchall()))

    # --- audit log ------------------------------------------------------------------------------
    async def add_audit_entry(self, entry: AuditEntry) -> None:
        row = (str(entry.id), _ts(entry.at), entry.actor, entry.model_dump_json())
        await self._db.write(
            lambda conn: conn.execute("INSERT INTO audit_log (id, at, actor, data) VALUES (?, ?, ?, ?)", row)
        )

    async def get_audit_entries(self, limit: int, actor: str | None = None) -> list[AuditEntry]:
        where = _Where()
        if actor is not None:
            where.add("actor = ?", actor)
        sql = f"SELECT data FROM audit_log{where.sql()} ORDER BY at DESC, rowid DESC{_limit(limit)}"
        rows = await self._db.read(lambda conn: conn.execute(sql, where.params).fetchall())
        return [AuditEntry.model_validate_json(r["data"]) for r in rows]
