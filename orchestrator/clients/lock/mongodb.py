"""The distributed lock on MongoDB's `locks` collection (as the reference: `_id` = the key, a TTL
index on `expires_at` named ttl_index, an index on `created_at`).

- acquire = insert_one; a DuplicateKeyError means the lock exists, and then one conditional
  update takes it over when it expired (or renews it for its owner). The condition is on
  `expires_at_ts` (UTC unix seconds), not on the `expires_at` datetime: the TTL monitor of real
  MongoDB only runs once a minute, and the test server stores a datetime written by `$set` as a
  string, so the datetime is kept for the TTL index and the number decides.
- release = delete by `_id` (and owner); extend = a conditional update on owner and expiry.
- Documents are the reference's LockInfo (`value` the externally tagged LockValue, dates) plus
  `expires_at_ts`; a lock written by the reference (no `expires_at_ts`) expires by its BSON date.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, AsyncMongoClient, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError, PyMongoError

from orchestrator.clients.database.mongo_documents import as_utc, lock_value_to_doc
from orchestrator.core.errors import ServiceUnavailableError

LOCKS = "locks"
INDEXES = [
    IndexModel([("expires_at", ASCENDING)], name="ttl_index", expireAfterSeconds=0),
    IndexModel([("created_at", ASCENDING)], name="created_at_index"),
]


def _expired(now: float) -> list[dict[str, Any]]:
    """Conditions of an expired lock: by the epoch field, or by the BSON date of a lock written by
    the reference (which has no epoch field)."""
    return [
        {"expires_at_ts": {"$lte": now}},
        {"expires_at_ts": None, "expires_at": {"$lte": datetime.fromtimestamp(now, UTC)}},
    ]


def _expires_at(doc: dict[str, Any]) -> float:
    if doc.get("expires_at_ts") is not None:
        return float(doc["expires_at_ts"])
    return as_utc(doc["expires_at"]).timestamp()


def _redact(url: str) -> str:
    head, sep, tail = url.rpartition("@")
    if not sep:
        return url
    scheme, _, creds = head.partition("://")
    return f"{scheme}://{creds.split(':', 1)[0]}:***@{tail}"


class MongoLockClient:
    def __init__(
        self,
        url: str,
        database_name: str = "orchestrator",
        server_selection_timeout_ms: int = 5000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._url = url
        self._database_name = database_name
        self._timeout_ms = server_selection_timeout_ms
        self._clock = clock
        self._client: AsyncMongoClient[dict[str, Any]] | None = None

    @property
    def _locks(self) -> AsyncCollection[dict[str, Any]]:
        if self._client is None:
            self._client = AsyncMongoClient(
                self._url, tz_aware=True, serverSelectionTimeoutMS=self._timeout_ms, appname="orchestrator-lock"
            )
        return self._client[self._database_name][LOCKS]

    async def connect(self) -> None:
        try:
            await self._locks.create_indexes(INDEXES)
        except PyMongoError as exc:
            raise ServiceUnavailableError(
                f"MongoDB at {_redact(self._url)}: cannot create lock indexes: {exc}"
            ) from exc

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
        self._client = None

    def _expiry(self, now: float, ttl_seconds: int) -> dict[str, Any]:
        expires = now + ttl_seconds
        return {
            "expires_at": datetime.fromtimestamp(expires, UTC),
            "expires_at_ts": expires,
            "updated_at": datetime.fromtimestamp(round(now), UTC),  # whole seconds, as the reference
        }

    async def acquire(self, key: str, owner: str, ttl_seconds: int, value: object = None) -> bool:
        if ttl_seconds <= 0:
            raise ValueError(f"ttl_seconds must be > 0, got {ttl_seconds}")
        # Two rounds: the lock can vanish (released, or removed by the TTL monitor) between the
        # failed insert and the takeover; then the insert is tried once more.
        for _ in range(2):
            now = self._clock()
            try:
                await self._locks.insert_one(
                    {
                        "_id": key,
                        "owner": owner,
                        "value": lock_value_to_doc(value),
                        "created_at": datetime.fromtimestamp(round(now), UTC),
                        **self._expiry(now, ttl_seconds),
                    }
                )
                return True
            except DuplicateKeyError:
                pass
            taken = await self._locks.find_one_and_update(
                {"_id": key, "$or": [*_expired(now), {"owner": owner}]},
                {"$set": {"owner": owner, "value": lock_value_to_doc(value), **self._expiry(now, ttl_seconds)}},
            )
            if taken is not None:
                return True
            if await self._locks.find_one({"_id": key}, {"_id": True}) is not None:
                return False  # held by another owner, unexpired
        return False

    async def release(self, key: str, owner: str | None = None) -> bool:
        query: dict[str, Any] = {"_id": key}
        if owner is not None:
            query["owner"] = owner
        return (await self._locks.delete_one(query)).deleted_count == 1

    async def extend(self, key: str, owner: str, ttl_seconds: int) -> bool:
        if ttl_seconds <= 0:
            raise ValueError(f"ttl_seconds must be > 0, got {ttl_seconds}")
        now = self._clock()
        result = await self._locks.update_one(
            {"_id": key, "owner": owner, "expires_at_ts": {"$gt": now}},
            {"$set": self._expiry(now, ttl_seconds)},
        )
        return result.matched_count == 1

    async def holder(self, key: str) -> str | None:
        now = self._clock()
        doc = await self._locks.find_one({"_id": key}, {"owner": True, "expires_at": True, "expires_at_ts": True})
        if doc is None or _expires_at(doc) <= now:
            return None
        return str(doc.get("owner") or "(a lock without owner)")
