"""Rate limits shared through Redis: two limiters (two processes) spend one budget; a dead store lets requests through."""

from __future__ import annotations

import uuid

from app.edge.ratelimit import RateLimiter, address_key, make_storage


async def test_two_processes_share_one_budget(redis_url: str) -> None:
    prefix = f"tandem-test-rl:{uuid.uuid4().hex}"
    a = RateLimiter(10, make_storage(redis_url, prefix))
    b = RateLimiter(10, make_storage(redis_url, prefix))
    key = address_key("192.0.2.7")
    verdicts = [await (a if i % 2 else b).hit(key) for i in range(14)]
    assert [v.allowed for v in verdicts] == [True] * 10 + [False] * 4
    assert verdicts[-1].retry_after_s >= 1
    other = RateLimiter(10, make_storage(redis_url, f"tandem-test-rl:{uuid.uuid4().hex}"))
    assert (await other.hit(key)).allowed  # another prefix, another budget


async def test_an_unreachable_store_does_not_refuse_requests() -> None:
    limiter = RateLimiter(1, make_storage("redis://127.0.0.1:1/0", "tandem-test-rl"))
    assert all([(await limiter.hit("a:x")).allowed for _ in range(3)])
