"""The job and batch store in one SQLite file (the local profile's MongoDB).

Each row keeps the full record as JSON (`data`) plus the columns its queries filter and sort on,
all written from the same model in the same statement, so they cannot drift apart. Timestamps in
the columns are UTC unix seconds (REAL); the JSON keeps the model's own ISO form.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Generic, TypeVar

from orchestrator.clients.sqlite_support import DEFAULT_BUSY_TIMEOUT_SECONDS, SqliteConnection
from orchestrator.core.clients.database import (
    JOB_TYPES_BY_BLOCK_NUMBER,
    JOB_TYPES_BY_BLOCK_RANGE,
    JOB_TYPES_BY_TO_SETTLE,
    AggregatorBatchQuery,
    BatchAlreadyExistsError,
    SnosBatchQuery,
)
from orchestrator.core.errors import (
    EmptyUpdateError,
    JobAlreadyExistsError,
    NotFoundError,
    VersionConflictError,
)
from orchestrator.core.models.audit import AuditEntry
from orchestrator.core.models.batch import (
    AggregatorBatch,
    AggregatorBatchStatus,
    BlockBatchLookup,
    SnosBatch,
    SnosBatchStatus,
)
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


def _ts(value: datetime) -> float:
    # A naive datetime is taken as UTC (not as the machine's local time).
    return (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).timestamp()


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


def _in(column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
    return f"{column} IN ({', '.join('?' for _ in values)})", list(values)


class _Where:
    """Collects `AND`ed conditions and their parameters."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.params: list[Any] = []

    def add(self, sql: str, *params: Any) -> _Where:
        self.parts.append(sql)
        self.params.extend(params)
        return self

    def add_in(self, column: str, values: Sequence[Any]) -> _Where:
        if values:
            sql, params = _in(column, [getattr(v, "value", v) for v in values])
            self.add(sql, *params)
        return self

    def sql(self) -> str:
        return " WHERE " + " AND ".join(self.parts) if self.parts else ""


def _limit(limit: int | None) -> str:
    return f" LIMIT {int(limit)}" if limit is not None else ""


