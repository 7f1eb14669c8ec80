"""The settings areas: one pydantic-settings model per area of the orchestrator."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator

from orchestrator.config.sources import PREFIX, _Area, private_key, secret_field
from orchestrator.core.models.queue import Layer


class Profile(StrEnum):
    LOCAL = "local"
    AWS = "aws"


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
    mongodb_connection_url: SecretStr = secret_field(SecretStr("mongodb://localhost:27017"))
    database_name: str = "orchestrator"


class ServerSettings(_Area):
    area: ClassVar[str] = "server"
    host: str = Field("127.0.0.1", description="address to listen on (loopback unless told otherwise)")
    port: int = Field(3000, ge=0, le=65535)
    admin_enabled: bool = False
    admin_token: SecretStr | None = secret_field(
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
    loop_max_deaths: int = Field(
        5, ge=1, description="deaths of one worker loop within the window before the process exits non-zero"
    )
    loop_death_window_seconds: int = Field(300, ge=1, description="the window in which a worker loop's deaths count")

    @field_validator("transient_retry_budgets", "verification_budgets")
    @classmethod
    def _per_job_type(cls, value: str) -> str:
        per_job_type(value)
        return value


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
    ethereum_settlement_rpc_url: SecretStr | None = secret_field()
    ethereum_private_key: SecretStr | None = secret_field()
    l1_core_contract_address: str | None = None
    starknet_operator_address: str | None = None
    ethereum_finality_retry_wait_in_secs: int = Field(60, ge=0)
    ethereum_tx_confirmation_timeout_secs: int = Field(300, ge=1)
    ethereum_max_fee_bumps: int = Field(2, ge=0)
    ethereum_l2_state_update_max_fee_wei: int = Field(10**16, ge=0)
    ethereum_disable_peerdas: bool = False
    ethereum_confirmations: int = Field(3, ge=0, description="blocks on top of the receipt's before success")
    starknet_settlement_rpc_url: SecretStr | None = secret_field()
    starknet_private_key: SecretStr | None = secret_field()
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
    ethereum_da_rpc_url: SecretStr | None = secret_field()
    starknet_da_rpc_url: SecretStr | None = secret_field()


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
    atlantic_api_key: SecretStr | None = secret_field()
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
    mock_verifier_private_key: SecretStr | None = secret_field(
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
