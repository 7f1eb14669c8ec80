"""A double of SHARP's `/v1/gateway` API over mutual TLS, and the GPS verifier it registers facts on."""

from __future__ import annotations

import base64
import binascii
import json
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trustme
from aiohttp import web
from cryptography.hazmat.primitives import serialization

from tests.doubles import DoubleServer

PREFIX = "/v1/gateway"
STATUSES = {"UNKNOWN", "NOT_CREATED", "IN_PROGRESS", "PROCESSED", "INVALID", "FAILED"}


@dataclass(frozen=True)
class MtlsFiles:
    """PEM files for one SHARP setup: what the client gets and what the server uses."""

    ca_crt: Path  # the client's "server certificate" file: the root it trusts
    server_crt: Path
    server_key: Path
    client_crt: Path
    client_key: Path  # PKCS#8
    server_context: ssl.SSLContext


def _pkcs8(key_pem: bytes) -> bytes:
    key = serialization.load_pem_private_key(key_pem, password=None)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def make_mtls_files(directory: Path) -> MtlsFiles:
    """A test CA, a server certificate for 127.0.0.1 and a client certificate, both signed by the CA.
    The server context requires a client certificate from that CA."""
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    client = ca.issue_cert("orchestrator.test")
    files = {
        "ca.crt": ca.cert_pem.bytes(),
        "server.crt": server.cert_chain_pems[0].bytes(),
        "server.key": server.private_key_pem.bytes(),
        "client.crt": client.cert_chain_pems[0].bytes(),
        "client.key": _pkcs8(client.private_key_pem.bytes()),
    }
    for name, data in files.items():
        (directory / name).write_bytes(data)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.configure_cert(context)
    ca.configure_trust(context)
    context.verify_mode = ssl.CERT_REQUIRED
    return MtlsFiles(
        ca_crt=directory / "ca.crt",
        server_crt=directory / "server.crt",
        server_key=directory / "server.key",
        client_crt=directory / "client.crt",
        client_key=directory / "client.key",
        server_context=context,
    )


@dataclass
class FakeGpsVerifier:
    """The L1 fact registry SHARP writes to: `is_valid` is the FactChecker the client is given."""

    facts: set[str] = field(default_factory=set)
    checks: int = 0

    async def is_valid(self, fact: str) -> bool:
        self.checks += 1
        return _norm(fact) in self.facts

    def register(self, fact: str) -> None:
        self.facts.add(_norm(fact))


def _norm(fact: str) -> str:
    digits = fact.lower().removeprefix("0x")
    return "0x" + digits.rjust(64, "0")


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"code": code, "message": message}, status=status)


@dataclass
class SharpJob:
    key: str
    pie: bytes
    applicative: bool
    children: list[str]
    query: dict[str, str]
    status: str = "NOT_CREATED"
    validation_done: bool | None = None
    error_log: str | None = None
    invalid_reason: str | None = None
    proof: str | None = None


