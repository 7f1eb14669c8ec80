"""Data availability: state diff -> felts -> blobs, byte for byte as Starknet posts them.

Entry points:
- `encoder.encode_block_state_update(update, block_number, version, nonce_source)`: the
  data-submission job's per-block felts (missing nonces from the L2 node).
- `batch.compress_state_update(update, end_block, version, reader)`: a batch's felts (stateful
  compression from 0.13.4, batch encoder, stateless compression from 0.13.3);
  `batch.encode_and_compress` is its offline part.
- `squash.squash(updates, pre_range_block, reader)`: merge consecutive state updates.
- `blob.felts_to_blobs(felts)` / `blob.blob_to_felts(blob)`: FFT to and from 131072-byte blobs.
- `state_update.StateUpdate.from_json`: typed, validated `starknet_getStateUpdate` results.

The KZG material of settlement lives with the settlement client: `clients/settlement/blob_proofs.py`
(proofs at x_0) and `clients/settlement/blob_tx.py` (blob-transaction sidecars).
"""
