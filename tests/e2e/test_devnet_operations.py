"""Operations on a running devnet: `/metrics` counters move as its jobs complete, the status page in
headless Chromium (Debian's, driven by Playwright) shows the settled block, and its Retry button
retries a failed job through the API with the admin token. About two minutes."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Dialog, async_playwright
from prometheus_client.parser import text_string_to_metric_families

from infra.launch.anvil import Anvil
from infra.launch.base import REPO
from infra.launch.solc import NODE_DIR
from orchestrator.clients.database.sqlite import SqliteDatabaseClient
from orchestrator.core.models.job import JobItemUpdates, JobStatus, JobType
from tests.e2e.devnet_run import devnet_argv, devnet_env
from tests.services import service_unavailable
from tests.unit.routes.test_status_page_browser import ARGS, CHROMIUM

pytestmark = [pytest.mark.services, pytest.mark.slow]

TOKEN = "devnet-operations-token-0123456789"
BLOCKS = 2
DEADLINE = 360.0


async def _until(what: str, check: Callable[[], Any], timeout: float = DEADLINE) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        found = await check()
        if found:
            return found
        await asyncio.sleep(1)
    raise AssertionError(f"timed out waiting for {what}")


async def _get(session: aiohttp.ClientSession, url: str) -> Any:
    try:
        async with session.get(url) as response:
            return await response.text() if response.status == 200 else None
    except aiohttp.ClientError:
        return None


def _counter(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return 0.0


async def _fail_first_snos_job(database_file: Path) -> str:
    db = SqliteDatabaseClient(database_file)
    await db.connect()
    try:
        job = await db.get_job_by_internal_id_and_type(1, JobType.SNOS_RUN)
        assert job is not None
        meta = job.metadata.model_copy(deep=True)
        meta.common.record_failure("injected by the test")
        await db.update_job(job, JobItemUpdates(status=JobStatus.FAILED, metadata=meta))
        return str(job.id)
    finally:
        await db.close()


async def _job_status(database_file: Path, job_id: str) -> JobStatus:
    db = SqliteDatabaseClient(database_file)
    await db.connect()
    try:
        job = await db.get_job_by_id(uuid.UUID(job_id))
        assert job is not None
        return job.status
    finally:
        await db.close()


async def _retry_in_the_browser(url: str, last_block: int, job_id: str) -> None:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            page = await browser.new_page()
            page.set_default_timeout(30_000)

            async def answer(dialog: Dialog) -> None:
                await dialog.accept(TOKEN)

            page.on("dialog", lambda d: asyncio.ensure_future(answer(d)))
            await page.goto(url + "/")
            assert await page.text_content("#last-settled") == str(last_block)
            row = page.locator(f"#failed tr[data-job='{job_id}']")
            await row.wait_for()  # the page refreshes itself: the injected failure appears
            await row.locator("button.retry").click()
            await page.wait_for_function(
                "document.getElementById('notice').textContent.includes('queued for normal retry')"
            )
        finally:
            await browser.close()


async def _scenario(data_dir: Path) -> None:
    async def run_file() -> dict[str, Any] | None:
        path = data_dir / "devnet.json"
        return json.loads(path.read_text()) if path.exists() else None

    run: dict[str, Any] = await _until("devnet.json", run_file)
    url, last_block = run["orchestrator_url"], run["last_block"]
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        before = await _until("/metrics", lambda: _get(session, url + "/metrics"))

        async def settled() -> bool:
            body = await _get(session, url + "/api/v1/status")
            return body is not None and json.loads(body)["data"]["last_settled_block"] == last_block

        await _until("the last block settled", settled)
        after = await _get(session, url + "/metrics")
        done = {"operation_job_type": "StateTransition", "operation_type": "verify_job"}
        assert _counter(after, "successful_job_operations_total", **done) > _counter(
            before, "successful_job_operations_total", **done
        )
        assert _counter(after, "block_state", **done) >= 1
        job_id = await _fail_first_snos_job(data_dir / "orchestrator.sqlite3")
        await _retry_in_the_browser(url, last_block, job_id)
        assert await _job_status(data_dir / "orchestrator.sqlite3", job_id) is not JobStatus.FAILED
        retried = await _get(session, url + "/metrics")
        assert (
            _counter(retried, "job_retry_count_total", operation_job_type="SnosRun", retry_reason="manual_retry") >= 1
        )
        audit = await session.get(url + "/admin/audit", headers={"Authorization": f"Bearer {TOKEN}"})
        entries = (await audit.json())["data"]["entries"]
        assert entries[0]["action"] == "POST /jobs/{id}/retry" and entries[0]["target"] == job_id


def test_metrics_status_page_and_retry_on_a_running_devnet(tmp_path: Path, anvil_factory: Callable[..., Anvil]) -> None:
    if not (NODE_DIR / "node_modules" / "solc").is_dir():
        service_unavailable("npm solc is not installed (scripts/install-node-tools.sh)")
    if not CHROMIUM.exists():
        service_unavailable("Debian's chromium is not installed (scripts/install-chromium.sh)")
    l1 = anvil_factory(block_time=1)
    data_dir = tmp_path / "devnet"
    env = devnet_env({"MADARA_ORCHESTRATOR_ADMIN_ENABLED": "true", "MADARA_ORCHESTRATOR_ADMIN_TOKEN": TOKEN})
    argv = devnet_argv("--blocks", str(BLOCKS), "--port", "0")
    argv += ["--data-dir", str(data_dir), "--l1-url", l1.url, "--timeout", str(DEADLINE + 60), "--interval", "10"]
    with (tmp_path / "devnet.out").open("w") as out:
        devnet = subprocess.Popen(argv, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
        try:
            asyncio.run(_scenario(data_dir))
        except AssertionError as exc:
            log = data_dir / "orchestrator.log"
            tail = log.read_text()[-4000:] if log.exists() else ""
            raise AssertionError(f"{exc}\n{(tmp_path / 'devnet.out').read_text()[-3000:]}\n{tail}") from None
        finally:
            devnet.terminate()  # the devnet stops what it started, by PID
            devnet.wait(timeout=60)
