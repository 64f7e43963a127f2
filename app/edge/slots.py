"""Per-user slots (open websockets, running subscriptions), counted in one place for every process.

`UserSlots.acquire(kind, user, limit)` takes a slot and returns its id, or None when the user
already holds `limit` of that kind (0: no limit); `release` gives it back. With Redis (the
broadcast URL is `redis://`) every web process shares the counts: each kind and user is a
sorted set of slot ids scored by expiry (Redis server time), taken and counted atomically in
one Lua script; each process refreshes the expiry of the slots it holds every `ttl_s / 3`, so
the slots of a process that died free themselves within `ttl_s`. Without Redis the counts live
in this process. If Redis cannot be reached the slot is granted (logged once a minute).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import defaultdict
from typing import Any

log = logging.getLogger("tandem.edge")

_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local limit = tonumber(ARGV[1])
if limit > 0 and redis.call('ZCARD', KEYS[1]) >= limit then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2])) + 1)
return 1
"""

_REFRESH = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], 'XX', now + tonumber(ARGV[1]), ARGV[i + 1])
  redis.call('EXPIRE', KEYS[i], math.ceil(tonumber(ARGV[1])) + 1)
end
return #KEYS
"""


class UserSlots:
    """Slots per (kind, user): in this process, or shared through Redis when `redis_url` is given."""

    def __init__(self, redis_url: str | None = None, prefix: str = "tandem:slots", ttl_s: float = 60.0) -> None:
        self.prefix = prefix
        self.ttl_s = ttl_s
        self._local: dict[tuple[str, str], set[str]] = defaultdict(set)
        self._held: dict[str, str] = {}  # slot id -> Redis key, for refreshing
        self._redis: Any = None
        self._refresher: asyncio.Task[None] | None = None
        self._last_failure_log = 0.0
        if redis_url and redis_url.startswith(("redis://", "rediss://")):
            from redis import asyncio as aioredis

            self._redis = aioredis.from_url(redis_url)
            self._acquire = self._redis.register_script(_ACQUIRE)
            self._refresh = self._redis.register_script(_REFRESH)

    def _key(self, kind: str, user_id: str) -> str:
        return f"{self.prefix}:{kind}:{user_id}"

    async def acquire(self, kind: str, user_id: str, limit: int) -> str | None:
        """A new slot id for `user_id`, or None when the user holds `limit` already."""
        slot = uuid.uuid4().hex
        if self._redis is None:
            held = self._local[(kind, user_id)]
            if limit and len(held) >= limit:
                return None
            held.add(slot)
            return slot
        key = self._key(kind, user_id)
        try:
            granted = await self._acquire(keys=[key], args=[limit, self.ttl_s, slot])
        except Exception as exc:
            self._failed(exc)
            return slot
        if not granted:
            return None
        self._held[slot] = key
        if self._refresher is None or self._refresher.done():
            self._refresher = asyncio.create_task(self._refresh_loop())
        return slot

    async def release(self, kind: str, user_id: str, slot: str) -> None:
        """Give a slot back (unknown slots are ignored)."""
        if self._redis is None:
            held = self._local.get((kind, user_id))
            if held is not None:
                held.discard(slot)
                if not held:
                    self._local.pop((kind, user_id), None)
            return
        key = self._held.pop(slot, None)
        if key is None:
            return
        try:
            await self._redis.zrem(key, slot)
        except Exception as exc:
            self._failed(exc)

    def held(self, kind: str, user_id: str) -> int:
        """How many slots of `kind` `user_id` holds in this process (in-process counting only)."""
        return len(self._local.get((kind, user_id), ()))

    async def _refresh_loop(self) -> None:
        while self._held:
            await asyncio.sleep(self.ttl_s / 3)
            held = dict(self._held)
            if not held:
                continue
            try:
                await self._refresh(keys=list(held.values()), args=[self.ttl_s, *held.keys()])
            except Exception as exc:
                self._failed(exc)

    def _failed(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._last_failure_log > 60:
            self._last_failure_log = now
            log.warning("socket and subscription counts unavailable (%s); not limiting", type(exc).__name__)

    async def close(self) -> None:
        """Stop refreshing and close the Redis client (slots expire on their own)."""
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._refresher
        if self._redis is not None:
            with contextlib.suppress(Exception):
                await self._redis.aclose()
