"""DataSubmission: a real block's state diff becomes the blob Starknet posted, stored and published."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from orchestrator.core.models.job import JobItem, JobType
from orchestrator.core.models.metadata import DaMetadata
from orchestrator.services.da.blob import BYTES_PER_BLOB, blob_from_hex
from orchestrator.services.da.state_update import parse_nonces
from orchestrator.services.job.handler import FatalJobError, RetryableJobError, Verification
from orchestrator.services.job.handlers.data_submission import DataSubmissionHandler
from tests.fakes import FakeStorage
from tests.unit.handlers.fakes import FakeDa, FakeNode
from tests.unit.handlers.helpers import job_of

FIXTURES = Path(__file__).parents[2] / "fixtures" / "da"
BLOCK = 631861


def load(kind: str, suffix: str = "json") -> Any:
    text = (FIXTURES / kind / f"{BLOCK}.{suffix}").read_text()
    return json.loads(text) if suffix == "json" else text


def da_job(block: int = BLOCK, path: str | None = f"{BLOCK}/blob_data.txt") -> JobItem:
    return job_of(JobType.DATA_SUBMISSION, block, DaMetadata(block_number=block, blob_data_path=path))


def make(max_blobs: int = 6) -> tuple[DataSubmissionHandler, FakeNode, FakeDa, FakeStorage]:
    node = FakeNode(updates={BLOCK: load("state_update")}, nonces=parse_nonces(load("nonces")))
    da, storage = FakeDa(max_blobs=max_blobs), FakeStorage()
    # Block 631861 is a pre-0.13.3 block: its posted blob uses the old DA word layout.
    return DataSubmissionHandler(node, da, storage, starknet_version="0.13.2"), node, da, storage  # type: ignore[arg-type]


def test_limits_are_the_reference_table() -> None:
    handler, *_ = make()
    assert handler.job_type is JobType.DATA_SUBMISSION
    assert (handler.max_process_attempts, handler.max_verification_attempts) == (1, 3)
    assert handler.verification_polling_delay_seconds == 60


async def test_encodes_stores_and_publishes_the_posted_blob() -> None:
    handler, node, da, storage = make()
    job = da_job()
    assert await handler.check_ready_to_process(job) is None
    assert await handler.process_job(job) == "NA"
    expected = blob_from_hex(load("blob", "hex"))
    assert storage.objects[f"{BLOCK}/blob_data.txt"] == expected
    assert da.published == [[expected]]
    assert isinstance(job.metadata.specific, DaMetadata)
    assert job.metadata.specific.tx_hash == "NA"
    assert node.nonce_calls and {b for b, _ in node.nonce_calls} == {BLOCK}


async def test_a_pending_block_is_retried() -> None:
    handler, node, da, storage = make()
    node.updates[BLOCK] = {k: v for k, v in node.updates[BLOCK].items() if k != "block_hash"}
    with pytest.raises(RetryableJobError, match="pending"):
        await handler.process_job(da_job())
    assert storage.objects == {} and da.published == []


async def test_too_many_blobs_is_fatal_and_nothing_is_published() -> None:
    handler, _, _, storage = make()
    # 3000 storage writes -> 6000+ felts -> 2 blobs, above a 1-blob limit
    entries = [{"key": hex(k + 1), "value": "0x1"} for k in range(3000)]
    handler.node = FakeNode(  # type: ignore[assignment]
        updates={
            BLOCK: {
                "block_hash": "0x1",
                "state_diff": {"storage_diffs": [{"address": "0x1", "storage_entries": entries}]},
            }
        }
    )
    da = FakeDa(max_blobs=1)
    handler.da = da  # type: ignore[assignment]
    with pytest.raises(FatalJobError, match="2 blobs"):
        await handler.process_job(da_job())
    assert storage.objects == {} and da.published == []


async def test_a_multi_blob_diff_is_stored_as_consecutive_blobs() -> None:
    handler, _, _, storage = make()
    entries = [{"key": hex(k + 1), "value": "0x1"} for k in range(3000)]
    handler.node = FakeNode(  # type: ignore[assignment]
        updates={
            BLOCK: {
                "block_hash": "0x1",
                "state_diff": {"storage_diffs": [{"address": "0x1", "storage_entries": entries}]},
            }
        }
    )
    da = FakeDa(max_blobs=6)
    handler.da = da  # type: ignore[assignment]
    await handler.process_job(da_job())
    assert len(da.published[0]) == 2
    assert storage.objects[f"{BLOCK}/blob_data.txt"] == b"".join(da.published[0])
    assert len(storage.objects[f"{BLOCK}/blob_data.txt"]) == 2 * BYTES_PER_BLOB


async def test_a_malformed_state_update_is_fatal() -> None:
    handler, node, _, _ = make()
    node.updates[BLOCK] = {"block_hash": "0x1", "state_diff": {"storage_diffs": "nope"}}
    with pytest.raises(FatalJobError, match="cannot be encoded"):
        await handler.process_job(da_job())


async def test_missing_blob_path_is_fatal() -> None:
    handler, *_ = make()
    with pytest.raises(FatalJobError, match="blob_data_path"):
        await handler.process_job(da_job(path=None))


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("Verified", Verification.verified()),
        ("Pending", Verification.pending()),
        ("Rejected", Verification.rejected(f"the DA layer rejected the state diff of block {BLOCK} (Rejected)")),
    ],
)
async def test_verify_maps_the_da_clients_answer(status: str, expected: Verification) -> None:
    handler, _, da, _ = make()
    da.status = status
    job = da_job()
    job.external_id = "NA"
    assert await handler.verify_job(job) == expected
