"""A distributed lock with expiry, so that one process at a time runs a singleton worker."""

from __future__ import annotations

from typing import Protocol


class LockClient(Protocol):
    async def connect(self) -> None:
        """Open the connection and create the table/collection and indexes (idempotent)."""

    async def close(self) -> None: ...

    async def acquire(self, key: str, owner: str, ttl_seconds: int, value: object = None) -> bool:
        """True when `owner` now holds `key`; False when another owner holds an unexpired lock.
        Re-acquiring a lock one already holds renews it; an expired lock is taken over."""

    async def release(self, key: str, owner: str | None = None) -> bool:
        """True when a lock was removed (expired or not); with `owner`, only that owner's lock."""

    async def extend(self, key: str, owner: str, ttl_seconds: int) -> bool:
        """True when `owner` still held the (unexpired) lock and its expiry moved to now + ttl."""

    async def holder(self, key: str) -> str | None:
        """The owner of an unexpired lock, or None."""
