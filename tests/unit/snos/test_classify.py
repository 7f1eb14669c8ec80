"""The reference's retryable / fatal classification of SNOS failure messages."""

from __future__ import annotations

import pytest

from orchestrator.clients.snos.classify import is_retryable_message


@pytest.mark.parametrize(
    "message",
    [
        "Block processing failed for block 2222689: RPC client error: BlockNotFound",
        "Transaction execution error: Failed to read from state: BlockNotFound.",
        "Provider error: transport error",
        "Encountered a request error: connection reset by peer",
        "RPC error: rate limited",
        "HTTP status 429 Too Many Requests",
        "upstream returned 503",
        "request timed out",
        "Block is still pending",
        "Failed to convert RPC response",
    ],
)
def test_retryable(message: str) -> None:
    assert is_retryable_message(message)


@pytest.mark.parametrize(
    "message",
    [
        "OS execution failed: cairo execution failed",
        "Serialization error: invalid felt",
        "RPC error: ContractNotFound",
        "StarknetError(ClassHashNotFound)",
        "class not found for hash 0x123",
        "No active connection for contract",
        "",
    ],
)
def test_fatal(message: str) -> None:
    assert not is_retryable_message(message)
