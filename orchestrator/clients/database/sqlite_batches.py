"""The batch half of the SQLite store: SNOS and aggregator batches and the block lookups.

Both batch kinds share one helper per operation (read, status change, upsert, create, write), told
apart by their `_BatchTable`: table name, model, the lookup column that points blocks at the batch,
and the columns beyond the common ones. Writes run inside the caller's write transaction and keep
`block_batch_lookups` in sync with the batch's range, also when the range shrinks.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar

from orchestrator.clients.database.sqlite_query import Where as _Where
from orchestrator.clients.database.sqlite_query import limit_clause as _limit
from orchestrator.clients.database.sqlite_query import ts as _ts
from orchestrator.clients.sqlite_support import SqliteConnection
from orchestrator.core.clients.database import AggregatorBatchQuery, BatchAlreadyExistsError, SnosBatchQuery
from orchestrator.core.errors import NotFoundError
from orchestrator.core.models.batch import (
    AggregatorBatch,
    AggregatorBatchStatus,
    BlockBatchLookup,
    SnosBatch,
    SnosBatchStatus,
)
from orchestrator.core.models.job import JobType, utc_now

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


class SqliteBatchStore:
    """The batch methods of `SqliteDatabaseClient`, on its connection."""

    _db: SqliteConnection

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
