"""The recorded-data Madara node, under the name the tests know it by: it lives in infra/devnet.

`python -m tests.doubles.madara_node` still starts it as a process (same options as
`python -m infra.devnet.recorded_node`).
"""

from __future__ import annotations

import sys

from infra.devnet.recorded_chain import (
    BLOCK_NOT_FOUND,
    CONTRACT_NOT_FOUND,
    INVALID_PARAMS,
    METHOD_NOT_FOUND,
    SEPOLIA_BATCH_FIRST_BLOCK,
    SEPOLIA_CHAIN_ID,
    SEPOLIA_CONTRACT_ADDRESSES,
    BaseState,
    RecordedBlock,
    RecordedChain,
    RpcFailure,
    load_fixture_chain,
    load_single_block,
    load_state_updates,
)
from infra.devnet.recorded_node import RecordedMadaraNode, main

#: The tests' name for the recorded node.
MadaraNodeDouble = RecordedMadaraNode

__all__ = [
    "BLOCK_NOT_FOUND",
    "CONTRACT_NOT_FOUND",
    "INVALID_PARAMS",
    "METHOD_NOT_FOUND",
    "SEPOLIA_BATCH_FIRST_BLOCK",
    "SEPOLIA_CHAIN_ID",
    "SEPOLIA_CONTRACT_ADDRESSES",
    "BaseState",
    "MadaraNodeDouble",
    "RecordedBlock",
    "RecordedChain",
    "RecordedMadaraNode",
    "RpcFailure",
    "load_fixture_chain",
    "load_single_block",
    "load_state_updates",
    "main",
]

if __name__ == "__main__":
    sys.exit(main())
