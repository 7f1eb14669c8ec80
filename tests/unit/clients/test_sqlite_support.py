"""The shared SQLite connection: whole transactions, rollback on error, safe under cancellation."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from orchestrator.clients.sqlite_support import SqliteConnection

SCHEMA = "CREATE TABLE IF NOT EXISTS counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)"


@pytest.fixture
async def conn(tmp_path: Path) -> AsyncIterator[SqliteConnection]:
    connection = SqliteConnection(tmp_path / "c.sqlite3", SCHEMA)
    await connection.write(lambda c: c.execute("INSERT INTO counter VALUES (1, 0)"))
    yield connection
    await connection.close()


def _read(c: sqlite3.Connection) -> int:
    return int(c.execute("SELECT n FROM counter WHERE id = 1").fetchone()["n"])


async def test_a_failing_transaction_is_rolled_back(conn: SqliteConnection) -> None:
    def fail(c: sqlite3.Connection) -> None:
        c.execute("UPDATE counter SET n = 99")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await conn.write(fail)
    assert await conn.read(_read) == 0


async def test_read_modify_write_from_many_coroutines_loses_nothing(conn: SqliteConnection) -> None:
    def increment(c: sqlite3.Connection) -> None:
        n = _read(c)
        c.execute("UPDATE counter SET n = ?", (n + 1,))

    await asyncio.gather(*(conn.write(increment) for _ in range(200)))
    assert await conn.read(_read) == 200


async def test_a_cancelled_caller_leaves_no_open_transaction(conn: SqliteConnection) -> None:
    def slow_increment(c: sqlite3.Connection) -> None:
        n = _read(c)
        import time

        time.sleep(0.2)
        c.execute("UPDATE counter SET n = ?", (n + 1,))

    task = asyncio.create_task(conn.write(slow_increment))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The transaction ran to its end in the connection's thread; the connection is usable.
    await conn.write(lambda c: c.execute("UPDATE counter SET n = n + 1"))
    assert await conn.read(_read) == 2


async def test_closed_connection_reopens_on_use(tmp_path: Path) -> None:
    connection = SqliteConnection(tmp_path / "c.sqlite3", SCHEMA)
    await connection.close()  # closing an unopened connection is fine
    await connection.write(lambda c: c.execute("INSERT INTO counter VALUES (1, 5)"))
    await connection.close()
    assert await connection.read(_read) == 5
    await connection.close()
