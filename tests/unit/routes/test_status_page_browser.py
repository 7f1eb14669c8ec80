"""The status page in a real headless Chromium (Debian's, driven by Playwright; nothing downloads a
browser): it shows the settled block and the pipeline, and its Retry button retries a failed job
through the API with the admin token the page asks for.

The server is in-process on 127.0.0.1 with seeded data (a settled batch, a failed job), not the
devnet: the devnet takes minutes to settle a block.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from playwright.async_api import Dialog, async_playwright

from orchestrator.bootstrap import Container
from orchestrator.core.models.batch import AggregatorBatch, AggregatorBatchStatus, SnosBatch, SnosBatchStatus
from orchestrator.core.models.job import JobStatus, JobType
from orchestrator.core.models.metadata import SettlementContext, SnosMetadata, StateUpdateMetadata
from tests.unit.routes.conftest import TOKEN, ApiFactory

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 15_000

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (scripts/install-chromium.sh)")


async def seed(container: Container) -> str:
    """Blocks 0-1 settled (batch 0), block 2 in progress with its SnosRun Failed; returns that job's id."""
    db, engine = container.database, container.engine
    await db.create_aggregator_batch(
        AggregatorBatch(index=0, start_block=0, end_block=1, num_blocks=2, status=AggregatorBatchStatus.COMPLETED)
    )
    await db.create_aggregator_batch(AggregatorBatch(index=1, start_block=2, end_block=2))
    await db.update_or_create_snos_batch(
        SnosBatch(index=0, aggregator_batch_index=0, start_block=0, end_block=1, status=SnosBatchStatus.COMPLETED)
    )
    await db.update_or_create_snos_batch(SnosBatch(index=1, aggregator_batch_index=1, start_block=2, end_block=2))
    settled = await engine.create_job(
        JobType.SNOS_RUN, 0, SnosMetadata(snos_batch_index=0, start_block=0, end_block=1, num_blocks=2)
    )
    transition = await engine.create_job(
        JobType.STATE_TRANSITION, 0, StateUpdateMetadata(context=SettlementContext(to_settle=0))
    )
    failing = await engine.create_job(
        JobType.SNOS_RUN, 1, SnosMetadata(snos_batch_index=1, start_block=2, end_block=2, num_blocks=1)
    )
    assert settled is not None and transition is not None and failing is not None
    await engine.write(settled, JobStatus.COMPLETED)
    await engine.write(transition, JobStatus.COMPLETED)
    await engine.move_job_to_failed(failing, "prover said no")
    return str(failing.id)


async def test_status_page_shows_the_settled_block_and_retries_a_failed_job(
    api: ApiFactory, container: Container
) -> None:
    failed_id = await seed(container)
    client = await api()
    url = f"http://{client.host}:{client.port}/"
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            page = await browser.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            prompts: list[str] = []

            async def answer(dialog: Dialog) -> None:
                prompts.append(dialog.message)
                await dialog.accept(TOKEN)

            page.on("dialog", lambda d: asyncio.ensure_future(answer(d)))
            await page.goto(url)
            assert await page.text_content("#last-settled") == "1"
            settled_row = page.locator("#blocks tr[data-block='1'] td[data-stage='StateTransition']")
            assert await settled_row.text_content() == "Completed"
            failed_row = page.locator(f"#failed tr[data-job='{failed_id}']")
            assert "prover said no" in (await failed_row.locator(".reason").text_content() or "")

            await failed_row.locator("button.retry").click()
            await page.wait_for_function(
                "document.getElementById('notice').textContent.includes('queued for normal retry')"
            )
            assert prompts == ["Admin token"]
            await page.locator(f"#failed tr[data-job='{failed_id}']").wait_for(state="detached")
        finally:
            await browser.close()
    stored = await container.database.get_job_by_internal_id_and_type(1, JobType.SNOS_RUN)
    assert stored is not None and stored.status is JobStatus.PENDING_RETRY
