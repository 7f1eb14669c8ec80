import pytest

from orchestrator.clients.http import RetryConfig, retry_with_backoff


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Transient(Exception):
    pass


class Permanent(Exception):
    pass


def flaky(failures: list[Exception], value: str = "ok"):
    calls = {"n": 0}

    async def attempt() -> str:
        calls["n"] += 1
        if failures:
            raise failures.pop(0)
        return value

    return attempt, calls


async def test_delays_double_from_the_base() -> None:
    time = FakeTime()
    attempt, calls = flaky([Transient(), Transient(), Transient()])
    result = await retry_with_backoff(
        "op",
        attempt,
        config=RetryConfig(base_delay=2, timeout=120),
        is_retryable=lambda e: isinstance(e, Transient),
        sleep=time.sleep,
        clock=time.clock,
    )
    assert result == "ok"
    assert calls["n"] == 4
    assert time.sleeps == [2, 4, 8]


async def test_gives_up_when_the_budget_is_spent() -> None:
    time = FakeTime()
    attempt, calls = flaky([Transient() for _ in range(100)])
    retries: list[int] = []
    with pytest.raises(Transient):
        await retry_with_backoff(
            "op",
            attempt,
            config=RetryConfig(base_delay=2, timeout=120),
            is_retryable=lambda e: isinstance(e, Transient),
            on_retry=lambda n, _e, _d: retries.append(n),
            sleep=time.sleep,
            clock=time.clock,
        )
    # 2+4+8+16+32 = 62 s, then the wait is capped at the 58 s left; the attempt at 120 s is the last.
    assert time.sleeps == [2, 4, 8, 16, 32, 58]
    assert calls["n"] == 7
    assert retries == [1, 2, 3, 4, 5, 6]


async def test_non_retryable_error_is_raised_at_once() -> None:
    time = FakeTime()
    attempt, calls = flaky([Permanent()])
    with pytest.raises(Permanent):
        await retry_with_backoff(
            "op",
            attempt,
            config=RetryConfig(),
            is_retryable=lambda e: isinstance(e, Transient),
            sleep=time.sleep,
            clock=time.clock,
        )
    assert calls["n"] == 1
    assert time.sleeps == []


def test_config_rejects_negative_values() -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        RetryConfig(base_delay=-1)
