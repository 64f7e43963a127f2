"""The event bus on `memory://`: per-user fan-out, bounded queues, resync, bad messages."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from app.events import Event, EventBus
from app.events.bus import CHANNEL, Resync


@pytest.fixture
async def bus() -> AsyncIterator[EventBus]:
    """A connected in-memory bus with small queues."""
    b = EventBus("memory://", queue_size=3)
    await b.connect()
    yield b
    await b.disconnect()


async def next_item(sub: object, timeout: float = 2.0) -> Event | Resync:
    """The next item of a subscription."""
    return await asyncio.wait_for(sub.queue.get(), timeout)  # type: ignore[attr-defined]


async def test_events_reach_only_their_users_subscribers(bus: EventBus) -> None:
    """A user's subscribers get that user's events and nobody else's."""
    async with bus.subscribe("alice") as alice, bus.subscribe("bob") as bob:
        await bus.publish(Event("vehicle", "alice", "v1", {"k": 1}))
        got = await next_item(alice)
        assert got == Event("vehicle", "alice", "v1", {"k": 1})
        await asyncio.sleep(0.05)
        assert bob.queue.empty()
        assert bus.subscriber_count() == 2
    assert bus.subscriber_count() == 0


async def test_a_slow_subscriber_gets_one_resync_instead_of_a_growing_queue(bus: EventBus) -> None:
    """Overflow drops the backlog and queues a single Resync; memory stays bounded."""
    async with bus.subscribe("alice") as slow:
        for i in range(10):
            await bus.publish(Event("vehicle", "alice", f"v{i}"))
        await asyncio.sleep(0.1)
        assert slow.queue.qsize() <= 3
        assert bus.queue_depth() <= 3
        first = await next_item(slow)
        assert isinstance(first, Resync) and first.reason == "slow consumer"
        assert bus.resyncs >= 1
        # after the resync, fresh events flow again
        while not slow.queue.empty():
            slow.queue.get_nowait()
        await bus.publish(Event("vehicle", "alice", "fresh"))
        got = await next_item(slow)
        assert isinstance(got, Event) and got.object_id == "fresh"


async def test_malformed_broadcast_messages_are_ignored(bus: EventBus) -> None:
    """Garbage on the channel (another version, a stray publisher) is skipped, not fatal."""
    async with bus.subscribe("alice") as sub:
        await bus._backend.publish(CHANNEL, "not json")
        await bus._backend.publish(CHANNEL, '["too", "short"]')
        await bus.publish(Event("charger", "alice", "c1"))
        got = await next_item(sub)
        assert isinstance(got, Event) and got.object_id == "c1"


async def test_disconnect_ends_every_subscription() -> None:
    """Iteration ends when the bus shuts down."""
    b = EventBus("memory://")
    await b.connect()
    seen: list[object] = []

    async def consume() -> None:
        async with b.subscribe("alice") as sub:
            async for item in sub:
                seen.append(item)

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.05)
    await b.publish(Event("vehicle", "alice", "v1"))
    await asyncio.sleep(0.05)
    await b.disconnect()
    await asyncio.wait_for(task, 2)
    assert [getattr(x, "object_id", None) for x in seen] == ["v1"]


def test_event_wire_form_round_trips() -> None:
    """encode/decode are inverse; garbage raises ValueError."""
    e = Event("action", "u", "a1", {"state": "CONFIRMED"})
    assert Event.decode(e.encode()) == e
    with pytest.raises(ValueError):
        Event.decode("[1, 2]")


def test_unknown_scheme_is_a_clear_error() -> None:
    """A typo in TANDEM_BROADCAST_URL is reported, not silently in-memory."""
    with pytest.raises(ValueError, match="unsupported broadcast URL scheme: kafka"):
        EventBus("kafka://localhost")
