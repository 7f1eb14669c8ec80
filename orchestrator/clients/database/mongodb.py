"""The job and batch store on MongoDB (PyMongo's async API), with the reference's collections and
indexes: `jobs`, `snos_batches`, `aggregator_batches`, `block_batch_lookups`.

Choices that keep it correct on real MongoDB *and* on the MongoDB-compatible test server
(nx-27017, whose gaps are listed in README.md, "The MongoDB test server's gaps"), by the operations
used rather than by special cases:

- Jobs are created with `insert_one` on the unique (job_type, internal_id) index: a
  DuplicateKeyError means "exists". Every job write is `find_one_and_update` filtered on
  {id, version} with `$inc` on version (compare-and-swap).
- Documents are the reference's (`mongo_documents.py`): ids BSON Binary subtype 4, Int64 widths,
  BSON dates, plus this orchestrator's extras under names the reference ignores. Lookups by id try
  the text extra `id_text` first (the test server cannot match a binary value), then the binary
  `id`; `connect` adopts documents written by the reference (adds their extras).
- Timestamps: `created_at` / `updated_at` are BSON datetimes as the reference (created_at is
  written only on insert). Every write also stores `updated_at_ts` (UTC unix seconds, a double):
  a datetime written by `$set` is stored as a string by the test server, so range queries use the
  number, falling back to the date for documents that lack it.
- Anti-joins ("jobs without a successor", "batches without a job") are two indexed finds over a
  bounded window (candidates, then their successors with `$in`) and a set difference in code,
  instead of `$lookup` pipelines.
- block_batch_lookups rows are created with `insert_many(ordered=False)` (a duplicate means a
  concurrent writer created it) and pointed at their batch with `update_many` over the block range;
  no bulk upserts (the test server drops `$set` fields on a bulk upsert's insert).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, ReturnDocument, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, PyMongoError

from orchestrator.clients.database.mongo_documents import (
    ID_TEXT,
    UPDATED_AT_TS,
    UUID_REPRESENTATION,
    adoption_fields,
    id_filters,
    job_from_doc,
    job_to_doc,
    job_update_fields,
)
from orchestrator.clients.database.mongodb_batches import MongoBatchStore
from orchestrator.clients.database.mongodb_common import (
    AGGREGATOR_BATCHES,
    ANTI_JOIN_WINDOW,
    AUDIT_LOG,
    JOBS,
    SNOS_BATCHES,
    Doc,
)
from orchestrator.clients.database.mongodb_common import enum_values as _statuses
from orchestrator.clients.database.mongodb_indexes import INDEXES
from orchestrator.core.clients.database import (
    JOB_TYPES_BY_BLOCK_NUMBER,
    JOB_TYPES_BY_BLOCK_RANGE,
    JOB_TYPES_BY_TO_SETTLE,
)
from orchestrator.core.errors import (
    EmptyUpdateError,
    JobAlreadyExistsError,
    ServiceUnavailableError,
    VersionConflictError,
)
from orchestrator.core.models.audit import AuditEntry
from orchestrator.core.models.job import JobItem, JobItemUpdates, JobStatus, JobType, utc_now
from orchestrator.core.models.timestamps import as_utc as aware_utc

_VERSION_FIELD = "metadata.common.orchestrator_version"


def redact_url(url: str) -> str:
    """The connection URL without its password, for messages."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable MongoDB URL>"
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


