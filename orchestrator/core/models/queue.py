"""Queue names, worker triggers and message bodies."""

from __future__ import annotations

import json
import uuid
from enum import StrEnum

from orchestrator.core.models.job import JobType


class Layer(StrEnum):
    L2 = "l2"
    L3 = "l3"


class QueueType(StrEnum):
    SNOS_JOB_PROCESSING = "snos_job_processing"
    SNOS_JOB_VERIFICATION = "snos_job_verification"
    PROVING_JOB_PROCESSING = "proving_job_processing"
    PROVING_JOB_VERIFICATION = "proving_job_verification"
    PROOF_REGISTRATION_JOB_PROCESSING = "proof_registration_job_processing"
    PROOF_REGISTRATION_JOB_VERIFICATION = "proof_registration_job_verification"
    DATA_SUBMISSION_JOB_PROCESSING = "data_submission_job_processing"
    DATA_SUBMISSION_JOB_VERIFICATION = "data_submission_job_verification"
    UPDATE_STATE_JOB_PROCESSING = "update_state_job_processing"
    UPDATE_STATE_JOB_VERIFICATION = "update_state_job_verification"
    AGGREGATOR_JOB_PROCESSING = "aggregator_job_processing"
    AGGREGATOR_JOB_VERIFICATION = "aggregator_job_verification"
    JOB_HANDLE_FAILURE = "job_handle_failure"
    WORKER_TRIGGER = "worker_trigger"
    PRIORITY_PROCESSING_QUEUE = "priority_processing_queue"
    PRIORITY_VERIFICATION_QUEUE = "priority_verification_queue"


class WorkerTrigger(StrEnum):
    SNOS = "Snos"
    PROVING = "Proving"
    PROOF_REGISTRATION = "ProofRegistration"
    DATA_SUBMISSION = "DataSubmission"
    UPDATE_STATE = "UpdateState"
    AGGREGATOR = "Aggregator"
    AGGREGATOR_BATCHING = "AggregatorBatching"
    SNOS_BATCHING = "SnosBatching"
    STORAGE_CLEANUP = "StorageCleanup"

    @classmethod
    def parse(cls, body: str) -> WorkerTrigger:
        """EventBridge may deliver the name JSON-quoted; surrounding quotes are stripped."""
        return cls(body.strip().strip('"').strip())


JOB_QUEUES: dict[JobType, tuple[QueueType, QueueType]] = {
    JobType.SNOS_RUN: (QueueType.SNOS_JOB_PROCESSING, QueueType.SNOS_JOB_VERIFICATION),
    JobType.PROOF_CREATION: (QueueType.PROVING_JOB_PROCESSING, QueueType.PROVING_JOB_VERIFICATION),
    JobType.PROOF_REGISTRATION: (
        QueueType.PROOF_REGISTRATION_JOB_PROCESSING,
        QueueType.PROOF_REGISTRATION_JOB_VERIFICATION,
    ),
    JobType.DATA_SUBMISSION: (
        QueueType.DATA_SUBMISSION_JOB_PROCESSING,
        QueueType.DATA_SUBMISSION_JOB_VERIFICATION,
    ),
    JobType.STATE_TRANSITION: (
        QueueType.UPDATE_STATE_JOB_PROCESSING,
        QueueType.UPDATE_STATE_JOB_VERIFICATION,
    ),
    JobType.AGGREGATOR: (QueueType.AGGREGATOR_JOB_PROCESSING, QueueType.AGGREGATOR_JOB_VERIFICATION),
}


def process_queue(job_type: JobType) -> QueueType:
    return JOB_QUEUES[job_type][0]


def verify_queue(job_type: JobType) -> QueueType:
    return JOB_QUEUES[job_type][1]


_COMMON_QUEUES = (
    QueueType.JOB_HANDLE_FAILURE,
    QueueType.WORKER_TRIGGER,
    QueueType.SNOS_JOB_PROCESSING,
    QueueType.SNOS_JOB_VERIFICATION,
    QueueType.PROVING_JOB_PROCESSING,
    QueueType.PROVING_JOB_VERIFICATION,
    QueueType.UPDATE_STATE_JOB_PROCESSING,
    QueueType.UPDATE_STATE_JOB_VERIFICATION,
    QueueType.PRIORITY_PROCESSING_QUEUE,
    QueueType.PRIORITY_VERIFICATION_QUEUE,
)

LAYER_QUEUES: dict[Layer, tuple[QueueType, ...]] = {
    Layer.L2: (*_COMMON_QUEUES, QueueType.AGGREGATOR_JOB_PROCESSING, QueueType.AGGREGATOR_JOB_VERIFICATION),
    Layer.L3: (
        *_COMMON_QUEUES,
        QueueType.PROOF_REGISTRATION_JOB_PROCESSING,
        QueueType.PROOF_REGISTRATION_JOB_VERIFICATION,
        QueueType.DATA_SUBMISSION_JOB_PROCESSING,
        QueueType.DATA_SUBMISSION_JOB_VERIFICATION,
    ),
}

LAYER_TRIGGERS: dict[Layer, tuple[WorkerTrigger, ...]] = {
    Layer.L2: (
        WorkerTrigger.AGGREGATOR_BATCHING,
        WorkerTrigger.SNOS_BATCHING,
        WorkerTrigger.SNOS,
        WorkerTrigger.PROVING,
        WorkerTrigger.UPDATE_STATE,
        WorkerTrigger.AGGREGATOR,
        WorkerTrigger.STORAGE_CLEANUP,
    ),
    Layer.L3: (
        WorkerTrigger.SNOS_BATCHING,
        WorkerTrigger.SNOS,
        WorkerTrigger.PROVING,
        WorkerTrigger.PROOF_REGISTRATION,
        WorkerTrigger.DATA_SUBMISSION,
        WorkerTrigger.UPDATE_STATE,
        WorkerTrigger.STORAGE_CLEANUP,
    ),
}

#: Queues with a redrive policy to the failure queue (every job queue, including the priority ones).
DLQ_QUEUES: frozenset[QueueType] = frozenset(
    q for q in QueueType if q not in (QueueType.JOB_HANDLE_FAILURE, QueueType.WORKER_TRIGGER)
)
MAX_RECEIVE_COUNT = 5
DEFAULT_VISIBILITY_TIMEOUT = 300 + 60  # above the default stale-lock timeout, as the reference


def visibility_timeouts(base: int, state_transition_timeout: int) -> dict[QueueType, int]:
    """Per-queue visibility as the reference (§5): the state update queues keep a message hidden long
    enough for a settlement transaction to finalise; the priority verification queue twice the base."""
    update_state = max(3 * base, state_transition_timeout + 600)
    timeouts = dict.fromkeys(QueueType, base)
    timeouts[QueueType.UPDATE_STATE_JOB_PROCESSING] = update_state
    timeouts[QueueType.PRIORITY_PROCESSING_QUEUE] = update_state
    timeouts[QueueType.PRIORITY_VERIFICATION_QUEUE] = 2 * base
    return timeouts


def encode_job_message(job_id: uuid.UUID) -> str:
    return json.dumps({"id": str(job_id)})


def decode_job_message(body: str) -> uuid.UUID:
    """Raises ValueError for a body that is not {"id": "<uuid>"}."""
    try:
        data = json.loads(body)
        return uuid.UUID(str(data["id"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"not a job message: {body[:80]!r}") from exc
