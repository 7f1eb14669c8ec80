"""Session fixtures for the DA tests (the batch 9662264 files are large: parse them once)."""

from __future__ import annotations

import pytest

from orchestrator.services.da.state_update import StateUpdate
from tests.unit.da.helpers import BATCH, load_json, load_state_update


@pytest.fixture(scope="session")
def batch_squashed() -> StateUpdate:
    return load_state_update(BATCH / "squashed_state_update.json")


@pytest.fixture(scope="session")
def batch_stateful() -> StateUpdate:
    return load_state_update(BATCH / "stateful_compressed_state_update.json")


@pytest.fixture(scope="session")
def batch_stateless_felts() -> list[int]:
    return [int(x, 16) for x in load_json(BATCH / "stateless_compressed_state_update.json")]
