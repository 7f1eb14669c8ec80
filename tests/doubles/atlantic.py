"""The Atlantic double, under the name the tests know it by: it lives in infra/devnet (the L3 devnet
proves with it), as `infra/devnet/atlantic.py`."""

from __future__ import annotations

from infra.devnet.atlantic import (
    BUCKET_STATUSES,
    QUERY_STATUSES,
    STEPS,
    AtlanticDouble,
    Proving,
    SubmittedQuery,
)

__all__ = ["BUCKET_STATUSES", "QUERY_STATUSES", "STEPS", "AtlanticDouble", "Proving", "SubmittedQuery"]
