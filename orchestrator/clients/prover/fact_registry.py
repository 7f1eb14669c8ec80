"""On-chain fact checks: `isValid(bytes32)` on the GPS verifier, and `registerFact` on a mock verifier."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

import aiohttp
from eth_account import Account
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3.exceptions import BadFunctionCallOutput, ContractLogicError, TimeExhausted, Web3Exception

from orchestrator.clients.http import NO_RETRY, BreakerConfig, RetryConfig, ServiceGuard, ServiceMetrics
from orchestrator.core.errors import ServiceUnavailableError
from orchestrator.core.madara.prover import ProverError

logger = logging.getLogger("orchestrator.clients.prover.fact_registry")

T = TypeVar("T")

ZERO_HASH = "0x" + "00" * 32

# The part of the verifier ABI used here. `isValid` exists on the real GPS verifier and on the mock;
# `registerFact` only on the mock (MockGpsVerifier.sol).
FACT_REGISTRY_ABI: list[dict[str, Any]] = [
    {
        "type": "function",
        "name": "isValid",
        "stateMutability": "view",
        "inputs": [{"name": "fact", "type": "bytes32"}],
        "outputs": [{"name": "", "type": "bool"}],
    },
    {
        "type": "function",
        "name": "registerFact",
        "stateMutability": "nonpayable",
        "inputs": [{"name": "fact", "type": "bytes32"}],
        "outputs": [],
    },
]


class FactChecker(Protocol):
    """Answers whether a fact is registered on the settlement layer's fact registry."""

    async def is_valid(self, fact: str) -> bool: ...


class FactRegistrar(FactChecker, Protocol):
    """A fact registry this orchestrator may write to (the mock verifier)."""

    async def ensure_registered(self, fact: str) -> str:
        """Register `fact` unless it already is; return the tx hash, or the zero hash if none was sent."""
        ...


def parse_fact(fact: str | bytes) -> bytes:
    """A 32-byte fact from `0x`-hex (or raw bytes), with a clear error otherwise."""
    if isinstance(fact, bytes):
        raw = fact
    else:
        text = fact.strip()
        digits = text[2:] if text[:2].lower() == "0x" else text
        try:
            raw = bytes.fromhex(digits)
        except ValueError:
            raise ProverError(f"fact {fact!r} is not hex") from None
    if len(raw) != 32:
        raise ProverError(f"fact {fact!r} must be 32 bytes, got {len(raw)}")
    return raw


def fact_hex(fact: str | bytes) -> str:
    return "0x" + parse_fact(fact).hex()


def _is_transient(error: Exception) -> bool:
    return isinstance(error, ServiceUnavailableError)


class Web3FactRegistry:
    """`isValid` (and, with a private key, `registerFact`) on an Ethereum fact-registry contract.

    RPC failures raise ServiceUnavailableError, are retried with backoff for reads, and count against
    the circuit of the RPC; a revert or a missing contract raises ProverError."""

    def __init__(
        self,
        rpc_url: str,
        contract_address: str,
        *,
        private_key: str | None = None,
        receipt_timeout: float = 120.0,
        request_timeout: float = 30.0,
        retry: RetryConfig | None = None,
        breaker: BreakerConfig | None = None,
        metrics: ServiceMetrics | None = None,
        service_name: str = "fact-registry",
    ) -> None:
        if not AsyncWeb3.is_address(contract_address):
            raise ValueError(f"fact registry address {contract_address!r} is not an Ethereum address")
        # web3's own retries are off: the guard below owns retries and the circuit.
        self._w3 = AsyncWeb3(
            AsyncHTTPProvider(rpc_url, request_kwargs={"timeout": request_timeout}, exception_retry_configuration=None)
        )
        self.address = AsyncWeb3.to_checksum_address(contract_address)
        self._contract = self._w3.eth.contract(address=self.address, abi=FACT_REGISTRY_ABI)
        self._account = Account.from_key(private_key) if private_key else None
        self._receipt_timeout = receipt_timeout
        self.guard = ServiceGuard(service_name, retry=retry, breaker=breaker, metrics=metrics)

    @property
    def metrics(self) -> ServiceMetrics:
        return self.guard.metrics

    async def close(self) -> None:
        await self._w3.provider.disconnect()

    async def _rpc(self, operation: str, fn: Callable[[], Awaitable[T]], retry: RetryConfig | None) -> T:
        async def attempt() -> T:
            try:
                return await fn()
            except (ContractLogicError, BadFunctionCallOutput) as error:
                raise ProverError(
                    f"{operation} on fact registry {self.address} failed: {error}. Is the address right?"
                ) from error
            except (TimeoutError, aiohttp.ClientError, OSError, TimeExhausted, Web3Exception) as error:
                raise ServiceUnavailableError(f"{operation} on fact registry {self.address}: {error}") from error

        return await self.guard.call(operation, attempt, is_failure=_is_transient, retry=retry)

    async def is_valid(self, fact: str) -> bool:
        raw = parse_fact(fact)
        valid = await self._rpc("isValid", lambda: self._contract.functions.isValid(raw).call(), None)
        return bool(valid)

    async def ensure_registered(self, fact: str) -> str:
        if self._account is None:
            raise ProverError("registering a fact needs a private key")
        if await self.is_valid(fact):
            logger.info("fact %s is already registered on %s", fact_hex(fact), self.address)
            return ZERO_HASH
        tx_hash = await self._rpc("registerFact", lambda: self._register(parse_fact(fact)), NO_RETRY)
        if not await self.is_valid(fact):
            # The transaction went through but the fact is still unknown: wrong contract at the address.
            raise ProverError(f"registerFact tx {tx_hash} was mined but isValid is still false on {self.address}")
        logger.info("registered fact %s on %s in tx %s", fact_hex(fact), self.address, tx_hash)
        return tx_hash

    async def _register(self, raw: bytes) -> str:
        assert self._account is not None
        sender = self._account.address
        tx = await self._contract.functions.registerFact(raw).build_transaction(
            {
                "from": sender,
                "nonce": await self._w3.eth.get_transaction_count(sender, "pending"),
                "chainId": await self._w3.eth.chain_id,
            }
        )
        signed = self._account.sign_transaction(tx)
        sent = await self._w3.eth.send_raw_transaction(signed.raw_transaction)
        receipt = await self._w3.eth.wait_for_transaction_receipt(sent, timeout=self._receipt_timeout)
        tx_hash = "0x" + bytes(receipt["transactionHash"]).hex()
        if receipt["status"] != 1:
            raise ProverError(f"registerFact tx {tx_hash} reverted")
        return tx_hash
