"""Typed Starknet state updates (the `starknet_getStateUpdate` result) with felts as ints.

`StateUpdate.from_json(obj)` validates a decoded JSON object (hex felts like "0x1a") and raises
`StateUpdateFormatError` with the first offending field; `to_json()` gives it back with
lower-case hex felts. `sort_state_diff` orders every list the way the reference does before
encoding (addresses, keys and class hashes ascending).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    ValidationError,
    ValidationInfo,
)

from orchestrator.core.errors import OrchestratorError
from orchestrator.core.madara.felt import STARK_PRIME


class StateUpdateFormatError(OrchestratorError, ValueError):
    """A state update (or nonce list) does not have the expected shape."""


def parse_felt(value: Any, allow_int: bool = True) -> int:
    """A felt from a hex string ("0x..."); Python code may also pass ints."""
    if isinstance(value, int) and not isinstance(value, bool) and allow_int:
        felt = value
    elif isinstance(value, str) and value[:2].lower() == "0x":
        try:
            felt = int(value, 16)
        except ValueError:
            raise ValueError(f"expected a hex felt, got {value!r}") from None
    else:
        raise ValueError(f"expected a hex felt like '0x1f', got {value!r}")
    if not 0 <= felt < STARK_PRIME:
        raise ValueError(f"{value!r} is not a Starknet field element")
    return felt


def _validate_felt(value: Any, info: ValidationInfo) -> int:
    # Decoded JSON must carry felts as hex strings, as the RPC does.
    from_json = isinstance(info.context, dict) and bool(info.context.get("json"))
    return parse_felt(value, allow_int=not from_json)


Felt = Annotated[int, BeforeValidator(_validate_felt), PlainSerializer(hex, return_type=str)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class StorageEntry(_Model):
    key: Felt
    value: Felt


class ContractStorageDiff(_Model):
    address: Felt
    storage_entries: list[StorageEntry]


class DeclaredClass(_Model):
    class_hash: Felt
    compiled_class_hash: Felt


class DeployedContract(_Model):
    address: Felt
    class_hash: Felt


class ReplacedClass(_Model):
    contract_address: Felt
    class_hash: Felt


class NonceUpdate(_Model):
    contract_address: Felt
    nonce: Felt


class StateDiff(_Model):
    storage_diffs: list[ContractStorageDiff] = []
    deprecated_declared_classes: list[Felt] = []
    declared_classes: list[DeclaredClass] = []
    # 0.14+: classes whose compiled class hash moved to the new hash function.
    migrated_compiled_classes: list[DeclaredClass] = []
    deployed_contracts: list[DeployedContract] = []
    replaced_classes: list[ReplacedClass] = []
    nonces: list[NonceUpdate] = []


class StateUpdate(_Model):
    # A pre-confirmed update has no block hash.
    block_hash: Felt | None = None
    old_root: Felt | None = None
    new_root: Felt | None = None
    state_diff: StateDiff

    @classmethod
    def from_json(cls, obj: Any) -> StateUpdate:
        try:
            return cls.model_validate(obj, context={"json": True})
        except ValidationError as exc:
            raise StateUpdateFormatError(_first_error(exc)) from None

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(part) for part in err["loc"]) or "<root>"
    return f"invalid state update at {where}: {err['msg']}"


StateUpdateLike = StateUpdate | Mapping[str, Any]


def as_state_update(obj: StateUpdateLike) -> StateUpdate:
    """Entry points take a typed update or the raw RPC result (validated here)."""
    return obj if isinstance(obj, StateUpdate) else StateUpdate.from_json(obj)


def parse_state_updates(obj: Any) -> list[StateUpdate]:
    if not isinstance(obj, list):
        raise StateUpdateFormatError("expected a JSON list of state updates")
    return [StateUpdate.from_json(item) for item in obj]


def sort_state_diff(diff: StateDiff) -> StateDiff:
    """Every list in ascending order (the reference's `sort_state_diff`)."""
    return StateDiff(
        storage_diffs=[
            ContractStorageDiff(address=d.address, storage_entries=sorted(d.storage_entries, key=lambda e: e.key))
            for d in sorted(diff.storage_diffs, key=lambda d: d.address)
        ],
        deprecated_declared_classes=sorted(diff.deprecated_declared_classes),
        declared_classes=sorted(diff.declared_classes, key=lambda c: c.class_hash),
        migrated_compiled_classes=sorted(diff.migrated_compiled_classes, key=lambda c: c.class_hash),
        deployed_contracts=sorted(diff.deployed_contracts, key=lambda c: c.address),
        replaced_classes=sorted(diff.replaced_classes, key=lambda c: c.contract_address),
        nonces=sorted(diff.nonces, key=lambda n: n.contract_address),
    )


def parse_nonces(obj: Any) -> dict[int, int]:
    """A recorded nonce list (`[{"nonce": "10fc", "address": "<decimal>"}]`) as address -> nonce."""
    if not isinstance(obj, list):
        raise StateUpdateFormatError("nonces: expected a JSON list of {nonce, address}")
    out: dict[int, int] = {}
    for i, item in enumerate(obj):
        if not isinstance(item, dict) or not isinstance(item.get("nonce"), str):
            raise StateUpdateFormatError(f"nonces[{i}]: expected {{'nonce': hex string, 'address': ...}}")
        address = item.get("address")
        try:
            nonce = int(item["nonce"], 16)
            addr = int(address, 10) if isinstance(address, str) else None
        except ValueError:
            raise StateUpdateFormatError(f"nonces[{i}]: nonce must be hex, address decimal") from None
        if addr is None:
            raise StateUpdateFormatError(f"nonces[{i}]: address must be a decimal string")
        out[addr] = nonce
    return out
