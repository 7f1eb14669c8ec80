"""The aws profile's test services: LocalStack (host mode) and a MongoDB wire-protocol server
(the real mongod at MONGODB_URL, else nx-27017), started once per session through infra/launch and
stopped by PID at the end.

LOCALSTACK_ENDPOINT (e.g. http://127.0.0.1:4566) points the tests at an already running
LocalStack instead. Tests isolate themselves with a fresh resource prefix / database name.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from infra.launch.base import ServiceStartError
from infra.launch.localstack import start_localstack
from infra.launch.mongo import start_mongo
from orchestrator.clients.aws_connection import AwsConnection

REGION = "us-east-1"
#: LocalStack accepts any credentials; real ones must never be needed here.
TEST_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}


@dataclass(frozen=True)
class AwsEndpoint:
    url: str

    def connection(self) -> AwsConnection:
        return AwsConnection(
            region=REGION,
            endpoint_url=self.url,
            access_key_id=TEST_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            secret_access_key=TEST_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def env(self) -> dict[str, str]:
        """Environment for an `orchestrator` subprocess talking to this endpoint."""
        return {"AWS_ENDPOINT_URL": self.url, "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION, **TEST_CREDENTIALS}


@pytest.fixture(scope="session")
def localstack() -> Iterator[AwsEndpoint]:
    external = os.environ.get("LOCALSTACK_ENDPOINT")
    if external:
        yield AwsEndpoint(external.rstrip("/"))
        return
    try:
        service = start_localstack(name="localstack-tests")
    except ServiceStartError as exc:
        pytest.fail(f"LocalStack did not start: {exc}")
    try:
        yield AwsEndpoint(service.endpoint)
    finally:
        service.stop()


@pytest.fixture(scope="session")
def mongo_url() -> Iterator[str]:
    try:
        server = start_mongo(name="mongo-tests")
    except ServiceStartError as exc:
        pytest.fail(f"the MongoDB-compatible server did not start: {exc}")
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def aws_prefix() -> str:
    """A fresh resource-name prefix: each test gets its own queues, bucket, topic and rules."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def mongo_database_name() -> str:
    return f"test_{uuid.uuid4().hex[:12]}"
