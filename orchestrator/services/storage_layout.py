"""Where artifacts live in storage (the reference's `types/storage_layout.rs`), for everyone.

Batching writes the batch blobs and squashed state update here, the job triggers fill job metadata
paths from here, the handlers read the paths the metadata does not carry (the L3 proofs) from here,
and storage cleanup tags these keys for expiry:

- per SNOS batch (the block number on L3): `{i}/{file}`;
- per aggregator batch: `artifacts/batch/{i}/{file}`, blobs `blob/batch/{i}/{j}.txt` (j from 1) and
  the squashed state update `state_update/batch/{i}.json`.
"""

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


# --- per SNOS batch (= block on L3) ---------------------------------------------------------------
def snos_file(snos_batch: int, name: str) -> str:
    """Root-level artifacts of a SNOS batch."""
    return f"{snos_batch}/{name}"


def cairo_pie_path(snos_batch: int) -> str:
    return snos_file(snos_batch, CAIRO_PIE_FILE)


def snos_output_path(snos_batch: int) -> str:
    return snos_file(snos_batch, SNOS_OUTPUT_FILE)


def program_output_path(snos_batch: int) -> str:
    return snos_file(snos_batch, PROGRAM_OUTPUT_FILE)


def on_chain_data_path(snos_batch: int) -> str:
    return snos_file(snos_batch, ON_CHAIN_DATA_FILE)


def blob_data_path(snos_batch: int) -> str:
    return snos_file(snos_batch, BLOB_DATA_FILE)


def proof_path(snos_batch: int) -> str:
    return snos_file(snos_batch, PROOF_FILE)


def proof_part2_path(snos_batch: int) -> str:
    return snos_file(snos_batch, PROOF_PART2_FILE)


# --- per aggregator batch ----------------------------------------------------------------------------
def aggregator_artifacts_dir(batch: int) -> str:
    return f"artifacts/batch/{batch}"


def batch_artifact_file(batch: int, name: str) -> str:
    return f"{aggregator_artifacts_dir(batch)}/{name}"


def aggregator_cairo_pie_path(batch: int) -> str:
    return batch_artifact_file(batch, CAIRO_PIE_FILE)


def aggregator_da_segment_path(batch: int) -> str:
    return batch_artifact_file(batch, DA_SEGMENT_FILE)


def aggregator_program_output_path(batch: int) -> str:
    return batch_artifact_file(batch, PROGRAM_OUTPUT_FILE)


def aggregator_snos_output_path(batch: int) -> str:
    return batch_artifact_file(batch, SNOS_OUTPUT_FILE)


def aggregator_proof_path(batch: int) -> str:
    return batch_artifact_file(batch, PROOF_FILE)


def batch_blob_dir(batch: int) -> str:
    return f"blob/batch/{batch}"


def batch_blob_path(batch: int, blob_number: int) -> str:
    """Blobs of an aggregator batch are numbered from 1, as the reference's batching writes them."""
    if blob_number < 1:
        raise ValueError(f"batch blobs are numbered from 1, got {blob_number}")
    return f"{batch_blob_dir(batch)}/{blob_number}.txt"


def squashed_state_update_path(batch: int) -> str:
    return f"state_update/batch/{batch}.json"
