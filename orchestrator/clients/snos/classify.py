"""Which failed SNOS runs are worth running again: the reference's message classification.

A run that failed on the way to the node (RPC, transport, rate limits, timeouts, a block the node
does not have yet or that is still pending) may succeed later; a run that failed inside the OS
(execution, serialization, a contract or class that does not exist) fails the same way every time.
"""

from __future__ import annotations

_BLOCK_NOT_FOUND = ("blocknotfound", "block not found")

# Checked before the retryable markers: these name data that will never appear.
_FATAL_MARKERS = (
    "contractnotfound",
    "contract not found",
    "classhashnotfound",
    "class hash not found",
    "class not found",
    "undeclaredclasshash",
    "missing proof field",
    "invalid proof structure",
    "invalidtreeheight",
    "emptyproof",
    "invalidchildnodehash",
    "non-existence proof",
)

_RETRYABLE_MARKERS = (
    "rpcerror",
    "rpc error",
    "providererror",
    "ratelimited",
    "rate limited",
    "timeout",
    "timed out",
    "request error",
    "transport error",
    "transporterror",
    "connection reset",
    "connection refused",
    "connection aborted",
    "connection timed out",
    "error trying to connect",
    "dns error",
    "temporarily unavailable",
    "503",
    "429",
    "pendingblock",
    "still pending",
    "invalid response format",
    "proofconversionerror",
    "failed to convert rpc response",
)


def is_retryable_message(message: str) -> bool:
    """True when the error text says the run may succeed if tried again."""
    lower = message.lower()
    if any(marker in lower for marker in _BLOCK_NOT_FOUND):
        return True
    if any(marker in lower for marker in _FATAL_MARKERS):
        return False
    return any(marker in lower for marker in _RETRYABLE_MARKERS)
