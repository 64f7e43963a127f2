"""Edge counts shared through Redis: two limiters (two processes) spend one budget, socket slots are
shared and expire with a dead process, an unreachable store lets requests through."""

from __future__ import annotations

import asyncio
import uuid

from app.edge.ratelimit import RateLimiter, address_key, make_storage
from app.edge.slots import UserSlots


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


async def test_socket_slots_are_shared_and_expire_with_their_process(redis_url: str) -> None:
    prefix = f"tandem-test-slots:{uuid.uuid4().hex}"
    a, b = UserSlots(redis_url, prefix, ttl_s=1.0), UserSlots(redis_url, prefix, ttl_s=60.0)
    first = await a.acquire("sockets", "u", 2)
    assert first and await b.acquire("sockets", "u", 2)
    assert await b.acquire("sockets", "u", 2) is None  # two processes, one cap
    await a.release("sockets", "u", first)
    assert await a.acquire("sockets", "u", 2)
    await a.close()  # "a" stops refreshing, as a dead process would: its slot expires
    for _ in range(100):
        if await b.acquire("sockets", "u", 2):
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the slot of the stopped process did not expire")
    await b.close()
