"""Tokens, the audit log, and the browser-borne requests a local admin API must refuse."""

from __future__ import annotations

import pytest

from orchestrator.bootstrap import Container
from orchestrator.controllers.routes.security import token_id
from orchestrator.core.models.job import JobStatus
from tests.unit.routes.conftest import AUTH, OTHER_TOKEN, TOKEN, ApiFactory, new_job

ADMIN_POSTS = [
    "/admin/jobs/retry/failed",
    "/admin/jobs/reverify/verification-timeout",
    "/admin/jobs/requeue/pending-verification",
    "/admin/jobs/requeue/created",
    "/admin/batches/close-open",
    "/jobs/00000000-0000-0000-0000-000000000000/retry",
    "/api/v1/jobs/00000000-0000-0000-0000-000000000000/process",
]


@pytest.mark.parametrize("path", ADMIN_POSTS)
async def test_admin_routes_reject_missing_wrong_and_malformed_tokens(api: ApiFactory, path: str) -> None:
    client = await api()
    r = await client.post(path)
    assert r.status == 401 and (await r.json())["success"] is False
    r = await client.post(path, headers={"Authorization": "Bearer wrong"})
    assert r.status == 403
    r = await client.post(path, headers={"Authorization": f"Basic {TOKEN}"})
    assert r.status == 401
    r = await client.post(path, headers={"Authorization": "Bearer "})
    assert r.status == 401


async def test_admin_disabled_refuses_even_the_right_token(api: ApiFactory) -> None:
    client = await api(admin=False)
    r = await client.post("/admin/jobs/retry/failed", headers=AUTH)
    assert r.status == 403 and "disabled" in (await r.json())["message"]


async def test_any_configured_token_works_for_rotation(api: ApiFactory) -> None:
    client = await api()
    for token in (TOKEN, OTHER_TOKEN):
        r = await client.post("/admin/jobs/requeue/created", headers={"Authorization": f"Bearer {token}"})
        assert r.status == 200, await r.text()


async def test_reads_are_open_unless_a_token_is_required(api: ApiFactory) -> None:
    open_client = await api()
    assert (await open_client.get("/jobs", params={"status": "Failed"})).status == 200
    closed = await api(reads_need_token=True)
    assert (await closed.get("/jobs", params={"status": "Failed"})).status == 401
    assert (await closed.get("/jobs", params={"status": "Failed"}, headers=AUTH)).status == 200
    assert (await closed.get("/health")).status == 200, "liveness stays open"


async def test_audit_log_records_admin_actions_without_the_token(api: ApiFactory, container: Container) -> None:
    job = await new_job(container, status=JobStatus.FAILED)
    client = await api()
    r = await client.post(f"/jobs/{job.id}/retry", headers={**AUTH, "x-trace-id": "cd" * 16})
    assert r.status == 200
    r = await client.post(f"/jobs/{job.id}/retry", headers=AUTH)
    assert r.status == 409
    r = await client.post("/admin/jobs/retry/failed", headers={"Authorization": f"Bearer {OTHER_TOKEN}"})
    r = await client.get("/admin/audit", headers=AUTH)
    assert r.status == 200
    entries = (await r.json())["data"]["entries"]
    assert [(e["action"], e["status"]) for e in entries] == [
        ("POST /admin/jobs/retry/failed", 200),
        ("POST /jobs/{id}/retry", 409),
        ("POST /jobs/{id}/retry", 200),
    ]
    assert entries[0]["actor"] == token_id(OTHER_TOKEN) and entries[1]["actor"] == token_id(TOKEN)
    assert entries[0]["result"] == "0 ok, 0 failed"
    assert entries[2]["target"] == str(job.id) and entries[2]["trace_id"] == "cd" * 16
    assert TOKEN not in r.headers.get("content-type", "") + await r.text()
    r = await client.get("/admin/audit", params={"actor": token_id(TOKEN), "limit": "1"}, headers=AUTH)
    assert [e["status"] for e in (await r.json())["data"]["entries"]] == [409]
    r = await client.get("/admin/audit")
    assert r.status == 401, "the audit log is for admins"


async def test_a_cross_site_form_post_cannot_run_an_admin_action(api: ApiFactory) -> None:
    client = await api()
    r = await client.post("/admin/jobs/requeue/created", data="x=1", headers={**AUTH, "Content-Type": "text/plain"})
    assert r.status == 415
    r = await client.post("/admin/jobs/requeue/created", headers={**AUTH, "Origin": "http://evil.example"})
    assert r.status == 403 and "Cross-origin" in (await r.json())["message"]
    same = f"http://{client.host}:{client.port}"
    r = await client.post("/admin/jobs/requeue/created", headers={**AUTH, "Origin": same})
    assert r.status == 200


async def test_bodies_must_be_small_json(api: ApiFactory) -> None:
    client = await api()
    json_headers = {**AUTH, "Content-Type": "application/json"}
    r = await client.post("/admin/jobs/requeue/created", data=b"{" * 10, headers=json_headers)
    assert r.status == 400
    r = await client.post("/admin/jobs/requeue/created", data=b"[" * 100_000, headers=json_headers)
    assert r.status == 413
    r = await client.post("/admin/jobs/requeue/created", data=b"{}", headers=json_headers)
    assert r.status == 200


async def test_dns_rebinding_host_is_refused(api: ApiFactory) -> None:
    client = await api(allowed_hosts=("127.0.0.1", "localhost", "::1"))
    r = await client.get("/health", headers={"Host": "attacker.example:3000"})
    assert r.status == 421 and (await r.json())["success"] is False
    r = await client.get("/health", headers={"Host": "localhost:3000"})
    assert r.status == 200
