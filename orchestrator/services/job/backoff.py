"""Delays: transient retries (exponential with jitter) and adaptive verification polling.

tenacity's wait strategies compute the delays; the waiting itself is a delayed queue message, so a
retry survives a restart and any process may pick it up.
"""

from __future__ import annotations

import math

from tenacity import RetryCallState, wait_exponential, wait_exponential_jitter


def _nth(attempt_number: int) -> RetryCallState:
    # The wait strategies read only `attempt_number` (and the elapsed time, which we do not use).
    # tenacity's signature wants a Retrying object, which the wait strategies never touch.
    state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
    state.attempt_number = max(1, attempt_number)
    return state


def transient_delay(failure_no: int, initial: float = 2, maximum: float = 60) -> int:
    """Delay before retrying after the `failure_no`-th transient failure in a row (1-based):
    `initial` doubling up to `maximum`, plus up to `initial` seconds of jitter (so that jobs failing
    together do not retry together)."""
    wait = wait_exponential_jitter(multiplier=initial, max=maximum, jitter=initial)
    return max(1, math.ceil(wait(_nth(failure_no))))


def verification_delay(checks_done: int, first: int, polling: int) -> int:
    """Delay before the next verification after `checks_done` checks that found the job pending:
    `first` doubling towards the job type's polling delay (which it never exceeds)."""
    if checks_done <= 0:
        return min(first, polling)
    wait = wait_exponential(multiplier=max(1, first), max=max(1, polling))
    return min(polling, max(1, math.ceil(wait(_nth(checks_done + 1)))))
