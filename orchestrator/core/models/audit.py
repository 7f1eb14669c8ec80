"""One admin action as the audit log keeps it: who (a token id, never the token), what, when, result."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from pydantic import BaseModel, Field

from orchestrator.core.models.timestamps import UtcDatetime


class AuditEntry(BaseModel):
    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    #: to the microsecond (job timestamps are whole seconds), so entries of one second keep their order
    at: UtcDatetime = Field(default_factory=lambda: datetime.now(UTC))
    #: a label derived from the token (a short hash), or "anonymous"; never the token itself
    actor: str
    #: HTTP method and route, e.g. "POST /admin/jobs/retry/failed"
    action: str
    #: the object acted on (a job id, "Failed jobs", ...), if any
    target: str | None = None
    #: the HTTP status of the answer
    status: int
    #: a short outcome, e.g. "ok", "2 retried, 0 failed", or the error message
    result: str = ""
    trace_id: str | None = None
