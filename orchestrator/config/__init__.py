"""Settings: one pydantic-settings model per area (`areas`), every field read from a `MADARA_ORCHESTRATOR_…`
environment variable named as the reference names it, `.env` files and `NAME_FILE` secrets too (`sources`);
`load_settings()` validates every area together (`settings`); `run_problems()` the cross-field rules
(`problems`). Import from here."""

from __future__ import annotations

from orchestrator.config.areas import (
    AlertSettings,
    AwsSettings,
    BatchingSettings,
    DaSettings,
    DatabaseSettings,
    GeneralSettings,
    MadaraSettings,
    OtelSettings,
    Profile,
    ProverKind,
    ProverSettings,
    QueueSettings,
    ServerSettings,
    ServiceSettings,
    SettlementLayer,
    SettlementSettings,
    SetupSettings,
    SnosSettings,
    StorageSettings,
    per_job_type,
)
from orchestrator.config.problems import pipeline_problems, run_problems
from orchestrator.config.settings import AREAS, Settings, load_settings
from orchestrator.config.sources import (
    MAX_ENV_FILE_BYTES,
    MAX_SECRET_FILE_BYTES,
    PREFIX,
    FileSecretsSource,
    SettingsError,
    env_name_of,
    private_key,
)
from orchestrator.core.models.queue import Layer

__all__ = [
    "AREAS",
    "MAX_ENV_FILE_BYTES",
    "MAX_SECRET_FILE_BYTES",
    "PREFIX",
    "AlertSettings",
    "AwsSettings",
    "BatchingSettings",
    "DaSettings",
    "DatabaseSettings",
    "FileSecretsSource",
    "GeneralSettings",
    "Layer",
    "MadaraSettings",
    "OtelSettings",
    "Profile",
    "ProverKind",
    "ProverSettings",
    "QueueSettings",
    "ServerSettings",
    "ServiceSettings",
    "Settings",
    "SettingsError",
    "SettlementLayer",
    "SettlementSettings",
    "SetupSettings",
    "SnosSettings",
    "StorageSettings",
    "env_name_of",
    "load_settings",
    "per_job_type",
    "pipeline_problems",
    "private_key",
    "run_problems",
]
