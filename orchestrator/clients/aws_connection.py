"""How the AWS clients connect: one aioboto3 session, short timeouts and few retries so an
unreachable endpoint or bad credentials surface as a clear error in seconds, not minutes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aioboto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
    ReadTimeoutError,
)

from orchestrator.core.errors import ServiceUnavailableError

#: Error codes AWS (and LocalStack) answer when the credentials are wrong or lack a permission.
AUTH_ERROR_CODES = frozenset(
    {
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
        "AccessDenied",
        "AccessDeniedException",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidSignatureException",
        "AuthFailure",
    }
)


class AwsUnreachableError(ServiceUnavailableError):
    """The endpoint did not answer (wrong URL, network down)."""


class AwsAuthError(ServiceUnavailableError):
    """AWS refused the credentials, or they lack a permission."""


def error_code(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


@dataclass(frozen=True)
class AwsConnection:
    region: str = "us-east-1"
    endpoint_url: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    connect_timeout: float = 5.0
    #: Above SQS's longest long-poll wait (20 s).
    read_timeout: float = 40.0
    max_attempts: int = 3
    max_pool_connections: int = 64

    def session(self) -> aioboto3.Session:
        return aioboto3.Session(
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            region_name=self.region,
        )

    def config(self, **extra: Any) -> Config:
        return Config(
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            retries={"max_attempts": self.max_attempts, "mode": "standard"},
            max_pool_connections=self.max_pool_connections,
            **extra,
        )

    @asynccontextmanager
    async def client(self, service: str, **config: Any) -> AsyncIterator[Any]:
        async with self.session().client(
            service, endpoint_url=self.endpoint_url, region_name=self.region, config=self.config(**config)
        ) as client:
            yield client

    @property
    def where(self) -> str:
        return self.endpoint_url or f"AWS {self.region}"


def translate(exc: BaseException, connection: AwsConnection, doing: str) -> Exception:
    """Turn a botocore connection or credential failure into an orchestrator error naming what failed;
    any other error comes back unchanged (the caller re-raises it)."""
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError | ConnectionClosedError | ReadTimeoutError):
        return AwsUnreachableError(f"{doing}: cannot reach {connection.where} ({exc})")
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return AwsAuthError(f"{doing}: no AWS credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)")
    if isinstance(exc, ClientError) and error_code(exc) in AUTH_ERROR_CODES:
        return AwsAuthError(f"{doing}: {connection.where} refused the credentials ({error_code(exc)})")
    if isinstance(exc, BotoCoreError) and not isinstance(exc, ClientError):
        return AwsUnreachableError(f"{doing}: {exc}")
    if isinstance(exc, OSError):
        return AwsUnreachableError(f"{doing}: cannot reach {connection.where} ({exc})")
    return exc if isinstance(exc, Exception) else RuntimeError(str(exc))
