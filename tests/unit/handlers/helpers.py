"""Job builders for the handler tests."""

from __future__ import annotations

from orchestrator.core.models.job import JobItem, JobType
from orchestrator.core.models.metadata import JobMetadata, JobSpecificMetadata


def job_of(job_type: JobType, internal_id: int, specific: JobSpecificMetadata, **common: object) -> JobItem:
    metadata = JobMetadata(specific=specific)
    for key, value in common.items():
        setattr(metadata.common, key, value)
    return JobItem(internal_id=internal_id, job_type=job_type, metadata=metadata)
