"""Secrets in settings: keys validated with messages that name the variable and never show the value;
`_FILE` reads size-capped, and a binary file is an error naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.config import MAX_SECRET_FILE_BYTES, SettingsError, load_settings

SECRET = "0xnot-a-key-but-SECRET-material"


@pytest.mark.parametrize(
    "env",
    [
        "MADARA_ORCHESTRATOR_STARKNET_PRIVATE_KEY",
        "MADARA_ORCHESTRATOR_ETHEREUM_PRIVATE_KEY",
        "MADARA_ORCHESTRATOR_MOCK_VERIFIER_PRIVATE_KEY",
    ],
)
def test_a_malformed_key_is_refused_by_name_without_its_value(env: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(environ={env: SECRET}, env_file=None)
    (problem,) = caught.value.problems
    assert problem.startswith(env + ":") and "SECRET" not in problem and "not-a-key" not in problem


def test_well_formed_keys_pass() -> None:
    s = load_settings(
        environ={
            "MADARA_ORCHESTRATOR_STARKNET_PRIVATE_KEY": "0x1234abcd",
            "MADARA_ORCHESTRATOR_ETHEREUM_PRIVATE_KEY": "0x" + "ab" * 32,
        },
        env_file=None,
    )
    assert s.settlement.starknet_private_key is not None
    assert s.settlement.starknet_private_key.get_secret_value() == "0x1234abcd"


def test_secret_files_are_capped_and_must_be_text(tmp_path: Path) -> None:
    big = tmp_path / "big"
    big.write_bytes(b"a" * (MAX_SECRET_FILE_BYTES + 1))
    binary = tmp_path / "binary"
    binary.write_bytes(b"\xff\xfe\x00key")
    for path, expected in ((big, "larger than"), (binary, "not UTF-8")):
        with pytest.raises(SettingsError) as caught:
            load_settings(environ={"MADARA_ORCHESTRATOR_ADMIN_TOKEN_FILE": str(path)}, env_file=None)
        (problem,) = caught.value.problems
        assert problem.startswith("MADARA_ORCHESTRATOR_ADMIN_TOKEN_FILE:") and expected in problem


def test_admin_tokens_from_a_file_several_for_rotation(tmp_path: Path) -> None:
    path = tmp_path / "tokens"
    path.write_text("first-token-0123456789, second-token-0123456789\n")
    s = load_settings(environ={"MADARA_ORCHESTRATOR_ADMIN_TOKEN_FILE": str(path)}, env_file=None)
    assert s.server.admin_tokens() == ("first-token-0123456789", "second-token-0123456789")
    assert s.server.host == "127.0.0.1"


def test_admin_api_needs_a_long_enough_token() -> None:
    from orchestrator.config import run_problems

    enabled = {"MADARA_ORCHESTRATOR_ADMIN_ENABLED": "true"}
    problems = run_problems(load_settings(environ=enabled, env_file=None))
    assert any(p.startswith("MADARA_ORCHESTRATOR_ADMIN_TOKEN: required") for p in problems)
    short = {**enabled, "MADARA_ORCHESTRATOR_ADMIN_TOKEN": "short"}
    assert any("16 characters" in p for p in run_problems(load_settings(environ=short, env_file=None)))
    ok = {**enabled, "MADARA_ORCHESTRATOR_ADMIN_TOKEN": "a-long-enough-token-123"}
    assert not [p for p in run_problems(load_settings(environ=ok, env_file=None)) if "ADMIN_TOKEN" in p]


def test_a_binary_env_file_is_one_problem_naming_it(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(SettingsError) as caught:
        load_settings(environ={}, env_file=env_file)
    assert caught.value.problems == [f"{env_file}: not UTF-8 text (byte 0)"]
