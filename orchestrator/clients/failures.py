"""Transient or permanent: what each client library's errors mean for a retry.

The job engine receives `classify_failure` (the core port `FailureClassifier`) from bootstrap and never
imports these libraries. Transient: network and timeout errors, 408/429/5xx, throttling, an open
circuit, database fail-overs and a busy SQLite file, JSON-RPC "try again" errors and node lag.
Everything else is permanent, and a permanent failure counts as a real attempt.

web3, botocore and pymongo are looked up in `sys.modules`, not imported: an error of a library the
process never imported cannot occur, and importing them all here cost a local L2 process about
40 MB resident for nothing (boto and pymongo serve only the AWS profile).
"""

from __future__ import annotations

import sqlite3
import sys
from types import ModuleType

import aiohttp

from orchestrator.clients.http.classify import is_transient_status
from orchestrator.clients.node.jsonrpc import JsonRpcError
from orchestrator.core.failure import FailureKind, causes, classify_core

#: botocore ClientError codes that mean "slow down" or "try again".
_AWS_TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "SlowDown",
        "EC2ThrottledException",
        "PriorRequestNotComplete",
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
        "KMS.ThrottlingException",
        "AWS.SimpleQueueService.ServiceUnavailable",
    }
)
#: JSON-RPC error codes that a node or an RPC provider uses for overload and lag.
_RPC_TRANSIENT_CODES = frozenset({-32005, -32603, 429})
#: Fragments of RPC error messages that mean the node is behind or busy, not that the request is wrong.
_RPC_TRANSIENT_WORDS = (
    "header not found",
    "unknown block",
    "missing trie node",
    "rate limit",
    "too many requests",
    "timeout",
    "timed out",
    "try again",
    "temporarily",
    "busy",
    "overloaded",
    "service unavailable",
)
_SQLITE_TRANSIENT_WORDS = ("database is locked", "database is busy", "database table is locked")


def _rpc_error_is_transient(code: object, message: str) -> bool:
    lowered = message.lower()
    return code in _RPC_TRANSIENT_CODES or any(word in lowered for word in _RPC_TRANSIENT_WORDS)


def _loaded(module: str) -> ModuleType | None:
    return sys.modules.get(module)


def _web3_is_transient(exc: Exception) -> bool:
    web3 = _loaded("web3.exceptions")
    if web3 is None:
        return False
    if isinstance(exc, web3.ProviderConnectionError | web3.TimeExhausted):
        return True
    if isinstance(exc, web3.Web3RPCError):
        error: object = (exc.rpc_response or {}).get("error")
        code = error.get("code") if isinstance(error, dict) else None
        return _rpc_error_is_transient(code, str(exc))
    return False


def _boto_is_transient(exc: Exception) -> bool:
    boto = _loaded("botocore.exceptions")
    if boto is None:
        return False
    if isinstance(exc, boto.ConnectionError | boto.HTTPClientError | boto.ReadTimeoutError):
        return True
    if isinstance(exc, boto.ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return error.get("Code") in _AWS_TRANSIENT_CODES or (isinstance(status, int) and status >= 500)
    return False


def _mongo_is_transient(exc: Exception) -> bool:
    mongo = _loaded("pymongo.errors")
    if mongo is None:
        return False
    if isinstance(exc, mongo.AutoReconnect | mongo.ExecutionTimeout | mongo.WTimeoutError):
        return True  # AutoReconnect covers ServerSelectionTimeoutError, NetworkTimeout, NotPrimaryError
    if isinstance(exc, mongo.PyMongoError):
        return bool(exc.has_error_label("RetryableWriteError") or exc.has_error_label("TransientTransactionError"))
    return False


def _is_transient(exc: BaseException) -> bool:
    if not isinstance(exc, Exception):
        return False
    if isinstance(exc, aiohttp.ClientResponseError):
        return is_transient_status(exc.status)
    if isinstance(exc, aiohttp.ClientConnectionError | aiohttp.ClientPayloadError):
        return True
    if isinstance(exc, JsonRpcError):
        return _rpc_error_is_transient(exc.code, exc.rpc_message)
    if isinstance(exc, sqlite3.OperationalError):
        return any(word in str(exc).lower() for word in _SQLITE_TRANSIENT_WORDS)
    return _web3_is_transient(exc) or _boto_is_transient(exc) or _mongo_is_transient(exc)


def classify_failure(exc: BaseException) -> FailureKind:
    """Transient when the error, or one it was raised from, is a passing failure of some client."""
    if classify_core(exc) is FailureKind.TRANSIENT:
        return FailureKind.TRANSIENT
    if any(_is_transient(item) for item in causes(exc)):
        return FailureKind.TRANSIENT
    return FailureKind.PERMANENT
