"""The node state before the Sepolia recording (block 2935725), recovered from the recorded batch files.

The recording (`batch/9662264/state_updates.json`) holds 1000 blocks' state diffs, so a node built on
it alone answers 0 for everything written before block 2935726. Two things real nodes answer differ:
- **aliases** (contract 0x2's storage): most keys the recorded blocks write were aliased long before
  the recording, and stateful compression reads those aliases; without them batching stops at the
  first such key (`StatefulCompressionError: no alias for …`);
- **pre-range storage values**: the squash drops a value that ends equal to its value before the range.

The batch's published squash (`squashed_state_update.json`) and its stateful compression
(`stateful_compressed_state_update.json`) pin both down without guessing:
- an alias is where a key of the squash lands in the compressed diff: contracts are matched on their
  (never aliased) storage values, then each storage key on its value within the contract, nonces on
  their nonce and deployments on their class hash; a key is taken only when exactly one candidate fits;
- a storage value written in the range but absent from the squash ended equal to its pre-range value,
  so that last write is the value at block 2935725.
Keys whose alias or value the files do not determine are left out (the node answers 0 for them, as
before); nothing is invented.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

ALIAS_CONTRACT = 0x2
MIN_ALIASED = 0x80

Entries = list[tuple[int, int]]  # (key, value)


def as_int(value: Any) -> int:
    """A felt as recorded: an int, a 0x hex string or a decimal string."""
    if isinstance(value, int):
        return value
    text = str(value)
    return int(text, 16) if text.lower().startswith("0x") else int(text)


def _storage(diff: dict[str, Any]) -> dict[int, Entries]:
    return {
        as_int(c["address"]): [(as_int(e["key"]), as_int(e["value"])) for e in c.get("storage_entries", [])]
        for c in diff.get("storage_diffs", [])
    }


def _pairs(items: Iterable[dict[str, Any]], address: str, value: str) -> list[tuple[int, int]]:
    return [(as_int(item[address]), as_int(item[value])) for item in items]


def _learn_entries(before: Entries, after: Entries, known: dict[int, int]) -> None:
    """A storage key whose value appears under exactly one key of the matched contract is aliased to it."""
    for key, value in before:
        if key < MIN_ALIASED or key in known:
            continue
        options = {k for k, v in after if v == value}
        if len(options) == 1:
            known[key] = options.pop()


def _match_contracts(before: dict[int, Entries], after: dict[int, Entries], known: dict[int, int]) -> bool:
    """One pass matching still-unmatched contracts on their sorted storage values; True if any matched."""
    matched_after = {known[a] for a in before if a in known}
    progress = False
    for address, entries in before.items():
        if address < MIN_ALIASED or address in known:
            continue
        signature = sorted(v for _, v in entries)
        candidates = [
            alias
            for alias, other in after.items()
            if alias >= MIN_ALIASED and alias not in matched_after and sorted(v for _, v in other) == signature
        ]
        if len(candidates) == 1:
            known[address] = candidates[0]
            matched_after.add(candidates[0])
            _learn_entries(entries, after[candidates[0]], known)
            progress = True
    return progress


def _match_pairs(before: Sequence[tuple[int, int]], after: Sequence[tuple[int, int]], known: dict[int, int]) -> bool:
    """Addresses matched on a value that is never aliased (a nonce, a class hash); True if any matched."""
    used = {known[a] for a, _ in before if a in known}
    progress = False
    for address, value in before:
        if address < MIN_ALIASED or address in known:
            continue
        options = [alias for alias, v in after if v == value and alias not in used]
        if len(options) == 1:
            known[address] = options[0]
            used.add(options[0])
            progress = True
    return progress


def derive_aliases(squashed: dict[str, Any], compressed: dict[str, Any]) -> dict[int, int]:
    """Key -> alias for every key of `squashed` (a state diff) that its stateful compression pins down;
    the aliases written to 0x2 inside the range included."""
    before, after = _storage(squashed), _storage(compressed)
    known = {k: v for k, v in before.get(ALIAS_CONTRACT, []) if k >= MIN_ALIASED}
    for key in [k for k, v in known.items() if v < MIN_ALIASED]:  # not an alias: leave it to the reads
        del known[key]
    for address, entries in before.items():  # contracts already matched through 0x2's writes
        if address in known and known[address] in after:
            _learn_entries(entries, after[known[address]], known)
    pair_lists = [
        (
            _pairs(squashed.get("nonces", []), "contract_address", "nonce"),
            _pairs(compressed.get("nonces", []), "contract_address", "nonce"),
        ),
        (
            _pairs(squashed.get("deployed_contracts", []), "address", "class_hash"),
            _pairs(compressed.get("deployed_contracts", []), "address", "class_hash"),
        ),
    ]
    progress = True
    while progress:
        progress = _match_contracts(before, after, known)
        for pairs_before, pairs_after in pair_lists:
            progress = _match_pairs(pairs_before, pairs_after, known) or progress
    return known


def pre_range_storage(updates: Sequence[dict[str, Any]], squashed: dict[str, Any]) -> dict[tuple[int, int], int]:
    """(contract, key) -> value before the range, for every value written in the range that the squash
    dropped (it ended equal to its pre-range value)."""
    last: dict[tuple[int, int], int] = {}
    for update in updates:
        for address, entries in _storage(update.get("state_diff", {})).items():
            for key, value in entries:
                last[(address, key)] = value
    kept = {(address, key) for address, entries in _storage(squashed).items() for key, _ in entries}
    return {slot: value for slot, value in last.items() if slot not in kept}


def recorded_base_storage(batch_dir: Path) -> dict[tuple[int, int], int]:
    """The storage at the block before the recording that the batch files determine: pre-range values
    and contract 0x2's aliases (empty when the batch's squash files are absent)."""
    paths = [
        batch_dir / name for name in ("state_updates", "squashed_state_update", "stateful_compressed_state_update")
    ]
    if not all(p.with_suffix(".json").is_file() for p in paths):
        return {}
    updates, squashed, compressed = (json.loads(p.with_suffix(".json").read_text()) for p in paths)
    storage = pre_range_storage(updates, squashed["state_diff"])
    in_range = {k for k, _ in _storage(squashed["state_diff"]).get(ALIAS_CONTRACT, [])}
    for key, alias in derive_aliases(squashed["state_diff"], compressed["state_diff"]).items():
        if key not in in_range:  # aliased before the range (the range's own writes are in its diffs)
            storage[(ALIAS_CONTRACT, key)] = alias
    return storage
