"""anvil fixtures for the settlement tests (until tests/conftest.py registers the plugin)."""

from tests.plugins.anvil import anvil, anvil_factory

__all__ = ["anvil", "anvil_factory"]
