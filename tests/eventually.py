"""Wait on a condition with a deadline, instead of sleeping for a guessed time."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable


async def eventually(
    condition: Callable[[], bool | Awaitable[bool]], timeout: float = 5.0, interval: float = 0.01, what: str = ""
) -> None:
    """Return as soon as `condition()` is true; fail the test if it is still false after `timeout` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = condition()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if loop.time() >= deadline:
            raise AssertionError(f"not true within {timeout} s: {what or condition}")
        await asyncio.sleep(interval)
