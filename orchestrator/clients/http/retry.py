"""Exponential backoff with a total time budget (the reference: 2 s base, doubling, 120 s in all)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

logger = logging.getLogger("orchestrator.clients.http.retry")

DEFAULT_BASE_DELAY = 2.0
DEFAULT_TIMEOUT = 120.0


@dataclass(frozen=True)
class RetryConfig:
    base_delay: float = DEFAULT_BASE_DELAY  # the first wait; it doubles after every failed attempt
    timeout: float = DEFAULT_TIMEOUT  # no new attempt starts once this much time has passed

    def __post_init__(self) -> None:
        if self.base_delay < 0 or self.timeout < 0:
            raise ValueError("retry delays must not be negative")

    def delay(self, attempt: int, remaining: float) -> float:
        """Wait after failed attempt number `attempt` (1-based), never past the budget."""
        return max(0.0, min(self.base_delay * float(2 ** min(attempt - 1, 31)), remaining))


NO_RETRY = RetryConfig(base_delay=0.0, timeout=0.0)


async def retry_with_backoff(
    operation: str,
    attempt_fn: Callable[[], Awaitable[T]],
    *,
    config: RetryConfig,
    is_retryable: Callable[[Exception], bool],
    on_retry: Callable[[int, Exception, float], None] | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Run `attempt_fn` until it succeeds, fails with a non-retryable error, or the budget is spent."""
    start = clock()
    attempt = 0
    while True:
        attempt += 1
        try:
            result = await attempt_fn()
        except Exception as error:
            elapsed = clock() - start
            if not is_retryable(error):
                raise
            if elapsed >= config.timeout:
                if attempt > 1:
                    logger.warning("%s gave up after %d attempts in %.1f s: %s", operation, attempt, elapsed, error)
                raise
            delay = config.delay(attempt, config.timeout - elapsed)
            logger.warning("%s attempt %d failed, retrying in %.2f s: %s", operation, attempt, delay, error)
            if on_retry is not None:
                on_retry(attempt, error, delay)
            await sleep(delay)
            continue
        if attempt > 1:
            logger.info("%s succeeded after %d attempts", operation, attempt)
        return result
