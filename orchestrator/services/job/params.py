"""The engine's settings and the signal it gives its consumer to redeliver a message."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from orchestrator.core.models.job import JobStatus, JobType
from orchestrator.core.models.queue import Layer

PROCESSABLE = frozenset({JobStatus.CREATED, JobStatus.VERIFICATION_FAILED, JobStatus.PENDING_RETRY})
VERIFIABLE = frozenset({JobStatus.PENDING_VERIFICATION, JobStatus.VERIFICATION_TIMEOUT, JobStatus.VERIFICATION_FAILED})

#: Handler timeouts when none is configured: SNOS runs the whole OS over a batch (the command
#: runner's own limit is an hour); the other handlers submit or register and return in minutes.
DEFAULT_HANDLER_TIMEOUTS: Mapping[JobType, int] = {
    JobType.SNOS_RUN: 3660,
    JobType.PROOF_CREATION: 600,
    JobType.PROOF_REGISTRATION: 600,
    JobType.DATA_SUBMISSION: 900,
    JobType.STATE_TRANSITION: 900,
    JobType.AGGREGATOR: 1800,
}


class RetryLater(Exception):
    """Give the message back to its queue; it is redelivered after `delay_seconds`.

    This spends one of the message's receives (the dead-letter budget): only real attempts do it.
    """

    def __init__(self, reason: str, delay_seconds: int) -> None:
        super().__init__(reason)
        self.delay_seconds = delay_seconds


@dataclass(frozen=True)
class EngineParams:
    orchestrator_version: str
    #: settlement layout: which batch a StateTransition's internal id names (the halt maps it to blocks)
    layer: Layer = Layer.L2
    #: per job type: a handler running longer is cancelled; the attempt counts as a transient failure
    handler_timeout_seconds: Mapping[JobType, int] = field(default_factory=dict)
    #: how long a lease lasts without renewal; a crashed worker's job is healed this long after its last beat
    lease_seconds: int = 60
    #: how often a running job's lease is renewed (seconds; None: a third of `lease_seconds`)
    lease_renew_seconds: float | None = None
    #: a job write failing transiently (database locked, connection lost) is retried for this long
    write_retry_seconds: float = 20
    #: delay before a failed (permanent) process attempt is retried through the queue's redelivery
    retry_delay_seconds: int = 10
    #: how long a message may stay invisible; the lost-message sweep waits at least this long
    visibility_timeout_seconds: int = 360
    #: transient failures are retried with exponential backoff (+ jitter) within this time per job type
    transient_budget_seconds: Mapping[JobType, int] = field(default_factory=dict)
    default_transient_budget_seconds: int = 900
    transient_initial_delay_seconds: float = 2
    transient_max_delay_seconds: float = 60
    #: delay of the first verification after processing; later checks back off to the polling delay
    first_verification_delay_seconds: Mapping[JobType, int] = field(default_factory=dict)
    default_first_verification_delay_seconds: int = 1
    #: per job type: total verification time before VerificationTimeout (default: the reference's
    #: max_verification_attempts x verification_polling_delay_seconds)
    verification_budget_seconds: Mapping[JobType, int] = field(default_factory=dict)

    def handler_timeout(self, job_type: JobType) -> int:
        return self.handler_timeout_seconds.get(job_type, DEFAULT_HANDLER_TIMEOUTS.get(job_type, 600))

    def transient_budget(self, job_type: JobType) -> int:
        return self.transient_budget_seconds.get(job_type, self.default_transient_budget_seconds)

    def first_verification_delay(self, job_type: JobType) -> int:
        return self.first_verification_delay_seconds.get(job_type, self.default_first_verification_delay_seconds)

    def renew_every(self) -> float:
        return self.lease_renew_seconds if self.lease_renew_seconds is not None else self.lease_seconds / 3
