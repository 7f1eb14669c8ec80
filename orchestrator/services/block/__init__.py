"""Which blocks form which batches, and which jobs to create next: the triggers of the worker queue.

- `aggregator_batching.AggregatorBatching` (L2) and `snos_batching.SnosBatching` (L2, L3) cut the
  chain into batches under a distributed lock;
- `job_triggers` holds the job-creating checks (Snos, Proving, ProofRegistration, DataSubmission,
  Aggregator, UpdateState); `storage_cleanup.StorageCleanup` tags settled artifacts for expiry;
- `registry.build_triggers` maps each `WorkerTrigger` of a layer to its check, for the
  `TriggerDispatcher`.
"""
