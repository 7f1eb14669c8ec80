"""The Starknet settlement test server, under the name the tests know it by: it lives in infra/devnet
(the L3 devnet settles on it), as `infra/devnet/starknet_core.py`."""

from __future__ import annotations

from infra.devnet.starknet_core import (
    CONTRACT_ERROR,
    CONTRACT_NOT_FOUND,
    FELT_MAX,
    GET_STATE,
    INVALID_PARAMS,
    INVALID_TRANSACTION_NONCE,
    METHOD_NOT_FOUND,
    SPEC_VERSION,
    STARK_PRIME,
    TXN_HASH_NOT_FOUND,
    UPDATE_STATE,
    VALIDATION_FAILURE,
    CoreState,
    ProgramInfo,
    RecordedInvoke,
    RpcFailure,
    StarknetCoreServer,
    bridge_fact,
    bridge_output,
)

#: The tests' name for the settlement test server.
StarknetRpcDouble = StarknetCoreServer

__all__ = [
    "CONTRACT_ERROR",
    "CONTRACT_NOT_FOUND",
    "FELT_MAX",
    "GET_STATE",
    "INVALID_PARAMS",
    "INVALID_TRANSACTION_NONCE",
    "METHOD_NOT_FOUND",
    "SPEC_VERSION",
    "STARK_PRIME",
    "TXN_HASH_NOT_FOUND",
    "UPDATE_STATE",
    "VALIDATION_FAILURE",
    "CoreState",
    "ProgramInfo",
    "RecordedInvoke",
    "RpcFailure",
    "StarknetCoreServer",
    "StarknetRpcDouble",
    "bridge_fact",
    "bridge_output",
]
