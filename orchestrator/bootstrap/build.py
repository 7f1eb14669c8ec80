"""`build`: Settings in, a wired Container out."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from orchestrator.bootstrap.container import Container, Infrastructure, OwnedClients
from orchestrator.bootstrap.infrastructure import build_engine, build_infrastructure
from orchestrator.bootstrap.pipeline import EngineCheckpoint, build_rollup_handlers, build_rollup_triggers
from orchestrator.clients.telemetry import process_telemetry
from orchestrator.config import Settings, SettingsError, run_problems
from orchestrator.core.models.job import JobType
from orchestrator.core.models.queue import WorkerTrigger
from orchestrator.services.job.handler import JobHandler
from orchestrator.services.job.triggers import TriggerDispatcher, TriggerFn
from orchestrator.services.observability import traced_triggers

log = logging.getLogger("orchestrator.bootstrap")


def build(
    settings: Settings,
    handlers: Mapping[JobType, JobHandler] | None = None,
    triggers: Mapping[WorkerTrigger, TriggerFn] | None = None,
    infra: Infrastructure | None = None,
) -> Container:
    """Wire everything.

    `handlers` and `triggers` replace the pipeline's own (tests, custom deployments). Without them the
    pipeline is built when an L2 node is configured (MADARA_ORCHESTRATOR_MADARA_RPC_URL); with no node,
    the engine runs the jobs it is given but creates none.
    """
    infra = infra or build_infrastructure(settings)
    if handlers is not None or triggers is not None:
        engine = build_engine(settings, infra, handlers or {})
        dispatcher = TriggerDispatcher(engine, traced_triggers(triggers or {}, process_telemetry()))
        return Container(settings, infra, engine, dispatcher)
    if not settings.madara.madara_rpc_url:
        log.warning("no L2 node configured (MADARA_ORCHESTRATOR_MADARA_RPC_URL): the pipeline is off")
        engine = build_engine(settings, infra, {})
        return Container(settings, infra, engine, TriggerDispatcher(engine, {}))
    return build_pipeline(settings, infra)


def build_pipeline(settings: Settings, infra: Infrastructure) -> Container:
    """The layer's pipeline over the configured node, prover, SNOS runner and settlement.

    Raises SettingsError (one line per problem) for settings the pipeline cannot run with: config
    validates, this only builds."""
    problems = run_problems(settings)
    if problems:
        raise SettingsError(problems)
    owned = OwnedClients()
    checkpoint = EngineCheckpoint()
    clients, handlers = build_rollup_handlers(settings, infra, owned, checkpoint)
    engine = build_engine(settings, infra, handlers)
    checkpoint.bind(engine)
    triggers = build_rollup_triggers(settings, infra, owned, clients, engine)
    dispatcher = TriggerDispatcher(engine, traced_triggers(triggers, process_telemetry()))
    return Container(settings, infra, engine, dispatcher, owned, chain=clients.chain)
