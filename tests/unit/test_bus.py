"""The event bus on `memory://`: per-user fan-out, filters, bounded queues, resync, hostile messages."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.events import BadMessage, Event, EventBus, Resync, channel_for, namespace_for
from app.settings import ConfigError, Settings

HOSTILE = [
    "[" * 5000,                                   # the RecursionError of the issue
    "{\"a\":" * 3000 + "1" + "}" * 3000,
    "[" * 900 + "]" * 900,                        # deep but parseable: wrong shape
    "x" * 1_000_000,                              # far over the size cap
    b"\xff\xfe\x00garbage",                       # not UTF-8
    "not json", "", "null", "42", '"str"', "{}", "[]",
    '["too", "short"]',
    '[1, 2, 3, {}]',
    '["vehicle", "alice", "v1", []]',             # payload not an object
    '["vehicle", "", "v1", {}]',                  # empty user
    '["vehicle", "' + "a" * 500 + '", "v1", {}]',  # absurd id
    '["vehicle", "alice", "v1", {}, "extra"]',
    "NaN", "[Infinity]",
]


@pytest.fixture
async def bus() -> AsyncIterator[EventBus]:
    """A connected in-memory bus with small queues."""
    b = EventBus("memory://", queue_size=3)
    await b.connect()
    yield b
    await b.disconnect()


async def next_item(sub: object, timeout: float = 2.0) -> Event | Resync:
    """The next item of a subscription."""
    return await asyncio.wait_for(sub.get(), timeout)  # type: ignore[attr-defined]


async def settle(bus: EventBus) -> None:
    """Wait until the dispatcher has taken every published message (a marker event round-trips)."""
    async with bus.subscribe("__settle__") as probe:
        await bus.publish(Event("x", "__settle__", "done"))
        await next_item(probe)


async def test_events_reach_only_their_users_subscribers(bus: EventBus) -> None:
    """A user's subscribers get that user's events and nobody else's."""
    async with bus.subscribe("alice") as alice, bus.subscribe("bob") as bob:
        await bus.publish(Event("vehicle", "alice", "v1", {"k": 1}))
        got = await next_item(alice)
        assert got == Event("vehicle", "alice", "v1", {"k": 1})
        await settle(bus)
        assert bob.empty()
        assert bus.subscriber_count() == 2
    assert bus.subscriber_count() == 0


async def test_topic_and_object_filters_apply_before_queueing(bus: EventBus) -> None:
    """A subscriber narrowed to a topic / object never has other events queued (nor woken for them)."""
    async with bus.subscribe("alice", ("charger",), "c1") as one, bus.subscribe("alice", ("charger",)) as all_c:
        await bus.publish(Event("vehicle", "alice", "c1"))
        await bus.publish(Event("charger", "alice", "c2"))
        await bus.publish(Event("charger", "alice", "c1"))
        assert (await next_item(one)).object_id == "c1"  # type: ignore[union-attr]
        assert [(await next_item(all_c)).object_id for _ in range(2)] == ["c2", "c1"]  # type: ignore[union-attr]
        await settle(bus)
        assert one.empty() and all_c.empty()


async def test_dispatched_events_are_numbered_in_order(bus: EventBus) -> None:
    """Each dispatched event gets a larger `seq` (subscribers use it to know a read is fresh)."""
    async with bus.subscribe("alice") as sub:
        for i in range(3):
            await bus.publish(Event("vehicle", "alice", f"v{i}"))
        seqs = [(await next_item(sub)).seq for _ in range(3)]
        assert seqs == sorted(seqs) and len(set(seqs)) == 3 and seqs[0] > 0


async def test_a_slow_subscriber_gets_one_resync_instead_of_a_growing_queue(bus: EventBus) -> None:
    """Overflow drops the backlog and queues a single Resync; memory stays bounded."""
    async with bus.subscribe("alice") as slow, bus.subscribe("alice") as fast:
        got_fast: list[str] = []
        for i in range(10):
            await bus.publish(Event("vehicle", "alice", f"v{i}"))
            got_fast.append((await next_item(fast)).object_id)  # type: ignore[union-attr]
        # the fast subscriber of the same user was never held back by the slow one
        assert got_fast == [f"v{i}" for i in range(10)]
        assert slow.qsize() <= 3
        first = await next_item(slow)
        assert isinstance(first, Resync) and first.reason == "slow consumer"
        assert bus.resyncs >= 1
        while not slow.empty():
            slow.get_nowait()
        await bus.publish(Event("vehicle", "alice", "fresh"))
        got = await next_item(slow)
        assert isinstance(got, Event) and got.object_id == "fresh"