class SharpDouble(DoubleServer):
    """Jobs by cairo_job_key. Tests move them on with `set_status`; an applicative job set to
    PROCESSED registers its key (the aggregator fact) on `verifier`, unless told not to."""

    def __init__(self, ssl_context: ssl.SSLContext, customer_id: str = "test-customer") -> None:
        super().__init__(ssl_context)
        self.customer_id = customer_id
        self.jobs: dict[str, SharpJob] = {}
        self.verifier = FakeGpsVerifier()

    @property
    def prefix(self) -> str:
        return PREFIX

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post(f"{PREFIX}/add_job", self.add_job),
            web.post(f"{PREFIX}/add_applicative_job", self.add_applicative_job),
            web.get(f"{PREFIX}/get_status", self.get_status),
            web.get(f"{PREFIX}/get_proof", self.get_proof),
            web.get(f"{PREFIX}/is_alive", self.is_alive),
        ]

    # --- test controls ---

    def set_status(
        self,
        key: str,
        status: str,
        *,
        validation_done: bool | None = None,
        error_log: str | None = None,
        invalid_reason: str | None = None,
        register_fact: bool = True,
    ) -> None:
        assert status in STATUSES, status
        job = self.jobs[key]
        job.status = status
        job.validation_done = validation_done
        job.error_log = error_log
        job.invalid_reason = invalid_reason
        if status == "PROCESSED":
            job.proof = json.dumps({"proof_parameters": {"job": key}, "public_input": {}})
            if job.applicative and register_fact:
                self.verifier.register(key)

    # --- API ---

    def _customer_problem(self, request: web.Request) -> web.Response | None:
        if request.query.get("customer_id") != self.customer_id:
            return _error(403, "UNKNOWN_CUSTOMER", "customer_id is missing or unknown")
        if not request.query.get("cairo_job_key") and not request.path.endswith("is_alive"):
            return _error(400, "MISSING_JOB_KEY", "cairo_job_key is required")
        return None

    async def _read_pie(self, request: web.Request) -> tuple[dict[str, Any], bytes] | web.Response:
        try:
            body = await request.json()
            pie = base64.b64decode(body["cairo_pie_encoded"], validate=True)
        except (ValueError, KeyError, TypeError, binascii.Error):
            return _error(400, "INVALID_REQUEST", "body must be JSON with base64 cairo_pie_encoded")
        if not pie.startswith(b"PK"):
            return _error(400, "INVALID_CAIRO_PIE_FILE_FORMAT", "cairo_pie_encoded is not a zip")
        return body, pie

    def _check_flags(self, request: web.Request, expected: dict[str, str]) -> web.Response | None:
        for name, value in expected.items():
            if request.query.get(name) != value:
                return _error(400, "INVALID_REQUEST", f"{name} must be {value}")
        return None

    async def add_job(self, request: web.Request) -> web.Response:
        flags = {"offchain_proof": "true", "for_applicative": "true", "program_hash_function": "PEDERSEN"}
        problem = self._customer_problem(request) or self._check_flags(request, flags)
        if problem:
            return problem
        read = await self._read_pie(request)
        if isinstance(read, web.Response):
            return read
        key = request.query["cairo_job_key"]
        if key in self.jobs:
            return _error(400, "JOB_ALREADY_EXISTS", f"job {key} exists")
        self.jobs[key] = SharpJob(key, read[1], applicative=False, children=[], query=dict(request.query))
        return web.json_response({"code": "JOB_RECEIVED_SUCCESSFULLY"})

    async def add_applicative_job(self, request: web.Request) -> web.Response:
        flags = {"offchain_proof": "false", "program_hash_function": "PEDERSEN"}
        problem = self._customer_problem(request) or self._check_flags(request, flags)
        if problem:
            return problem
        read = await self._read_pie(request)
        if isinstance(read, web.Response):
            return read
        body, pie = read
        children = body.get("children_cairo_job_keys")
        if not isinstance(children, list) or not children:
            return _error(400, "INVALID_REQUEST", "children_cairo_job_keys must be a non-empty list")
        unknown = [child for child in children if child not in self.jobs]
        if unknown:
            return _error(400, "UNKNOWN_CHILDREN", f"unknown children: {', '.join(unknown)}")
        key = request.query["cairo_job_key"]
        if key in self.jobs:
            return _error(400, "JOB_ALREADY_EXISTS", f"job {key} exists")
        self.jobs[key] = SharpJob(key, pie, applicative=True, children=children, query=dict(request.query))
        return web.json_response({"code": "JOB_RECEIVED_SUCCESSFULLY"})

    async def get_status(self, request: web.Request) -> web.Response:
        problem = self._customer_problem(request)
        if problem:
            return problem
        job = self.jobs.get(request.query["cairo_job_key"])
        if job is None:
            return web.json_response({"status": "UNKNOWN"})
        reply: dict[str, Any] = {"status": job.status}
        if job.validation_done is not None:
            reply["validation_done"] = job.validation_done
        if job.error_log is not None:
            reply["error_log"] = job.error_log
        if job.invalid_reason is not None:
            reply["invalid_reason"] = job.invalid_reason
        return web.json_response(reply)

    async def get_proof(self, request: web.Request) -> web.Response:
        problem = self._customer_problem(request)
        if problem:
            return problem
        job = self.jobs.get(request.query["cairo_job_key"])
        if job is None or job.proof is None:
            return _error(400, "PROOF_NOT_READY", "no proof for this job")
        return web.Response(text=job.proof, content_type="application/json")

    async def is_alive(self, request: web.Request) -> web.Response:
        problem = self._customer_problem(request)
        return problem or web.Response(text="alive")
