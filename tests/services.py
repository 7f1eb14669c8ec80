"""What a test does when a real service it needs is not installed."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def service_unavailable(message: str) -> NoReturn:
    """Skip on a developer machine that lacks the service; fail in CI, where `make test` installs it,
    so that a missing install step can never pass as a green run."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"required test service unavailable in CI: {message}")
    pytest.skip(message)
