"""Request rate limits per token and per address, shared across processes through Redis.

Built on `limits` (sliding-window counters). A request that carries a token Tandem has
recently accepted is counted against that token; every other request (anonymous, or a token
not known to be valid, e.g. a guessed one) is counted against the client address, so rotating
bad tokens does not escape the limit. With a `redis://` broadcast URL the counters live in Redis
under their own key prefix and every web process shares them; otherwise in process memory.
If the store cannot be reached the request is let through (logged once a minute).
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections import OrderedDict
from dataclasses import dataclass

from limits import RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.storage import storage_from_string

log = logging.getLogger("tandem.edge")

#: How long an accepted token stays "known valid" for keying (seconds), and how many are kept.
_VALID_TTL_S = 60.0
_VALID_MAX = 50_000


@dataclass(frozen=True)
class Verdict:
    """The answer for one request: allowed, or refused with a wait in whole seconds."""

    allowed: bool
    retry_after_s: int = 0


def token_key(token: str) -> str:
    """The limiter key of a bearer token (a hash: tokens never reach the store)."""
    return "t:" + hashlib.sha256(token.encode()).hexdigest()[:32]


def address_key(address: str) -> str:
    """The limiter key of a client address."""
    return "a:" + address


def make_storage(broadcast_url: str, prefix: str) -> Storage:
    """Redis storage (redis-py client) for a `redis://` URL, else process memory."""
    if broadcast_url.startswith(("redis://", "rediss://")):
        storage = storage_from_string("async+" + broadcast_url, implementation="redispy", key_prefix=prefix)
        assert isinstance(storage, Storage)
        return storage
    return MemoryStorage()


class RateLimiter:
    """`per_minute` requests per token or address (0: no limit)."""

    def __init__(self, per_minute: int, storage: Storage) -> None:
        self.per_minute = per_minute
        self._item = RateLimitItemPerMinute(max(per_minute, 1))
        self._limiter = SlidingWindowCounterRateLimiter(storage)
        self._valid: OrderedDict[str, float] = OrderedDict()
        self._last_failure_log = 0.0

    @property
    def enabled(self) -> bool:
        """Whether any limit applies."""
        return self.per_minute > 0

    def remember_valid(self, token: str) -> None:
        """Count this token's next requests against the token itself (it authenticated)."""
        if not self.enabled:
            return
        key = token_key(token)
        self._valid[key] = time.monotonic() + _VALID_TTL_S
        self._valid.move_to_end(key)
        while len(self._valid) > _VALID_MAX:
            self._valid.popitem(last=False)

    def key_for(self, token: str | None, address: str) -> str:
        """The key a request is counted against: its token when known valid, else its address."""
        if token:
            key = token_key(token)
            expiry = self._valid.get(key)
            if expiry is not None and expiry > time.monotonic():
                return key
        return address_key(address)

    async def hit(self, key: str) -> Verdict:
        """Count one request against `key`; refused once the minute's budget is spent."""
        if not self.enabled:
            return Verdict(True)
        try:
            if await self._limiter.hit(self._item, key):
                return Verdict(True)
            stats = await self._limiter.get_window_stats(self._item, key)
        except Exception as exc:  # the store is down: do not take the API down with it
            now = time.monotonic()
            if now - self._last_failure_log > 60:
                self._last_failure_log = now
                log.warning("rate limit store unavailable (%s); requests are not limited", type(exc).__name__)
            return Verdict(True)
        return Verdict(False, max(1, math.ceil(stats.reset_time - time.time())))
