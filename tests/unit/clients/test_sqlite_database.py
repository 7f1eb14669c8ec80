"""The SQLite database's own details: file mode, schema, and that the query patterns use indexes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from orchestrator.clients.database.sqlite import SqliteDatabaseClient


@pytest.fixture
async def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "db.sqlite3"
    client = SqliteDatabaseClient(path)
    await client.connect()
    await client.connect()  # idempotent
    await client.close()
    again = SqliteDatabaseClient(path)  # the schema script runs again on an existing file
    await again.connect()
    await again.close()
    return path


def plan(path: Path, sql: str, params: tuple = ()) -> str:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()
    return " | ".join(row[-1] for row in rows)


def test_wal_mode(db_path: Path) -> None:
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.parametrize(
    ("sql", "params"),
    [
        # get_jobs_without_successor: the anti-join probes the unique (job_type, internal_id) index
        (
            "SELECT a.data FROM jobs a WHERE a.job_type = ? AND a.status = ? AND a.internal_id >= ? AND NOT EXISTS"
            " (SELECT 1 FROM jobs b WHERE b.job_type = ? AND b.internal_id = a.internal_id)"
            " ORDER BY a.internal_id",
            ("SnosRun", "Completed", 0, "ProofCreation"),
        ),
        ("SELECT data FROM jobs WHERE job_type = ? ORDER BY internal_id DESC LIMIT 1", ("SnosRun",)),
        ("SELECT data FROM jobs WHERE status = ? AND updated_at < ? ORDER BY updated_at", ("Created", 0.0)),
        ("SELECT data FROM jobs WHERE id = ?", ("x",)),
        ("SELECT data FROM jobs WHERE block_number = ?", (5,)),
        ("SELECT data FROM snos_batches WHERE aggregator_batch_index = ? ORDER BY batch_index", (1,)),
        ("SELECT * FROM block_batch_lookups WHERE block_number = ?", (1,)),
    ],
)
def test_query_patterns_use_indexes(db_path: Path, sql: str, params: tuple) -> None:
    text = plan(db_path, sql, params)
    assert "SCAN" not in text.replace("SCAN CONSTANT ROW", ""), text
