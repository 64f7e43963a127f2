"""Failed OCPP handshakes, rate-limited (`limits`).

Three moving one-minute windows: one charge point id from one address (`per_minute` failures),
one address (ten times that: many home chargers share a carrier-grade NAT address), and one id
from anywhere (ten times that: a guess spread over many addresses). Someone failing with a
charger's id from their own address so locks out only themselves, not the charger; guessing one
id's password stays bounded however many addresses guess.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

#: Failed handshakes allowed from one address, and for one id from all addresses, per failure
#: allowed for one id from one address.
ADDRESS_FACTOR = 10
ID_FACTOR = 10


class HandshakeLimiter:
    """Failed OCPP handshakes per (charge point id, address), per address and per id, in moving
    one-minute windows (`limits`, in this process's memory)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        n = max(1, per_minute)
        self._items = (RateLimitItemPerMinute(n), RateLimitItemPerMinute(n * ADDRESS_FACTOR),
                       RateLimitItemPerMinute(n * ID_FACTOR))

    def _keys(self, cp_id: str, address: str) -> list[tuple[RateLimitItemPerMinute, str]]:
        cp = cp_id[:48]
        return [(self._items[0], f"cp-addr:{cp}@{address}"), (self._items[1], f"addr:{address}"),
                (self._items[2], f"cp:{cp}")]

    async def allowed(self, cp_id: str, address: str) -> bool:
        """Whether another attempt may be judged (0 per minute: no limit)."""
        if self.per_minute <= 0:
            return True
        return all([await self._limiter.test(item, key) for item, key in self._keys(cp_id, address)])

    async def retry_after_s(self, cp_id: str, address: str) -> int:
        """Whole seconds until every window that refuses this attempt has room again (at least 1)."""
        now, waits = time.time(), [1.0]
        for item, key in self._keys(cp_id, address):
            if not await self._limiter.test(item, key):
                reset, _ = await self._limiter.get_window_stats(item, key)
                waits.append(reset - now)
        return max(1, math.ceil(max(waits)))

    async def failed(self, cp_id: str, address: str) -> None:
        """Count a failed attempt."""
        if self.per_minute > 0:
            for item, key in self._keys(cp_id, address):
                await self._limiter.hit(item, key)
