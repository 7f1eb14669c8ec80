"""Errors shared by every layer. Implementations translate their library errors into these."""

from __future__ import annotations


class OrchestratorError(Exception):
    """Base of every error the orchestrator raises on purpose."""


class ConfigError(OrchestratorError):
    """A setting is missing or invalid."""


class NotFoundError(OrchestratorError):
    """A record or object does not exist."""


class JobNotFoundError(NotFoundError):
    pass


class ObjectNotFoundError(NotFoundError):
    """A storage key does not exist."""


class JobAlreadyExistsError(OrchestratorError):
    """A job with the same (job_type, internal_id) exists: creation is idempotent on that pair."""


class VersionConflictError(OrchestratorError):
    """A compare-and-swap on the job `version` lost: someone else wrote the job first."""


class EmptyUpdateError(OrchestratorError):
    """An update carried no field to change."""


class InvalidJobStatusError(OrchestratorError):
    """The requested operation is not allowed in the job's current status."""


class LockHeldError(OrchestratorError):
    """A distributed lock is held by another owner."""


class TransientError(OrchestratorError):
    """A failure that passes by itself (network, timeout, 5xx, throttling, open circuit, lag): retrying
    later, with backoff, may succeed. Anything not marked transient (or classified so) is permanent."""


class ServiceUnavailableError(TransientError):
    """An external service did not answer, or answered that it is down; retrying may help."""


class LeaseLostError(OrchestratorError):
    """The job's lease was taken over or could not be renewed: this worker no longer owns the job."""


class HandlerTimeoutError(TransientError):
    """A job handler ran longer than its job type's timeout and was cancelled."""


class JobCreationHaltedError(OrchestratorError):
    """A Failed or VerificationTimeout job halts new work from its block on; this job would cover it."""
