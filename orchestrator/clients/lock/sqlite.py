"""A lock with expiry in one SQLite table (the local profile's MongoDB `locks` collection).

An expired lock is simply a row whose `expires_at` has passed: the next `acquire` takes it over,
so nothing has to sweep expired rows (MongoDB's TTL monitor does that there, once a minute).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from orchestrator.clients.sqlite_support import DEFAULT_BUSY_TIMEOUT_SECONDS, SqliteConnection

SCHEMA = """
CREATE TABLE IF NOT EXISTS locks (
    key TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    value TEXT,
    expires_at REAL NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
)
"""


class SqliteLockClient:
    """LockClient on one SQLite file (may be the database's file); several processes may share it."""

    def __init__(
        self,
        path: str | Path,
        busy_timeout_seconds: float = DEFAULT_BUSY_TIMEOUT_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = SqliteConnection(path, SCHEMA, busy_timeout_seconds)
        self._clock = clock

    async def connect(self) -> None:
        await self._db.open()

    async def close(self) -> None:
        await self._db.close()

    async def acquire(self, key: str, owner: str, ttl_seconds: int, value: object = None) -> bool:
        if ttl_seconds <= 0:
            raise ValueError(f"ttl_seconds must be > 0, got {ttl_seconds}")
        encoded = json.dumps(value)

        def take(conn: sqlite3.Connection) -> bool:
            now = self._clock()
            row = conn.execute("SELECT owner, expires_at FROM locks WHERE key = ?", (key,)).fetchone()
            if row is not None and row["expires_at"] > now and row["owner"] != owner:
                return False
            conn.execute(
                "INSERT INTO locks (key, owner, value, expires_at, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET owner = excluded.owner,"
                " value = excluded.value, expires_at = excluded.expires_at, updated_at = excluded.updated_at,"
                " created_at = CASE WHEN locks.owner = excluded.owner THEN locks.created_at"
                " ELSE excluded.created_at END",
                (key, owner, encoded, now + ttl_seconds, now, now),
            )
            return True

        return await self._db.write(take)

    async def release(self, key: str, owner: str | None = None) -> bool:
        def drop(conn: sqlite3.Connection) -> bool:
            if owner is None:
                return conn.execute("DELETE FROM locks WHERE key = ?", (key,)).rowcount == 1
            return conn.execute("DELETE FROM locks WHERE key = ? AND owner = ?", (key, owner)).rowcount == 1

        return await self._db.write(drop)

    async def extend(self, key: str, owner: str, ttl_seconds: int) -> bool:
        if ttl_seconds <= 0:
            raise ValueError(f"ttl_seconds must be > 0, got {ttl_seconds}")

        def push(conn: sqlite3.Connection) -> bool:
            now = self._clock()
            cursor = conn.execute(
                "UPDATE locks SET expires_at = ?, updated_at = ? WHERE key = ? AND owner = ? AND expires_at > ?",
                (now + ttl_seconds, now, key, owner, now),
            )
            return cursor.rowcount == 1

        return await self._db.write(push)

    async def holder(self, key: str) -> str | None:
        now = self._clock()
        row = await self._db.read(
            lambda conn: conn.execute("SELECT owner FROM locks WHERE key = ? AND expires_at > ?", (key, now)).fetchone()
        )
        return row["owner"] if row is not None else None
