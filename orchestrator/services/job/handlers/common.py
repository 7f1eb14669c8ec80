"""Small helpers every handler uses: typed metadata access and required-field checks."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel

from orchestrator.core.models.job import JobItem
from orchestrator.core.models.metadata import ProvingMetadata
from orchestrator.services.job.handler import FatalJobError

M = TypeVar("M", bound=BaseModel)

#: The tx hash recorded when no transaction was needed (the reference's EMPTY_TX_HASH).
ZERO_TX_HASH = "0x" + "00" * 32


def specific(job: JobItem, kind: type[M]) -> M:
    """The job's type-specific metadata, which must be of `kind`; a job created with other metadata
    can never be processed, so that is fatal."""
    meta = job.metadata.specific
    if not isinstance(meta, kind):
        raise FatalJobError(
            f"{job.job_type} job {job.internal_id} has {type(meta).__name__} metadata, expected {kind.__name__}"
        )
    return meta


def required(value: str | None, what: str, job: JobItem) -> str:
    """A metadata path or id the job cannot do without: its creator must have set it."""
    if not value:
        raise FatalJobError(f"{job.job_type} job {job.internal_id}: {what} is not set in the job metadata")
    return value


def input_path(job: JobItem, kind: str) -> str:
    """The path of a proving job's input, which must be of `kind` ("CairoPie" or "Proof")."""
    meta = specific(job, ProvingMetadata)
    if meta.input_path is None:
        raise FatalJobError(f"{job.job_type} job {job.internal_id}: input_path is not set in the job metadata")
    if meta.input_path.kind != kind:
        raise FatalJobError(
            f"{job.job_type} job {job.internal_id}: expected a {kind} input, got {meta.input_path.kind}"
        )
    return meta.input_path.path


def external_id(job: JobItem) -> str:
    """The id processing returned (a prover task id, ...); verification cannot poll without it."""
    value = str(job.external_id)
    if not value:
        raise ValueError(f"{job.job_type} job {job.internal_id} has no external id to verify")
    return value
