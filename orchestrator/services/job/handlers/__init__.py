"""The per-type job handlers of the pipeline (the reference's `worker/event_handler/jobs/*`).

One module per job type (`snos`, `proving`, `proof_registration`, `data_submission`, `aggregator`,
`state_transition`), the artifact formats they share (`bincode`, `felts`, `stark_proof`), and
`registry.build_handlers`, which assembles the {JobType: handler} mapping of one layer. The storage
key layout is `orchestrator.services.storage_layout`, shared with batching.
"""
