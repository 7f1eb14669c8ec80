"""Shared pytest setup. Service fixtures live in tests/plugins and are loaded here."""

pytest_plugins = ["tests.plugins.anvil", "tests.plugins.aws"]
