"""The storage protocol on Amazon S3.

Keys are stored as given, so the services' layout (`{batch}/cairo_pie.zip`,
`artifacts/batch/{i}/…`, `blob/batch/{i}/{j}.txt`, …) is the reference's bucket layout. Addressing
is path-style, as the reference forces, so LocalStack and custom endpoints work without DNS.
Settled artifacts are tagged `expire-after-settlement=true`; the bucket's lifecycle rule
(created by `orchestrator setup`) deletes them after the configured number of days.
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import Any

from orchestrator.clients.aws_connection import AwsConnection, error_code, translate
from orchestrator.clients.aws_names import EXPIRY_TAG_KEY, EXPIRY_TAG_VALUE
from orchestrator.core.errors import NotFoundError, ObjectNotFoundError

_MISSING_KEY = frozenset({"NoSuchKey", "404", "NotFound"})
_MISSING_BUCKET = frozenset({"NoSuchBucket"})


class S3StorageClient:
    def __init__(self, connection: AwsConnection, bucket: str) -> None:
        self._connection = connection
        self._bucket = bucket
        self._stack: AsyncExitStack | None = None
        self._s3: Any = None
        self._open_lock = asyncio.Lock()

    @property
    def bucket(self) -> str:
        return self._bucket

    async def _client(self) -> Any:
        if self._s3 is None:
            async with self._open_lock:
                if self._s3 is None:
                    stack = AsyncExitStack()
                    self._s3 = await stack.enter_async_context(
                        self._connection.client("s3", s3={"addressing_style": "path"})
                    )
                    self._stack = stack
        return self._s3

    def _fail(self, exc: Exception, doing: str, key: str | None = None) -> Exception:
        code = error_code(exc)
        if code in _MISSING_BUCKET:
            return NotFoundError(f"S3 bucket {self._bucket} does not exist")
        if key is not None and code in _MISSING_KEY:
            return ObjectNotFoundError(f"s3://{self._bucket}/{key} does not exist")
        return translate(exc, self._connection, f"S3 {doing} {self._bucket}{'/' + key if key else ''}")

    async def setup(self) -> None:
        await self._client()

    async def close(self) -> None:
        if self._stack is not None:
            await self._stack.aclose()
        self._stack = None
        self._s3 = None

    async def health_check(self) -> None:
        s3 = await self._client()
        try:
            await s3.head_bucket(Bucket=self._bucket)
        except Exception as exc:
            if error_code(exc) in {"404", "NoSuchBucket", "NotFound"}:
                raise NotFoundError(f"S3 bucket {self._bucket} does not exist") from exc
            raise self._fail(exc, "HeadBucket") from exc

    async def put(self, key: str, data: bytes) -> None:
        # A single PutObject is atomic: readers see the old object or the new one.
        s3 = await self._client()
        try:
            await s3.put_object(Bucket=self._bucket, Key=key, Body=data)
        except Exception as exc:
            raise self._fail(exc, "PutObject", key) from exc

    async def get(self, key: str) -> bytes:
        s3 = await self._client()
        try:
            response = await s3.get_object(Bucket=self._bucket, Key=key)
            async with response["Body"] as body:
                return bytes(await body.read())
        except Exception as exc:
            raise self._fail(exc, "GetObject", key) from exc

    async def exists(self, key: str) -> bool:
        s3 = await self._client()
        try:
            await s3.head_object(Bucket=self._bucket, Key=key)
            return True
        except Exception as exc:
            if error_code(exc) in _MISSING_KEY:
                return False
            raise self._fail(exc, "HeadObject", key) from exc

    async def delete(self, key: str) -> None:
        s3 = await self._client()
        try:
            await s3.delete_object(Bucket=self._bucket, Key=key)
        except Exception as exc:
            if error_code(exc) in _MISSING_KEY:
                return
            raise self._fail(exc, "DeleteObject", key) from exc

    async def list(self, prefix: str = "") -> list[str]:
        s3 = await self._client()
        keys: list[str] = []
        try:
            paginator = s3.get_paginator("list_objects_v2")
            async for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix):
                keys.extend(item["Key"] for item in page.get("Contents", []))
        except Exception as exc:
            raise self._fail(exc, "ListObjectsV2") from exc
        return sorted(keys)

    async def tag(self, key: str, tags: dict[str, str]) -> None:
        s3 = await self._client()
        tag_set = [{"Key": k, "Value": v} for k, v in sorted(tags.items())]
        try:
            await s3.put_object_tagging(Bucket=self._bucket, Key=key, Tagging={"TagSet": tag_set})
        except Exception as exc:
            raise self._fail(exc, "PutObjectTagging", key) from exc

    async def get_tags(self, key: str) -> dict[str, str]:
        s3 = await self._client()
        try:
            response = await s3.get_object_tagging(Bucket=self._bucket, Key=key)
        except Exception as exc:
            raise self._fail(exc, "GetObjectTagging", key) from exc
        return {item["Key"]: item["Value"] for item in response.get("TagSet", [])}

    async def mark_for_expiry(self, key: str) -> None:
        """Tag a settled artifact so the bucket's lifecycle rule expires it."""
        await self.tag(key, {EXPIRY_TAG_KEY: EXPIRY_TAG_VALUE})
