"""The version stamped on jobs, batches and queue messages (the reference uses its crate version)."""

ORCHESTRATOR_VERSION = "0.1.0"
