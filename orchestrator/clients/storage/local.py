"""Object storage in a local directory (the local profile's S3).

Layout under the root: `objects/<key>` holds the data ("/" in a key makes subdirectories),
`tags/<key>.json` the object's tags, and `tmp/` the files being written. A write goes to a temp
file first and is moved into place with os.replace, so a reader sees the old object or the new
one, never a part. As in S3, a new `put` drops the object's tags.

Limits of a directory tree that S3 does not have: a key cannot also be a "folder" of another key
("a/b" and "a/b/c" cannot both exist), and keys with empty, "." or ".." segments are rejected.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from pathlib import Path

from orchestrator.core.errors import ObjectNotFoundError


class LocalStorageClient:
    def __init__(self, root: str | Path, fsync: bool = True) -> None:
        self._root = Path(root)
        self._objects = self._root / "objects"
        self._tags = self._root / "tags"
        self._tmp = self._root / "tmp"
        self._fsync = fsync

    async def setup(self) -> None:
        await asyncio.to_thread(self._setup)

    def _setup(self) -> None:
        for directory in (self._objects, self._tags, self._tmp):
            directory.mkdir(parents=True, exist_ok=True)

    async def close(self) -> None:
        return None

    async def health_check(self) -> None:
        await asyncio.to_thread(self._check)

    def _check(self) -> None:
        if not self._objects.is_dir() or not os.access(self._objects, os.W_OK):
            raise OSError(f"storage directory {self._objects} is missing or not writable")

    # --- keys -------------------------------------------------------------------------------
    @staticmethod
    def _segments(key: str) -> list[str]:
        if not key or "\x00" in key or "\\" in key:
            raise ValueError(f"invalid storage key {key!r}")
        segments = key.split("/")
        if any(segment in ("", ".", "..") for segment in segments):
            raise ValueError(f"invalid storage key {key!r}: empty, '.' or '..' segment")
        return segments

    def _object_path(self, key: str) -> Path:
        return self._objects.joinpath(*self._segments(key))

    def _tags_path(self, key: str) -> Path:
        segments = self._segments(key)
        return self._tags.joinpath(*segments[:-1], segments[-1] + ".json")

    # --- objects ----------------------------------------------------------------------------
    def _write_atomically(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=self._tmp, prefix=path.name[:40] + ".")
        try:
            with os.fdopen(fd, "wb") as tmp:
                tmp.write(data)
                if self._fsync:
                    tmp.flush()
                    os.fsync(tmp.fileno())
            os.replace(tmp_name, path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise

    def _put(self, key: str, data: bytes) -> None:
        path = self._object_path(key)
        if path.is_dir():
            raise ValueError(f"storage key {key!r} is a prefix of other keys")
        self._tags_path(key).unlink(missing_ok=True)
        self._write_atomically(path, data)

    async def put(self, key: str, data: bytes) -> None:
        await asyncio.to_thread(self._put, key, bytes(data))

    def _get(self, key: str) -> bytes:
        try:
            return self._object_path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise ObjectNotFoundError(f"no object {key!r}") from exc

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread(self._get, key)

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self._object_path(key).is_file)

    def _delete(self, key: str) -> None:
        path = self._object_path(key)
        if path.is_file():
            path.unlink(missing_ok=True)
        self._tags_path(key).unlink(missing_ok=True)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._delete, key)

    def _list(self, prefix: str) -> list[str]:
        # Start the walk at the deepest directory the prefix names in full; then filter by string
        # prefix, as S3 does ("1" matches "1/a" and "10/a").
        directory, _, _ = prefix.rpartition("/")
        start = self._objects.joinpath(*self._segments(directory)) if directory else self._objects
        keys: list[str] = []
        for dirpath, _dirnames, filenames in os.walk(start):
            rel = Path(dirpath).relative_to(self._objects).as_posix()
            base = "" if rel == "." else rel + "/"
            keys.extend(key for name in filenames if (key := base + name).startswith(prefix))
        return sorted(keys)

    async def list(self, prefix: str = "") -> list[str]:
        return await asyncio.to_thread(self._list, prefix)

    # --- tags -------------------------------------------------------------------------------
    def _tag(self, key: str, tags: dict[str, str]) -> None:
        if not self._object_path(key).is_file():
            raise ObjectNotFoundError(f"no object {key!r}")
        self._write_atomically(self._tags_path(key), json.dumps(dict(tags), sort_keys=True).encode())

    async def tag(self, key: str, tags: dict[str, str]) -> None:
        await asyncio.to_thread(self._tag, key, tags)

    def _get_tags(self, key: str) -> dict[str, str]:
        if not self._object_path(key).is_file():
            raise ObjectNotFoundError(f"no object {key!r}")
        try:
            return dict(json.loads(self._tags_path(key).read_bytes()))
        except FileNotFoundError:
            return {}

    async def get_tags(self, key: str) -> dict[str, str]:
        return await asyncio.to_thread(self._get_tags, key)
