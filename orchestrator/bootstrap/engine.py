"""The job engine's parameters from Settings (kept apart: the engine's settings grow with it)."""

from __future__ import annotations

from orchestrator.config import Settings, per_job_type
from orchestrator.core.models.job import JobType
from orchestrator.core.version import ORCHESTRATOR_VERSION
from orchestrator.services.job.engine import EngineParams


def _by_type(values: dict[str, int]) -> dict[JobType, int]:
    return {JobType(name): seconds for name, seconds in values.items()}


def engine_params(settings: Settings) -> EngineParams:
    s = settings.service
    return EngineParams(
        orchestrator_version=ORCHESTRATOR_VERSION,
        layer=settings.general.layer,
        handler_timeout_seconds=_by_type(settings.job_timeouts()),
        lease_seconds=s.job_lease_seconds,
        retry_delay_seconds=s.retry_delay_seconds,
        visibility_timeout_seconds=settings.queue.queue_visibility_timeout_seconds,
        transient_budget_seconds=_by_type(per_job_type(s.transient_retry_budgets)),
        default_transient_budget_seconds=s.transient_retry_budget_seconds,
        default_first_verification_delay_seconds=s.first_verification_delay_seconds,
        verification_budget_seconds=_by_type(per_job_type(s.verification_budgets)),
    )
