"""The job engine's parameters from Settings (kept apart: the engine's settings grow with it)."""

from __future__ import annotations

from orchestrator.config import Settings
from orchestrator.core.version import ORCHESTRATOR_VERSION
from orchestrator.services.job.engine import EngineParams


def engine_params(settings: Settings) -> EngineParams:
    return EngineParams(
        orchestrator_version=ORCHESTRATOR_VERSION,
        layer=settings.general.layer,
        retry_delay_seconds=settings.service.retry_delay_seconds,
        visibility_timeout_seconds=settings.queue.queue_visibility_timeout_seconds,
    )
