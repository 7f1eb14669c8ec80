"""The aws tests use the session services of tests/plugins/aws.py (LocalStack, MongoDB)."""

from __future__ import annotations

import pytest

PLUGIN = "tests.plugins.aws"


def pytest_configure(config: pytest.Config) -> None:
    # The plugin is meant to be listed in tests/conftest.py; load it here if it is not, so these
    # tests also run on their own.
    if not config.pluginmanager.has_plugin(PLUGIN):
        config.pluginmanager.import_plugin(PLUGIN)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "integration/aws" in str(item.fspath):
            item.add_marker(pytest.mark.services)
