"""DEVNET STAND-IN for StarkWare's Cairo aggregator program: one consistent output for a whole batch.

Nothing here runs or proves the aggregator. As `clients/snos/devnet.py` does for the Starknet OS,
it writes what the aggregator (Starknet OS >= 0.13.2 output layout, KZG DA) would output for an
aggregator batch, so that settlement has real, self-consistent data for the batch's blobs:

    [0] initial state root   (old_root of the first block)
    [1] final state root     (new_root of the last block)
    [2] previous block number (start - 1, the felt P - 1 for "none"), [3] last block number
    [4] previous block hash  (parent_hash of the first block), [5] last block hash
    [6] OS program hash = the devnet OS stand-in's (the program the children ran)
    [7] Starknet OS config hash (the children's; they must agree)
    [8] use_kzg_da = 1, [9] full_output = 0 (the aggregator never outputs the full state diff)
    [10] x_0, [11] n_blobs, commitments and y values of the batch's blobs (`kzg_section`)
    then the children's L2->L1 messages and L1->L2 messages, each segment prefixed by its length.

The header comes from the node, as the devnet SNOS runner's does; the children's outputs must chain
from it to the batch's end (roots, block numbers, block hashes), as the real aggregator asserts.

The PIE's output segment is what the real aggregator's is: the children's outputs echoed in the
bootloader layout `[n_children, (len + 2, os_program_hash, child output...)...]`, then the output
above. Its program is the devnet stand-in program, so its program hash is `DEVNET_PROGRAM_HASH`;
the fact is keccak(DEVNET_PROGRAM_HASH ‖ keccak(own output)), the one-page GPS fact of the
aggregator's own output: what `TestStarknetCore` checks for the settled program output, and what
`services/proof` computes from the PIE for an aggregator.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from orchestrator.clients.snos.classify import is_retryable_message
from orchestrator.clients.snos.devnet import DEVNET_PROGRAM, DEVNET_PROGRAM_HASH, devnet_fact, kzg_section
from orchestrator.clients.snos.pie_writer import write_cairo_pie
from orchestrator.core.errors import ServiceUnavailableError
from orchestrator.core.madara.aggregator import AggregatorError, AggregatorOutput, AggregatorRequest
from orchestrator.core.madara.felt import STARK_PRIME, hex_felt
from orchestrator.core.madara.node import BlockNotFoundError, L2NodeClient, L2NodeError
from orchestrator.crypto import kzg

#: Output layout (Starknet OS >= 0.13.2).
HEADER_WORDS = 10
CONFIG_HASH_INDEX = 7
N_BLOBS_INDEX = 11
#: felts per blob: a DA segment longer than the blobs' capacity cannot be what they carry
FELTS_PER_BLOB = 4096
_CHAINED = (
    (0, 1, "state root"),
    (2, 3, "block number"),
    (4, 5, "block hash"),
)


@dataclass(frozen=True)
class _Child:
    header: list[int]
    messages_to_l1: list[int]
    messages_to_l2: list[int]


def _hex_felt(value: Any, what: str) -> int:
    try:
        return hex_felt(value)
    except ValueError:
        raise AggregatorError(f"devnet aggregator: {what} is not a hex felt: {value!r}", retryable=False) from None


def _parse_child(index: int, output: list[int]) -> _Child:
    """Header and message segments of a child's (SNOS) output in the KZG DA layout."""

    def word(at: int, what: str) -> int:
        if at >= len(output):
            raise AggregatorError(
                f"devnet aggregator: child {index}'s output has no {what} (index {at}, {len(output)} words)",
                retryable=False,
            )
        return output[at]

    if word(8, "use_kzg_da flag") != 1:
        raise AggregatorError(f"devnet aggregator: child {index} did not use KZG DA", retryable=False)
    to_l1_at = N_BLOBS_INDEX + 1 + 4 * word(N_BLOBS_INDEX, "blob count")
    to_l2_at = to_l1_at + 1 + word(to_l1_at, "L2->L1 message count")
    end = to_l2_at + 1 + word(to_l2_at, "L1->L2 message count")
    if end != len(output):
        raise AggregatorError(
            f"devnet aggregator: child {index}'s output has {len(output)} words, its layout says {end}",
            retryable=False,
        )
    return _Child(output[:HEADER_WORDS], output[to_l1_at + 1 : to_l2_at], output[to_l2_at + 1 : end])


