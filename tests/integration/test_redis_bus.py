"""The event bus on Redis, as two processes see it: fan-out across buses, surviving CLIENT KILL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis import asyncio as aioredis

from app.events import Event, EventBus, Resync


@pytest.fixture
async def buses(redis_url: str) -> AsyncIterator[tuple[EventBus, EventBus]]:
    """Two independent buses on the same Redis, standing for two processes."""
    a, b = EventBus(redis_url), EventBus(redis_url)
    await a.connect()
    await b.connect()
    yield a, b
    await a.disconnect()
    await b.disconnect()


async def next_item(sub: object, timeout: float = 5.0) -> Event | Resync:
    """The next item of a subscription."""
    return await asyncio.wait_for(sub.queue.get(), timeout)  # type: ignore[attr-defined]


async def kill_pubsub_clients(redis_url: str) -> int:
    """CLIENT KILL every pub/sub connection (what a Redis failover or a network cut does)."""
    admin = aioredis.Redis.from_url(redis_url)
    try:
        return int(await admin.execute_command("CLIENT", "KILL", "TYPE", "pubsub"))
    finally:
        await admin.aclose()


async def test_an_event_published_by_one_bus_reaches_the_other(buses: tuple[EventBus, EventBus]) -> None:
    """Publisher and subscriber in different buses (processes) meet through Redis."""
    a, b = buses
    user = uuid.uuid4().hex
    async with b.subscribe(user) as sub:
        await asyncio.sleep(0.1)
        await a.publish(Event("vehicle", user, "v1", {"n": 1}))
        got = await next_item(sub)
        assert got == Event("vehicle", user, "v1", {"n": 1})
    assert await a.ping() and await b.ping()


async def test_killed_connection_is_reestablished_and_subscribers_resync(
    buses: tuple[EventBus, EventBus], redis_url: str
) -> None:
    """After CLIENT KILL the listener reconnects, re-subscribes, and tells subscribers to resync."""
    a, b = buses
    user = uuid.uuid4().hex
    async with b.subscribe(user) as sub:
        await asyncio.sleep(0.1)
        killed = await kill_pubsub_clients(redis_url)
        assert killed >= 2  # both buses' pub/sub connections
        got = await next_item(sub, timeout=10)
        assert isinstance(got, Resync) and got.reason == "broadcast reconnected"
        assert b.reconnects >= 1
        await a.publish(Event("charger", user, "c9"))
        got = await next_item(sub, timeout=5)
        assert isinstance(got, Event) and got.object_id == "c9"


async def test_publishing_while_redis_is_unreachable_drops_and_counts(redis_url: str) -> None:
    """A bus whose Redis went away drops events (subscribers resync later) instead of raising."""
    bus = EventBus("redis://127.0.0.1:1/0")
    with pytest.raises(Exception, match="cannot connect to broadcast"):
        await bus.connect()
    await bus.publish(Event("vehicle", "u", "v"))
    assert bus.dropped_publishes == 1
    assert await bus.ping() is False
