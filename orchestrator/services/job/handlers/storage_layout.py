"""Where job artifacts live in storage (the reference's `types/storage_layout.rs`).

SNOS-batch artifacts sit under the SNOS batch index (which is the block number on L3); aggregator
artifacts under `artifacts/batch/{i}`; the batching step's blobs and squashed state update under
`blob/batch/{i}` and `state_update/batch/{i}.json`. Job creators fill the metadata paths from here,
and handlers that need a path the metadata does not carry (the L3 proofs) take it from here too.
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


# --- per SNOS batch (= block on L3) ---------------------------------------------------------------
def cairo_pie_path(snos_batch: int) -> str:
    return f"{snos_batch}/{CAIRO_PIE_FILE}"


def snos_output_path(snos_batch: int) -> str:
    return f"{snos_batch}/{SNOS_OUTPUT_FILE}"


def program_output_path(snos_batch: int) -> str:
    return f"{snos_batch}/{PROGRAM_OUTPUT_FILE}"


def on_chain_data_path(snos_batch: int) -> str:
    return f"{snos_batch}/{ON_CHAIN_DATA_FILE}"


def blob_data_path(snos_batch: int) -> str:
    return f"{snos_batch}/{BLOB_DATA_FILE}"


def proof_path(snos_batch: int) -> str:
    return f"{snos_batch}/{PROOF_FILE}"


def proof_part2_path(snos_batch: int) -> str:
    return f"{snos_batch}/{PROOF_PART2_FILE}"


# --- per aggregator batch ----------------------------------------------------------------------------
def aggregator_artifacts_dir(batch: int) -> str:
    return f"artifacts/batch/{batch}"


def aggregator_cairo_pie_path(batch: int) -> str:
    return f"{aggregator_artifacts_dir(batch)}/{CAIRO_PIE_FILE}"


def aggregator_da_segment_path(batch: int) -> str:
    return f"{aggregator_artifacts_dir(batch)}/{DA_SEGMENT_FILE}"


def aggregator_program_output_path(batch: int) -> str:
    return f"{aggregator_artifacts_dir(batch)}/{PROGRAM_OUTPUT_FILE}"


def aggregator_snos_output_path(batch: int) -> str:
    return f"{aggregator_artifacts_dir(batch)}/{SNOS_OUTPUT_FILE}"


def aggregator_proof_path(batch: int) -> str:
    return f"{aggregator_artifacts_dir(batch)}/{PROOF_FILE}"


def batch_blob_dir(batch: int) -> str:
    return f"blob/batch/{batch}"


def batch_blob_path(batch: int, blob_number: int) -> str:
    """Blobs of an aggregator batch are numbered from 1, as the reference's batching writes them."""
    if blob_number < 1:
        raise ValueError(f"batch blobs are numbered from 1, got {blob_number}")
    return f"{batch_blob_dir(batch)}/{blob_number}.txt"


def squashed_state_update_path(batch: int) -> str:
    return f"state_update/batch/{batch}.json"
