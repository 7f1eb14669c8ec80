from pathlib import Path

import pytest

from orchestrator.clients.http import HttpService
from orchestrator.clients.prover.atlantic import AtlanticOptions, AtlanticProverClient
from orchestrator.clients.prover.sharp import SharpProverClient, sharp_ssl_context
from orchestrator.core.errors import ConfigError


def test_atlantic_options_are_checked() -> None:
    with pytest.raises(ConfigError, match="network must be one of MAINNET, TESTNET"):
        AtlanticOptions(service_url="http://x", api_key="k", network="DEVNET")
    with pytest.raises(ConfigError, match="settlement_layer"):
        AtlanticOptions(service_url="http://x", api_key="k", network="TESTNET", settlement_layer="solana")
    with pytest.raises(ConfigError, match="API key"):
        AtlanticProverClient(AtlanticOptions(service_url="http://x", api_key="", network="TESTNET"))


def test_sharp_certificate_problems_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        sharp_ssl_context(tmp_path / "c.crt", tmp_path / "c.key", tmp_path / "s.crt")
    for name in ("c.crt", "c.key", "s.crt"):
        (tmp_path / name).write_text("not a certificate")
    with pytest.raises(ConfigError, match="not valid PEM"):
        sharp_ssl_context(tmp_path / "c.crt", tmp_path / "c.key", tmp_path / "s.crt")


def test_sharp_needs_a_customer_id() -> None:
    with pytest.raises(ConfigError, match="customer id"):
        SharpProverClient("https://sharp", "", ssl_context=None, fact_checker=None)


def test_base_url_must_be_http() -> None:
    with pytest.raises(ValueError, match="http:// or https://"):
        HttpService("svc", "sharp.example")
