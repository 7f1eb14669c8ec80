"""Settings: every area validated together. `load_settings()` raises `SettingsError` with one line per
problem, so the CLI can print them all at once instead of a traceback."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, BaseModel, ValidationError

from orchestrator.config.areas import (
    AlertSettings,
    AwsSettings,
    BatchingSettings,
    DaSettings,
    DatabaseSettings,
    GeneralSettings,
    MadaraSettings,
    OtelSettings,
    ProverSettings,
    QueueSettings,
    ServerSettings,
    ServiceSettings,
    SettlementSettings,
    SetupSettings,
    SnosSettings,
    StorageSettings,
)
from orchestrator.config.sources import (
    MAX_ENV_FILE_BYTES,
    PREFIX,
    FileSecretsSource,
    SettingsError,
    _Area,
    env_name_of,
)

AREAS: tuple[type[_Area], ...] = (
    GeneralSettings,
    AwsSettings,
    StorageSettings,
    QueueSettings,
    AlertSettings,
    DatabaseSettings,
    ServerSettings,
    MadaraSettings,
    SnosSettings,
    ServiceSettings,
    BatchingSettings,
    SettlementSettings,
    DaSettings,
    ProverSettings,
    OtelSettings,
    SetupSettings,
)


class Settings(BaseModel):
    """Every area, validated together."""

    general: GeneralSettings
    aws: AwsSettings
    storage: StorageSettings
    queue: QueueSettings
    alerts: AlertSettings
    database: DatabaseSettings
    server: ServerSettings
    madara: MadaraSettings
    snos: SnosSettings
    service: ServiceSettings
    batching: BatchingSettings
    settlement: SettlementSettings
    da: DaSettings
    prover: ProverSettings
    otel: OtelSettings
    setup: SetupSettings

    def job_timeouts(self) -> dict[str, int]:
        s = self.service
        return {
            "SnosRun": s.snos_job_timeout_seconds,
            "ProofCreation": s.proving_job_timeout_seconds,
            "ProofRegistration": s.proof_registration_timeout_seconds,
            "DataSubmission": s.data_submission_timeout_seconds,
            "StateTransition": s.state_transition_timeout_seconds,
            "Aggregator": s.aggregator_job_timeout_seconds,
        }


def _field_env_map() -> dict[tuple[str, str], str]:
    return {(area.area, name): env_name_of(name, f) for area in AREAS for name, f in area.model_fields.items()}


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    env_file: str | Path | None = ".env",
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Build Settings from (highest first) overrides, NAME_FILE secrets, the environment and `.env`.

    `overrides` maps "area.field" (or a bare field name) to a value, as the CLI flags do.
    Raises SettingsError listing every invalid or missing setting by its environment name.
    """
    environ = os.environ if environ is None else environ
    by_area: dict[str, dict[str, Any]] = {area.area: {} for area in AREAS}
    owner = {name: area.area for area in AREAS for name in area.model_fields}
    for key, value in (overrides or {}).items():
        area_name, _, field_name = key.rpartition(".")
        area_name = area_name or owner.get(field_name, "")
        if area_name not in by_area:
            raise SettingsError([f"unknown setting {key!r}"])
        by_area[area_name][field_name] = value
    env_files = str(env_file) if env_file and Path(env_file).is_file() else None
    if env_files is not None:
        _check_env_file(Path(env_files))
    problems: list[str] = []
    built: dict[str, _Area] = {}
    env_names = _field_env_map()
    for area in AREAS:
        area_cls = type(area.__name__, (area,), {"_environ": environ})
        try:
            if environ is os.environ:
                built[area.area] = area_cls(_env_file=env_files, **by_area[area.area])
            else:
                built[area.area] = _from_mapping(area_cls, environ, by_area[area.area])
        except ValidationError as exc:
            for err in exc.errors():
                field_name = str(err["loc"][0]) if err["loc"] else "?"
                env = env_names.get((area.area, field_name), field_name)
                given = err.get("input")
                shown = (
                    "" if isinstance(given, dict) or "secret" in env.lower() or "KEY" in env else f" (got {given!r})"
                )
                problems.append(f"{env}: {err['msg']}{shown}")
        except ValueError as exc:  # raised by FileSecretsSource
            problems.append(str(exc))
    if problems:
        raise SettingsError(problems)
    return Settings(**built)


def _check_env_file(path: Path) -> None:
    """One line naming the file, instead of one decode error per settings area."""
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_ENV_FILE_BYTES + 1)
    except OSError as exc:
        raise SettingsError([f"{path}: cannot read: {exc.strerror}"]) from None
    if len(raw) > MAX_ENV_FILE_BYTES:
        raise SettingsError([f"{path}: larger than {MAX_ENV_FILE_BYTES} bytes; is it a dotenv file?"])
    try:
        raw.decode()
    except UnicodeDecodeError as exc:
        raise SettingsError([f"{path}: not UTF-8 text (byte {exc.start})"]) from None


def _from_mapping(area_cls: type[_Area], environ: Mapping[str, str], overrides: dict[str, Any]) -> _Area:
    """Validate one area from an explicit mapping (tests), with the same precedence as the real sources."""
    values: dict[str, Any] = {}
    for name, field in area_cls.model_fields.items():
        alias = field.validation_alias
        names = list(alias.choices) if isinstance(alias, AliasChoices) else [PREFIX + name.upper()]
        for env in names:
            if str(env) in environ:
                values[name] = environ[str(env)]
                break
    values.update(FileSecretsSource(area_cls, environ)())
    values.update(overrides)
    return area_cls.model_validate(values)
