"""DEVNET STAND-IN for the Starknet OS: consistent SNOS outputs for recorded blocks, without running the OS.

Nothing here executes the Starknet OS or proves anything. For a block range it reads the blocks'
state updates from the L2 node, turns them into blobs with the injected blob builder (bootstrap
passes the real DA encoder), and writes what a Starknet OS (>= 0.13.2, KZG DA) run would output
for them, so that the rest of the pipeline (facts, provers, KZG proofs at x_0, settlement) has
real, self-consistent data to work on:

    [0] initial state root   (old_root of the first block)
    [1] final state root     (new_root of the last block)
    [2] previous block number, [3] last block number
    [4] previous block hash  (parent_hash of the first block), [5] last block hash
    [6] OS program hash = 0 (as in a run that no aggregator wraps)
    [7] Starknet OS config hash (a constructor argument, 0 by default)
    [8] use_kzg_da = 1 (always: this stand-in only produces the KZG DA layout)
    [9] full_output (from the request)
    [10] x_0 = Poseidon of the commitments' limbs (the real OS also hashes the state diff in)
    [11] n_blobs
    [12 .. 12+2n) each blob's 48-byte KZG commitment as (low 192 bits, high 192 bits)
    [12+2n .. 12+4n) each blob's y = p(x_0) as (low 128 bits, high 128 bits)
    then 0 L2->L1 messages and 0 L1->L2 messages (the recordings carry no messages).

The PIE holds that output in its output segment around a fixed stand-in program (a text, not
Cairo code) whose program hash is `DEVNET_PROGRAM_HASH`; its fact is computed as a GPS fact is:
keccak(DEVNET_PROGRAM_HASH ‖ keccak(output words as 32-byte big-endian)), the one-page output
topology. Reading the PIE with `services/proof` gives the same output and the same fact.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from eth_hash.auto import keccak
from poseidon_py.poseidon_hash import poseidon_hash_many

from orchestrator.clients.snos.classify import is_retryable_message
from orchestrator.clients.snos.pie_writer import write_cairo_pie
from orchestrator.core.errors import ServiceUnavailableError
from orchestrator.core.madara.felt import hex_felt
from orchestrator.core.madara.node import BlockNotFoundError, L2NodeClient, L2NodeError
from orchestrator.core.madara.snos import SnosError, SnosOutput, SnosRequest
from orchestrator.crypto import kzg

#: The stand-in program: 31-byte chunks of this text (it is not executable).
DEVNET_PROGRAM_TEXT = b"orchestrator devnet SNOS stand-in; this is not the Starknet OS and proves nothing."
DEVNET_PROGRAM = [
    int.from_bytes(DEVNET_PROGRAM_TEXT[i : i + 31], "big") for i in range(0, len(DEVNET_PROGRAM_TEXT), 31)
]
#: cairo-lang compute_program_hash_chain(DEVNET_PROGRAM with builtins ["output"], bootloader version 0);
#: a unit test recomputes it.
DEVNET_PROGRAM_HASH = 0x626D6A92EDEB7FF67941732763E5226AE8D4007056CD0855E2D972682D7D761

_LOW_192 = (1 << 192) - 1
_LOW_128 = (1 << 128) - 1

#: state updates (RPC results, each with its "block_number" added) -> blobs
BlobBuilder = Callable[[list[dict[str, Any]]], list[bytes] | Awaitable[list[bytes]]]


def _felt(value: Any, what: str) -> int:
    try:
        return hex_felt(value)
    except ValueError:
        raise SnosError(f"devnet SNOS: {what} is not a hex felt: {value!r}", retryable=False) from None


def commitment_limbs(commitment: bytes) -> tuple[int, int]:
    value = int.from_bytes(commitment, "big")
    return value & _LOW_192, value >> 192


def devnet_fact(output: list[int]) -> bytes:
    """keccak(DEVNET_PROGRAM_HASH ‖ keccak(output)): the GPS fact of a one-page output."""
    page = keccak(b"".join(word.to_bytes(32, "big") for word in output))
    return keccak(DEVNET_PROGRAM_HASH.to_bytes(32, "big") + page)


def kzg_section(blobs: list[bytes]) -> list[int]:
    """[x_0, n_blobs, commitment limbs..., y limbs...] for the blobs (CPU-bound: run off the loop)."""
    commitments = [commitment_limbs(kzg.blob_to_commitment(blob)) for blob in blobs]
    flat = [limb for pair in commitments for limb in pair]
    x_0 = poseidon_hash_many(flat)
    ys = [kzg.compute_proof(blob, x_0)[1] for blob in blobs]
    return [x_0, len(blobs), *flat, *(limb for y in ys for limb in (y & _LOW_128, y >> 128))]


class DevnetSnosRunner:
    """A `SnosRunner` for devnets and tests: see the module docstring. Not the Starknet OS."""

    def __init__(self, node: L2NodeClient, build_blobs: BlobBuilder, *, os_config_hash: int = 0) -> None:
        self._node = node
        self._build_blobs = build_blobs
        self._os_config_hash = os_config_hash

    async def _state_update(self, block_number: int) -> dict[str, Any]:
        update = await self._node.get_state_update(block_number)
        if "block_hash" not in update or "new_root" not in update:
            raise SnosError(f"block {block_number} is still pending", retryable=True)
        return {**update, "block_number": block_number}

    async def _blobs(self, updates: list[dict[str, Any]]) -> list[bytes]:
        builder: Callable[..., Any] = self._build_blobs
        if inspect.iscoroutinefunction(builder):
            result = await builder(updates)
        else:
            # the DA encoder and FFT are CPU-bound: keep them off the event loop
            result = await asyncio.to_thread(builder, updates)
            if inspect.isawaitable(result):
                result = await result
        if not result:
            raise SnosError("devnet SNOS: the blob builder returned no blobs", retryable=False)
        return list(result)

    async def run(self, request: SnosRequest) -> SnosOutput:
        start, end = request.start_block, request.end_block
        if end < start:
            raise SnosError(f"invalid block range {start}..{end}: end before start", retryable=False)
        try:
            first_block = await self._node.get_block_with_tx_hashes(start)
            updates = [await self._state_update(n) for n in range(start, end + 1)]
        except BlockNotFoundError as exc:
            raise SnosError(f"devnet SNOS for blocks {start}..={end}: BlockNotFound: {exc}", retryable=True) from exc
        except ServiceUnavailableError as exc:
            raise SnosError(f"devnet SNOS for blocks {start}..={end}: RPC error: {exc}", retryable=True) from exc
        except L2NodeError as exc:
            message = f"devnet SNOS for blocks {start}..={end}: RPC error: {exc}"
            raise SnosError(message, retryable=is_retryable_message(str(exc))) from exc

        blobs = await self._blobs(updates)
        try:
            kzg_words = await asyncio.to_thread(kzg_section, blobs)
        except kzg.KzgError as exc:
            raise SnosError(f"devnet SNOS: the blobs are not valid: {exc}", retryable=False) from exc
        header = [
            _felt(updates[0].get("old_root"), f"old_root of block {start}"),
            _felt(updates[-1]["new_root"], f"new_root of block {end}"),
            start - 1,
            end,
            _felt(first_block.get("parent_hash", "0x0"), f"parent_hash of block {start}"),
            _felt(updates[-1]["block_hash"], f"block_hash of block {end}"),
            0,
            self._os_config_hash,
            1,
            int(request.full_output),
        ]
        output = [*header, *kzg_words, 0, 0]
        n_steps = len(output)  # the stand-in "writes one word per step"
        pie = write_cairo_pie(DEVNET_PROGRAM, output, n_steps=n_steps)
        return SnosOutput(
            cairo_pie=pie,
            snos_output=list(output),
            program_output=list(output),
            n_steps=n_steps,
            fact=devnet_fact(output),
        )
