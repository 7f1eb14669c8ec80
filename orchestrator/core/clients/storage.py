"""Object storage for job artifacts (PIEs, program outputs, blobs, proofs)."""

from __future__ import annotations

from typing import Protocol


class StorageClient(Protocol):
    async def setup(self) -> None: ...

    async def close(self) -> None: ...

    async def health_check(self) -> None: ...

    async def put(self, key: str, data: bytes) -> None:
        """Write atomically: a reader sees the old object or the new one, never a part.
        As in S3, the new object has no tags. Keys use "/" as separator; keys with empty, "." or
        ".." segments raise ValueError (local storage cannot hold them)."""

    async def get(self, key: str) -> bytes:
        """Raise ObjectNotFoundError when the key does not exist."""

    async def exists(self, key: str) -> bool: ...

    async def delete(self, key: str) -> None:
        """Deleting a missing key is not an error."""

    async def list(self, prefix: str = "") -> list[str]:
        """Keys starting with `prefix` (a string prefix, as S3: "1" matches "10/x"), sorted."""

    async def tag(self, key: str, tags: dict[str, str]) -> None:
        """Set the object's tags (replacing earlier ones); ObjectNotFoundError when missing."""

    async def get_tags(self, key: str) -> dict[str, str]:
        """{} for an untagged object; ObjectNotFoundError when missing."""
