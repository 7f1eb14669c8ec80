"""Contract of the audit log part of DatabaseClient: append-only, newest first, filter by actor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from orchestrator.core.clients.database import DatabaseClient
from orchestrator.core.models.audit import AuditEntry

T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def entry(actor: str, minutes: int, action: str = "POST /admin/jobs/retry/failed") -> AuditEntry:
    return AuditEntry(actor=actor, action=action, at=T0 + timedelta(minutes=minutes), status=200, result="ok")


async def test_entries_come_back_newest_first_and_whole(database: DatabaseClient) -> None:
    first, second, third = entry("token-aa", 1), entry("token-bb", 2), entry("token-aa", 3, "POST /x")
    for e in (second, first, third):
        await database.add_audit_entry(e)
    got = await database.get_audit_entries(10)
    assert [e.id for e in got] == [third.id, second.id, first.id]
    assert got[0] == third, "every field survives the round trip"
    assert [e.id for e in await database.get_audit_entries(2)] == [third.id, second.id]


async def test_entries_filter_by_actor_and_limit_zero_is_empty(database: DatabaseClient) -> None:
    await database.add_audit_entry(entry("token-aa", 1))
    await database.add_audit_entry(entry("token-bb", 2))
    assert [e.actor for e in await database.get_audit_entries(10, actor="token-aa")] == ["token-aa"]
    assert await database.get_audit_entries(0) == []
