"""Reconnect delays: capped exponential backoff with proportional jitter.

Jitter spreads reconnects of many jobs that failed together (an ingest
restart) so they do not hammer the server in lockstep.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class ReconnectPolicy:
    max_attempts: int | None = 10  # None: retry forever (24/7 channels)
    base_seconds: float = 1.0
    cap_seconds: float = 60.0
    jitter_fraction: float = 0.2  # delay varies by ± this fraction, never above the cap

    def __post_init__(self) -> None:
        if self.max_attempts is not None and self.max_attempts < 0:
            raise ValueError("max_attempts must be >= 0")
        if not 0 < self.base_seconds <= self.cap_seconds:
            raise ValueError("need 0 < base_seconds <= cap_seconds")
        if not 0 <= self.jitter_fraction <= 1:
            raise ValueError("jitter_fraction must be within [0, 1]")

    def should_retry(self, attempt: int) -> bool:
        """`attempt` counts reconnects already made, starting at 0."""
        return self.max_attempts is None or attempt < self.max_attempts

    def base_delay(self, attempt: int) -> float:
        if attempt < 0:
            raise ValueError("attempt must be >= 0")
        # min() before the power keeps huge attempt numbers from overflowing floats.
        exponent = min(attempt, 64)
        return min(self.cap_seconds, self.base_seconds * 2.0**exponent)

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before reconnect number `attempt` (0-based)."""
        base = self.base_delay(attempt)
        rng = rng or random.Random()  # noqa: S311 (jitter, not security)
        spread = base * self.jitter_fraction
        value = base + rng.uniform(-spread, spread)
        return max(0.0, min(self.cap_seconds, value))
