"""Contract of StorageClient: every implementation must pass these."""

from __future__ import annotations

import asyncio

import pytest

from orchestrator.core.clients.storage import StorageClient
from orchestrator.core.errors import ObjectNotFoundError


async def test_put_get_exists_delete(storage: StorageClient) -> None:
    await storage.put("12/cairo_pie.zip", b"\x00pie\xff")
    assert await storage.get("12/cairo_pie.zip") == b"\x00pie\xff"
    assert await storage.exists("12/cairo_pie.zip")
    assert not await storage.exists("12/other.json")

    await storage.put("12/cairo_pie.zip", b"new")  # overwrite
    assert await storage.get("12/cairo_pie.zip") == b"new"

    await storage.delete("12/cairo_pie.zip")
    assert not await storage.exists("12/cairo_pie.zip")
    with pytest.raises(ObjectNotFoundError):
        await storage.get("12/cairo_pie.zip")
    await storage.delete("12/cairo_pie.zip")  # deleting a missing key is fine
    await storage.delete("never/was")


async def test_empty_and_large_objects(storage: StorageClient) -> None:
    big = bytes(range(256)) * 8192  # 2 MiB
    await storage.put("artifacts/batch/1/blob.bin", big)
    await storage.put("empty", b"")
    assert await storage.get("artifacts/batch/1/blob.bin") == big
    assert await storage.get("empty") == b""


async def test_list_by_string_prefix_sorted(storage: StorageClient) -> None:
    keys = [
        "10/snos_output.json",
        "1/program_output.txt",
        "1/cairo_pie.zip",
        "blob/batch/2/1.txt",
        "blob/batch/2/2.txt",
        "blob/batch/20/1.txt",
        "state_update/batch/2.json",
    ]
    for key in keys:
        await storage.put(key, key.encode())
    assert await storage.list() == sorted(keys)
    assert await storage.list("1/") == ["1/cairo_pie.zip", "1/program_output.txt"]
    assert await storage.list("1") == ["1/cairo_pie.zip", "1/program_output.txt", "10/snos_output.json"]
    assert await storage.list("blob/batch/2/") == ["blob/batch/2/1.txt", "blob/batch/2/2.txt"]
    assert await storage.list("blob/batch/2") == ["blob/batch/2/1.txt", "blob/batch/2/2.txt", "blob/batch/20/1.txt"]
    assert await storage.list("nothing/") == []
    await storage.delete("1/cairo_pie.zip")
    assert await storage.list("1/") == ["1/program_output.txt"]


async def test_tags(storage: StorageClient) -> None:
    await storage.put("1/proof.json", b"{}")
    assert await storage.get_tags("1/proof.json") == {}
    await storage.tag("1/proof.json", {"expire-after-settlement": "true", "batch": "1"})
    assert await storage.get_tags("1/proof.json") == {"expire-after-settlement": "true", "batch": "1"}
    await storage.tag("1/proof.json", {"expire-after-settlement": "true"})  # replaces
    assert await storage.get_tags("1/proof.json") == {"expire-after-settlement": "true"}
    assert await storage.list("1/") == ["1/proof.json"]  # tags are not objects
    assert await storage.get("1/proof.json") == b"{}"  # tagging leaves the data alone

    await storage.put("1/proof.json", b"[]")  # a new object has no tags (as S3)
    assert await storage.get_tags("1/proof.json") == {}

    with pytest.raises(ObjectNotFoundError):
        await storage.tag("1/missing.json", {"a": "b"})
    with pytest.raises(ObjectNotFoundError):
        await storage.get_tags("1/missing.json")


async def test_a_reader_never_sees_a_partial_object(storage: StorageClient) -> None:
    old, new = b"a" * 1_000_000, b"b" * 1_000_000

    def which(data: bytes) -> str:
        # Named, so that a failure reports a word instead of diffing megabytes.
        return {old: "old", new: "new"}.get(data, f"partial ({len(data)} bytes)")

    await storage.put("k", old)
    seen: list[str] = []

    async def read_repeatedly() -> None:
        for _ in range(20):
            seen.append(which(await storage.get("k")))

    await asyncio.gather(read_repeatedly(), storage.put("k", new), storage.put("k", old), storage.put("k", new))
    assert set(seen) <= {"old", "new"}
    # Concurrent writers finish in any order (on S3 the last to complete wins), so only wholeness is promised.
    assert which(await storage.get("k")) in ("old", "new")
    await storage.put("k", new)
    assert which(await storage.get("k")) == "new"


async def test_a_second_client_sees_the_objects(storage_harness) -> None:
    first = await storage_harness.new_client()
    await first.put("a/b", b"1")
    await first.tag("a/b", {"t": "v"})
    second = await storage_harness.new_client()
    assert await second.get("a/b") == b"1"
    assert await second.get_tags("a/b") == {"t": "v"}
    assert await second.list() == ["a/b"]


async def test_health_check(storage: StorageClient) -> None:
    await storage.health_check()