class MongoDatabaseClient(MongoBatchStore):
    """DatabaseClient on MongoDB; the batch methods are `MongoBatchStore`'s."""

    def __init__(
        self,
        url: str,
        database_name: str = "orchestrator",
        server_selection_timeout_ms: int = 5000,
    ) -> None:
        self._url = url
        self._database_name = database_name
        self._timeout_ms = server_selection_timeout_ms
        self._client: AsyncMongoClient[Doc] | None = None

    # --- lifecycle ------------------------------------------------------------------------------
    @property
    def _db(self) -> AsyncDatabase[Doc]:
        if self._client is None:
            self._client = AsyncMongoClient(
                self._url,
                tz_aware=True,
                uuidRepresentation=UUID_REPRESENTATION,  # UUIDs as Binary subtype 4, as the reference
                serverSelectionTimeoutMS=self._timeout_ms,
                appname="orchestrator",
            )
        return self._client[self._database_name]

    def _coll(self, name: str) -> AsyncCollection[Doc]:
        return self._db[name]

    async def connect(self) -> None:
        """Create the indexes (idempotent); raises ServiceUnavailableError when the server is down."""
        await self.health_check()
        for name, models in INDEXES.items():
            await self._coll(name).create_indexes(models)
        await self.adopt_reference_documents()

    async def adopt_reference_documents(self) -> int:
        """Add this orchestrator's extras (`id_text`, `updated_at_ts`) to documents written by the
        reference, keyed by each collection's unique business key; returns how many were adopted."""
        adopted = 0
        adoptable = (
            (JOBS, "id", ("job_type", "internal_id")),
            (SNOS_BATCHES, "_id", ("index",)),
            (AGGREGATOR_BATCHES, "_id", ("index",)),
        )
        for name, id_field, keys in adoptable:
            while True:
                docs = await self._coll(name).find({ID_TEXT: None}).limit(ANTI_JOIN_WINDOW).to_list(None)
                ops = [UpdateOne({k: d[k] for k in keys}, {"$set": adoption_fields(d, id_field)}) for d in docs]
                if not ops:
                    break
                modified = (await self._coll(name).bulk_write(ops, ordered=False)).modified_count
                adopted += modified
                if modified == 0:  # nothing changed: do not spin on documents that cannot be adopted
                    break
        return adopted

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
        self._client = None

    async def health_check(self) -> None:
        try:
            await self._db.command("ping")
        except PyMongoError as exc:
            raise ServiceUnavailableError(
                f"MongoDB at {redact_url(self._url)} did not answer a ping: {type(exc).__name__}: {exc}"
            ) from exc

    async def drop_all(self) -> None:
        """Drop the orchestrator's collections (tests)."""
        for name in INDEXES:
            await self._db.drop_collection(name)

    # --- jobs -----------------------------------------------------------------------------------
    async def _find_jobs(
        self, query: Doc, sort: Sequence[tuple[str, int]] = (("internal_id", ASCENDING),), limit: int | None = None
    ) -> list[JobItem]:
        cursor = self._coll(JOBS).find(query, {"_id": False}).sort(list(sort))
        if limit is not None:
            cursor = cursor.limit(max(0, limit))
            if limit <= 0:
                return []
        return [job_from_doc(doc) async for doc in cursor]

    async def _find_job(
        self, query: Doc, sort: Sequence[tuple[str, int]] = (("internal_id", ASCENDING),)
    ) -> JobItem | None:
        found = await self._find_jobs(query, sort, limit=1)
        return found[0] if found else None

    async def create_job(self, job: JobItem) -> JobItem:
        try:
            await self._coll(JOBS).insert_one(job_to_doc(job))
        except DuplicateKeyError as exc:
            raise JobAlreadyExistsError(
                f"job {job.job_type.value}/{job.internal_id} (id {job.id}) already exists"
            ) from exc
        return job.model_copy(deep=True)

    async def get_job_by_id(self, job_id: uuid.UUID) -> JobItem | None:
        for query in id_filters("id", job_id):
            found = await self._find_job(query)
            if found is not None:
                return found
        return None

    async def get_job_by_internal_id_and_type(self, internal_id: int, job_type: JobType) -> JobItem | None:
        return await self._find_job({"job_type": job_type.value, "internal_id": internal_id})

    async def get_jobs_by_internal_ids_and_type(self, internal_ids: Sequence[int], job_type: JobType) -> list[JobItem]:
        if not internal_ids:
            return []
        return await self._find_jobs({"job_type": job_type.value, "internal_id": {"$in": list(internal_ids)}})

    async def update_job(self, job: JobItem, updates: JobItemUpdates) -> JobItem:
        if updates.is_empty():
            raise EmptyUpdateError(f"update of job {job.id} has no field to change")
        fields = job_update_fields(job.id, updates, utc_now())
        doc = None
        for query in id_filters("id", job.id):  # the binary id: a reference-written job not adopted yet
            doc = await self._coll(JOBS).find_one_and_update(
                {**query, "version": job.version},
                {"$set": fields, "$inc": {"version": 1}},
                projection={"_id": False},
                return_document=ReturnDocument.AFTER,
            )
            if doc is not None:
                break
        if doc is None:
            raise VersionConflictError(f"job {job.id}: version {job.version} is outdated (or the job does not exist)")
        return job_from_doc(doc)

    async def get_latest_job_by_type(
        self, job_type: JobType, orchestrator_version: str | None = None
    ) -> JobItem | None:
        query: Doc = {"job_type": job_type.value}
        if orchestrator_version is not None:
            query[_VERSION_FIELD] = orchestrator_version
        return await self._find_job(query, [("internal_id", DESCENDING)])

    async def get_latest_job_by_type_and_status(self, job_type: JobType, status: JobStatus) -> JobItem | None:
        return await self._find_job({"job_type": job_type.value, "status": status.value}, [("internal_id", DESCENDING)])

    async def get_oldest_job_by_type_excluding_statuses(
        self, job_type: JobType, statuses: Sequence[JobStatus], orchestrator_version: str | None = None
    ) -> JobItem | None:
        query: Doc = {"job_type": job_type.value}
        if statuses:
            # `$in` of the other statuses, not `$nin`: bounds per status in job_type_status_internal_id,
            # merged by internal_id, instead of a walk over the type's whole history.
            query["status"] = {"$in": _statuses([s for s in JobStatus if s not in statuses])}
        if orchestrator_version is not None:
            query[_VERSION_FIELD] = orchestrator_version
        return await self._find_job(query)

    async def _existing_internal_ids(self, job_type: JobType, internal_ids: Sequence[int]) -> set[int]:
        cursor = self._coll(JOBS).find(
            {"job_type": job_type.value, "internal_id": {"$in": list(internal_ids)}},
            {"internal_id": True, "_id": False},
        )
        return {int(doc["internal_id"]) async for doc in cursor}

    async def get_jobs_without_successor(
        self,
        job_type: JobType,
        status: JobStatus,
        successor_type: JobType,
        orchestrator_version: str | None = None,
        min_internal_id: int = 0,
        limit: int | None = None,
    ) -> list[JobItem]:
        result: list[JobItem] = []
        low, inclusive = min_internal_id, True
        while limit is None or len(result) < limit:
            query: Doc = {
                "job_type": job_type.value,
                "status": status.value,
                "internal_id": {"$gte" if inclusive else "$gt": low},
            }
            if orchestrator_version is not None:
                query[_VERSION_FIELD] = orchestrator_version
            window = await self._find_jobs(query, limit=ANTI_JOIN_WINDOW)
            if not window:
                break
            taken = await self._existing_internal_ids(successor_type, [j.internal_id for j in window])
            result.extend(j for j in window if j.internal_id not in taken)
            if len(window) < ANTI_JOIN_WINDOW:
                break
            low, inclusive = window[-1].internal_id, False
        return result if limit is None else result[:limit]

    async def get_jobs_after_internal_id_by_job_type(
        self, job_type: JobType, status: JobStatus, internal_id: int, orchestrator_version: str | None = None
    ) -> list[JobItem]:
        query: Doc = {"job_type": job_type.value, "status": status.value, "internal_id": {"$gt": internal_id}}
        if orchestrator_version is not None:
            query[_VERSION_FIELD] = orchestrator_version
        return await self._find_jobs(query)

    async def get_jobs_by_types_and_statuses(
        self,
        job_types: Sequence[JobType],
        statuses: Sequence[JobStatus],
        limit: int | None = None,
        orchestrator_version: str | None = None,
    ) -> list[JobItem]:
        query: Doc = {}
        if job_types:
            query["job_type"] = {"$in": _statuses(job_types)}
        if statuses:
            query["status"] = {"$in": _statuses(statuses)}
        if orchestrator_version is not None:
            query[_VERSION_FIELD] = orchestrator_version
        return await self._find_jobs(query, [("internal_id", ASCENDING), ("job_type", ASCENDING)], limit)

    async def get_jobs_between_internal_ids(
        self, job_type: JobType, status: JobStatus, gte: int, lte: int
    ) -> list[JobItem]:
        return await self._find_jobs(
            {"job_type": job_type.value, "status": status.value, "internal_id": {"$gte": gte, "$lte": lte}}
        )

    async def get_jobs_by_status(self, status: JobStatus, limit: int | None = None) -> list[JobItem]:
        return await self._find_jobs(
            {"status": status.value}, [("internal_id", ASCENDING), ("job_type", ASCENDING)], limit
        )

    async def get_jobs_updated_before(
        self, statuses: Sequence[JobStatus], before: datetime, limit: int
    ) -> list[JobItem]:
        status: Doc = {"status": {"$in": _statuses(statuses)}} if statuses else {}
        found = await self._find_jobs(
            {**status, UPDATED_AT_TS: {"$lt": aware_utc(before).timestamp()}},
            [(UPDATED_AT_TS, ASCENDING), ("internal_id", ASCENDING)],
            limit,
        )
        # Documents written by the reference have no epoch field: their BSON date range-queries.
        found += await self._find_jobs(
            {**status, UPDATED_AT_TS: None, "updated_at": {"$lt": aware_utc(before)}},
            [("updated_at", ASCENDING), ("internal_id", ASCENDING)],
            limit,
        )
        return sorted(found, key=lambda j: (j.updated_at, j.internal_id))[: max(0, limit)]

    async def get_jobs_without_storage_artifacts_tagged(self, limit: int) -> list[JobItem]:
        # `None` matches both a null and a missing field.
        return await self._find_jobs(
            {
                "job_type": JobType.STATE_TRANSITION.value,
                "status": JobStatus.COMPLETED.value,
                "metadata.specific.storage_artifacts_tagged_at": None,
            },
            limit=limit,
        )

    async def get_jobs_by_block_number(self, block_number: int) -> list[JobItem]:
        found = await self._find_jobs(
            {"job_type": {"$in": _statuses(JOB_TYPES_BY_BLOCK_NUMBER)}, "metadata.specific.block_number": block_number}
        )
        found += await self._find_jobs(
            {
                "job_type": {"$in": _statuses(JOB_TYPES_BY_TO_SETTLE)},
                "metadata.specific.context.to_settle": block_number,
            }
        )
        found += await self._find_jobs(
            {
                "job_type": {"$in": _statuses(JOB_TYPES_BY_BLOCK_RANGE)},
                "metadata.specific.start_block": {"$lte": block_number},
                "metadata.specific.end_block": {"$gte": block_number},
            }
        )
        return sorted(found, key=lambda j: (j.job_type.value, j.internal_id))

    # --- audit log ------------------------------------------------------------------------------
    async def add_audit_entry(self, entry: AuditEntry) -> None:
        # Plain JSON fields plus a float for sorting: the test server keeps both as written.
        doc = entry.model_dump(mode="json")
        doc["at_ts"] = entry.at.timestamp()
        await self._coll(AUDIT_LOG).insert_one(doc)

    async def get_audit_entries(self, limit: int, actor: str | None = None) -> list[AuditEntry]:
        if limit <= 0:  # MongoDB reads limit(0) as "no limit"
            return []
        query: Doc = {} if actor is None else {"actor": actor}
        cursor = self._coll(AUDIT_LOG).find(query, {"_id": False, "at_ts": False})
        docs = await cursor.sort([("at_ts", DESCENDING)]).limit(limit).to_list(None)
        return [AuditEntry.model_validate(d) for d in docs]
