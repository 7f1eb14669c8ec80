"""Loaders for the DA tests: real chain data copied under tests/fixtures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from orchestrator.services.da.blob import blob_from_hex
from orchestrator.services.da.state_update import StateUpdate

FIXTURES = Path(__file__).parents[2] / "fixtures"
BATCH = FIXTURES / "batch" / "9662264"


def load_json(path: Path) -> Any:
    return json.loads(path.read_text())


def load_blob(path: Path) -> bytes:
    return blob_from_hex(path.read_text())


def load_state_update(path: Path) -> StateUpdate:
    return StateUpdate.from_json(load_json(path))
