"""A double of the Atlantic proving API (Herodotus), plus its artifacts bucket under /artifacts.

Tests move statuses on by hand (`set_query_status`, `finish_bucket`, ...). Given a `proving`
(`infra/devnet/atlantic_proving.py`), queries move on by themselves as they are polled and get
their proof artifacts, which is how the L3 devnet uses it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import web

from infra.devnet.server import DoubleServer

STEPS = {
    "TRACE_GENERATION",
    "PROOF_GENERATION",
    "PROOF_VERIFICATION",
    "PROOF_VERIFICATION_ON_L1",
    "PROOF_VERIFICATION_ON_L2",
    "PROOF_GENERATION_AND_VERIFICATION",
    "FACT_HASH_REGISTRATION",
    "TRACE_AND_METADATA_GENERATION",
}
QUERY_STATUSES = {"RECEIVED", "IN_PROGRESS", "DONE", "FAILED"}
BUCKET_STATUSES = {"OPEN", "IN_PROGRESS", "DONE", "FAILED"}


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"message": message}, status=status)


@dataclass
class SubmittedQuery:
    """One received atlantic-query POST: its JSON record and the form it came with."""

    record: dict[str, Any]
    form: dict[str, str]
    files: dict[str, bytes] = field(default_factory=dict)
    polls: int = 0  # status queries answered so far


class Proving(Protocol):
    """Moves a polled query on (status, artifacts, errorReason); see `infra/devnet/atlantic_proving.py`."""

    def advance(self, double: AtlanticDouble, query: SubmittedQuery) -> None: ...


class AtlanticDouble(DoubleServer):
    """In-memory queries and buckets. Tests move statuses on with `set_query_status`,
    `set_bucket_status` and `finish_bucket`; artifacts are served from `artifacts_url`."""

    def __init__(self, api_key: str = "test-api-key", proving: Proving | None = None) -> None:
        super().__init__()
        self.api_key = api_key
        self.proving = proving
        self.queries: dict[str, SubmittedQuery] = {}
        self.buckets: dict[str, dict[str, Any]] = {}
        self.bucket_requests: list[dict[str, Any]] = []
        self.artifacts: dict[tuple[str, str], bytes] = {}
        self.artifact_headers: list[dict[str, str]] = []

    @property
    def artifacts_url(self) -> str:
        return f"{self.url}/artifacts"

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/atlantic-query-by-dedup-id", self._authed(self.by_dedup_id)),
            web.post("/atlantic-query", self._authed(self.add_query)),
            web.get("/atlantic-query/{query_id}", self._authed(self.get_query)),
            web.post("/buckets", self._authed(self.create_bucket)),
            web.post("/buckets/close", self._authed(self.close_bucket)),
            web.get("/buckets/{bucket_id}", self._authed(self.get_bucket)),
            web.get("/artifacts/queries/{query_id}/{file_name}", self.get_artifact),
        ]

    def _authed(
        self, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def checked(request: web.Request) -> web.StreamResponse:
            if request.headers.get("api-key") != self.api_key:
                return _error(401, "invalid or missing api-key")
            return await handler(request)

        return checked

    # --- test controls ---

    def query_records(self) -> list[dict[str, Any]]:
        return [q.record for q in self.queries.values()]

    def child_queries(self) -> list[SubmittedQuery]:
        return [q for q in self.queries.values() if q.form.get("result") != "PROOF_VERIFICATION_ON_L2"]

    def set_query_status(self, query_id: str, status: str, error_reason: str | None = None) -> None:
        assert status in QUERY_STATUSES, status
        record = self.queries[query_id].record
        record["status"] = status
        record["errorReason"] = error_reason

    def set_bucket_status(self, bucket_id: str, status: str) -> None:
        assert status in BUCKET_STATUSES, status
        self.buckets[bucket_id]["status"] = status

    def finish_bucket(self, bucket_id: str, *, pie: bytes, da_blob: bytes, proof: bytes | None = None) -> str:
        """Mark a closed bucket DONE and publish the aggregator query's artifacts; returns that query id."""
        bucket = self.buckets[bucket_id]
        bucket["status"] = "DONE"
        aggregator = next(
            q for q in self.queries.values()
            if q.record.get("bucketId") == bucket_id and q.record["step"] == "FACT_HASH_REGISTRATION"
        )  # fmt: skip
        aggregator.record["status"] = "DONE"
        query_id = aggregator.record["id"]
        self.artifacts[(query_id, "pie.cairo0.zip")] = pie
        self.artifacts[(query_id, "da_blob.json")] = da_blob
        if proof is not None:
            self.artifacts[(query_id, "proof.json")] = proof
        return str(query_id)

    # --- API ---

    def _new_query(self, **fields: Any) -> dict[str, Any]:
        return {
            "id": f"01{uuid.uuid4().hex[:24].upper()}",
            "externalId": None,
            "status": "RECEIVED",
            "step": None,
            "steps": [],
            "errorReason": None,
            "bucketId": None,
            "bucketJobIndex": None,
            "submittedByClient": "test",
            "projectId": "test-project",
            "createdAt": "2026-01-01T00:00:00Z",
            "completedAt": None,
            "isJobSizeValid": True,
            **fields,
        }

    async def by_dedup_id(self, request: web.Request) -> web.Response:
        dedup_id = request.query.get("dedupId")
        if not dedup_id:
            return _error(400, "dedupId is required")
        matches = [q for q in self.queries.values() if q.record.get("dedupId") == dedup_id]
        if not matches:
            return _error(404, f"no Atlantic query with dedup id {dedup_id}")
        return web.json_response({"atlanticQuery": matches[-1].record})

    async def add_query(self, request: web.Request) -> web.Response:
        if not request.content_type.startswith("multipart/form-data"):
            return _error(415, "multipart/form-data expected")
        form: dict[str, str] = {}
        files: dict[str, bytes] = {}
        async for part in await request.multipart():
            name = part.name or ""  # type: ignore[union-attr]
            if name in form or name in files:
                return _error(400, f"field {name} given twice")
            if part.filename:  # type: ignore[union-attr]
                files[name] = bytes(await part.read())  # type: ignore[union-attr]
            else:
                form[name] = await part.text()  # type: ignore[union-attr]
        problem = self._check_query_form(form, files)
        if problem:
            return _error(400, problem)
        bucket_id = form.get("bucketId")
        if bucket_id is not None:
            bucket = self.buckets.get(bucket_id)
            if bucket is None:
                return _error(404, f"bucket {bucket_id} not found")
            if bucket["status"] != "OPEN":
                return _error(400, f"bucket {bucket_id} is not open")
        record = self._new_query(
            dedupId=form.get("dedupId"),
            result=form["result"],
            network=form["network"],
            declaredJobSize=form["declaredJobSize"],
            layout=form.get("layout"),
            bucketId=bucket_id,
            bucketJobIndex=int(form["bucketJobIndex"]) if "bucketJobIndex" in form else None,
            isFactMocked=form["mockFactHash"] == "true",
        )
        self.queries[record["id"]] = SubmittedQuery(record, form, files)
        return web.json_response({"atlanticQueryId": record["id"]}, status=201)

    @staticmethod
    def _check_query_form(form: dict[str, str], files: dict[str, bytes]) -> str | None:
        required = ["declaredJobSize", "result", "network", "cairoVersion", "cairoVm", "sharpProver", "mockFactHash"]
        missing = [name for name in required if name not in form]
        if missing:
            return f"missing fields: {', '.join(missing)}"
        checks = {
            "declaredJobSize": {"S", "M", "L"},
            "result": STEPS,
            "network": {"MAINNET", "TESTNET"},
            "cairoVersion": {"cairo0", "cairo1"},
            "cairoVm": {"rust", "python"},
            "sharpProver": {"stone", "stwo"},
            "mockFactHash": {"true", "false"},
        }
        for name, allowed in checks.items():
            if form[name] not in allowed:
                return f"invalid {name}: {form[name]!r}"
        if form["result"] == "PROOF_VERIFICATION_ON_L2":
            if "inputFile" not in files or "programHash" not in form or "layout" not in form:
                return "an L2 verification query needs inputFile, programHash and layout"
            try:
                json.loads(files["inputFile"])
            except ValueError:
                return "inputFile is not JSON"
            return None
        if "pieFile" not in files or not files["pieFile"].startswith(b"PK"):
            return "pieFile (a zip) is required"
        if "dedupId" not in form:
            return "dedupId is required"
        if "bucketJobIndex" in form and not form["bucketJobIndex"].isdigit():
            return "bucketJobIndex must be a number"
        return None

    async def get_query(self, request: web.Request) -> web.Response:
        query = self.queries.get(request.match_info["query_id"])
        if query is None:
            return _error(404, "query not found")
        query.polls += 1
        if self.proving is not None:
            self.proving.advance(self, query)
        return web.json_response({"atlanticQuery": query.record, "metadataUrls": []})

    async def create_bucket(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "JSON body expected")
        if body.get("aggregatorVersion") != "snos_aggregator_0.14.1":
            return _error(400, "unsupported aggregatorVersion")
        params = body.get("aggregatorParams")
        if not isinstance(params, dict) or "use_kzg_da" not in params or "full_output" not in params:
            return _error(400, "aggregatorParams.use_kzg_da and full_output are required")
        if not isinstance(body.get("mockProof"), bool):
            return _error(400, "mockProof must be a boolean")
        self.bucket_requests.append(body)
        bucket = {
            "id": str(uuid.uuid4()),
            "externalId": body.get("externalId"),
            "status": "OPEN",
            "aggregatorVersion": body["aggregatorVersion"],
            "nodeWidth": None,
            "leaves": None,
            "chain": "L1",
            "projectId": "test-project",
            "createdByClient": "test",
            "createdAt": "2026-01-01T00:00:00Z",
        }
        self.buckets[bucket["id"]] = bucket
        return web.json_response({"atlanticBucket": bucket}, status=201)

    async def close_bucket(self, request: web.Request) -> web.Response:
        bucket_id = request.query.get("bucketId", "")
        bucket = self.buckets.get(bucket_id)
        if bucket is None:
            return _error(404, f"bucket {bucket_id} not found")
        if bucket["status"] != "OPEN":
            return _error(400, f"bucket {bucket_id} is already closed")
        bucket["status"] = "IN_PROGRESS"
        # Closing starts the aggregation: the bucket gains its aggregator query.
        record = self._new_query(step="FACT_HASH_REGISTRATION", bucketId=bucket_id, result="PROOF_VERIFICATION")
        self.queries[record["id"]] = SubmittedQuery(record, {})
        return web.json_response({"atlanticBucket": bucket})

    async def get_bucket(self, request: web.Request) -> web.Response:
        bucket_id = request.match_info["bucket_id"]
        bucket = self.buckets.get(bucket_id)
        if bucket is None:
            return _error(404, f"bucket {bucket_id} not found")
        queries = [q.record for q in self.queries.values() if q.record.get("bucketId") == bucket_id]
        return web.json_response({"bucket": bucket, "queries": queries})

    async def get_artifact(self, request: web.Request) -> web.Response:
        self.artifact_headers.append(dict(request.headers))
        key = (request.match_info["query_id"], request.match_info["file_name"])
        data = self.artifacts.get(key)
        if data is None:
            return _error(404, f"no artifact {key[1]} for query {key[0]}")
        return web.Response(body=data, content_type="application/octet-stream")
