"""Settings: one pydantic-settings model per area, every field read from a `MADARA_ORCHESTRATOR_…`
environment variable named as the reference names it (`.env` files and `NAME_FILE` secrets too).

`load_settings()` validates every area and raises `SettingsError` with one line per problem, so the
CLI can print them all at once instead of a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import AliasChoices, BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from orchestrator.core.models.queue import Layer

PREFIX = "MADARA_ORCHESTRATOR_"
#: a secret read from `NAME_FILE` is a key, a token or a URL: anything larger is a wrong path
MAX_SECRET_FILE_BYTES = 64 * 1024
MAX_ENV_FILE_BYTES = 1024 * 1024


class Profile(StrEnum):
    LOCAL = "local"
    AWS = "aws"


class SettingsError(Exception):
    """Invalid or missing settings; `problems` has one human-readable line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class FileSecretsSource(PydanticBaseSettingsSource):
    """`NAME_FILE` wins over `NAME` for the fields marked secret: the file's trimmed content."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        self._environ = environ

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, field in self.settings_cls.model_fields.items():
            if not (field.json_schema_extra or {}).get("secret_file"):  # type: ignore[union-attr]
                continue
            env_name = env_name_of(name, field)
            path = self._environ.get(f"{env_name}_FILE")
            if not path:
                continue
            try:
                with Path(path).open("rb") as file:
                    raw = file.read(MAX_SECRET_FILE_BYTES + 1)
            except OSError as exc:
                raise ValueError(f"{env_name}_FILE: cannot read {path}: {exc.strerror}") from exc
            if len(raw) > MAX_SECRET_FILE_BYTES:
                raise ValueError(f"{env_name}_FILE: {path} is larger than {MAX_SECRET_FILE_BYTES} bytes")
            try:
                content = raw.decode().strip()
            except UnicodeDecodeError:
                raise ValueError(f"{env_name}_FILE: {path} is not UTF-8 text") from None
            if not content:
                raise ValueError(f"{env_name}_FILE: {path} is empty")
            values[name] = content
        return values


def env_name_of(field_name: str, field: FieldInfo) -> str:
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        first = alias.choices[0]
        return str(first)
    if isinstance(alias, str):
        return alias
    return PREFIX + field_name.upper()


def private_key(value: SecretStr | None) -> SecretStr | None:
    """A 0x-prefixed hex key of 1..64 digits; the message never contains the value (the caller's
    error names the variable)."""
    if value is None:
        return None
    raw = value.get_secret_value().strip()
    digits = raw[2:] if raw[:2].lower() == "0x" else ""
    if not 0 < len(digits) <= 64 or any(c not in "0123456789abcdefABCDEF" for c in digits):
        hidden = f"the {len(raw)}-character value is hidden"
        raise ValueError(f"must be a 0x-prefixed hex key of at most 64 digits ({hidden})")
    return SecretStr(raw)


def _secret(default: Any = None, description: str = "") -> Any:
    return Field(default=default, description=description, json_schema_extra={"secret_file": True})


class _Area(BaseSettings):
    """One area of settings; every field is `MADARA_ORCHESTRATOR_<FIELD>` unless aliased."""

    model_config = SettingsConfigDict(env_prefix=PREFIX, extra="ignore", case_sensitive=False)
    area: ClassVar[str] = ""
    _environ: ClassVar[Mapping[str, str]] = os.environ

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, FileSecretsSource(settings_cls, cls._environ), env_settings, dotenv_settings)


class GeneralSettings(_Area):
    area: ClassVar[str] = "general"
    profile: Profile = Field(Profile.LOCAL, description="local (SQLite, local dirs) or aws (MongoDB, SQS, S3)")
    layer: Layer = Field(Layer.L2, description="l2 (settles on Ethereum) or l3 (settles on Starknet)")
    data_dir: Path = Field(
        Path(".orchestrator"), description="local profile: where the database, queue and storage live"
    )
    log_level: str = Field("INFO", validation_alias=AliasChoices("LOG_LEVEL", PREFIX + "LOG_LEVEL"))
    log_format: Literal["pretty", "json"] = Field(
        "pretty", validation_alias=AliasChoices("LOG_FORMAT", PREFIX + "LOG_FORMAT")
    )

    @field_validator("layer", mode="before")
    @classmethod
    def _layer_aliases(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"layer2": "l2", "layer3": "l3"}.get(value.lower(), value.lower())
        return value


class AwsSettings(_Area):
    area: ClassVar[str] = "aws"
    aws_prefix: str | None = Field(None, description="prefix of every AWS resource name")
    aws_region: str = Field("us-east-1", validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION"))
    aws_endpoint_url: str | None = Field(None, validation_alias=AliasChoices("AWS_ENDPOINT_URL"))
    aws_access_key_id: str | None = Field(None, validation_alias=AliasChoices("AWS_ACCESS_KEY_ID"))
    aws_secret_access_key: SecretStr | None = Field(None, validation_alias=AliasChoices("AWS_SECRET_ACCESS_KEY"))


class StorageSettings(_Area):
    area: ClassVar[str] = "storage"
    aws_s3_bucket_identifier: str = Field("mo-bucket", description="bucket name or ARN")
    storage_expiration_days: int = Field(14, ge=1)


class QueueSettings(_Area):
    area: ClassVar[str] = "queue"
    aws_sqs_queue_identifier: str = Field("mo_{}_queue", description="queue name template ({} = queue type)")
    queue_visibility_timeout_seconds: int = Field(
        360, ge=1, description="visibility timeout of the job queues (reference: stale timeout + 60 s)"
    )
    queue_wait_time_seconds: int = Field(10, ge=0, le=20, description="long-poll wait of a consumer")

    @field_validator("aws_sqs_queue_identifier")
    @classmethod
    def _has_placeholder(cls, value: str) -> str:
        if "{}" not in value and not value.startswith("arn:"):
            raise ValueError("must contain {} (replaced by the queue type), e.g. mo_{}_queue")
        return value


class AlertSettings(_Area):
    area: ClassVar[str] = "alerts"
    aws_sns_topic_identifier: str = Field("alerts", description="SNS topic name or ARN")


class DatabaseSettings(_Area):
    area: ClassVar[str] = "database"
    mongodb_connection_url: SecretStr = _secret(SecretStr("mongodb://localhost:27017"))
    database_name: str = "orchestrator"


class ServerSettings(_Area):
    area: ClassVar[str] = "server"
    host: str = Field("127.0.0.1", description="address to listen on (loopback unless told otherwise)")
    port: int = Field(3000, ge=0, le=65535)
    admin_enabled: bool = False
    admin_token: SecretStr | None = _secret(
        None, "bearer token(s) for admin and job-mutating routes, comma separated (rotation)"
    )
    api_token_required: bool = Field(False, description="read-only routes need a token too")
    allowed_hosts: str = Field(
        "", description="extra Host names the API answers to, comma separated (loopback names always, when bound there)"
    )

    def admin_tokens(self) -> tuple[str, ...]:
        raw = self.admin_token.get_secret_value() if self.admin_token is not None else ""
        return tuple(t.strip() for t in raw.split(",") if t.strip())

    def host_names(self) -> tuple[str, ...]:
        return tuple(h.strip().lower() for h in self.allowed_hosts.split(",") if h.strip())


class MadaraSettings(_Area):
    area: ClassVar[str] = "madara"
    madara_rpc_url: str | None = Field(None, description="Madara JSON-RPC (required unless the devnet runs)")
    madara_feeder_gateway_url: str | None = Field(None, description="defaults to the RPC URL")
    replay_bounds_rpc_url: str | None = None
    bouncer_weights_limit_file: Path | None = None
    da_public_keys: str | None = Field(None, description="comma-separated hex felts (encrypted DA)")


class SnosSettings(_Area):
    area: ClassVar[str] = "snos"
    rpc_for_snos: str | None = None
    rpc_for_snos_backup: str | None = None
    snos_full_output: bool = False
    versioned_constants_path: Path | None = None
    snos_layout_name: str = "all_cairo"
    prover_layout_name: str = "dynamic"
    snos_runner: Literal["command", "devnet"] = Field(
        "command", description="how the Starknet OS is run: command (the real OS) or devnet (a stand-in, local only)"
    )
    snos_command: str | None = Field(None, description="command template of the command runner")
    snos_timeout_seconds: int = Field(3600, ge=1)
    aggregator_runner: Literal["command", "devnet"] | None = Field(
        None,
        description="L2 with SHARP or the mock prover: how the aggregator program is run: command (your "
        "program) or devnet (a stand-in, local only); Atlantic aggregates on its side and needs none",
    )
    aggregator_command: str | None = Field(None, description="command template of the aggregator command runner")
    aggregator_timeout_seconds: int = Field(3600, ge=1)

    @field_validator("snos_layout_name", "prover_layout_name")
    @classmethod
    def _layout(cls, value: str) -> str:
        allowed = {
            "plain", "small", "dex", "recursive", "starknet", "starknet_with_keccak",
            "recursive_large_output", "recursive_with_poseidon", "all_solidity", "all_cairo", "dynamic",
        }  # fmt: skip
        if value not in allowed:
            raise ValueError(f"unknown layout {value!r}; one of {', '.join(sorted(allowed))}")
        return value


class ServiceSettings(_Area):
    area: ClassVar[str] = "service"
    min_block_no_to_process: int = Field(0, ge=0)
    max_block_no_to_process: int | None = Field(None, ge=0)
    max_concurrent_created_snos_jobs: int = Field(200, ge=1)
    max_concurrent_snos_jobs: int = Field(5, ge=1)
    max_concurrent_proving_jobs: int = Field(10, ge=1)
    max_concurrent_aggregator_jobs: int = Field(10, ge=1)
    # Per job type: its handler is cancelled after this long (a transient failure). The reference uses
    # these names for its stale-lock limit; here a running job holds a renewed lease instead.
    snos_job_timeout_seconds: int = Field(3660, ge=1, description="SnosRun handler timeout (runner: 3600 s)")
    proving_job_timeout_seconds: int = Field(600, ge=1, description="ProofCreation handler timeout")
    proof_registration_timeout_seconds: int = Field(600, ge=1, description="ProofRegistration handler timeout")
    data_submission_timeout_seconds: int = Field(900, ge=1, description="DataSubmission handler timeout")
    state_transition_timeout_seconds: int = Field(900, ge=1, description="StateTransition handler timeout")
    aggregator_job_timeout_seconds: int = Field(1800, ge=1, description="Aggregator handler timeout")
    job_lease_seconds: int = Field(60, ge=3, description="a running job's lease; a dead worker's job heals after it")
    transient_retry_budget_seconds: int = Field(
        900, ge=0, description="how long transient failures of one job step are retried with backoff"
    )
    transient_retry_budgets: str = Field("", description="per job type, e.g. SnosRun=3600,StateTransition=1800")
    first_verification_delay_seconds: int = Field(1, ge=0, description="first verification check after processing")
    verification_budgets: str = Field(
        "", description="per job type verification time, e.g. ProofCreation=27000 (default: attempts x delay)"
    )
    snos_job_buffer_size: int = Field(50, ge=1)
    aggregator_job_buffer_size: int = Field(5, ge=1)
    max_priority_queue_size: int = Field(20, gt=0)
    store_audit_artifacts: bool = False
    graceful_shutdown_timeout: int = Field(120, ge=0)
    max_process_retries: int = Field(5, ge=1, description="receives before a message is dead-lettered")
    sweep_interval_seconds: int = Field(60, ge=1, description="how often lost job messages are re-enqueued")
    retry_delay_seconds: int = Field(10, ge=0, description="delay before a failed process attempt is retried")

    @field_validator("transient_retry_budgets", "verification_budgets")
    @classmethod
    def _per_job_type(cls, value: str) -> str:
        per_job_type(value)
        return value
    loop_max_deaths: int = Field(
        5, ge=1, description="deaths of one worker loop within the window before the process exits non-zero"
    )
    loop_death_window_seconds: int = Field(300, ge=1, description="the window in which a worker loop's deaths count")


class BatchingSettings(_Area):
    area: ClassVar[str] = "batching"
    max_batch_time_seconds: int = Field(1800, ge=1)
    max_batch_size: int = Field(100, ge=1)
    max_num_blobs: int = Field(6, ge=1)
    blob_size_buffer: int = Field(15, ge=0)
    batching_lock_duration_seconds: int = Field(3600, ge=1)
    max_blocks_per_snos_batch: int = Field(10, ge=1)
    fixed_blocks_per_snos_batch: int | None = Field(None, ge=1)
    max_snos_batches_per_aggregator_batch: int = Field(50, ge=1)
    max_aggregator_input_size: int = Field(750_000, ge=1)
    default_empty_block_proving_gas: int = Field(1_500_000, ge=0)
    max_batch_processing_size: int = Field(10, ge=1)


class SettlementLayer(StrEnum):
    ETHEREUM = "ethereum"
    STARKNET = "starknet"


class SettlementSettings(_Area):
    area: ClassVar[str] = "settlement"
    settlement_layer: SettlementLayer = SettlementLayer.ETHEREUM
    ethereum_settlement_rpc_url: SecretStr | None = _secret()
    ethereum_private_key: SecretStr | None = _secret()
    l1_core_contract_address: str | None = None
    starknet_operator_address: str | None = None
    ethereum_finality_retry_wait_in_secs: int = Field(60, ge=0)
    ethereum_tx_confirmation_timeout_secs: int = Field(300, ge=1)
    ethereum_max_fee_bumps: int = Field(2, ge=0)
    ethereum_l2_state_update_max_fee_wei: int = Field(10**16, ge=0)
    ethereum_disable_peerdas: bool = False
    ethereum_confirmations: int = Field(3, ge=0, description="blocks on top of the receipt's before success")
    starknet_settlement_rpc_url: SecretStr | None = _secret()
    starknet_private_key: SecretStr | None = _secret()
    starknet_account_address: str | None = None
    starknet_cairo_core_contract_address: str | None = None
    starknet_finality_retry_wait_in_secs: int = Field(6, ge=0)

    @field_validator("starknet_operator_address")
    @classmethod
    def _hex(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("0x"):
            raise ValueError("must be 0x-prefixed")
        return value

    @field_validator("ethereum_private_key", "starknet_private_key")
    @classmethod
    def _key(cls, value: SecretStr | None) -> SecretStr | None:
        return private_key(value)


class DaSettings(_Area):
    area: ClassVar[str] = "da"
    da_layer: SettlementLayer = SettlementLayer.ETHEREUM
    ethereum_da_rpc_url: SecretStr | None = _secret()
    starknet_da_rpc_url: SecretStr | None = _secret()


class ProverKind(StrEnum):
    SHARP = "sharp"
    ATLANTIC = "atlantic"
    MOCK = "mock"


class ProverSettings(_Area):
    area: ClassVar[str] = "prover"
    prover: ProverKind = ProverKind.MOCK
    sharp_customer_id: str | None = None
    sharp_url: str | None = None
    sharp_user_crt_file: Path | None = None
    sharp_user_key_file: Path | None = None
    sharp_server_crt_file: Path | None = None
    sharp_rpc_node_url: str | None = None
    gps_verifier_contract_address: str | None = None
    sharp_settlement_layer: SettlementLayer = SettlementLayer.ETHEREUM
    atlantic_api_key: SecretStr | None = _secret()
    atlantic_service_url: str | None = None
    atlantic_rpc_node_url: str | None = None
    atlantic_mock_fact_hash: str | None = None
    atlantic_prover_type: str | None = None
    atlantic_settlement_layer: SettlementLayer | None = None
    atlantic_verifier_contract_address: str | None = None
    cairo_v0_verifier_program_hash: str | None = None
    atlantic_cairo_vm: Literal["rust", "python"] = "rust"
    atlantic_result: str = "PROOF_GENERATION"
    atlantic_network: Literal["MAINNET", "TESTNET"] | None = None
    atlantic_sharp_prover: Literal["stone", "stwo"] = "stone"
    atlantic_artifacts_base_url: str = "https://storage.googleapis.com/hero-atlantic-bucket"
    mock_verifier_address: str | None = None
    mock_verifier_private_key: SecretStr | None = _secret(
        description="key of the mock prover's fact registrations (default: the Ethereum settlement key); a key "
        "of its own keeps its transactions from racing the settlement transactions for a nonce"
    )

    @field_validator("mock_verifier_private_key")
    @classmethod
    def _key(cls, value: SecretStr | None) -> SecretStr | None:
        return private_key(value)

    @field_validator("prover", mode="before")
    @classmethod
    def _case_insensitive(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value


class OtelSettings(_Area):
    area: ClassVar[str] = "otel"
    otel_service_name: str = "orchestrator"
    otel_collector_endpoint: str | None = None


class SetupSettings(_Area):
    area: ClassVar[str] = "setup"
    event_bridge_type: Literal["rule", "schedule"] = "rule"
    event_bridge_interval_seconds: int = Field(60, ge=1)
    setup_timeout: int = Field(300, ge=1)
    setup_resource_poll_interval: int = Field(5, ge=1)


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


def per_job_type(text: str) -> dict[str, int]:
    """`SnosRun=3600,StateTransition=1800` as {job type: seconds}; ValueError names what is wrong."""
    names = {"SnosRun", "ProofCreation", "ProofRegistration", "DataSubmission", "StateTransition", "Aggregator"}
    values: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, seconds = item.partition("=")
        if not sep or name.strip() not in names or not seconds.strip().isdigit():
            raise ValueError(f"{item!r} is not JobType=seconds (job types: {', '.join(sorted(names))})")
        values[name.strip()] = int(seconds)
    return values


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
                built[area.area] = area_cls(_env_file=env_files, **by_area[area.area])  # type: ignore[call-arg]
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


def _server_problems(server: ServerSettings) -> list[str]:
    problems = []
    if (server.admin_enabled or server.api_token_required) and not server.admin_tokens():
        problems.append(f"{PREFIX}ADMIN_TOKEN: required (or {PREFIX}ADMIN_TOKEN_FILE) when the admin API is enabled")
    if any(len(t) < 16 for t in server.admin_tokens()):
        problems.append(f"{PREFIX}ADMIN_TOKEN: every token must have at least 16 characters")
    return problems


def run_problems(settings: Settings) -> list[str]:
    """Cross-field checks for `run`: what a profile, prover or settlement layer needs."""
    problems: list[str] = []

    def need(value: object, env: str, why: str) -> None:
        if value in (None, ""):
            problems.append(f"{PREFIX}{env}: required {why}")

    p = settings.prover
    if p.prover is ProverKind.SHARP:
        for env, value in (
            ("SHARP_CUSTOMER_ID", p.sharp_customer_id),
            ("SHARP_URL", p.sharp_url),
            ("SHARP_USER_CRT_FILE", p.sharp_user_crt_file),
            ("SHARP_USER_KEY_FILE", p.sharp_user_key_file),
            ("SHARP_SERVER_CRT_FILE", p.sharp_server_crt_file),
        ):
            need(value, env, "when the prover is sharp")
        if p.sharp_settlement_layer is SettlementLayer.ETHEREUM:
            need(p.sharp_rpc_node_url, "SHARP_RPC_NODE_URL", "when SHARP settles on ethereum")
            need(p.gps_verifier_contract_address, "GPS_VERIFIER_CONTRACT_ADDRESS", "when SHARP settles on ethereum")
    if p.prover is ProverKind.ATLANTIC:
        need(p.atlantic_service_url, "ATLANTIC_SERVICE_URL", "when the prover is atlantic")
        need(p.atlantic_network, "ATLANTIC_NETWORK", "when the prover is atlantic")
        need(p.atlantic_api_key, "ATLANTIC_API_KEY", "when the prover is atlantic")
    if p.prover is ProverKind.MOCK and settings.service.store_audit_artifacts:
        problems.append(f"{PREFIX}STORE_AUDIT_ARTIFACTS: cannot be used with the mock prover")
    problems.extend(_server_problems(settings.server))
    pipeline = bool(settings.madara.madara_rpc_url)
    if pipeline and settings.snos.snos_runner == "command":
        need(settings.snos.snos_command, "SNOS_COMMAND", "when the SNOS runner is command")
    if settings.general.profile is Profile.AWS:
        need(settings.madara.madara_rpc_url, "MADARA_RPC_URL", "with the aws profile")
        if settings.snos.snos_runner == "devnet":
            problems.append(f"{PREFIX}SNOS_RUNNER: the devnet stand-in for the OS runs on the local profile only")
        if settings.snos.aggregator_runner == "devnet":
            problems.append(f"{PREFIX}AGGREGATOR_RUNNER: the devnet stand-in runs on the local profile only")
    if pipeline:
        problems.extend(pipeline_problems(settings))
    return problems


def pipeline_problems(settings: Settings) -> list[str]:
    """What the pipeline's clients need (checked here so that bootstrap only builds)."""
    s, p = settings.settlement, settings.prover
    needed: list[tuple[object, str, str]] = []
    if s.settlement_layer is SettlementLayer.ETHEREUM:
        why = "when settling on ethereum"
        needed += [
            (s.ethereum_settlement_rpc_url, "ETHEREUM_SETTLEMENT_RPC_URL", why),
            (s.ethereum_private_key, "ETHEREUM_PRIVATE_KEY", why),
            (s.l1_core_contract_address, "L1_CORE_CONTRACT_ADDRESS", why),
        ]
    else:
        why = "when settling on starknet"
        needed += [
            (s.starknet_settlement_rpc_url, "STARKNET_SETTLEMENT_RPC_URL", why),
            (s.starknet_private_key, "STARKNET_PRIVATE_KEY", why),
            (s.starknet_account_address, "STARKNET_ACCOUNT_ADDRESS", why),
            (s.starknet_cairo_core_contract_address, "STARKNET_CAIRO_CORE_CONTRACT_ADDRESS", why),
        ]
    problems = _layer_prover_problems(settings)
    if p.prover is ProverKind.MOCK and p.mock_verifier_address:
        why = "by the mock verifier (MOCK_VERIFIER_ADDRESS)"
        needed.append((s.ethereum_settlement_rpc_url, "ETHEREUM_SETTLEMENT_RPC_URL", why))
        needed.append((p.mock_verifier_private_key or s.ethereum_private_key, "MOCK_VERIFIER_PRIVATE_KEY", why))
    return problems + [f"{PREFIX}{env}: required {why}" for value, env, why in needed if value in (None, "")]


def _layer_prover_problems(settings: Settings) -> list[str]:
    """Combinations of layer, prover and aggregator runner that start but could never settle a batch."""
    prover, snos = settings.prover.prover, settings.snos
    if settings.general.layer is Layer.L3:
        if prover is not ProverKind.ATLANTIC:
            return [
                f"{PREFIX}PROVER: L3 needs the atlantic prover (its proofs are registered and verified on "
                f"Starknet); {prover.value} cannot settle an L3 batch"
            ]
        return []
    if prover is ProverKind.ATLANTIC:
        return []
    if snos.aggregator_runner is None:
        return [
            f"{PREFIX}AGGREGATOR_RUNNER: required on L2 with the {prover.value} prover (command runs your "
            "aggregator program, devnet is the local stand-in); without one every Aggregator job fails"
        ]
    if snos.aggregator_runner == "command" and not snos.aggregator_command:
        return [f"{PREFIX}AGGREGATOR_COMMAND: required when the aggregator runner is command"]
    return []
