"""Two local clients of one process on one SQLite file (the database and the lock client share it): what this
process commits must stay visible to other processes. Opening and closing a second descriptor on a live file
drops the process's POSIX locks on it, and another process may then delete the live -wal and -shm files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from orchestrator.clients.database.sqlite import SqliteDatabaseClient
from orchestrator.clients.lock.sqlite import SqliteLockClient
from orchestrator.core.models.job import JobItem, JobType
from orchestrator.core.models.metadata import JobMetadata, SnosMetadata

_COUNT = (
    "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
    "print(c.execute('select count(*) from jobs').fetchone()[0]); c.close()"
)


def _count_from_another_process(path: Path) -> int:
    out = subprocess.run([sys.executable, "-c", _COUNT, str(path)], capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


def _wal_exists(path: Path) -> bool:
    return Path(f"{path}-wal").exists()


async def test_writes_stay_visible_to_other_processes_with_two_clients_on_one_file(tmp_path: Path) -> None:
    path = tmp_path / "orchestrator.sqlite3"
    db, lock = SqliteDatabaseClient(path), SqliteLockClient(path)
    await db.connect()
    await lock.connect()
    try:
        for i in (1, 2):
            meta = JobMetadata(specific=SnosMetadata(snos_batch_index=i, start_block=i, end_block=i, num_blocks=1))
            await db.create_job(JobItem(internal_id=i, job_type=JobType.SNOS_RUN, metadata=meta))
            assert _count_from_another_process(path) == i
            assert _wal_exists(path)
    finally:
        await lock.close()
        await db.close()
