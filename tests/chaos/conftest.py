"""Chaos scenarios run only when chosen (`make chaos`, or CHAOS=1): each takes minutes of devnet time.

Tests marked `chaos` are skipped otherwise; the reduced set that `make test` runs is not marked.
"""

from __future__ import annotations

import os

import pytest

from infra.launch.solc import NODE_DIR
from tests.services import service_unavailable


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "chaos: a chaos scenario (minutes); run with `make chaos` or CHAOS=1")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("CHAOS") == "1":
        return
    skip = pytest.mark.skip(reason="chaos scenario: run with `make chaos` (or CHAOS=1)")
    for item in items:
        if item.get_closest_marker("chaos") is not None:
            item.add_marker(skip)


@pytest.fixture
def devnet_tools() -> None:
    """anvil and solc come from scripts/install-node-tools.sh."""
    if not (NODE_DIR / "node_modules" / "solc").is_dir():
        service_unavailable("npm solc is not installed (scripts/install-node-tools.sh)")
