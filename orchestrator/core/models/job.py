"""The job record: what the engine stores for every unit of work (the reference's JobItem)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from orchestrator.core.models.metadata import JobMetadata
from orchestrator.core.models.timestamps import UtcDatetime


class JobType(StrEnum):
    SNOS_RUN = "SnosRun"
    DATA_SUBMISSION = "DataSubmission"
    PROOF_CREATION = "ProofCreation"
    PROOF_REGISTRATION = "ProofRegistration"
    STATE_TRANSITION = "StateTransition"
    AGGREGATOR = "Aggregator"


class JobStatus(StrEnum):
    CREATED = "Created"
    LOCKED_FOR_PROCESSING = "LockedForProcessing"
    PENDING_VERIFICATION = "PendingVerification"
    COMPLETED = "Completed"
    VERIFICATION_TIMEOUT = "VerificationTimeout"
    VERIFICATION_FAILED = "VerificationFailed"
    FAILED = "Failed"
    PENDING_RETRY = "PendingRetry"


#: Statuses that stop new job creation until an operator acts (the global halt).
HALTING_STATUSES: frozenset[JobStatus] = frozenset({JobStatus.FAILED, JobStatus.VERIFICATION_TIMEOUT})
#: Statuses in which a job waits for nothing but an operator.
TERMINAL_STATUSES: frozenset[JobStatus] = frozenset(
    {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.VERIFICATION_TIMEOUT}
)


def utc_now() -> datetime:
    """Now, rounded down to the second as the reference stores job timestamps."""
    return datetime.now(UTC).replace(microsecond=0)


class JobLease(BaseModel):
    """Who is processing a LockedForProcessing job, and until when (renewed while the handler runs).

    Only an expired lease may be healed, so a slow handler is never run twice at the same time.
    """

    owner: str
    expires_at: UtcDatetime


class JobItem(BaseModel):
    model_config = ConfigDict(validate_assignment=False)

    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    internal_id: int = Field(ge=0, le=2**63 - 1)
    job_type: JobType
    status: JobStatus = JobStatus.CREATED
    external_id: str | int = ""
    metadata: JobMetadata
    version: int = 0
    created_at: UtcDatetime = Field(default_factory=utc_now)
    updated_at: UtcDatetime = Field(default_factory=utc_now)
    lease: JobLease | None = None


class JobItemUpdates(BaseModel):
    """Fields to change in a compare-and-swap update; None means "leave as is".

    The lease is the exception: a lease lives only with LockedForProcessing, so an update that sets
    `status` also sets the lease to `lease` (None drops it); without `status`, a given `lease` replaces
    the stored one (a renewal) and None keeps it.
    """

    status: JobStatus | None = None
    external_id: str | int | None = None
    metadata: JobMetadata | None = None
    lease: JobLease | None = None

    def is_empty(self) -> bool:
        return self.status is None and self.external_id is None and self.metadata is None and self.lease is None

    def lease_after(self, stored: JobLease | None) -> JobLease | None:
        """The lease the stored job carries after this update."""
        if self.status is not None or self.lease is not None:
            return self.lease
        return stored


class JobVerificationStatus(StrEnum):
    PENDING = "Pending"
    VERIFIED = "Verified"
    REJECTED = "Rejected"
