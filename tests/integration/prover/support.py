"""Shared settings of the prover client tests."""

from __future__ import annotations

from pathlib import Path

from orchestrator.clients.http import BreakerConfig, RetryConfig
from orchestrator.clients.prover.atlantic import AtlanticOptions
from tests.doubles.atlantic import AtlanticDouble

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
# Fast backoff so retry tests take milliseconds: 10 ms doubling, 0.3 s budget.
FAST_RETRY = RetryConfig(base_delay=0.01, timeout=0.3)
LENIENT_BREAKER = BreakerConfig(failure_threshold=100, reset_timeout=60)


def atlantic_options(double: AtlanticDouble, **overrides: object) -> AtlanticOptions:
    values: dict[str, object] = {
        "service_url": double.url,
        "api_key": double.api_key,
        "network": "TESTNET",
        "artifacts_base_url": double.artifacts_url,
        "cairo_verifier_program_hash": "0x1234",
    }
    values.update(overrides)
    return AtlanticOptions(**values)  # type: ignore[arg-type]
