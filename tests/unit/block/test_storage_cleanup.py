"""StorageCleanup: settled artifacts are tagged for expiry, once, and only fully tagged jobs are marked."""

from __future__ import annotations

from datetime import UTC, datetime

from orchestrator.core.errors import ServiceUnavailableError
from orchestrator.core.models.batch import SnosBatch, SnosBatchStatus
from orchestrator.core.models.job import JobItem, JobStatus, JobType
from orchestrator.core.models.metadata import JobMetadata, SettlementContext, StateUpdateMetadata
from orchestrator.core.models.queue import Layer
from orchestrator.services.block.storage_cleanup import LOCK_KEY, StorageCleanup
from tests.unit.block.conftest import Env

TAG = {"expire-after-settlement": "true"}


class FlakyTagging:
    """Local storage whose tagging fails for some keys (a throttled or unreachable S3)."""

    def __init__(self, inner: object, failing: set[str]) -> None:
        self.inner = inner
        self.failing = failing

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    async def tag(self, key: str, tags: dict[str, str]) -> None:
        if key in self.failing:
            raise ServiceUnavailableError(f"tagging {key} failed")
        await self.inner.tag(key, tags)  # type: ignore[attr-defined]


async def settled_job(env: Env, internal_id: int, status: JobStatus = JobStatus.COMPLETED) -> JobItem:
    metadata = JobMetadata(specific=StateUpdateMetadata(context=SettlementContext(type="Batch", to_settle=internal_id)))
    return await env.db.create_job(
        JobItem(internal_id=internal_id, job_type=JobType.STATE_TRANSITION, status=status, metadata=metadata)
    )


async def put_all(env: Env, keys: list[str]) -> None:
    for key in keys:
        await env.storage.put(key, b"x")


def cleanup(env: Env, layer: Layer = Layer.L2, storage: object | None = None) -> StorageCleanup:
    return StorageCleanup(env.db, storage or env.storage, env.lock, layer, clock=env.clock, lock_owner="test")  # type: ignore[arg-type]


L2_KEYS = [
    "artifacts/batch/4/cairo_pie.zip",
    "artifacts/batch/4/da_blob.json",
    "artifacts/batch/4/program_output.txt",
    "blob/batch/4/1.txt",
    "blob/batch/4/2.txt",
    "blob/batch/4/9.txt",  # beyond the reference's fixed range: found by listing
    "state_update/batch/4.json",
    "7/cairo_pie.zip",
    "7/snos_output.json",
    "7/program_output.txt",
    "8/cairo_pie.zip",
]
UNRELATED = ["artifacts/batch/5/cairo_pie.zip", "blob/batch/40/1.txt", "9/cairo_pie.zip", "state_update/batch/5.json"]


async def test_l2_tags_batch_artifacts_blobs_and_child_snos_artifacts(env: Env) -> None:
    for index, start in ((7, 0), (8, 5)):
        await env.db.update_or_create_snos_batch(
            SnosBatch(
                index=index,
                aggregator_batch_index=4,
                start_block=start,
                end_block=start + 4,
                status=SnosBatchStatus.CLOSED,
            )
        )
    await put_all(env, L2_KEYS + UNRELATED)
    job = await settled_job(env, 4)
    await cleanup(env).run()
    for key in L2_KEYS:
        assert await env.storage.get_tags(key) == TAG, key
    for key in UNRELATED:
        assert await env.storage.get_tags(key) == {}, key
    stored = await env.db.get_job_by_id(job.id)
    assert stored is not None and isinstance(stored.metadata.specific, StateUpdateMetadata)
    assert stored.metadata.specific.storage_artifacts_tagged_at == datetime.fromtimestamp(env.clock(), UTC)
    assert await env.db.get_jobs_without_storage_artifacts_tagged(10) == []
    assert await env.lock.holder(LOCK_KEY) is None


async def test_l3_tags_the_root_artifacts_of_the_settled_index(env: Env) -> None:
    keys = ["3/cairo_pie.zip", "3/snos_output.json", "3/program_output.txt", "3/blob_data.txt", "3/proof.json"]
    keys.append("3/proof_part2.json")
    await put_all(env, [*keys, "30/cairo_pie.zip"])
    await settled_job(env, 3)
    await cleanup(env, Layer.L3).run()
    for key in keys:
        assert await env.storage.get_tags(key) == TAG, key
    assert await env.storage.get_tags("30/cairo_pie.zip") == {}


async def test_missing_artifacts_count_as_done(env: Env) -> None:
    await settled_job(env, 1)
    await cleanup(env).run()
    assert await env.db.get_jobs_without_storage_artifacts_tagged(10) == []


async def test_only_completed_settlements_are_cleaned(env: Env) -> None:
    await put_all(env, ["state_update/batch/2.json"])
    await settled_job(env, 2, status=JobStatus.PENDING_VERIFICATION)
    await cleanup(env).run()
    assert await env.storage.get_tags("state_update/batch/2.json") == {}


async def test_a_failed_tag_leaves_the_job_for_the_next_run(env: Env) -> None:
    await put_all(env, ["state_update/batch/1.json", "state_update/batch/2.json", "artifacts/batch/1/cairo_pie.zip"])
    first = await settled_job(env, 1)
    await settled_job(env, 2)
    flaky = FlakyTagging(env.storage, {"artifacts/batch/1/cairo_pie.zip"})
    await cleanup(env, storage=flaky).run()
    pending = await env.db.get_jobs_without_storage_artifacts_tagged(10)
    assert [j.id for j in pending] == [first.id]  # job 2 was still done
    assert await env.storage.get_tags("state_update/batch/2.json") == TAG
    flaky.failing.clear()
    await cleanup(env, storage=flaky).run()
    assert await env.db.get_jobs_without_storage_artifacts_tagged(10) == []
    assert await env.storage.get_tags("artifacts/batch/1/cairo_pie.zip") == TAG


async def test_runs_are_bounded_and_skipped_while_the_lock_is_held(env: Env) -> None:
    for i in range(1, 4):
        await settled_job(env, i)
    assert await env.lock.acquire(LOCK_KEY, "other", 300)
    await cleanup(env).run()
    assert len(await env.db.get_jobs_without_storage_artifacts_tagged(10)) == 3
    await env.lock.release(LOCK_KEY, "other")
    bounded = StorageCleanup(env.db, env.storage, env.lock, Layer.L2, clock=env.clock, max_jobs_per_run=2)
    await bounded.run()
    assert len(await env.db.get_jobs_without_storage_artifacts_tagged(10)) == 1
