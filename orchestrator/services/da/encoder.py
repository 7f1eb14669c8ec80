"""State update -> list of felts, the two layouts of the reference.

- `encode_block_state_update(state_update, block_number, version, nonce_source)`: the per-block
  encoder of the data-submission job. Every address with a nonce or a deployment but no storage
  diff gets an empty storage diff; contracts are sorted by address and storage entries by key; a
  contract with storage updates but no nonce in the diff (other than the system contracts 0x1 and
  0x2) gets its nonce at `block_number` from `nonce_source` (the L2 node). Then the declared
  classes (deprecated ones are not part of the encoding).
- `encode_batch_state_update(state_update, version)`: the aggregator-batch encoder. Contracts with
  storage diffs, then those with only a deployment, class replacement or nonce; a missing nonce is
  0; no lookups; storage entries are taken in the given order (the input is already sorted by
  `sort_state_diff`); declared and migrated classes together, sorted by class hash.

Both return `[n_contracts, (address, da_word, [class_hash], (key, value)*)*, n_classes,
(class_hash, compiled_class_hash)*]`; the DA word layout follows `version` (see `da_word`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

from orchestrator.services.da.da_word import da_word
from orchestrator.services.da.state_update import StateUpdateLike, as_state_update
from orchestrator.services.da.version import VersionLike, as_version

if TYPE_CHECKING:
    from orchestrator.core.madara.node import L2NodeClient

# System contracts (block-hash registry, alias contract) have no nonce to look up.
_NO_NONCE_LOOKUP = frozenset({0x1, 0x2})
# Concurrent starknet_getNonce calls: the reference makes them one by one; a few at a time is faster
# without flooding the node.
_NONCE_LOOKUPS_IN_FLIGHT = 16


class NonceSource(Protocol):
    """Where missing nonces come from; `L2NodeClient` satisfies it."""

    async def get_nonce(self, block_number: int, address: int) -> int: ...


class RecordedNonces:
    """A `NonceSource` backed by recorded answers (the fixtures' nonce files); unknown address: error."""

    def __init__(self, nonces: Mapping[int, int]) -> None:
        self._nonces = dict(nonces)

    async def get_nonce(self, block_number: int, address: int) -> int:
        try:
            return self._nonces[address]
        except KeyError:
            raise LookupError(f"no recorded nonce for contract {address:#x}") from None


if TYPE_CHECKING:  # mypy proves the L2 node client is a NonceSource

    def _node_gives_nonces(node: L2NodeClient) -> NonceSource:
        return node


async def encode_block_state_update(
    state_update: StateUpdateLike,
    block_number: int,
    version: VersionLike,
    nonce_source: NonceSource,
) -> list[int]:
    version = as_version(version)
    diff = as_state_update(state_update).state_diff
    storage: dict[int, list[tuple[int, int]]] = {}
    for contract in diff.storage_diffs:
        storage.setdefault(contract.address, []).extend((e.key, e.value) for e in contract.storage_entries)
    for address in [n.contract_address for n in diff.nonces] + [d.address for d in diff.deployed_contracts]:
        storage.setdefault(address, [])

    deployed = {d.address: d.class_hash for d in diff.deployed_contracts}
    replaced = {r.contract_address: r.class_hash for r in diff.replaced_classes}
    nonces: dict[int, int] = {n.contract_address: n.nonce for n in diff.nonces}

    addresses = sorted(storage)
    missing = [a for a in addresses if a not in nonces and storage[a] and a not in _NO_NONCE_LOOKUP]
    for start in range(0, len(missing), _NONCE_LOOKUPS_IN_FLIGHT):
        chunk = missing[start : start + _NONCE_LOOKUPS_IN_FLIGHT]
        fetched = await asyncio.gather(*(nonce_source.get_nonce(block_number, a) for a in chunk))
        nonces.update(zip(chunk, fetched, strict=True))

    out = [len(addresses)]
    for address in addresses:
        entries = sorted(storage[address])
        class_hash = deployed.get(address, replaced.get(address))
        out.append(address)
        out.append(da_word(class_hash is not None, nonces.get(address), len(entries), version))
        if class_hash is not None:
            out.append(class_hash)
        for key, value in entries:
            out += (key, value)

    declared = sorted((c.class_hash, c.compiled_class_hash) for c in diff.declared_classes)
    out.append(len(declared))
    for pair in declared:
        out += pair
    return out


def encode_batch_state_update(state_update: StateUpdateLike, version: VersionLike) -> list[int]:
    version = as_version(version)
    diff = as_state_update(state_update).state_diff
    deployed = {d.address: d.class_hash for d in diff.deployed_contracts}
    replaced = {r.contract_address: r.class_hash for r in diff.replaced_classes}
    nonces = {n.contract_address: n.nonce for n in diff.nonces}

    # (address, class hash or None, nonce or None, storage entries)
    contracts: list[tuple[int, int | None, int | None, list[tuple[int, int]]]] = []
    seen: set[int] = set()
    for contract in diff.storage_diffs:
        address = contract.address
        seen.add(address)
        found_class = deployed.get(address, replaced.get(address))
        entries = [(e.key, e.value) for e in contract.storage_entries]
        contracts.append((address, found_class, nonces.get(address), entries))

    leftovers: dict[int, tuple[int | None, int | None]] = {}
    for address, class_hash in [*deployed.items(), *replaced.items()]:
        if address not in seen and address not in leftovers:
            leftovers[address] = (class_hash, nonces.get(address))
    for address, only_nonce in nonces.items():
        if address not in seen and address not in leftovers:
            leftovers[address] = (None, only_nonce)
    contracts += [(a, c, n, []) for a, (c, n) in sorted(leftovers.items())]

    contracts.sort(key=lambda c: c[0])  # stable, like the reference's sort_by_key
    out = [len(contracts)]
    for address, class_or_none, nonce, entries in contracts:
        out.append(address)
        out.append(da_word(class_or_none is not None, nonce, len(entries), version))
        if class_or_none is not None:
            out.append(class_or_none)
        for key, value in entries:
            out += (key, value)

    classes = [(c.class_hash, c.compiled_class_hash) for c in diff.declared_classes]
    classes += [(c.class_hash, c.compiled_class_hash) for c in diff.migrated_compiled_classes]
    classes.sort(key=lambda c: c[0])
    out.append(len(classes))
    for pair in classes:
        out += pair
    return out