class SqliteDatabaseClient:
    """DatabaseClient on one SQLite file; several processes may share the file."""

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
        sql = f"SELECT data FROM jobs INDEXED BY jobs_untagged WHERE {_UNTAGGED} ORDER BY internal_id ASC{_limit(limit)}"
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

    # --- batches ----------------------------------------------------------------------------
    async def _batches(
        self, table: _BatchTable[_B], where: _Where, order: str = "batch_index ASC", limit: int | None = None
    ) -> list[_B]:
        sql = f"SELECT data FROM {table.name}{where.sql()} ORDER BY {order}{_limit(limit)}"
        rows = await self._db.read(lambda conn: conn.execute(sql, where.params).fetchall())
        return [table.model.model_validate_json(r["data"]) for r in rows]

    async def _first_batch(self, table: _BatchTable[_B], where: _Where, order: str) -> _B | None:
        found = await self._batches(table, where, order, 1)
        return found[0] if found else None

    async def get_latest_snos_batch(self) -> SnosBatch | None:
        return await self._first_batch(_SNOS, _Where(), "batch_index DESC")

    async def get_latest_aggregator_batch(self) -> AggregatorBatch | None:
        return await self._first_batch(_AGGREGATOR, _Where(), "batch_index DESC")

    async def get_oldest_aggregator_batch(self, orchestrator_version: str | None = None) -> AggregatorBatch | None:
        where = _Where()
        if orchestrator_version is not None:
            where.add("orchestrator_version = ?", orchestrator_version)
        return await self._first_batch(_AGGREGATOR, where, "batch_index ASC")

    async def get_snos_batches(self, query: SnosBatchQuery) -> list[SnosBatch]:
        where = _batch_query(query.indexes, query.statuses, query.orchestrator_version)
        if query.aggregator_batch_index is not None:
            where.add("aggregator_batch_index = ?", query.aggregator_batch_index)
        return await self._batches(_SNOS, where, f"batch_index {query.sort.upper()}", query.limit)

    async def get_aggregator_batches(self, query: AggregatorBatchQuery) -> list[AggregatorBatch]:
        where = _batch_query(query.indexes, query.statuses, query.orchestrator_version)
        return await self._batches(_AGGREGATOR, where, f"batch_index {query.sort.upper()}", query.limit)

    async def _set_batch_status(self, table: _BatchTable[_B], index: int, status: StrEnum) -> _B:
        def update(conn: sqlite3.Connection) -> _B:
            row = conn.execute(f"SELECT data FROM {table.name} WHERE batch_index = ?", (index,)).fetchone()
            if row is None:
                raise NotFoundError(f"no {table.what} with index {index}")
            stored = table.model.model_validate_json(row["data"])
            batch = stored.model_copy(update={"status": status, "updated_at": utc_now()})
            _write_batch(conn, table, batch, insert=False)
            return batch

        return await self._db.write(update)

    async def update_snos_batch_status_by_index(self, index: int, status: SnosBatchStatus) -> SnosBatch:
        return await self._set_batch_status(_SNOS, index, status)

    async def update_aggregator_batch_status_by_index(
        self, index: int, status: AggregatorBatchStatus
    ) -> AggregatorBatch:
        return await self._set_batch_status(_AGGREGATOR, index, status)

    async def _upsert_batch(self, table: _BatchTable[_B], batch: _B) -> _B:
        def upsert(conn: sqlite3.Connection) -> _B:
            stored = batch.model_copy(deep=True)
            stored.num_blocks = stored.end_block - stored.start_block + 1
            stored.updated_at = utc_now()
            row = conn.execute(f"SELECT data FROM {table.name} WHERE id = ?", (str(batch.id),)).fetchone()
            if row is not None:
                stored.created_at = table.model.model_validate_json(row["data"]).created_at
            _write_batch(conn, table, stored, insert=row is None)
            return stored

        return await self._db.write(upsert)

    async def update_or_create_snos_batch(self, batch: SnosBatch) -> SnosBatch:
        return await self._upsert_batch(_SNOS, batch)

    async def update_or_create_aggregator_batch(self, batch: AggregatorBatch) -> AggregatorBatch:
        return await self._upsert_batch(_AGGREGATOR, batch)

    async def _create_batch(self, table: _BatchTable[_B], batch: _B) -> _B:
        stored = batch.model_copy(deep=True)
        await self._db.write(lambda conn: _write_batch(conn, table, stored, insert=True))
        return stored

    async def create_snos_batch(self, batch: SnosBatch) -> SnosBatch:
        return await self._create_batch(_SNOS, batch)

    async def create_aggregator_batch(self, batch: AggregatorBatch) -> AggregatorBatch:
        return await self._create_batch(_AGGREGATOR, batch)

    async def get_aggregator_batch_for_block(self, block_number: int) -> AggregatorBatch | None:
        def find(conn: sqlite3.Connection) -> str | None:
            row = conn.execute(
                "SELECT b.data FROM block_batch_lookups l JOIN aggregator_batches b"
                " ON b.batch_index = l.aggregator_batch_index WHERE l.block_number = ?",
                (block_number,),
            ).fetchone()
            if row is None:  # not in the lookup table (yet): fall back to the ranges
                row = conn.execute(
                    "SELECT data FROM aggregator_batches WHERE start_block <= ? AND end_block >= ?"
                    " ORDER BY batch_index DESC LIMIT 1",
                    (block_number, block_number),
                ).fetchone()
            return row["data"] if row is not None else None

        data = await self._db.read(find)
        return AggregatorBatch.model_validate_json(data) if data is not None else None

    async def get_block_batch_lookup(self, block_number: int) -> BlockBatchLookup | None:
        row = await self._db.read(
            lambda conn: conn.execute(
                "SELECT block_number, snos_batch_index, aggregator_batch_index FROM block_batch_lookups"
                " WHERE block_number = ?",
                (block_number,),
            ).fetchone()
        )
        if row is None:
            return None
        return BlockBatchLookup(
            block_number=row["block_number"],
            snos_batch_index=row["snos_batch_index"],
            aggregator_batch_index=row["aggregator_batch_index"],
        )

    async def get_start_snos_batch_for_aggregator(self, aggregator_index: int) -> SnosBatch | None:
        where = _Where().add("aggregator_batch_index = ?", aggregator_index)
        return await self._first_batch(_SNOS, where, "batch_index ASC")

    async def get_snos_batches_by_aggregator_index(self, aggregator_index: int) -> list[SnosBatch]:
        return await self._batches(_SNOS, _Where().add("aggregator_batch_index = ?", aggregator_index))

    async def get_snos_batches_without_jobs(
        self,
        status: SnosBatchStatus,
        limit: int,
        orchestrator_version: str | None = None,
        min_index: int = 0,
    ) -> list[SnosBatch]:
        where = _Where().add("s.status = ? AND s.batch_index >= ?", status.value, min_index)
        if orchestrator_version is not None:
            where.add("s.orchestrator_version = ?", orchestrator_version)
        where.add(
            "NOT EXISTS (SELECT 1 FROM jobs j WHERE j.job_type = ? AND j.internal_id = s.batch_index)",
            JobType.SNOS_RUN.value,
        )
        sql = f"SELECT s.data FROM snos_batches s{where.sql()} ORDER BY s.batch_index ASC{_limit(limit)}"
        rows = await self._db.read(lambda conn: conn.execute(sql, where.params).fetchall())
        return [SnosBatch.model_validate_json(r["data"]) for r in rows]


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


