"""anvil for tests: a shared session node, and a factory for tests that need their own (automine off).

Every node is started through infra/launch/anvil.py and stopped by its PID at the end.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from infra.launch.anvil import Anvil, anvil_binary, start_anvil
from infra.launch.base import ServiceStartError
from tests.services import service_unavailable


def _require_anvil() -> None:
    try:
        anvil_binary()
    except ServiceStartError as exc:
        service_unavailable(f"anvil is not installed ({exc})")


@pytest.fixture(scope="session")
def anvil() -> Iterator[Anvil]:
    _require_anvil()
    node = start_anvil(name="anvil-session")
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture
def anvil_factory() -> Iterator[Callable[..., Anvil]]:
    """Starts private nodes (e.g. `anvil_factory(automine=False)`); all are stopped after the test."""
    _require_anvil()
    started: list[Anvil] = []

    def start(*, automine: bool = True, **kwargs: object) -> Anvil:
        node = start_anvil(name=f"anvil-{len(started)}", **kwargs)  # type: ignore[arg-type]
        started.append(node)
        if not automine:
            node.rpc("evm_setAutomine", [False])
        return node

    try:
        yield start
    finally:
        for node in started:
            node.stop()
