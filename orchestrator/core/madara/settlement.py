"""Settlement layer: where the rollup's state is finalised (Ethereum core contract or a Starknet one)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from orchestrator.core.errors import OrchestratorError
from orchestrator.core.models.metadata import TxAttempt


@dataclass
class SettlementResult:
    """Outcome of a state update: the final tx hash and every attempt made to get there."""

    tx_hash: str
    nonce: int | None
    attempts: list[TxAttempt] = field(default_factory=list)
    skipped: bool = False


class SettlementError(OrchestratorError):
    """A state update did not go through. `attempts` holds every transaction tried so far: the job
    persists them so that the next try resumes the same nonce instead of sending a conflicting one."""

    def __init__(self, message: str, attempts: Sequence[TxAttempt] = ()) -> None:
        super().__init__(message)
        self.attempts = list(attempts)


class FeeCapExceededError(SettlementError):
    """The next transaction would cost more than the configured maximum fee: nothing was sent."""


class SettlementRejectedError(SettlementError):
    """The settlement layer executed the transaction and rejected it (reverted)."""


class NonceConsumedError(SettlementError):
    """The pinned nonce was used by a transaction that is not one of ours."""


#: Called with the attempts so far, before the next step; the job persists them so a restarted
#: process resumes the same nonce and transaction instead of sending a conflicting one.
AttemptsSink = Callable[[list[TxAttempt]], Awaitable[None]]


class SettlementClient(Protocol):
    async def get_last_settled_block(self) -> int | None:
        """The last L2 block the core contract accepted, None when nothing was settled."""

    async def get_nonce(self) -> int: ...

    async def update_state_with_blobs(
        self,
        program_output: Sequence[int],
        blobs: Sequence[bytes],
        *,
        nonce: int | None = None,
        previous_attempts: Sequence[TxAttempt] = (),
        on_attempt: AttemptsSink | None = None,
    ) -> SettlementResult:
        """Ethereum: updateStateKzgDA in a blob transaction."""

    async def update_state_calldata(
        self,
        program_output: Sequence[int],
        onchain_data: Sequence[int],
        *,
        nonce: int | None = None,
        previous_attempts: Sequence[TxAttempt] = (),
        on_attempt: AttemptsSink | None = None,
    ) -> SettlementResult:
        """Starknet: update_state through an INVOKE transaction. On the Piltover path the first
        argument is the SNOS output and the second the layout-bridge program output."""

    async def verify_tx_inclusion(self, tx_hash: str) -> tuple[str, str | None]:
        """("Verified" | "Pending" | "Rejected", reason)."""
