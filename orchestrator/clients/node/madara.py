"""The Madara (Starknet) node client: the JSON-RPC calls and feeder-gateway reads the orchestrator makes.

- Batched reads (`starknet_getStorageAt`, `starknet_getClassHashAt`) go out as JSON-RPC batch
  arrays of `batch_size` calls, up to `max_concurrent_batches` at a time; a batch that fails to
  reach the node is retried `batch_retries` times, `retry_delay_seconds` apart (reference defaults:
  100 calls, 10 concurrent, 3 attempts, 2 s).
- A contract that does not exist (JSON-RPC error 20) reads as class hash 0, nonce 0 and storage 0.
- `chain_details()` retries every `chain_details_retry_seconds` until `chain_details_timeout_seconds`
  have passed (reference: every 5 s for 5 minutes), as the node may still be starting.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlencode

from pydantic import ValidationError

from orchestrator.clients.http import BreakerConfig, ServiceMetrics
from orchestrator.clients.node.jsonrpc import JsonRpcClient, JsonRpcError, RpcCall
from orchestrator.core.errors import ServiceUnavailableError
from orchestrator.core.madara.felt import hex_felt
from orchestrator.core.madara.node import BlockNotFoundError, ChainDetails, L2NodeError
from orchestrator.core.models.batch import BouncerWeights

log = logging.getLogger(__name__)

#: Starknet JSON-RPC error codes (starknet_api_openrpc.json)
CONTRACT_NOT_FOUND = 20
BLOCK_NOT_FOUND = 24
_T = TypeVar("_T")


def _felt(value: Any, what: str) -> int:
    try:
        return hex_felt(value)
    except ValueError as exc:
        raise L2NodeError(f"{what}: {exc}") from None


def decode_chain_id(chain_id_hex: str) -> str:
    """0x534e5f5345504f4c4941 -> SN_SEPOLIA."""
    digits = chain_id_hex.removeprefix("0x").removeprefix("0X")
    if len(digits) % 2:
        digits = "0" + digits
    try:
        return bytes.fromhex(digits).decode("ascii")
    except (ValueError, UnicodeDecodeError) as exc:
        raise L2NodeError(f"chain id {chain_id_hex!r} is not hex-encoded ASCII") from exc


class MadaraNodeClient:
    def __init__(
        self,
        rpc_url: str,
        feeder_gateway_url: str | None = None,
        *,
        request_timeout_seconds: float = 30.0,
        batch_size: int = 100,
        max_concurrent_batches: int = 10,
        batch_retries: int = 3,
        retry_delay_seconds: float = 2.0,
        chain_details_retry_seconds: float = 5.0,
        chain_details_timeout_seconds: float = 300.0,
        breaker: BreakerConfig | None = None,
    ) -> None:
        if batch_size < 1 or max_concurrent_batches < 1 or batch_retries < 1:
            raise ValueError("batch_size, max_concurrent_batches and batch_retries must be at least 1")
        self._rpc = JsonRpcClient(rpc_url, timeout_seconds=request_timeout_seconds, breaker=breaker)
        self._gateway = (feeder_gateway_url or rpc_url).rstrip("/")
        self._batch_size = batch_size
        self._max_concurrent = max_concurrent_batches
        self._batch_retries = batch_retries
        self._retry_delay = retry_delay_seconds
        self._details_retry = chain_details_retry_seconds
        self._details_timeout = chain_details_timeout_seconds

    @property
    def rpc_url(self) -> str:
        return self._rpc.url

    def service_metrics(self) -> list[ServiceMetrics]:
        """Counters and circuit state of the node's RPC and feeder gateway (one circuit for both)."""
        return [self._rpc.metrics]

    async def close(self) -> None:
        await self._rpc.close()

    async def __aenter__(self) -> MadaraNodeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _call(self, method: str, params: list[Any], block_number: int | None = None) -> Any:
        try:
            return await self._rpc.call(method, params)
        except JsonRpcError as exc:
            if exc.code == BLOCK_NOT_FOUND:
                where = f"block {block_number}" if block_number is not None else "the block"
                raise BlockNotFoundError(f"{method}: {where} not found on the node", code=exc.code) from exc
            raise

    # -- single calls ---------------------------------------------------------------------------

    async def chain_id(self) -> str:
        result = await self._call("starknet_chainId", [])
        if not isinstance(result, str):
            raise L2NodeError(f"starknet_chainId: expected a hex string, got {result!r}")
        return result

    async def spec_version(self) -> str:
        return str(await self._call("starknet_specVersion", []))

    async def block_number(self) -> int:
        result = await self._call("starknet_blockNumber", [])
        if not isinstance(result, int) or isinstance(result, bool):
            raise L2NodeError(f"starknet_blockNumber: expected an integer, got {result!r}")
        return result

    async def get_block_with_tx_hashes(self, block_number: int) -> dict[str, Any]:
        return await self._object("starknet_getBlockWithTxHashes", [{"block_number": block_number}], block_number)

    async def get_state_update(self, block_number: int) -> dict[str, Any]:
        return await self._object("starknet_getStateUpdate", [{"block_number": block_number}], block_number)

    async def _object(self, method: str, params: list[Any], block_number: int) -> dict[str, Any]:
        result = await self._call(method, params, block_number)
        if not isinstance(result, dict):
            raise L2NodeError(f"{method} for block {block_number}: expected an object, got {type(result).__name__}")
        return result

    async def get_nonce(self, block_number: int, address: int) -> int:
        try:
            result = await self._call("starknet_getNonce", [{"block_number": block_number}, hex(address)], block_number)
        except JsonRpcError as exc:
            if exc.code == CONTRACT_NOT_FOUND:
                return 0
            raise
        return _felt(result, f"starknet_getNonce({address:#x}) at block {block_number}")

    # -- batched reads --------------------------------------------------------------------------

    async def get_storage_at_many(self, block_number: int, keys: Sequence[tuple[int, int]]) -> list[int]:
        block = {"block_number": block_number}
        calls = [RpcCall("starknet_getStorageAt", [hex(c), hex(k), block]) for c, k in keys]
        return await self._batched(calls, block_number)

    async def get_class_hash_at_many(self, block_number: int, addresses: Sequence[int]) -> list[int]:
        block = {"block_number": block_number}
        calls = [RpcCall("starknet_getClassHashAt", [block, hex(a)]) for a in addresses]
        return await self._batched(calls, block_number)

    async def _batched(self, calls: list[RpcCall], block_number: int) -> list[int]:
        chunks = [calls[i : i + self._batch_size] for i in range(0, len(calls), self._batch_size)]
        limit = asyncio.Semaphore(self._max_concurrent)

        async def run(chunk: list[RpcCall]) -> list[int]:
            async with limit:
                answers = await self._retrying(lambda: self._rpc.batch(chunk))
            return [self._felt_or_zero(call, answer, block_number) for call, answer in zip(chunk, answers, strict=True)]

        results = await asyncio.gather(*(run(chunk) for chunk in chunks))
        return [value for chunk_values in results for value in chunk_values]

    @staticmethod
    def _felt_or_zero(call: RpcCall, answer: Any, block_number: int) -> int:
        if isinstance(answer, JsonRpcError):
            if answer.code == CONTRACT_NOT_FOUND:
                return 0
            if answer.code == BLOCK_NOT_FOUND:
                raise BlockNotFoundError(f"{call.method}: block {block_number} not found on the node", code=answer.code)
            raise answer
        return _felt(answer, f"{call.method}{call.params}")

    async def _retrying(self, operation: Callable[[], Awaitable[_T]]) -> _T:
        for attempt in range(1, self._batch_retries + 1):
            try:
                return await operation()
            except ServiceUnavailableError as exc:
                if attempt == self._batch_retries:
                    raise
                log.warning("node batch failed (attempt %d/%d): %s", attempt, self._batch_retries, exc)
                await asyncio.sleep(self._retry_delay)
        raise AssertionError("unreachable")  # the loop returns or raises

    # -- feeder gateway -------------------------------------------------------------------------

    async def _gateway_get(self, path: str, query: dict[str, Any] | None = None) -> Any:
        url = f"{self._gateway}/feeder_gateway/{path}"
        if query:
            url += "?" + urlencode(query)
        try:
            return await self._rpc.get_json(url)
        except L2NodeError as exc:
            if "BLOCK_NOT_FOUND" in str(exc):
                raise BlockNotFoundError(f"feeder gateway {path}: {exc}", code="BLOCK_NOT_FOUND") from exc
            raise

    async def get_contract_addresses(self) -> dict[str, str]:
        result = await self._gateway_get("get_contract_addresses")
        if not isinstance(result, dict) or not all(isinstance(v, str) for v in result.values()):
            raise L2NodeError(f"get_contract_addresses: expected an object of addresses, got {result!r}")
        return dict(result)

    async def get_block_bouncer_weights(self, block_number: int) -> BouncerWeights:
        result = await self._gateway_get("get_block_bouncer_weights", {"blockNumber": block_number})
        try:
            return BouncerWeights.model_validate(result)
        except ValidationError as exc:
            raise L2NodeError(f"get_block_bouncer_weights({block_number}): unexpected answer: {exc}") from exc

    # -- startup --------------------------------------------------------------------------------

    async def _chain_details_once(self) -> ChainDetails:
        chain_id = decode_chain_id(await self.chain_id())
        addresses = await self.get_contract_addresses()
        try:
            return ChainDetails(
                chain_id=chain_id,
                strk_fee_token_address=addresses["strk_l2_token_address"],
                eth_fee_token_address=addresses["eth_l2_token_address"],
            )
        except KeyError as exc:
            raise L2NodeError(f"get_contract_addresses has no {exc.args[0]}") from None

    async def chain_details(self) -> ChainDetails:
        """Chain id and fee tokens, retried until the deadline (the node may still be starting)."""
        deadline = time.monotonic() + self._details_timeout
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._chain_details_once()
            except L2NodeError as exc:
                last: Exception = exc
            except ServiceUnavailableError as exc:
                last = exc
            if time.monotonic() + self._details_retry > deadline:
                raise ServiceUnavailableError(
                    f"could not fetch chain details from {self.rpc_url} after {attempt} attempts: {last}"
                ) from last
            log.info("chain details not available yet (attempt %d): %s; retrying", attempt, last)
            await asyncio.sleep(self._details_retry)
