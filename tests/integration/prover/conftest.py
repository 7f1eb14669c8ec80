"""Prover clients against the Atlantic and SHARP doubles (in-process aiohttp servers on loopback)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from orchestrator.clients.prover.atlantic import AtlanticProverClient
from orchestrator.clients.prover.sharp import SharpProverClient, sharp_ssl_context
from tests.doubles.atlantic import AtlanticDouble
from tests.doubles.sharp import MtlsFiles, SharpDouble, make_mtls_files
from tests.integration.prover.support import FAST_RETRY, FIXTURES, LENIENT_BREAKER, atlantic_options


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