def _check_chain(header: list[int], children: list[_Child]) -> None:
    """The children continue each other from the batch's previous state to its new one."""
    links = [header, *(child.header for child in children)]
    for position, child in enumerate(children):
        before = links[position]
        for prev_at, new_at, what in _CHAINED:
            # the batch header's "previous" words open the chain; then each child's "new" words
            expected = before[prev_at] if position == 0 else before[new_at]
            if child.header[prev_at] != expected:
                raise AggregatorError(
                    f"devnet aggregator: child {position} starts from {what} {child.header[prev_at]:#x}, "
                    f"expected {expected:#x}",
                    retryable=False,
                )
    for _, new_at, what in _CHAINED:
        if children[-1].header[new_at] != header[new_at]:
            raise AggregatorError(
                f"devnet aggregator: the children end at {what} {children[-1].header[new_at]:#x}, "
                f"the batch at {header[new_at]:#x}",
                retryable=False,
            )


def echoed_children(children_outputs: list[list[int]]) -> list[int]:
    """The children's outputs in the bootloader layout the aggregator echoes first."""
    words = [len(children_outputs)]
    for output in children_outputs:
        words += [len(output) + 2, DEVNET_PROGRAM_HASH, *output]
    return words


class DevnetAggregatorRunner:
    """An `AggregatorRunner` for devnets and tests: see the module docstring. Not the Cairo aggregator."""

    def __init__(self, node: L2NodeClient) -> None:
        self._node = node

    async def _header_words(self, start: int, end: int) -> list[int]:
        """[old root, new root, prev block, end block, prev hash, end hash] from the node."""
        try:
            first_block = await self._node.get_block_with_tx_hashes(start)
            first = await self._node.get_state_update(start)
            last = first if end == start else await self._node.get_state_update(end)
        except BlockNotFoundError as exc:
            raise AggregatorError(
                f"devnet aggregator, blocks {start}..={end}: BlockNotFound: {exc}", retryable=True
            ) from exc
        except ServiceUnavailableError as exc:
            raise AggregatorError(
                f"devnet aggregator, blocks {start}..={end}: RPC error: {exc}", retryable=True
            ) from exc
        except L2NodeError as exc:
            message = f"devnet aggregator, blocks {start}..={end}: RPC error: {exc}"
            raise AggregatorError(message, retryable=is_retryable_message(str(exc))) from exc
        if "block_hash" not in last or "new_root" not in last:
            raise AggregatorError(f"block {end} is still pending", retryable=True)
        return [
            _hex_felt(first.get("old_root"), f"old_root of block {start}"),
            _hex_felt(last["new_root"], f"new_root of block {end}"),
            # the OS writes "no previous block" as -1, i.e. the felt P - 1
            (start - 1) % STARK_PRIME,
            end,
            _hex_felt(first_block.get("parent_hash", "0x0"), f"parent_hash of block {start}"),
            _hex_felt(last["block_hash"], f"block_hash of block {end}"),
        ]

    async def run(self, request: AggregatorRequest) -> AggregatorOutput:
        start, end = request.start_block, request.end_block
        where = f"aggregator batch {request.batch_index}"
        if end < start:
            raise AggregatorError(f"{where}: invalid block range {start}..{end}: end before start", retryable=False)
        if not request.children_outputs:
            raise AggregatorError(f"{where}: no children to aggregate", retryable=False)
        if len(request.children_keys) != len(request.children_outputs):
            raise AggregatorError(
                f"{where}: {len(request.children_outputs)} child outputs but {len(request.children_keys)} job keys",
                retryable=False,
            )
        if not request.blobs:
            raise AggregatorError(f"{where}: the batch has no blobs", retryable=False)
        if not 0 < len(request.da_segment) <= FELTS_PER_BLOB * len(request.blobs):
            raise AggregatorError(
                f"{where}: a DA segment of {len(request.da_segment)} felts does not fit {len(request.blobs)} blob(s)",
                retryable=False,
            )

        children = [_parse_child(i, output) for i, output in enumerate(request.children_outputs)]
        configs = {child.header[CONFIG_HASH_INDEX] for child in children}
        if len(configs) != 1:
            raise AggregatorError(f"{where}: the children ran with different OS config hashes", retryable=False)
        batch = await self._header_words(start, end)
        _check_chain(batch, children)
        try:
            # commitments and evaluations are CPU-bound: off the event loop
            kzg_words = await asyncio.to_thread(kzg_section, list(request.blobs))
        except kzg.KzgError as exc:
            raise AggregatorError(f"{where}: the blobs are not valid: {exc}", retryable=False) from exc

        to_l1 = [word for child in children for word in child.messages_to_l1]
        to_l2 = [word for child in children for word in child.messages_to_l2]
        header = [*batch, DEVNET_PROGRAM_HASH, configs.pop(), 1, 0]
        own = [*header, *kzg_words, len(to_l1), *to_l1, len(to_l2), *to_l2]
        full = [*echoed_children(request.children_outputs), *own]
        pie = write_cairo_pie(DEVNET_PROGRAM, full, n_steps=len(full))
        return AggregatorOutput(
            program_output=own,
            da_segment=list(request.da_segment),
            cairo_pie=pie,
            fact="0x" + devnet_fact(own).hex(),
        )
