"""Which blocks form which batches, and which jobs to create next: the triggers of the worker queue.

- `batching.BatchingLoop` cuts the chain into batches under a distributed lock, one loop for both
  kinds; `aggregator_batching.AggregatorBatching` (L2) and `snos_batching.SnosBatching` (L2, L3) give
  it their policy (range, ordered close rules, growing, saving); `close_open` closes the open batches
  by hand, under the same locks;
- `job_triggers` holds the job-creating checks (Snos, Proving, ProofRegistration, DataSubmission,
  Aggregator, UpdateState); `storage_cleanup.StorageCleanup` tags settled artifacts for expiry;
- `registry.build_triggers` maps each `WorkerTrigger` of a layer to its check, for the
  `TriggerDispatcher`.
"""
