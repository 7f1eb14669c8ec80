"""One SQLite connection driven by one worker thread, shared by the local clients.

Why not aiosqlite: it runs each statement in its thread, so two coroutines sharing a connection
would interleave their statements inside one another's transactions. Here a whole transaction is
one plain function that runs in the connection's thread, so it is atomic with respect to the other
coroutines of the process, and a cancelled caller cannot leave a transaction half open.

Several processes may open the same file: the database runs in WAL mode (readers never block the
writer), waits up to `busy_timeout` for the write lock, and every read-modify-write starts with
BEGIN IMMEDIATE, so it holds the write lock from its first read and cannot lose an update.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

#: How long a writer waits for another process's write lock before giving up.
DEFAULT_BUSY_TIMEOUT_SECONDS = 30.0


class SqliteConnection:
    """Opens lazily on first use; `schema` (CREATE … IF NOT EXISTS statements) runs once on open."""

    def __init__(
        self,
        path: str | Path,
        schema: str = "",
        busy_timeout_seconds: float = DEFAULT_BUSY_TIMEOUT_SECONDS,
    ) -> None:
        self._path = Path(path)
        self._schema = schema
        self._busy_timeout_ms = int(busy_timeout_seconds * 1000)
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None
        self._open_lock = asyncio.Lock()

    @property
    def path(self) -> Path:
        return self._path

    async def open(self) -> None:
        async with self._open_lock:
            if self._conn is not None:
                return
            executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"sqlite-{self._path.name}")
            try:
                self._conn = await asyncio.get_running_loop().run_in_executor(executor, self._connect)
            except BaseException:
                executor.shutdown(wait=False)
                raise
            self._executor = executor

    def _connect(self) -> sqlite3.Connection:
        # Private: the folder 700 and the file 600 before SQLite creates it (its -wal and -shm files take
        # the database file's mode), whatever the umask.
        self._path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Only a file that does not exist yet: closing a second descriptor on a live database would drop
        # this process's POSIX locks on it, and another process could then delete the live -wal/-shm files.
        with contextlib.suppress(FileExistsError):
            os.close(os.open(self._path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600))
        # isolation_level=None: no implicit transactions; every transaction is explicit below.
        conn = sqlite3.connect(self._path, isolation_level=None, timeout=self._busy_timeout_ms / 1000)
        try:
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
            conn.execute("PRAGMA journal_mode = WAL")
            # NORMAL is durable against a process crash in WAL mode (only an OS crash may lose the
            # last commits), and much cheaper than FULL.
            conn.execute("PRAGMA synchronous = NORMAL")
            if self._schema:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    for statement in _split_statements(self._schema):
                        conn.execute(statement)
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
        except BaseException:
            conn.close()
            raise
        return conn

    async def close(self) -> None:
        async with self._open_lock:
            conn, executor = self._conn, self._executor
            self._conn, self._executor = None, None
            if conn is None or executor is None:
                return
            await asyncio.get_running_loop().run_in_executor(executor, conn.close)
            executor.shutdown(wait=True)

    async def _run(self, fn: Callable[[sqlite3.Connection], T], begin: str | None) -> T:
        if self._conn is None:
            await self.open()
        conn, executor = self._conn, self._executor
        if conn is None or executor is None:  # closed concurrently
            raise RuntimeError(f"SQLite connection to {self._path} is closed")

        def job() -> T:
            if begin is None:
                return fn(conn)
            conn.execute(begin)
            try:
                result = fn(conn)
            except BaseException:
                if conn.in_transaction:  # some errors (e.g. a full disk) roll back by themselves
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result

        return await asyncio.get_running_loop().run_in_executor(executor, job)

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` in a BEGIN IMMEDIATE transaction (holds the write lock from the start)."""
        return await self._run(fn, "BEGIN IMMEDIATE")

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` in a read transaction: one consistent snapshot for all its statements."""
        return await self._run(fn, "BEGIN DEFERRED")


def _split_statements(script: str) -> list[str]:
    """The schema scripts hold only simple DDL, so ';' separates statements."""
    return [s.strip() for s in script.split(";") if s.strip()]
