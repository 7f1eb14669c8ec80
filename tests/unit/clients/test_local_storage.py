"""Local-directory storage: what only the local implementation has (layout, key rules, temp files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.clients.storage.local import LocalStorageClient


@pytest.fixture
async def storage(tmp_path: Path) -> LocalStorageClient:
    client = LocalStorageClient(tmp_path / "store", fsync=False)
    await client.setup()
    return client


@pytest.mark.parametrize("key", ["", "../x", "a/../../x", "/etc/passwd", "a//b", "a/", "./a", "a/.", "a\\b", "a\x00b"])
async def test_bad_keys_are_rejected(storage: LocalStorageClient, key: str) -> None:
    with pytest.raises(ValueError, match="invalid storage key"):
        await storage.put(key, b"x")
    with pytest.raises(ValueError, match="invalid storage key"):
        await storage.get(key)


async def test_list_rejects_a_traversing_prefix(storage: LocalStorageClient) -> None:
    with pytest.raises(ValueError, match="invalid storage key"):
        await storage.list("../")


async def test_layout_on_disk(storage: LocalStorageClient, tmp_path: Path) -> None:
    await storage.put("blob/batch/1/2.txt", b"blob")
    await storage.tag("blob/batch/1/2.txt", {"k": "v"})
    root = tmp_path / "store"
    assert (root / "objects" / "blob" / "batch" / "1" / "2.txt").read_bytes() == b"blob"
    assert (root / "tags" / "blob" / "batch" / "1" / "2.txt.json").is_file()
    assert list((root / "tmp").iterdir()) == []  # temp files were moved into place
    await storage.delete("blob/batch/1/2.txt")
    assert not (root / "tags" / "blob" / "batch" / "1" / "2.txt.json").exists()


async def test_a_key_cannot_also_be_a_prefix_of_others(storage: LocalStorageClient, tmp_path: Path) -> None:
    await storage.put("a/b/c", b"1")
    with pytest.raises(ValueError, match="is a prefix of other keys"):
        await storage.put("a/b", b"2")
    assert not await storage.exists("a/b")
    with pytest.raises(FileExistsError):  # the OS error of a file standing where a folder must be
        await storage.put("a/b/c/d", b"3")
    assert list((tmp_path / "store" / "tmp").iterdir()) == []  # no temp file left behind
    assert await storage.get("a/b/c") == b"1"


async def test_health_check_fails_without_the_directory(tmp_path: Path) -> None:
    client = LocalStorageClient(tmp_path / "never-set-up")
    with pytest.raises(OSError, match="missing or not writable"):
        await client.health_check()
