"""The batch half of the MongoDB store: SNOS and aggregator batches and the block lookups.

Both batch kinds share one helper per operation (find, status change, insert, upsert), told apart by
their `_BatchKind`: collection, model, and the lookup field that points blocks at the batch. Every
batch write keeps `block_batch_lookups` in sync with the batch's range, also when the range shrinks.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from bson import Int64
from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError

from orchestrator.clients.database.mongo_documents import (
    UPDATED_AT_TS,
    as_utc,
    batch_fields,
    batch_to_doc,
    id_filters,
    int64s,
)
from orchestrator.clients.database.mongodb_common import (
    AGGREGATOR_BATCHES,
    ANTI_JOIN_WINDOW,
    BLOCK_BATCH_LOOKUPS,
    LOOKUP_CHUNK,
    SNOS_BATCHES,
    Doc,
    enum_values,
)
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

#: MongoDB's error code of a unique-index violation.
DUPLICATE_KEY = 11000


@dataclass(frozen=True)
class _BatchKind(Generic[_B]):
    collection: str
    #: for messages: "SNOS" or "aggregator"
    what: str
    model: type[_B]
    lookup_field: str

    def from_doc(self, doc: Mapping[str, Any]) -> _B:
        return self.model.model_validate(batch_fields(doc))

    def clash(self, batch: _B) -> str:
        return (
            f"{self.what} batch {batch.index} (blocks {batch.start_block}..{batch.end_block}) clashes with a stored one"
        )


_SNOS = _BatchKind(SNOS_BATCHES, "SNOS", SnosBatch, "snos_batch_index")
_AGGREGATOR = _BatchKind(AGGREGATOR_BATCHES, "aggregator", AggregatorBatch, "aggregator_batch_index")


def snos_batch_from_doc(doc: Mapping[str, Any]) -> SnosBatch:
    return _SNOS.from_doc(doc)


def aggregator_batch_from_doc(doc: Mapping[str, Any]) -> AggregatorBatch:
    return _AGGREGATOR.from_doc(doc)


def _batch_filters(indexes: Sequence[int], statuses: Sequence[Any], orchestrator_version: str | None) -> Doc:
    filters: Doc = {}
    if indexes:
        filters["index"] = {"$in": list(indexes)}
    if statuses:
        filters["status"] = {"$in": enum_values(statuses)}
    if orchestrator_version is not None:
        filters["orchestrator_version"] = orchestrator_version
    return filters


class MongoBatchStore:
    """The batch methods of `MongoDatabaseClient`, on its collections."""

    def _coll(self, name: str) -> AsyncCollection[Doc]:
        raise NotImplementedError  # the client's collection accessor

    async def _existing_internal_ids(self, job_type: JobType, internal_ids: Sequence[int]) -> set[int]:
        raise NotImplementedError  # the client's job query

    # --- reads --------------------------------------------------------------------------------------
    async def _batches(
        self, kind: _BatchKind[_B], query: Doc, sort: int = ASCENDING, limit: int | None = None
    ) -> list[_B]:
        if limit is not None and limit <= 0:
            return []
        cursor = self._coll(kind.collection).find(query).sort("index", sort)
        if limit is not None:
            cursor = cursor.limit(limit)
        return [kind.from_doc(doc) async for doc in cursor]

    async def _first(self, kind: _BatchKind[_B], query: Doc, sort: int) -> _B | None:
        found = await self._batches(kind, query, sort, 1)
        return found[0] if found else None

    async def get_latest_snos_batch(self) -> SnosBatch | None:
        return await self._first(_SNOS, {}, DESCENDING)

    async def get_latest_aggregator_batch(self) -> AggregatorBatch | None:
        return await self._first(_AGGREGATOR, {}, DESCENDING)

    async def get_oldest_aggregator_batch(self, orchestrator_version: str | None = None) -> AggregatorBatch | None:
        return await self._first(_AGGREGATOR, _batch_filters((), (), orchestrator_version), ASCENDING)

    async def get_snos_batches(self, query: SnosBatchQuery) -> list[SnosBatch]:
        filters = _batch_filters(query.indexes, query.statuses, query.orchestrator_version)
        if query.aggregator_batch_index is not None:
            filters["aggregator_batch_index"] = query.aggregator_batch_index
        return await self._batches(_SNOS, filters, ASCENDING if query.sort == "asc" else DESCENDING, query.limit)

    async def get_aggregator_batches(self, query: AggregatorBatchQuery) -> list[AggregatorBatch]:
        filters = _batch_filters(query.indexes, query.statuses, query.orchestrator_version)
        return await self._batches(_AGGREGATOR, filters, ASCENDING if query.sort == "asc" else DESCENDING, query.limit)

    async def get_aggregator_batch_for_block(self, block_number: int) -> AggregatorBatch | None:
        lookup = await self._coll(BLOCK_BATCH_LOOKUPS).find_one({"block_number": block_number})
        if lookup is not None and lookup.get("aggregator_batch_index") is not None:
            found = await self._first(_AGGREGATOR, {"index": lookup["aggregator_batch_index"]}, ASCENDING)
            if found is not None:
                return found
        # Not in the lookup table (yet): fall back to the ranges.
        in_range = {"start_block": {"$lte": block_number}, "end_block": {"$gte": block_number}}
        return await self._first(_AGGREGATOR, in_range, DESCENDING)

    async def get_block_batch_lookup(self, block_number: int) -> BlockBatchLookup | None:
        doc = await self._coll(BLOCK_BATCH_LOOKUPS).find_one({"block_number": block_number})
        if doc is None:
            return None
        return BlockBatchLookup(
            block_number=int(doc["block_number"]),
            snos_batch_index=doc.get("snos_batch_index"),
            aggregator_batch_index=doc.get("aggregator_batch_index"),
        )

    async def get_start_snos_batch_for_aggregator(self, aggregator_index: int) -> SnosBatch | None:
        return await self._first(_SNOS, {"aggregator_batch_index": aggregator_index}, ASCENDING)

    async def get_snos_batches_by_aggregator_index(self, aggregator_index: int) -> list[SnosBatch]:
        return await self._batches(_SNOS, {"aggregator_batch_index": aggregator_index})

    async def get_snos_batches_without_jobs(
        self,
        status: SnosBatchStatus,
        limit: int,
        orchestrator_version: str | None = None,
        min_index: int = 0,
    ) -> list[SnosBatch]:
        result: list[SnosBatch] = []
        low, inclusive = min_index, True
        while len(result) < limit:
            query: Doc = {"status": status.value, "index": {"$gte" if inclusive else "$gt": low}}
            if orchestrator_version is not None:
                query["orchestrator_version"] = orchestrator_version
            window = await self._batches(_SNOS, query, ASCENDING, ANTI_JOIN_WINDOW)
            if not window:
                break
            taken = await self._existing_internal_ids(JobType.SNOS_RUN, [b.index for b in window])
            result.extend(b for b in window if b.index not in taken)
            if len(window) < ANTI_JOIN_WINDOW:
                break
            low, inclusive = window[-1].index, False
        return result[: max(0, limit)]

    # --- writes -------------------------------------------------------------------------------------
    async def _set_status(self, kind: _BatchKind[_B], index: int, status: str) -> _B:
        now = utc_now()
        coll = self._coll(kind.collection)
        # update_one + find_one, not find_one_and_update: the test server's find_one_and_update
        # cannot re-find a document whose `_id` is binary (the reference's batch ids are).
        result = await coll.update_one(
            {"index": index}, {"$set": {"status": status, "updated_at": now, UPDATED_AT_TS: now.timestamp()}}
        )
        doc = await coll.find_one({"index": index}) if result.matched_count else None
        if doc is None:
            raise NotFoundError(f"no {kind.what} batch with index {index}")
        return kind.from_doc(doc)

    async def update_snos_batch_status_by_index(self, index: int, status: SnosBatchStatus) -> SnosBatch:
        return await self._set_status(_SNOS, index, status.value)

    async def update_aggregator_batch_status_by_index(
        self, index: int, status: AggregatorBatchStatus
    ) -> AggregatorBatch:
        return await self._set_status(_AGGREGATOR, index, status.value)

    async def _create(self, kind: _BatchKind[_B], batch: _B) -> _B:
        stored = batch.model_copy(deep=True)
        try:
            await self._coll(kind.collection).insert_one(batch_to_doc(stored))
        except DuplicateKeyError as exc:
            raise BatchAlreadyExistsError(kind.clash(stored)) from exc
        await self._sync_lookups(kind.lookup_field, stored.index, None, stored.start_block, stored.end_block)
        return stored

    async def create_snos_batch(self, batch: SnosBatch) -> SnosBatch:
        return await self._create(_SNOS, batch)

    async def create_aggregator_batch(self, batch: AggregatorBatch) -> AggregatorBatch:
        return await self._create(_AGGREGATOR, batch)

    async def _upsert(self, kind: _BatchKind[_B], batch: _B) -> _B:
        """Write `batch` by id, keeping a stored batch's created_at, and point its blocks at it."""
        stored = batch.model_copy(deep=True)
        stored.num_blocks = stored.end_block - stored.start_block + 1
        stored.updated_at = utc_now()
        coll = self._coll(kind.collection)
        previous = await self._find_by_id(coll, batch.id)
        if previous is None:
            try:
                await coll.insert_one(batch_to_doc(stored))
            except DuplicateKeyError as exc:
                previous = await self._find_by_id(coll, batch.id)
                if previous is None:  # the clash is on index or block range, not on the id
                    raise BatchAlreadyExistsError(kind.clash(stored)) from exc
        if previous is not None:
            await self._update_stored(kind, stored, previous)
        await self._sync_lookups(kind.lookup_field, stored.index, previous, stored.start_block, stored.end_block)
        return stored

    @staticmethod
    async def _find_by_id(coll: AsyncCollection[Doc], batch_id: uuid.UUID) -> Doc | None:
        """The stored batch's range and creation time, with the filter that found it (`_filter`)."""
        for query in id_filters("_id", batch_id):
            found = await coll.find_one(
                query, {"index": True, "start_block": True, "end_block": True, "created_at": True}
            )
            if found is not None:
                return {**found, "_filter": query}
        return None

    async def _update_stored(self, kind: _BatchKind[_B], stored: _B, previous: Doc) -> None:
        stored.created_at = as_utc(previous["created_at"])
        fields = batch_to_doc(stored)
        del fields["_id"], fields["created_at"]
        update: Doc = {"$set": fields}
        if "bucket_id" not in fields and isinstance(stored, AggregatorBatch):
            update["$unset"] = {"bucket_id": ""}
        try:
            await self._coll(kind.collection).update_one(previous["_filter"], update)
        except DuplicateKeyError as exc:
            raise BatchAlreadyExistsError(kind.clash(stored)) from exc

    async def update_or_create_snos_batch(self, batch: SnosBatch) -> SnosBatch:
        return await self._upsert(_SNOS, batch)

    async def update_or_create_aggregator_batch(self, batch: AggregatorBatch) -> AggregatorBatch:
        return await self._upsert(_AGGREGATOR, batch)

    async def _sync_lookups(self, field: str, index: int, previous: Doc | None, start: int, end: int) -> None:
        """Point every block of the batch at it; unpoint blocks a re-written batch no longer covers."""
        lookups = self._coll(BLOCK_BATCH_LOOKUPS)
        now = utc_now()
        if previous is not None:
            old_index, old_start, old_end = previous["index"], previous["start_block"], previous["end_block"]
            for low, high in ((old_start, min(old_end, start - 1)), (max(old_start, end + 1), old_end)):
                if low <= high:
                    await lookups.update_many(
                        {field: old_index, "block_number": {"$gte": low, "$lte": high}},
                        {"$unset": {field: ""}, "$set": {"updated_at": now}},
                    )
        for chunk_start in range(start, end + 1, LOOKUP_CHUNK):
            chunk_end = min(end, chunk_start + LOOKUP_CHUNK - 1)
            block_range = {"$gte": chunk_start, "$lte": chunk_end}
            present = {
                int(doc["block_number"])
                async for doc in lookups.find({"block_number": block_range}, {"block_number": True, "_id": False})
            }
            missing = [b for b in range(chunk_start, chunk_end + 1) if b not in present]
            if missing:
                try:
                    await lookups.insert_many(
                        [
                            int64s({"block_number": b, field: index, "created_at": now, "updated_at": now})
                            for b in missing
                        ],
                        ordered=False,
                    )
                except BulkWriteError as exc:
                    # A duplicate block_number: a concurrent writer created the row; the update
                    # below points it at this batch. Anything else is a real failure.
                    if any(err.get("code") != DUPLICATE_KEY for err in exc.details.get("writeErrors", [])):
                        raise
            await lookups.update_many(
                {"block_number": block_range},
                {"$set": {field: Int64(index), "updated_at": now}},
            )
