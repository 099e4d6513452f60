from __future__ import annotations

import random

import pytest

from workers.ffmpeg.backoff import ReconnectPolicy


def test_delays_grow_exponentially_then_stop_at_the_cap() -> None:
    policy = ReconnectPolicy(base_seconds=1, cap_seconds=30, jitter_fraction=0)
    assert [policy.delay(n) for n in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    assert policy.delay(10_000) == 30


def test_jitter_stays_within_its_fraction_and_under_the_cap() -> None:
    policy = ReconnectPolicy(base_seconds=2, cap_seconds=20, jitter_fraction=0.25)
    rng = random.Random(7)
    for attempt in range(12):
        base = policy.base_delay(attempt)
        samples = [policy.delay(attempt, rng) for _ in range(300)]
        assert all(base * 0.75 <= s <= min(base * 1.25, 20) for s in samples)
        assert max(samples) - min(samples) > 0  # jitter actually varies


def test_retry_limit() -> None:
    policy = ReconnectPolicy(max_attempts=3)
    assert [policy.should_retry(n) for n in range(5)] == [True, True, True, False, False]
    assert ReconnectPolicy(max_attempts=None).should_retry(10**6)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"base_seconds": 0},
        {"base_seconds": 10, "cap_seconds": 5},
        {"jitter_fraction": 1.5},
        {"max_attempts": -1},
    ],
)
def test_it_rejects_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        ReconnectPolicy(**kwargs)  # type: ignore[arg-type]
