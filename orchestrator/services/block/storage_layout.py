"""Storage keys of the artifacts (the reference's storage layout, §2)."""

from __future__ import annotations

CAIRO_PIE_FILE = "cairo_pie.zip"
SNOS_OUTPUT_FILE = "snos_output.json"
PROGRAM_OUTPUT_FILE = "program_output.txt"
ON_CHAIN_DATA_FILE = "onchain_data.json"
BLOB_DATA_FILE = "blob_data.txt"
PROOF_FILE = "proof.json"
PROOF_PART2_FILE = "proof_part2.json"
DA_SEGMENT_FILE = "da_blob.json"

#: Lifecycle tag of settled artifacts; the bucket's expiry rule matches it.
EXPIRY_TAG_KEY = "expire-after-settlement"
EXPIRY_TAG_VALUE = "true"


def snos_file(snos_batch_index: int, name: str) -> str:
    """Root-level artifacts of a SNOS batch (on L3 the index is the block number)."""
    return f"{snos_batch_index}/{name}"


def batch_artifact_file(batch_index: int, name: str) -> str:
    return f"artifacts/batch/{batch_index}/{name}"


def batch_blob_dir(batch_index: int) -> str:
    return f"blob/batch/{batch_index}"


def batch_blob_file(batch_index: int, blob_index: int) -> str:
    """Blobs of an aggregator batch are numbered from 1."""
    return f"{batch_blob_dir(batch_index)}/{blob_index}.txt"


def batch_state_update_file(batch_index: int) -> str:
    return f"state_update/batch/{batch_index}.json"
