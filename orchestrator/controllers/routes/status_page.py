"""The status page at `/`: the pipeline at a glance, rendered on the server, refreshed by a few lines
of JavaScript (it fetches the page again and swaps the content; no build step, nothing from a CDN).

The same data is JSON at `/status` (and `/api/v1/status`). A failed job's Retry button asks for the
admin token once (kept in the tab's sessionStorage) and calls `POST /api/v1/jobs/{id}/retry`.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime

from aiohttp import web

from orchestrator.controllers.routes.envelope import envelope
from orchestrator.controllers.routes.keys import OPS, SERVICE_METRICS
from orchestrator.controllers.routes.schemas import (
    BatchView,
    BlockRow,
    BreakerView,
    JobView,
    StageCell,
    StatusData,
)
from orchestrator.controllers.routes.table import Access, NoParams, Route
from orchestrator.core.clients.database import AggregatorBatchQuery, SnosBatchQuery
from orchestrator.core.models.job import JobStatus, JobType

RECENT_BLOCKS = 16
RECENT_BATCHES = 10
STAGES = (
    JobType.SNOS_RUN,
    JobType.PROOF_CREATION,
    JobType.PROOF_REGISTRATION,
    JobType.DATA_SUBMISSION,
    JobType.AGGREGATOR,
    JobType.STATE_TRANSITION,
)
_COLOURS = {
    "Completed": "#2e7d32",
    "Failed": "#c62828",
    "VerificationTimeout": "#ef6c00",
    "VerificationFailed": "#ef6c00",
    "PendingVerification": "#1565c0",
    "LockedForProcessing": "#6a1b9a",
    "PendingRetry": "#f9a825",
    "Created": "#757575",
}


async def collect(request: web.Request) -> StatusData:
    ops = request.app[OPS]
    blocks = []
    for s in await ops.recent_blocks(RECENT_BLOCKS):
        cells: dict[JobType, StageCell] = {}
        for job in sorted([*s.block_jobs, *s.aggregator_proof_jobs], key=lambda j: j.updated_at):
            cells[job.job_type] = StageCell(job_type=job.job_type, status=job.status, id=job.id)
        blocks.append(
            BlockRow(
                block_number=s.block_number,
                snos_batch=s.snos_batch.index if s.snos_batch else None,
                aggregator_batch=s.aggregator_batch.index if s.aggregator_batch else None,
                stages=[cells[t] for t in STAGES if t in cells],
            )
        )
    failed = [
        *await ops.jobs_by_status(JobStatus.FAILED, 50),
        *await ops.jobs_by_status(JobStatus.VERIFICATION_TIMEOUT, 50),
    ]
    snos = await ops.snos_batches(SnosBatchQuery(limit=RECENT_BATCHES, sort="desc"))
    aggregator = await ops.aggregator_batches(AggregatorBatchQuery(limit=RECENT_BATCHES, sort="desc"))
    breakers = [
        BreakerView(
            service=str(m["service"]),
            breaker_state=str(m.get("breaker_state", "closed")),
            breaker_opened_total=int(m.get("breaker_opened_total", 0)),
        )
        for m in request.app[SERVICE_METRICS]()
    ]
    return StatusData(
        generated_at=datetime.now(UTC),
        last_settled_block=await ops.last_settled_block(),
        blocks=blocks,
        snos_batches=[BatchView.of(b) for b in snos],
        aggregator_batches=[BatchView.of(b) for b in aggregator],
        failed_jobs=[JobView.of(j) for j in failed],
        queue_depths={q.value: n for q, n in (await ops.queue_depths()).items()},
        circuit_breakers=breakers,
    )


async def status_json(request: web.Request, p: NoParams) -> web.Response:
    return envelope((await collect(request)).model_dump(mode="json"))


def _e(value: object) -> str:
    return html.escape(str(value))


def _badge(status: str, title: str = "") -> str:
    colour = _COLOURS.get(status, "#455a64")
    return f'<span class="badge" style="background:{colour}" title="{_e(title)}">{_e(status)}</span>'


def _blocks(data: StatusData) -> str:
    head = "".join(f"<th>{_e(t.value)}</th>" for t in STAGES)
    rows = []
    for b in data.blocks:
        by_type = {c.job_type: c for c in b.stages}
        cells = "".join(
            f'<td data-stage="{_e(t.value)}">{_badge(by_type[t].status.value, str(by_type[t].id))}</td>'
            if t in by_type
            else "<td></td>"
            for t in STAGES
        )
        rows.append(
            f'<tr data-block="{b.block_number}"><td>{b.block_number}</td><td>{_e(b.snos_batch)}</td>'
            f"<td>{_e(b.aggregator_batch)}</td>{cells}</tr>"
        )
    return (
        f"<table id='blocks'><thead><tr><th>block</th><th>SNOS batch</th><th>aggregator batch</th>{head}</tr></thead>"
        f"<tbody>{''.join(rows) or '<tr><td colspan=9>no blocks yet</td></tr>'}</tbody></table>"
    )


def _batches(title: str, batches: list[BatchView], element_id: str) -> str:
    rows = "".join(
        f"<tr><td>{b.index}</td><td>{b.start_block}-{b.end_block}</td><td>{_badge(b.status)}</td></tr>" for b in batches
    )
    return (
        f"<section><h2>{title}</h2><table id='{element_id}'><thead><tr><th>index</th><th>blocks</th>"
        f"<th>status</th></tr></thead><tbody>{rows}</tbody></table></section>"
    )


def _failed(data: StatusData) -> str:
    rows = "".join(
        f'<tr data-job="{j.id}"><td>{_e(j.job_type.value)} {j.internal_id}</td><td>{_badge(j.status.value)}</td>'
        f"<td class='reason'>{_e(j.failure_reason or '')}</td>"
        f'<td><button class="retry" data-id="{j.id}">Retry</button></td></tr>'
        for j in data.failed_jobs
        if j.status is JobStatus.FAILED
    ) + "".join(
        f'<tr data-job="{j.id}"><td>{_e(j.job_type.value)} {j.internal_id}</td><td>{_badge(j.status.value)}</td>'
        f"<td class='reason'>{_e(j.failure_reason or '')}</td><td></td></tr>"
        for j in data.failed_jobs
        if j.status is not JobStatus.FAILED
    )
    return (
        "<section><h2>Failed jobs</h2><table id='failed'><thead><tr><th>job</th><th>status</th><th>reason</th>"
        f"<th></th></tr></thead><tbody>{rows or '<tr><td colspan=4>none</td></tr>'}</tbody></table></section>"
    )


def _queues_and_breakers(data: StatusData) -> str:
    queues = "".join(f"<tr><td>{_e(q)}</td><td>{n}</td></tr>" for q, n in sorted(data.queue_depths.items()))
    breakers = "".join(
        f"<tr><td>{_e(b.service)}</td><td>{_badge(b.breaker_state)}</td><td>{b.breaker_opened_total}</td></tr>"
        for b in data.circuit_breakers
    )
    return (
        "<section><h2>Queues</h2><table id='queues'><thead><tr><th>queue</th><th>messages</th></tr></thead>"
        f"<tbody>{queues}</tbody></table></section><section><h2>Circuit breakers</h2><table id='breakers'><thead>"
        "<tr><th>service</th><th>state</th><th>opened</th></tr></thead>"
        f"<tbody>{breakers or '<tr><td colspan=3>none</td></tr>'}</tbody></table></section>"
    )


_SCRIPT = """
const tokenKey = "orchestrator-admin-token";
async function refresh() {
  try {
    const r = await fetch(location.pathname, {headers: {"Accept": "text/html"}});
    if (!r.ok) return;
    const doc = new DOMParser().parseFromString(await r.text(), "text/html");
    document.getElementById("content").replaceWith(doc.getElementById("content"));
  } catch (e) { /* the next tick tries again */ }
}
document.addEventListener("click", async (event) => {
  const button = event.target.closest("button.retry");
  if (!button) return;
  let token = sessionStorage.getItem(tokenKey);
  if (!token) { token = prompt("Admin token"); if (!token) return; sessionStorage.setItem(tokenKey, token); }
  const r = await fetch("/api/v1/jobs/" + button.dataset.id + "/retry", {
    method: "POST", headers: {"Authorization": "Bearer " + token}});
  const body = await r.json();
  if (r.status === 401 || r.status === 403) sessionStorage.removeItem(tokenKey);
  document.getElementById("notice").textContent = (r.ok ? "" : r.status + ": ") + (body.message || "");
  await refresh();
});
setInterval(refresh, REFRESH_MS);
"""


def render(data: StatusData, refresh_ms: int = 5000) -> str:
    settled = "none yet" if data.last_settled_block is None else str(data.last_settled_block)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>orchestrator status</title>
<style>body{{font:14px system-ui,sans-serif;margin:1.5em;color:#222}}table{{border-collapse:collapse;margin-bottom:1em}}
td,th{{border:1px solid #ddd;padding:.2em .5em;text-align:left}}section{{display:inline-block;vertical-align:top;
margin-right:2em}}.badge{{color:#fff;border-radius:3px;padding:0 .4em;font-size:12px}}#notice{{color:#c62828}}</style>
</head><body><h1>orchestrator</h1><p id="notice" role="status"></p><main id="content">
<p>Last block settled on L1: <strong id="last-settled">{_e(settled)}</strong>
<small>(as of {_e(data.generated_at.isoformat(timespec="seconds"))})</small></p>
<h2>Recent blocks</h2>{_blocks(data)}
{_batches("SNOS batches", data.snos_batches, "snos-batches")}
{_batches("Aggregator batches", data.aggregator_batches, "aggregator-batches")}
{_failed(data)}{_queues_and_breakers(data)}</main>
<p><a href="/docs">API</a> · <a href="/metrics">metrics</a></p>
<script>{_SCRIPT.replace("REFRESH_MS", str(int(refresh_ms)))}</script></body></html>"""


REFRESH: web.AppKey[int] = web.AppKey("status_refresh_ms", int)


async def page(request: web.Request, p: NoParams) -> web.Response:
    refresh_ms = request.app.get(REFRESH, 5000)
    return web.Response(text=render(await collect(request), refresh_ms), content_type="text/html")


ROUTES: list[Route] = [
    Route("GET", "/", page, "The status page (HTML; refreshes itself)", Access.READ, content_type="text/html",
          tag="ops", prefixes=("",)),
    Route("GET", "/status", status_json, "What the status page shows, as JSON", Access.READ, data=StatusData,
          tag="ops"),
]  # fmt: skip
