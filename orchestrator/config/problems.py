"""Cross-field checks: what a profile, prover, settlement layer or the server needs before `run` starts
(config validates, bootstrap only builds)."""

from __future__ import annotations

from orchestrator.config.areas import Profile, ProverKind, ProverSettings, ServerSettings, SettlementLayer
from orchestrator.config.settings import Settings
from orchestrator.config.sources import PREFIX
from orchestrator.core.models.queue import Layer

Needed = list[tuple[object, str, str]]


def _missing(needed: Needed) -> list[str]:
    return [f"{PREFIX}{env}: required {why}" for value, env, why in needed if value in (None, "")]


def _server_problems(server: ServerSettings) -> list[str]:
    problems = []
    if (server.admin_enabled or server.api_token_required) and not server.admin_tokens():
        problems.append(f"{PREFIX}ADMIN_TOKEN: required (or {PREFIX}ADMIN_TOKEN_FILE) when the admin API is enabled")
    if any(len(t) < 16 for t in server.admin_tokens()):
        problems.append(f"{PREFIX}ADMIN_TOKEN: every token must have at least 16 characters")
    return problems


def _prover_needs(p: ProverSettings) -> Needed:
    """The settings the chosen prover cannot work without."""
    if p.prover is ProverKind.SHARP:
        why = "when the prover is sharp"
        needed: Needed = [
            (p.sharp_customer_id, "SHARP_CUSTOMER_ID", why),
            (p.sharp_url, "SHARP_URL", why),
            (p.sharp_user_crt_file, "SHARP_USER_CRT_FILE", why),
            (p.sharp_user_key_file, "SHARP_USER_KEY_FILE", why),
            (p.sharp_server_crt_file, "SHARP_SERVER_CRT_FILE", why),
        ]
        if p.sharp_settlement_layer is SettlementLayer.ETHEREUM:
            why = "when SHARP settles on ethereum"
            needed += [
                (p.sharp_rpc_node_url, "SHARP_RPC_NODE_URL", why),
                (p.gps_verifier_contract_address, "GPS_VERIFIER_CONTRACT_ADDRESS", why),
            ]
        return needed
    if p.prover is ProverKind.ATLANTIC:
        why = "when the prover is atlantic"
        return [
            (p.atlantic_service_url, "ATLANTIC_SERVICE_URL", why),
            (p.atlantic_network, "ATLANTIC_NETWORK", why),
            (p.atlantic_api_key, "ATLANTIC_API_KEY", why),
        ]
    return []


def _profile_problems(settings: Settings) -> list[str]:
    """The aws profile runs the real pipeline: a node to read, and no devnet stand-ins."""
    if settings.general.profile is not Profile.AWS:
        return []
    problems = _missing([(settings.madara.madara_rpc_url, "MADARA_RPC_URL", "with the aws profile")])
    if settings.snos.snos_runner == "devnet":
        problems.append(f"{PREFIX}SNOS_RUNNER: the devnet stand-in for the OS runs on the local profile only")
    if settings.snos.aggregator_runner == "devnet":
        problems.append(f"{PREFIX}AGGREGATOR_RUNNER: the devnet stand-in runs on the local profile only")
    return problems


def run_problems(settings: Settings) -> list[str]:
    """Cross-field checks for `run`: what a profile, prover or settlement layer needs."""
    p = settings.prover
    problems = _missing(_prover_needs(p))
    if p.prover is ProverKind.MOCK and settings.service.store_audit_artifacts:
        problems.append(f"{PREFIX}STORE_AUDIT_ARTIFACTS: cannot be used with the mock prover")
    problems.extend(_server_problems(settings.server))
    pipeline = bool(settings.madara.madara_rpc_url)
    if pipeline and settings.snos.snos_runner == "command":
        problems += _missing([(settings.snos.snos_command, "SNOS_COMMAND", "when the SNOS runner is command")])
    problems.extend(_profile_problems(settings))
    if pipeline:
        problems.extend(pipeline_problems(settings))
    return problems


def pipeline_problems(settings: Settings) -> list[str]:
    """What the pipeline's clients need (checked here so that bootstrap only builds)."""
    s, p = settings.settlement, settings.prover
    needed: Needed = []
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
    return problems + _missing(needed)


def _layer_prover_problems(settings: Settings) -> list[str]:
    """Combinations of layer, prover and aggregator runner that start but could never settle a batch."""
    prover, snos = settings.prover.prover, settings.snos
    if settings.general.layer is Layer.L3:
        if prover is not ProverKind.ATLANTIC:
            return [
                f"{PREFIX}PROVER: L3 needs the atlantic prover (its proofs are registered and verified on "
                f"Starknet); {prover.value} cannot settle an L3 batch"
            ]
        return _l3_batch_problems(settings)
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


def _l3_batch_problems(settings: Settings) -> list[str]:
    """On L3 a SNOS batch id is a block number (DataSubmission publishes that block's state diff, as the
    reference assumes): a batch of several blocks would publish only its first block's diff."""
    b = settings.batching
    size = b.fixed_blocks_per_snos_batch or b.max_blocks_per_snos_batch
    if size == 1:
        return []
    return [
        f"{PREFIX}MAX_BLOCKS_PER_SNOS_BATCH: must be 1 on L3 (or FIXED_BLOCKS_PER_SNOS_BATCH=1): its data "
        f"submission and state update are per block; {size} blocks per SNOS batch would settle only the first"
    ]