# --- batch tables and writes (the writes run inside a write transaction) ---------------------------

_B = TypeVar("_B", SnosBatch, AggregatorBatch)


@dataclass(frozen=True)
class _BatchTable(Generic[_B]):
    """One batch kind's table: its name, model, the lookup column pointing blocks at it, and the
    columns beyond the common ones."""

    name: str
    what: str
    model: type[_B]
    lookup_column: str
    extra_columns: tuple[str, ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        return (
            "batch_index",
            *self.extra_columns,
            "status",
            "orchestrator_version",
            "start_block",
            "end_block",
            "created_at",
            "updated_at",
            "data",
            "id",
        )

    def values(self, batch: _B) -> tuple[Any, ...]:
        return (
            batch.index,
            *(getattr(batch, column) for column in self.extra_columns),
            batch.status.value,
            batch.orchestrator_version,
            batch.start_block,
            batch.end_block,
            _ts(batch.created_at),
            _ts(batch.updated_at),
            batch.model_dump_json(),
            str(batch.id),
        )


_SNOS = _BatchTable("snos_batches", "SNOS batch", SnosBatch, "snos_batch_index", ("aggregator_batch_index",))
_AGGREGATOR = _BatchTable("aggregator_batches", "aggregator batch", AggregatorBatch, "aggregator_batch_index")


def _batch_query(indexes: Sequence[int], statuses: Sequence[StrEnum], orchestrator_version: str | None) -> _Where:
    where = _Where().add_in("batch_index", indexes).add_in("status", statuses)
    if orchestrator_version is not None:
        where.add("orchestrator_version = ?", orchestrator_version)
    return where


def _write_batch(conn: sqlite3.Connection, table: _BatchTable[_B], batch: _B, insert: bool) -> None:
    columns = table.columns
    if insert:
        sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
    else:  # the id is the last column: the row to update
        sql = f"UPDATE {table.name} SET {', '.join(f'{c} = ?' for c in columns[:-1])} WHERE id = ?"
    old_range = _stored_range(conn, table.name, batch.id)
    try:
        conn.execute(sql, table.values(batch))
    except sqlite3.IntegrityError as exc:
        raise BatchAlreadyExistsError(
            f"{table.what} {batch.index} (blocks {batch.start_block}..{batch.end_block}) clashes with a stored one"
        ) from exc
    _sync_lookups(conn, table.lookup_column, batch.index, old_range, (batch.start_block, batch.end_block))


def _stored_range(conn: sqlite3.Connection, table: str, batch_id: uuid.UUID) -> tuple[int, int, int] | None:
    row = conn.execute(
        f"SELECT batch_index, start_block, end_block FROM {table} WHERE id = ?", (str(batch_id),)
    ).fetchone()
    return (row["batch_index"], row["start_block"], row["end_block"]) if row is not None else None


def _sync_lookups(
    conn: sqlite3.Connection,
    column: str,
    index: int,
    old: tuple[int, int, int] | None,
    new_range: tuple[int, int],
) -> None:
    """Point every block of the batch at it, and unpoint the blocks a shrunk batch no longer has."""
    now = utc_now().timestamp()
    start, end = new_range
    if old is not None:
        old_index, old_start, old_end = old
        conn.execute(
            f"UPDATE block_batch_lookups SET {column} = NULL, updated_at = ?"
            f" WHERE {column} = ? AND block_number BETWEEN ? AND ? AND (block_number < ? OR block_number > ?)",
            (now, old_index, old_start, old_end, start, end),
        )
    conn.executemany(
        f"INSERT INTO block_batch_lookups (block_number, {column}, created_at, updated_at) VALUES (?, ?, ?, ?)"
        f" ON CONFLICT (block_number) DO UPDATE SET {column} = excluded.{column}, updated_at = excluded.updated_at"
        f" WHERE {column} IS NOT excluded.{column}",
        ((block, index, now, now) for block in range(start, end + 1)),
    )
