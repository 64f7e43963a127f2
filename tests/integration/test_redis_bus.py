"""The event bus on Redis, as two processes see it: fan-out across buses, hostile messages,
namespaces, and surviving killed connections and a network cut on either side.

The Redis server is shared: every test uses its own namespace (channel) and kills only the
connections its own buses opened (found by their CLIENT SETNAME, killed by CLIENT KILL ID).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest
from redis import asyncio as aioredis

from app.events import Event, EventBus, Resync
from tests.bench.common import free_port


def ns() -> str:
    """A namespace of this test's own."""
    return "test-" + uuid.uuid4().hex[:12]


@pytest.fixture
async def buses(redis_url: str) -> AsyncIterator[tuple[EventBus, EventBus]]:
    """Two independent buses on the same Redis and namespace, standing for two processes."""
    space = ns()
    a, b = EventBus(redis_url, namespace=space), EventBus(redis_url, namespace=space)
    await a.connect()
    await b.connect()
    yield a, b
    await a.disconnect()
    await b.disconnect()


async def next_item(sub: object, timeout: float = 5.0) -> Event | Resync:
    """The next item of a subscription."""
    return await asyncio.wait_for(sub.get(), timeout)  # type: ignore[attr-defined]


async def kill_connections_of(redis_url: str, bus: EventBus, kind: str | None = None) -> int:
    """CLIENT KILL ID every connection this bus opened (only `pubsub` ones if `kind` says so),
    which is what a network cut or a Redis failover does to it. Other clients are untouched."""
    admin = aioredis.Redis.from_url(redis_url)
    try:
        killed = 0
        for client in await admin.client_list():
            if client.get("name") != bus.client_name:
                continue
            if kind == "pubsub" and int(client.get("sub", 0)) == 0:
                continue
            killed += int(await admin.execute_command("CLIENT", "KILL", "ID", client["id"]))
        return killed
    finally:
        await admin.aclose()


async def subscribed(redis_url: str, bus: EventBus) -> None:
    """Wait until the bus's pub/sub connection is subscribed to its channel on the server."""
    admin = aioredis.Redis.from_url(redis_url)
    try:
        for _ in range(200):
            counts = dict(await admin.pubsub_numsub(bus.channel))
            if counts.get(bus.channel.encode(), 0) >= 1:
                return
            await asyncio.sleep(0.02)
        raise TimeoutError("not subscribed")
    finally:
        await admin.aclose()


class Proxy:
    """A TCP proxy to Redis that can cut every connection and refuse new ones (a network blip)."""

    def __init__(self, target: str) -> None:
        parts = urlsplit(target)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 6379
        self.db = parts.path
        self.listen_port = free_port()
        self.server: asyncio.Server | None = None
        self.pipes: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        """The Redis URL through this proxy."""
        return f"redis://127.0.0.1:{self.listen_port}{self.db}"

    async def start(self) -> None:
        """Accept connections."""
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.listen_port)

    async def cut(self) -> None:
        """Close every connection and stop listening."""
        if self.server is not None:
            self.server.close()
            self.server = None
        for w in list(self.pipes):
            w.close()
        self.pipes.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_r, up_w = await asyncio.open_connection(self.host, self.port)
        except OSError:
            writer.close()
            return
        self.pipes.update((writer, up_w))

        async def pump(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, ConnectionError):
                while data := await r.read(65536):
                    w.write(data)
                    await w.drain()
            w.close()

        await asyncio.gather(pump(reader, up_w), pump(up_r, writer))


async def test_an_event_published_by_one_bus_reaches_the_other(
        buses: tuple[EventBus, EventBus], redis_url: str) -> None:
    """Publisher and subscriber in different buses (processes) meet through Redis."""
    a, b = buses
    user = uuid.uuid4().hex
    async with b.subscribe(user) as sub:
        await subscribed(redis_url, b)
        await a.publish(Event("vehicle", user, "v1", {"n": 1}))
        got = await next_item(sub)
        assert got == Event("vehicle", user, "v1", {"n": 1})
    assert await a.ping() and await b.ping()


async def test_deployments_on_one_redis_do_not_see_each_other(redis_url: str) -> None:
    """Pub/sub ignores database numbers: only the namespace keeps deployments apart."""
    mine, theirs = EventBus(redis_url, namespace=ns()), EventBus(redis_url.rsplit("/", 1)[0] + "/5", namespace=ns())
    await mine.connect()
    await theirs.connect()
    try:
        user = uuid.uuid4().hex
        async with mine.subscribe(user) as sub:
            await subscribed(redis_url, mine)
            await theirs.publish(Event("vehicle", user, "injected"))
            await mine.publish(Event("vehicle", user, "own"))
            got = await next_item(sub)
            assert isinstance(got, Event) and got.object_id == "own"
            assert sub.empty()
    finally:
        await mine.disconnect()
        await theirs.disconnect()


