"""`orchestrator run`: the worker process (queue consumers, cron, sweep) and the HTTP API.

It runs until SIGINT/SIGTERM, or until a supervised loop keeps dying: then it shuts down the same way
and exits with status 1, naming the loop.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Mapping
from typing import Any

import click
from aiohttp import web

from orchestrator.bootstrap import Container, build, visibility_timeouts
from orchestrator.clients.telemetry import process_telemetry
from orchestrator.config import Profile, Settings, run_problems
from orchestrator.controllers.cli.errors import CliError, CliFailure
from orchestrator.controllers.cli.logs import configure_logging
from orchestrator.controllers.cli.options import load_from_cli, settings_options
from orchestrator.controllers.routes.health import Check, use_health_sources
from orchestrator.controllers.routes.server import GuardedAppRunner, build_api, quiet_resource_errors
from orchestrator.controllers.workers.supervision import RestartPolicy
from orchestrator.controllers.workers.supervisor import WorkerParams, WorkerSupervisor, reference_concurrency
from orchestrator.core.errors import ConfigError
from orchestrator.core.models.job import JobType
from orchestrator.core.models.queue import WorkerTrigger
from orchestrator.core.redact import scrub_urls
from orchestrator.services.job.handler import JobHandler
from orchestrator.services.job.triggers import TriggerFn

log = logging.getLogger("orchestrator.run")

RUN_AREAS = (
    "general", "aws", "storage", "queue", "alerts", "database", "server", "madara", "snos",
    "service", "batching", "settlement", "da", "prover", "otel",
)  # fmt: skip


def worker_params(settings: Settings) -> WorkerParams:
    s = settings.service
    return WorkerParams(
        layer=settings.general.layer,
        concurrency=reference_concurrency(
            s.max_concurrent_snos_jobs, s.max_concurrent_proving_jobs, s.max_concurrent_aggregator_jobs
        ),
        wait_seconds=settings.queue.queue_wait_time_seconds,
        retry_delay=s.retry_delay_seconds,
        visibility_timeout=settings.queue.queue_visibility_timeout_seconds,
        visibility_timeouts=visibility_timeouts(settings),
        sweep_interval=s.sweep_interval_seconds,
        cron_interval=settings.setup.event_bridge_interval_seconds,
        graceful_shutdown_timeout=s.graceful_shutdown_timeout,
        restart_policy=RestartPolicy(max_deaths=s.loop_max_deaths, window_seconds=s.loop_death_window_seconds),
    )


async def preflight(container: Container) -> list[str]:
    """Each dependency answers within its timeout, or a line saying what is wrong and how to fix it."""
    if container.settings.general.profile is Profile.AWS:
        # The reference's four checks (ping, HeadBucket, trigger-queue and topic attributes), naming resources.
        from orchestrator.resources.aws_clients import aws_preflight

        infra = container.infra
        return await aws_preflight(
            container.settings,
            infra.database,
            infra.storage,
            infra.queue,
            infra.alerts,
        )
    checks = {
        "database": container.infra.database.health_check,
        "queue": container.infra.queue.health_check,
        "storage": container.infra.storage.health_check,
        "alerts": container.infra.alerts.health_check,
    }
    problems: list[str] = []
    for name, check in checks.items():
        try:
            await asyncio.wait_for(check(), timeout=30)
        except Exception as exc:  # noqa: BLE001 - a preflight check reports any failure, never raises
            hint = "run `orchestrator setup` for this profile" if name != "database" else "check the connection URL"
            problems.append(f"{name}: {exc or type(exc).__name__} ({hint})")
    return problems


def readiness_checks(container: Container) -> dict[str, Check]:
    """What `/ready` asks: the stores no worker can do without."""
    infra = container.infra
    return {
        "database": infra.database.health_check,
        "queue": infra.queue.health_check,
        "storage": infra.storage.health_check,
    }


async def serve(
    settings: Settings,
    handlers: Mapping[JobType, JobHandler] | None = None,
    triggers: Mapping[WorkerTrigger, TriggerFn] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Run until SIGINT/SIGTERM (or `stop`), then shut down within the graceful timeout."""
    try:
        container = build(settings, handlers=handlers, triggers=triggers)
    except (ConfigError, ValueError) as exc:
        raise CliError(f"invalid settings: {exc}") from None
    try:
        await container.start()
    except Exception as exc:  # noqa: BLE001 - any start failure is one line, never a traceback
        await container.close()
        raise CliFailure(f"could not start: {scrub_urls(str(exc)) or type(exc).__name__}") from None
    problems = await preflight(container)
    if problems:
        await container.close()
        raise CliFailure("preflight failed:\n  " + "\n  ".join(problems))

    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    supervisor = WorkerSupervisor(
        container.engine, container.queue, container.dispatcher, worker_params(settings), container.infra.cron
    )
    app = build_api(container, settings)
    use_health_sources(app, supervisor.loop_states, readiness_checks(container))
    quiet_resource_errors(loop)
    runner = GuardedAppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.server.host, settings.server.port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        await container.close()
        raise CliFailure(f"cannot listen on {settings.server.host}:{settings.server.port}: {exc.strerror}") from None
    telemetry = process_telemetry()
    telemetry.start_otlp(settings.otel.otel_collector_endpoint, settings.otel.otel_service_name)
    await supervisor.start()
    log.info(
        "orchestrator running: profile %s, layer %s, http://%s:%s",
        settings.general.profile, settings.general.layer, settings.server.host, settings.server.port,
    )  # fmt: skip
    try:
        await _first_of(stop, supervisor.failed)
        log.info("shutting down (grace %ss)", settings.service.graceful_shutdown_timeout)
    finally:
        await supervisor.stop()
        await runner.cleanup()
        await container.close()
        await asyncio.to_thread(telemetry.stop_otlp)  # flushes the last spans and metrics
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    if supervisor.loops.fatal_loop is not None:
        raise CliFailure(f"the {supervisor.loops.fatal_loop} loop kept dying; its tracebacks are in the log above")


async def _first_of(*events: asyncio.Event) -> None:
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


def run_with(settings: Settings, **kwargs: Any) -> None:
    problems = run_problems(settings)
    if problems:
        raise CliError("invalid settings:\n  " + "\n  ".join(problems))
    configure_logging(settings.general.log_level, settings.general.log_format)
    asyncio.run(serve(settings, **kwargs))


@click.command("run")
@click.option("--env-file", default=".env", show_default=True, help="dotenv file to read (if it exists)")
@settings_options(RUN_AREAS)
def run_command(env_file: str, **options: Any) -> None:
    """Run the workers and the HTTP API until SIGINT/SIGTERM.

    Every setting can come from a flag, the environment (MADARA_ORCHESTRATOR_*), or the --env-file.
    """
    run_with(load_from_cli(options, env_file))
