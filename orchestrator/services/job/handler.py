"""What a job type plugs into the engine: how to process and verify it, and its attempt limits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from orchestrator.core.errors import TransientError
from orchestrator.core.models.job import JobItem, JobType, JobVerificationStatus


@dataclass(frozen=True)
class Verification:
    status: JobVerificationStatus
    reason: str | None = None

    @classmethod
    def verified(cls) -> Verification:
        return cls(JobVerificationStatus.VERIFIED)

    @classmethod
    def pending(cls) -> Verification:
        return cls(JobVerificationStatus.PENDING)

    @classmethod
    def rejected(cls, reason: str) -> Verification:
        return cls(JobVerificationStatus.REJECTED, reason)


class FatalJobError(Exception):
    """Processing failed in a way another attempt cannot fix: the job goes straight to Failed."""


class RetryableJobError(TransientError):
    """Processing failed for a passing reason: retried with backoff within the job type's transient budget."""


class JobHandler(Protocol):
    job_type: JobType
    max_process_attempts: int
    max_verification_attempts: int
    verification_polling_delay_seconds: int

    async def check_ready_to_process(self, job: JobItem) -> int | None:
        """None when the job can run now, else the delay in seconds before asking again."""

    async def process_job(self, job: JobItem) -> str | int:
        """Do the work (may update job.metadata in place); return the external id."""

    async def verify_job(self, job: JobItem) -> Verification: ...