@pytest.mark.parametrize("message", HOSTILE, ids=range(len(HOSTILE)))
async def test_a_hostile_message_is_dropped_counted_and_dispatch_goes_on(bus: EventBus, message: str | bytes) -> None:
    """Whatever arrives on the channel, the dispatcher stays alive and the next real event arrives."""
    async with bus.subscribe("alice") as sub:
        await bus._backend.publish(bus.channel, message)
        await bus.publish(Event("charger", "alice", "c1"))
        got = await next_item(sub)
        assert isinstance(got, Event) and got.object_id == "c1"
        assert bus.bad_messages == 1
        assert bus.dispatching


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(
    st.binary(max_size=6000),
    st.text(max_size=6000),
    st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                 lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=5), inner, max_size=5),
                 max_leaves=50).map(json.dumps),
))
def test_decode_rejects_anything_but_an_event_with_bad_message_only(raw: str | bytes) -> None:
    """Arbitrary bytes, text and JSON: decode returns an Event or raises BadMessage, nothing else."""
    try:
        event = Event.decode(raw, max_bytes=4096)
    except BadMessage:
        return
    assert isinstance(event.topic, str) and event.user_id and isinstance(event.payload, dict)
    assert Event.decode(event.encode()) == event


async def test_resync_markers_reach_the_named_user_or_everyone(bus: EventBus) -> None:
    """A marker from a publisher that lost events resyncs that user's subscribers (or, `*`, all)."""
    async with bus.subscribe("alice", ("charger",), "c1") as alice, bus.subscribe("bob") as bob:
        await bus.publish(Event("resync", "alice", "*"))
        got = await next_item(alice)
        assert isinstance(got, Resync) and got.reason == "publisher lost events"
        await settle(bus)
        assert bob.empty()
        await bus.publish(Event("resync", "*", "*"))
        assert isinstance(await next_item(alice), Resync)
        assert isinstance(await next_item(bob), Resync)


async def test_disconnect_ends_every_subscription() -> None:
    """Iteration ends when the bus shuts down."""
    b = EventBus("memory://")
    await b.connect()
    seen: list[object] = []
    subscribed, got = asyncio.Event(), asyncio.Event()

    async def consume() -> None:
        async with b.subscribe("alice") as sub:
            subscribed.set()
            async for item in sub:
                seen.append(item)
                got.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(subscribed.wait(), 2)
    await b.publish(Event("vehicle", "alice", "v1"))
    await asyncio.wait_for(got.wait(), 2)
    await b.disconnect()
    await asyncio.wait_for(task, 2)
    assert [getattr(x, "object_id", None) for x in seen] == ["v1"]
    assert not b.dispatching


def test_event_wire_form_round_trips() -> None:
    """encode/decode are inverse; garbage raises BadMessage (a ValueError)."""
    e = Event("action", "u", "a1", {"state": "CONFIRMED"})
    assert Event.decode(e.encode()) == e
    assert Event.decode(e.encode().encode()) == e
    with pytest.raises(ValueError):
        Event.decode("[1, 2]")
    with pytest.raises(BadMessage, match="exceeds"):
        Event.decode(json.dumps(["a", "u", "o", {"x": "y" * 5000}]), max_bytes=4096)
    with pytest.raises(BadMessage, match="exceeds"):  # the cap is in bytes, not characters
        Event.decode(json.dumps(["a", "u", "o", {"x": "€" * 2000}], ensure_ascii=False), max_bytes=4096)


def test_unknown_scheme_is_a_clear_error() -> None:
    """A typo in TANDEM_BROADCAST_URL is reported, not silently in-memory."""
    with pytest.raises(ValueError, match="unsupported broadcast URL scheme: kafka"):
        EventBus("kafka://localhost")


def test_each_deployment_has_its_own_channel() -> None:
    """The default namespace follows the database (not its spelling); a setting overrides it."""
    pg = namespace_for("postgres://app:secret@db.internal:5432/tandem")
    assert pg == namespace_for("postgresql://other@db.internal/tandem")
    assert pg != namespace_for("postgres://app@db.internal:5432/tandem_staging")
    assert pg != namespace_for("postgres://app@db2.internal:5432/tandem")
    assert namespace_for("sqlite:///a/x.sqlite3") != namespace_for("sqlite:///b/x.sqlite3")
    assert "secret" not in pg
    assert channel_for("prod-eu") == "tandem.prod-eu.events"
    assert EventBus("memory://", namespace="prod-eu").channel == "tandem.prod-eu.events"
    assert Settings.from_env({"TANDEM_BROADCAST_NAMESPACE": "prod-eu"}).broadcast_namespace == "prod-eu"
    for bad in ("has space", "x" * 65, "a\nb", "é"):
        with pytest.raises(ConfigError, match="TANDEM_BROADCAST_NAMESPACE"):
            Settings.from_env({"TANDEM_BROADCAST_NAMESPACE": bad})
    with pytest.raises(ConfigError, match="TANDEM_BROADCAST_MAX_MESSAGE_BYTES"):
        Settings.from_env({"TANDEM_BROADCAST_MAX_MESSAGE_BYTES": "10"})
