import pytest

from orchestrator.clients.prover.atlantic import (
    BucketStatus,
    QueryStatus,
    job_size,
    map_bucket_status,
    map_query_status,
)
from orchestrator.clients.prover.sharp import CairoJobStatus, SharpStatus, map_sharp_status
from orchestrator.core.madara.prover import ProverError, TaskStatusKind, TaskType

P, S, F = TaskStatusKind.PROCESSING, TaskStatusKind.SUCCEEDED, TaskStatusKind.FAILED


@pytest.mark.parametrize(
    ("status", "validation_done", "expected"),
    [
        ("PROCESSED", None, S),
        ("IN_PROGRESS", True, S),
        ("IN_PROGRESS", False, P),
        ("IN_PROGRESS", None, P),
        ("NOT_CREATED", None, P),
        ("FAILED", None, F),
        ("INVALID", None, F),
        ("UNKNOWN", None, F),
    ],
)
def test_sharp_job_mapping(status: str, validation_done: bool | None, expected: TaskStatusKind) -> None:
    reply = SharpStatus(CairoJobStatus(status), validation_done=validation_done)
    assert map_sharp_status(TaskType.JOB, "0xabc", reply, None).kind is expected


@pytest.mark.parametrize(
    ("status", "on_chain", "expected"),
    [
        ("PROCESSED", True, S),
        ("PROCESSED", False, P),
        ("PROCESSED", None, S),
        ("IN_PROGRESS", None, P),
        ("NOT_CREATED", None, P),
        ("FAILED", None, F),
        ("INVALID", None, F),
        ("UNKNOWN", None, F),
    ],
)
def test_sharp_aggregation_mapping(status: str, on_chain: bool | None, expected: TaskStatusKind) -> None:
    reply = SharpStatus(CairoJobStatus(status))
    assert map_sharp_status(TaskType.AGGREGATION, "0xabc", reply, on_chain).kind is expected


def test_validation_done_does_not_finish_an_aggregation() -> None:
    reply = SharpStatus(CairoJobStatus.IN_PROGRESS, validation_done=True)
    assert map_sharp_status(TaskType.AGGREGATION, "0xabc", reply, None).kind is P


def test_sharp_failure_reasons_carry_the_details() -> None:
    failed = map_sharp_status(TaskType.JOB, "k", SharpStatus(CairoJobStatus.FAILED, error_log="trace"), None)
    assert failed.reason == "trace"
    invalid = SharpStatus(CairoJobStatus.INVALID, invalid_reason="INVALID_CAIRO_PIE_FILE_FORMAT", error_log="x")
    reason = map_sharp_status(TaskType.JOB, "k", invalid, None).reason or ""
    assert "INVALID_CAIRO_PIE_FILE_FORMAT" in reason and "x" in reason


def test_sharp_status_parsing() -> None:
    assert SharpStatus.from_json({}).status is CairoJobStatus.UNKNOWN
    parsed = SharpStatus.from_json({"status": "IN_PROGRESS", "validation_done": True})
    assert parsed == SharpStatus(CairoJobStatus.IN_PROGRESS, validation_done=True)
    with pytest.raises(ProverError, match="unknown status 'WEIRD'"):
        SharpStatus.from_json({"status": "WEIRD"})
    with pytest.raises(ProverError):
        SharpStatus.from_json(["PROCESSED"])


@pytest.mark.parametrize(
    ("status", "expected"),
    [("RECEIVED", P), ("IN_PROGRESS", P), ("DONE", S), ("FAILED", F)],
)
def test_atlantic_query_mapping(status: str, expected: TaskStatusKind) -> None:
    assert map_query_status(QueryStatus(status)).kind is expected


@pytest.mark.parametrize(
    ("status", "expected"),
    [("OPEN", P), ("IN_PROGRESS", P), ("DONE", S), ("FAILED", F)],
)
def test_atlantic_bucket_mapping(status: str, expected: TaskStatusKind) -> None:
    assert map_bucket_status(BucketStatus(status)).kind is expected


@pytest.mark.parametrize(
    ("n_steps", "size"),
    [
        (0, "S"),
        (12_000_000, "S"),
        (12_999_999, "S"),
        (13_000_000, "M"),
        (29_999_999, "M"),
        (30_000_000, "L"),
        (None, "L"),
    ],
)
def test_declared_job_size(n_steps: int | None, size: str) -> None:
    assert job_size(n_steps) == size
