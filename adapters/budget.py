"""A per-vendor request budget: a token bucket, plus a hold after the vendor says 429."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class Budget:
    """At most `capacity` requests at once, refilled at `refill_per_s`; shared by an adapter."""

    def __init__(self, capacity: int, refill_per_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(capacity)
        self.refill_per_s = refill_per_s
        self.clock = clock
        self.tokens = float(capacity)
        self.updated = clock()
        self.blocked_until = 0.0
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.refill_per_s)
        self.updated = now

    def try_acquire(self) -> float:
        """Take a token if one is free (returns 0), else the seconds to wait."""
        self._refill()
        now = self.clock()
        if now < self.blocked_until:
            return self.blocked_until - now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.refill_per_s

    async def acquire(self) -> None:
        """Wait for a token."""
        async with self._lock:
            while (wait := self.try_acquire()) > 0:  # noqa: ASYNC110 (a timed wait, not a poll)
                await asyncio.sleep(wait)

    def hold(self, seconds: float) -> None:
        """Send nothing for `seconds` (after a 429 with Retry-After)."""
        self.blocked_until = max(self.blocked_until, self.clock() + seconds)
