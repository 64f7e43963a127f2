"""Failed OCPP handshakes, rate-limited (`limits`)."""

from __future__ import annotations

from limits import RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

#: Failed handshakes allowed from one address, per failure allowed for one charge point id
#: (many home chargers share a carrier-grade NAT address).
ADDRESS_FACTOR = 10


class HandshakeLimiter:
    """Failed OCPP handshakes per charge point id and per address, in a moving one-minute window
    (`limits`, in this process's memory)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._items = (RateLimitItemPerMinute(max(1, per_minute)),
                       RateLimitItemPerMinute(max(1, per_minute * ADDRESS_FACTOR)))

    def _keys(self, cp_id: str, address: str) -> list[tuple[RateLimitItemPerMinute, str]]:
        return [(self._items[0], f"cp:{cp_id[:48]}"), (self._items[1], f"addr:{address}")]

    async def allowed(self, cp_id: str, address: str) -> bool:
        """Whether another attempt may be judged (0 per minute: no limit)."""
        if self.per_minute <= 0:
            return True
        return all([await self._limiter.test(item, key) for item, key in self._keys(cp_id, address)])

    async def failed(self, cp_id: str, address: str) -> None:
        """Count a failed attempt."""
        if self.per_minute > 0:
            for item, key in self._keys(cp_id, address):
                await self._limiter.hit(item, key)