async def test_a_hostile_message_on_the_channel_does_not_stop_dispatch(
        buses: tuple[EventBus, EventBus], redis_url: str) -> None:
    """5,000 nested `[`, a 1 MB blob, invalid UTF-8: dropped and counted; later events still arrive."""
    a, b = buses
    user = uuid.uuid4().hex
    raw = aioredis.Redis.from_url(redis_url)
    try:
        async with b.subscribe(user) as sub:
            await subscribed(redis_url, b)
            for junk in ("[" * 5000, b"x" * 1_000_000, b"\xff\xfe", '["vehicle"]'):
                await raw.publish(b.channel, junk)
            await a.publish(Event("charger", user, "c1"))
            got = await next_item(sub)
            assert isinstance(got, Event) and got.object_id == "c1"
            assert b.bad_messages == 4 and b.dispatching
    finally:
        await raw.aclose()


async def test_killed_subscriber_connection_is_reestablished_and_subscribers_resync(
    buses: tuple[EventBus, EventBus], redis_url: str
) -> None:
    """After its pub/sub connection is killed the listener reconnects, re-subscribes, and resyncs."""
    a, b = buses
    user = uuid.uuid4().hex
    async with b.subscribe(user) as sub:
        await subscribed(redis_url, b)
        assert await kill_connections_of(redis_url, b, "pubsub") == 1
        got = await next_item(sub, timeout=10)
        assert isinstance(got, Resync) and got.reason == "broadcast reconnected"
        assert b.reconnects >= 1 and a.reconnects == 0
        await subscribed(redis_url, b)
        await a.publish(Event("charger", user, "c9"))
        got = await next_item(sub, timeout=5)
        assert isinstance(got, Event) and got.object_id == "c9"


async def test_publisher_whose_connections_were_killed_still_delivers_its_next_event(
    buses: tuple[EventBus, EventBus], redis_url: str
) -> None:
    """The worker's side of the blip: every connection of the publishing bus is killed; its next
    publish is retried on a new connection and arrives."""
    a, b = buses
    user = uuid.uuid4().hex
    async with b.subscribe(user) as sub:
        await subscribed(redis_url, b)
        await a.publish(Event("charger", user, "c1"))
        assert (await next_item(sub)).object_id == "c1"  # type: ignore[union-attr]
        assert await kill_connections_of(redis_url, a) >= 2  # its publishing and pub/sub connections
        await a.publish(Event("charger", user, "c2"))
        got = await next_item(sub)
        assert isinstance(got, Event) and got.object_id == "c2"
        assert a.dropped_publishes == 0


async def test_events_published_during_a_network_cut_resync_their_users_everywhere(
        buses: tuple[EventBus, EventBus], redis_url: str) -> None:
    """A publish that cannot be delivered is not silently lost: once the publisher reaches Redis
    again, a resync marker makes every process resync that user's subscribers (and only theirs)."""
    _, b = buses
    proxy = Proxy(redis_url)
    await proxy.start()
    a = EventBus(proxy.url, namespace=b.namespace)
    await a.connect()
    try:
        user, other = uuid.uuid4().hex, uuid.uuid4().hex
        async with b.subscribe(user, ("charger",), "c1") as sub, b.subscribe(other) as bystander:
            await subscribed(redis_url, b)
            await proxy.cut()
            await a.publish(Event("charger", user, "c1"))
            assert a.dropped_publishes == 1
            await proxy.start()
            got = await next_item(sub, timeout=10)
            assert isinstance(got, Resync) and got.reason == "publisher lost events"
            assert a.markers_sent == 1
            await a.publish(Event("charger", other, "c7"))
            got = await next_item(bystander)  # the bystander only sees its own next event
            assert isinstance(got, Event) and got.object_id == "c7"
    finally:
        await a.disconnect()
        await proxy.cut()


async def test_publishing_while_redis_is_unreachable_drops_and_counts(redis_url: str) -> None:
    """A bus whose Redis went away drops events (to be resynced later) instead of raising."""
    bus = EventBus("redis://127.0.0.1:1/0")
    with pytest.raises(Exception, match="cannot connect to broadcast"):
        await bus.connect()
    await bus.publish(Event("vehicle", "u", "v"))
    assert bus.dropped_publishes == 1
    assert await bus.ping() is False
