"""SQLite files are private whatever the umask: folder 700, database (and its -wal, -shm) 600."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.clients.database.sqlite import SqliteDatabaseClient
from orchestrator.core.models.audit import AuditEntry


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_database_folder_and_files_are_private(tmp_path: Path, permissive_umask: None) -> None:
    folder = tmp_path / "data"
    db = SqliteDatabaseClient(folder / "orchestrator.sqlite3")
    await db.connect()
    try:
        await db.add_audit_entry(AuditEntry(actor="token-x", action="POST /x", status=200))
        files = sorted(folder.iterdir())
        assert {p.name for p in files} >= {"orchestrator.sqlite3", "orchestrator.sqlite3-wal"}
        assert mode(folder) == 0o700
        assert {p.name: mode(p) for p in files} == {p.name: 0o600 for p in files}
    finally:
        await db.close()
