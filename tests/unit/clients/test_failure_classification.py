"""Which client errors are transient (retry with backoff) and which are permanent (a real attempt)."""

from __future__ import annotations

import sqlite3

import aiohttp
import botocore.exceptions as boto
import pymongo.errors as mongo
import pytest
import web3.exceptions as web3

from orchestrator.clients.failures import classify_failure
from orchestrator.clients.http import CircuitOpenError, HttpApiError, HttpUnavailableError
from orchestrator.clients.node.jsonrpc import JsonRpcError
from orchestrator.core.errors import HandlerTimeoutError, ServiceUnavailableError
from orchestrator.core.failure import FailureKind, classify_core
from orchestrator.core.madara.settlement import NonceConsumedError
from orchestrator.services.job.handler import FatalJobError, RetryableJobError

T, P = FailureKind.TRANSIENT, FailureKind.PERMANENT


def _client_error(code: str, status: int = 400) -> boto.ClientError:
    reply = {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return boto.ClientError(reply, "Op")  # type: ignore[arg-type]


def _rpc(code: int, message: str) -> web3.Web3RPCError:
    reply = {"jsonrpc": "2.0", "id": 1, "error": {"code": code, "message": message}}
    return web3.Web3RPCError(message, rpc_response=reply)  # type: ignore[arg-type]


def _caused(outer: Exception, cause: BaseException) -> Exception:
    outer.__cause__ = cause
    return outer


CASES: list[tuple[str, BaseException, FailureKind]] = [
    # core markers and the standard library
    ("service-unavailable", ServiceUnavailableError("503"), T),
    ("handler-timeout", HandlerTimeoutError("slow"), T),
    ("retryable-job-error", RetryableJobError("pending block"), T),
    ("timeout", TimeoutError(), T),
    ("connection-refused", ConnectionRefusedError(), T),
    ("value-error", ValueError("bad"), P),
    ("fatal", FatalJobError("class not found"), P),
    ("nonce-consumed", NonceConsumedError("nonce used by someone else"), P),
    # HTTP helpers
    ("http-unavailable", HttpUnavailableError("atlantic", "submit", "boom", 502), T),
    ("circuit-open", CircuitOpenError("l1", 5.0), T),
    ("http-api-error", HttpApiError("atlantic", "submit", 400, '{"error":"bad"}'), P),
    # aiohttp
    ("aiohttp-disconnected", aiohttp.ServerDisconnectedError(), T),
    ("aiohttp-timeout", aiohttp.ServerTimeoutError(), T),
    ("aiohttp-payload", aiohttp.ClientPayloadError("truncated"), T),
    ("aiohttp-503", aiohttp.ClientResponseError(None, (), status=503), T),  # type: ignore[arg-type]
    ("aiohttp-429", aiohttp.ClientResponseError(None, (), status=429), T),  # type: ignore[arg-type]
    ("aiohttp-404", aiohttp.ClientResponseError(None, (), status=404), P),  # type: ignore[arg-type]
    # web3 / L1 RPC
    ("web3-provider-connection", web3.ProviderConnectionError("down"), T),
    ("web3-time-exhausted", web3.TimeExhausted("receipt not found"), T),
    ("web3-rate-limit", _rpc(-32005, "limit exceeded"), T),
    ("web3-header-not-found", _rpc(-32000, "header not found"), T),
    ("web3-reverted", _rpc(3, "execution reverted"), P),
    ("web3-nonce-too-low", _rpc(-32000, "nonce too low"), P),
    # the L2 node
    ("l2-rpc-busy", JsonRpcError("starknet_getStateUpdate", -32603, "internal error: try again"), T),
    ("l2-rpc-invalid-params", JsonRpcError("starknet_getNonce", -32602, "Invalid params"), P),
    # MongoDB
    ("mongo-auto-reconnect", mongo.AutoReconnect("primary stepped down"), T),
    ("mongo-server-selection", mongo.ServerSelectionTimeoutError("no servers"), T),
    ("mongo-network-timeout", mongo.NetworkTimeout("timed out"), T),
    ("mongo-duplicate-key", mongo.DuplicateKeyError("E11000"), P),
    ("mongo-operation-failure", mongo.OperationFailure("bad query", code=2), P),
    # AWS (SQS, S3, SNS, EventBridge)
    ("boto-endpoint", boto.EndpointConnectionError(endpoint_url="http://localhost:4566"), T),
    ("boto-read-timeout", boto.ReadTimeoutError(endpoint_url="http://localhost:4566"), T),
    ("boto-throttling", _client_error("ThrottlingException"), T),
    ("boto-slow-down", _client_error("SlowDown", 503), T),
    ("boto-500", _client_error("Whatever", 500), T),
    ("boto-access-denied", _client_error("AccessDenied", 403), P),
    ("boto-no-such-queue", _client_error("AWS.SimpleQueueService.NonExistentQueue"), P),
    # SQLite
    ("sqlite-locked", sqlite3.OperationalError("database is locked"), T),
    ("sqlite-no-table", sqlite3.OperationalError("no such table: jobs"), P),
    # the cause chain: a wrapper raised `from` a transient error
    ("wrapped-transient", _caused(RuntimeError("update failed"), mongo.AutoReconnect("x")), T),
    ("wrapped-permanent", _caused(RuntimeError("update failed"), ValueError("x")), P),
]


@pytest.mark.parametrize(("error", "kind"), [(e, k) for _, e, k in CASES], ids=[n for n, _, _ in CASES])
def test_classification(error: BaseException, kind: FailureKind) -> None:
    assert classify_failure(error) is kind


def _value_error_while_timing_out(*, chained: bool) -> None:
    try:
        raise TimeoutError
    except TimeoutError:
        if chained:
            raise ValueError("bad value")  # noqa: B904 - the implicit context is what this checks
        raise ValueError("bad value") from None


def test_an_error_raised_while_handling_a_timeout_is_not_a_timeout() -> None:
    with pytest.raises(ValueError, match="bad value") as suppressed:
        _value_error_while_timing_out(chained=False)
    assert classify_failure(suppressed.value) is P
    with pytest.raises(ValueError, match="bad value") as chained:
        _value_error_while_timing_out(chained=True)
    assert isinstance(chained.value.__context__, TimeoutError)
    assert classify_failure(chained.value) is P


def test_the_core_classifier_knows_only_core_markers() -> None:
    assert classify_core(ServiceUnavailableError("x")) is T
    assert classify_core(mongo.AutoReconnect("x")) is P  # needs the client classifier
