"""The indexes of the MongoDB store's collections: the reference's, plus those our queries need."""

from __future__ import annotations

from pymongo import ASCENDING, DESCENDING, IndexModel

from orchestrator.clients.database.mongo_documents import ID_TEXT
from orchestrator.clients.database.mongodb_common import (
    AGGREGATOR_BATCHES,
    AUDIT_LOG,
    BLOCK_BATCH_LOOKUPS,
    JOBS,
    SNOS_BATCHES,
)

INDEXES: dict[str, list[IndexModel]] = {
    JOBS: [
        IndexModel([("id", ASCENDING)], name="id_1", unique=True),
        IndexModel([("job_type", ASCENDING), ("internal_id", DESCENDING)], name="job_type_internal_id", unique=True),
        IndexModel(
            [("job_type", ASCENDING), ("status", ASCENDING), ("internal_id", DESCENDING)],
            name="job_type_status_internal_id",
        ),
        IndexModel([("status", ASCENDING)], name="status_1"),
        IndexModel([("internal_id", ASCENDING)], name="internal_id_1"),
        IndexModel([("status", ASCENDING), ("updated_at_ts", ASCENDING)], name="status_updated_at_ts"),
        IndexModel([(ID_TEXT, ASCENDING)], name="id_text_1"),  # not sparse: also finds documents to adopt
        IndexModel([("status", ASCENDING), ("updated_at", ASCENDING)], name="status_updated_at"),
        IndexModel([("metadata.specific.block_number", ASCENDING)], name="specific_block_number"),
        # get_jobs_without_storage_artifacts_tagged: an equality on null also bounds the missing field.
        IndexModel(
            [
                ("job_type", ASCENDING),
                ("status", ASCENDING),
                ("metadata.specific.storage_artifacts_tagged_at", ASCENDING),
                ("internal_id", ASCENDING),
            ],
            name="job_type_status_tagged_at",
        ),
    ],
    SNOS_BATCHES: [
        IndexModel([("index", ASCENDING)], name="index_unique", unique=True),
        IndexModel([("aggregator_batch_index", ASCENDING)], name="aggregator_batch_index_1"),
        IndexModel([("status", ASCENDING)], name="status_1"),
        IndexModel([("created_at", DESCENDING)], name="created_at_-1"),
        IndexModel([("start_block", ASCENDING), ("end_block", ASCENDING)], name="block_range"),
        IndexModel([("start_block", ASCENDING)], name="start_block_unique", unique=True),
        IndexModel([("end_block", ASCENDING)], name="end_block_unique", unique=True),
    ],
    AGGREGATOR_BATCHES: [
        IndexModel([("index", ASCENDING)], name="index_unique", unique=True),
        IndexModel([("status", ASCENDING)], name="status_1"),
        IndexModel([("created_at", DESCENDING)], name="created_at_-1"),
        IndexModel([("start_block", ASCENDING), ("end_block", ASCENDING)], name="block_range"),
        IndexModel([("start_block", ASCENDING)], name="start_block_unique", unique=True),
        IndexModel([("end_block", ASCENDING)], name="end_block_unique", unique=True),
    ],
    BLOCK_BATCH_LOOKUPS: [
        IndexModel([("block_number", ASCENDING)], name="block_number_unique", unique=True),
        IndexModel([("snos_batch_index", ASCENDING)], name="snos_batch_index_1"),
        IndexModel([("aggregator_batch_index", ASCENDING)], name="aggregator_batch_index_1"),
    ],
    AUDIT_LOG: [
        IndexModel([("at_ts", DESCENDING)], name="at_ts_-1"),
        IndexModel([("actor", ASCENDING), ("at_ts", DESCENDING)], name="actor_at_ts"),
    ],
}
