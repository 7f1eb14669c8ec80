"""Node URLs carry API keys (query string, user-info, `/v3/<key>` path segments): errors and logs
show them redacted."""

from __future__ import annotations

import pytest

from orchestrator.clients.node.jsonrpc import JsonRpcClient
from orchestrator.core.errors import ServiceUnavailableError
from orchestrator.core.redact import redact_url, scrub

KEY = "s3cr3tApiKey0123456789abcdef"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"https://rpc.example/v3/{KEY}", "https://rpc.example/v3/***"),
        (f"https://rpc.example/rpc?apikey={KEY}&x=1", "https://rpc.example/rpc?***"),
        (f"https://user:{KEY}@rpc.example:8545/", "https://***@rpc.example:8545/"),
        ("http://127.0.0.1:9944", "http://127.0.0.1:9944"),
        ("http://[::1]:9944/rpc/v0_8", "http://[::1]:9944/rpc/v0_8"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_scrub_replaces_the_url_and_its_query_in_library_messages() -> None:
    url = f"https://rpc.example/rpc?apikey={KEY}"
    text = f"Cannot connect to {url} (apikey={KEY})"
    assert KEY not in scrub(text, url)


async def test_node_errors_do_not_carry_the_key() -> None:
    # Nothing listens on port 9 (discard): the connection is refused at once.
    client = JsonRpcClient(f"http://127.0.0.1:9/rpc?apikey={KEY}", timeout_seconds=2)
    try:
        with pytest.raises(ServiceUnavailableError) as caught:
            await client.call("starknet_blockNumber")
    finally:
        await client.close()
    assert KEY not in str(caught.value) and "127.0.0.1:9" in str(caught.value)
