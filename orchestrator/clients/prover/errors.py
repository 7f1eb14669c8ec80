"""Translation of the shared HTTP errors into prover errors, so services see only core errors."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar

from orchestrator.clients.http import HttpApiError, HttpReply, InvalidResponseError
from orchestrator.core.madara.prover import ProverError, ProverRequestError

T = TypeVar("T")


async def prover_call(awaitable: Awaitable[T]) -> T:
    """Await a client call; API rejections become ProverRequestError, bad replies ProverError.
    ServiceUnavailableError (network, 5xx, open circuit) passes through unchanged."""
    try:
        return await awaitable
    except HttpApiError as error:
        raise ProverRequestError(str(error)) from error
    except InvalidResponseError as error:
        raise ProverError(str(error)) from error


def reply_json(reply: HttpReply) -> Any:
    """The JSON body of a successful reply; ProverError if it is not JSON."""
    try:
        return reply.json()
    except InvalidResponseError as error:
        raise ProverError(str(error)) from error
