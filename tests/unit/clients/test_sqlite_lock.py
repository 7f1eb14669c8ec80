"""SQLite lock on a controlled clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.clients.lock.sqlite import SqliteLockClient
from tests.fakes import FakeClock


async def test_expiry_and_takeover_follow_the_clock(tmp_path: Path) -> None:
    clock = FakeClock()
    lock = SqliteLockClient(tmp_path / "l.sqlite3", clock=clock)
    assert await lock.acquire("k", "a", 60, value={"Boolean": False})
    clock.advance(59)
    assert not await lock.acquire("k", "b", 60)
    assert await lock.extend("k", "a", 10)  # now expires at 69
    clock.advance(10)
    assert await lock.holder("k") is None
    assert not await lock.extend("k", "a", 10)
    assert await lock.acquire("k", "b", 60)
    assert await lock.holder("k") == "b"
    with pytest.raises(ValueError, match="ttl_seconds must be > 0"):
        await lock.acquire("k", "b", 0)
    await lock.close()


async def test_lock_and_database_can_share_one_file(tmp_path: Path) -> None:
    from orchestrator.clients.database.sqlite import SqliteDatabaseClient

    path = tmp_path / "orchestrator.sqlite3"
    db, lock = SqliteDatabaseClient(path), SqliteLockClient(path)
    await db.connect()
    await lock.connect()
    assert await lock.acquire("k", "a", 60)
    assert await db.get_latest_snos_batch() is None
    await lock.close()
    await db.close()
