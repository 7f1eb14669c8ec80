"""The devnet's L2 side: which recorded blocks it serves and settles, and the state before them.

The first recorded block (2935726) is served but not settled: settling a range reads the state at
the block before it (squashing, compression) and the OS output's previous block hash is the parent
block's hash, which only a recorded block can answer. So the devnet settles from the second recorded
block on, and the core contract starts at the first recorded block's state. The state before the
recording that the recorded batch files pin down (contract 0x2's older aliases) is the node's base
(`recorded_base`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from infra.devnet.l1 import L2State
from infra.devnet.recorded_base import recorded_base_storage
from infra.devnet.recorded_chain import (
    SEPOLIA_BATCH_FIRST_BLOCK,
    BaseState,
    RecordedBlock,
    RecordedChain,
    load_state_updates,
)

RECORDING = Path("batch") / "9662264" / "state_updates.json"
#: The recording's Starknet version (its state diffs carry `migrated_compiled_classes`, new in 0.14.1).
STARKNET_VERSION = "0.14.1"
FIRST_SETTLED_BLOCK = SEPOLIA_BATCH_FIRST_BLOCK + 1


@dataclass(frozen=True)
class DevnetBlocks:
    chain: RecordedChain
    genesis: L2State  # the state the core contract starts from
    first: int  # the first block to settle
    last: int  # the last block to settle, also the node's head

    @property
    def count(self) -> int:
        return self.last - self.first + 1


def _hex(value: object, what: str) -> int:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise ValueError(f"the recording's {what} is not a hex felt: {value!r}")
    return int(value, 16)


def genesis_state(block: RecordedBlock) -> L2State:
    update = block.state_update
    return L2State(
        root=_hex(update.get("new_root"), f"new_root of block {block.number}"),
        block_number=block.number,
        block_hash=_hex(update.get("block_hash"), f"block_hash of block {block.number}"),
    )


def devnet_blocks(fixtures: Path, count: int) -> DevnetBlocks:
    """The recorded chain capped at the `count`-th settled block."""
    recorded = load_state_updates(fixtures / RECORDING, SEPOLIA_BATCH_FIRST_BLOCK, STARKNET_VERSION)
    available = len(recorded) - 1
    if not 1 <= count <= available:
        raise ValueError(f"--blocks must be between 1 and {available} (the recording's settleable blocks)")
    last = FIRST_SETTLED_BLOCK + count - 1
    # Blocks past the last one are left out rather than hidden: nothing can ask for them by hash either.
    blocks = [b for b in recorded if b.number <= last]
    # the state before the recording that its batch files determine: the aliases of keys aliased earlier
    base = BaseState(storage=recorded_base_storage((fixtures / RECORDING).parent))
    return DevnetBlocks(
        chain=RecordedChain(blocks, latest=last, base=base),
        genesis=genesis_state(recorded[0]),
        first=FIRST_SETTLED_BLOCK,
        last=last,
    )
