"""The test core contract compiles with npm solc and speaks the mainnet core contract's ABI."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.launch.solc import NODE_DIR, SolcError, compile_sources
from tests.integration.settlement.chain import FIXTURES, contracts

pytestmark = pytest.mark.skipif(not (NODE_DIR / "node_modules" / "solc").is_dir(), reason="npm solc not installed")

SHARED = {"updateStateKzgDA", "stateBlockNumber", "stateRoot", "stateBlockHash", "programHash"}
SHARED_EVENTS = {"LogStateUpdate", "LogStateTransitionFact"}


def _signatures(abi: list[dict[str, Any]], names: set[str]) -> set[str]:
    out = set()
    for item in abi:
        if item.get("name") in names:
            inputs = ",".join(str(i["type"]) for i in item.get("inputs", []))
            outputs = ",".join(str(o["type"]) for o in item.get("outputs", []))
            out.add(f"{item['type']} {item['name']}({inputs})->({outputs})")
    return out


def test_test_core_contract_matches_the_mainnet_abi() -> None:
    mainnet = json.loads((FIXTURES / "starknet_core_contract.abi.json").read_text())
    ours = contracts()["TestStarknetCore"].abi
    wanted = SHARED | SHARED_EVENTS
    assert _signatures(ours, wanted) == _signatures(mainnet, wanted)
    assert len(_signatures(ours, wanted)) == len(wanted)


def test_compile_errors_are_reported() -> None:
    with pytest.raises(SolcError, match="ParserError"):
        compile_sources({"Broken.sol": "pragma solidity ^0.8.24; contract Broken { function f( }"})
