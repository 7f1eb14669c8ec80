"""Prover clients against the Atlantic and SHARP doubles (in-process aiohttp servers on loopback)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from orchestrator.clients.http import BreakerConfig, RetryConfig
from orchestrator.clients.prover.atlantic import AtlanticOptions, AtlanticProverClient
from orchestrator.clients.prover.sharp import SharpProverClient, sharp_ssl_context
from tests.doubles.atlantic import AtlanticDouble
from tests.doubles.sharp import MtlsFiles, SharpDouble, make_mtls_files

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
# Fast backoff so retry tests take milliseconds: 10 ms doubling, 0.3 s budget.
FAST_RETRY = RetryConfig(base_delay=0.01, timeout=0.3)
LENIENT_BREAKER = BreakerConfig(failure_threshold=100, reset_timeout=60)


@pytest.fixture(scope="session")
def pie() -> bytes:
    return (FIXTURES / "pie" / "fibonacci.zip").read_bytes()


@pytest.fixture
async def atlantic_double() -> AsyncIterator[AtlanticDouble]:
    double = AtlanticDouble()
    await double.start()
    try:
        yield double
    finally:
        await double.stop()


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


@pytest.fixture
async def atlantic(atlantic_double: AtlanticDouble) -> AsyncIterator[AtlanticProverClient]:
    client = AtlanticProverClient(atlantic_options(atlantic_double), retry=FAST_RETRY, breaker=LENIENT_BREAKER)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture(scope="session")
def mtls(tmp_path_factory: pytest.TempPathFactory) -> MtlsFiles:
    return make_mtls_files(tmp_path_factory.mktemp("sharp-mtls"))


@pytest.fixture
async def sharp_double(mtls: MtlsFiles) -> AsyncIterator[SharpDouble]:
    double = SharpDouble(mtls.server_context)
    await double.start()
    try:
        yield double
    finally:
        await double.stop()


@pytest.fixture
async def sharp(sharp_double: SharpDouble, mtls: MtlsFiles) -> AsyncIterator[SharpProverClient]:
    client = SharpProverClient(
        sharp_double.url,
        sharp_double.customer_id,
        ssl_context=sharp_ssl_context(mtls.client_crt, mtls.client_key, mtls.ca_crt),
        fact_checker=sharp_double.verifier,
        retry=FAST_RETRY,
        breaker=LENIENT_BREAKER,
    )
    try:
        yield client
    finally:
        await client.close()


# anvil fixtures for the fact-registry tests (until tests/conftest.py registers the plugin).
from tests.plugins.anvil import anvil  # noqa: E402

__all__ = ["anvil"]
