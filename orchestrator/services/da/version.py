"""Starknet protocol versions as comparable tuples ("0.13.2.1" -> (0, 13, 2, 1))."""

from __future__ import annotations

StarknetVersion = tuple[int, ...]

V0_13_3: StarknetVersion = (0, 13, 3)
V0_13_4: StarknetVersion = (0, 13, 4)
# The newest version the reference supports; the DA job encodes with it by default.
SUPPORTED_STARKNET_VERSION: StarknetVersion = (0, 14, 2)


def parse_starknet_version(text: str) -> StarknetVersion:
    parts = text.strip().removeprefix("v").split(".")
    if not 2 <= len(parts) <= 4 or not all(p.isdigit() for p in parts):
        raise ValueError(f"not a Starknet version (like 0.13.2): {text!r}")
    return tuple(int(p) for p in parts)


VersionLike = StarknetVersion | str


def as_version(version: VersionLike) -> StarknetVersion:
    return parse_starknet_version(version) if isinstance(version, str) else version


def format_starknet_version(version: StarknetVersion) -> str:
    return ".".join(str(p) for p in version)
