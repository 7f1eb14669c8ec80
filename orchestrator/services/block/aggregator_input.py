"""A conservative upper bound of the aggregator program's input size, in felts.

Each child (SNOS batch) contributes its full OS output; squashing savings are deliberately not
modelled, so a batch closes before the bootloader input could outgrow `max_aggregator_input_size`:

    1 (n_tasks) + children * (2 wrapper + 14 fixed OS output words) + message_segment_length
    + 6 * modified contracts + 3 * storage updates + 3 * declared classes
"""

from __future__ import annotations

from orchestrator.services.da.state_update import StateUpdate

N_TASKS_WORDS = 1
CHILD_WRAPPER_WORDS = 2
OS_OUTPUT_FIXED_WORDS = 14
CONTRACT_HEADER_WORDS = 6
STORAGE_UPDATE_WORDS = 3
CLASS_UPDATE_WORDS = 3


def full_output_counts(update: StateUpdate) -> tuple[int, int, int]:
    """(modified contracts, storage updates, declared classes) of a state update."""
    diff = update.state_diff
    contracts = {d.address for d in diff.storage_diffs}
    contracts.update(n.contract_address for n in diff.nonces)
    contracts.update(d.address for d in diff.deployed_contracts)
    contracts.update(r.contract_address for r in diff.replaced_classes)
    storage_updates = sum(len(d.storage_entries) for d in diff.storage_diffs)
    declared = len(diff.declared_classes) + len(diff.deprecated_declared_classes) + len(diff.migrated_compiled_classes)
    return len(contracts), storage_updates, declared


def input_size_upper_bound(n_children: int, message_segment_length: int, update: StateUpdate) -> int:
    contracts, storage_updates, declared = full_output_counts(update)
    return (
        N_TASKS_WORDS
        + n_children * (CHILD_WRAPPER_WORDS + OS_OUTPUT_FIXED_WORDS)
        + message_segment_length
        + contracts * CONTRACT_HEADER_WORDS
        + storage_updates * STORAGE_UPDATE_WORDS
        + declared * CLASS_UPDATE_WORDS
    )


def single_block_bound(update: StateUpdate, message_segment_length: int) -> int:
    """The bound of a batch holding just this block."""
    return input_size_upper_bound(1, message_segment_length, update)


def added_block_bound(update: StateUpdate, message_segment_length: int) -> int:
    """What one more block adds to a batch's bound (the n_tasks word is counted once per batch)."""
    return single_block_bound(update, message_segment_length) - N_TASKS_WORDS
