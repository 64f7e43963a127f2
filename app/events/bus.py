"""The event bus: one broadcast channel per deployment, fanned out to bounded local queues.

Events say only *which* object changed; the database is the source of truth. A subscriber
that falls behind, or any subscriber after a broadcast reconnect or a publisher's lost event,
receives a `Resync` and should re-read what it shows, instead of the process buffering without
bound. The dispatcher survives any message: what is not a Tandem event is dropped and counted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

from broadcaster._backends.base import BroadcastBackend
from broadcaster._backends.memory import MemoryBackend

from app.events.redis_backend import ResilientRedisBackend
from app.events.wire import (
    ALL,
    DEFAULT_MAX_MESSAGE_BYTES,
    RESYNC_TOPIC,
    BadMessage,
    Event,
    Resync,
    channel_for,
    next_seq,
)

log = logging.getLogger("tandem.events")
#: Beyond this many users with lost events, the publisher asks for a resync of everyone.
MAX_LOST_USERS = 1000


class BroadcastUnavailable(RuntimeError):
    """The broadcast backend cannot be reached."""


class Subscription:
    """One local subscriber (one consumer): its filter and a bounded mailbox (a list, at most one waiter).

    Much lighter than an `asyncio.Queue` (about 3 KB each), which matters at thousands of
    subscribers per process.
    """

    __slots__ = ("_closed", "_items", "_waiter", "object_id", "size", "topics", "user_id")

    def __init__(self, user_id: str, size: int, topics: frozenset[str] | None = None,
                 object_id: str | None = None) -> None:
        self.user_id = user_id
        self.topics = topics
        self.object_id = object_id
        self.size = size
        self._items: list[Event | Resync] = []
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False

    def wants(self, event: Event) -> bool:
        """Whether the event passes this subscriber's filter."""
        return (self.topics is None or event.topic in self.topics) and (
            self.object_id is None or event.object_id == self.object_id)

    def offer(self, item: Event | Resync) -> bool:
        """Queue an item; on overflow drop the backlog and queue one Resync. False on overflow."""
        ok = len(self._items) < self.size
        if ok:
            self._items.append(item)
        else:
            self._items = [Resync("slow consumer", next_seq())]
        self._wake()
        return ok

    def close(self) -> None:
        """End iteration (after what is queued has been taken)."""
        self._closed = True
        self._wake()

    def qsize(self) -> int:
        """Items waiting."""
        return len(self._items)

    def empty(self) -> bool:
        """Whether nothing is waiting."""
        return not self._items

    def get_nowait(self) -> Event | Resync:
        """The oldest waiting item (IndexError when none)."""
        return self._items.pop(0)

    async def get(self) -> Event | Resync | None:
        """The next item; None once closed and drained."""
        while not self._items:
            if self._closed:
                return None
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.pop(0)

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def __aiter__(self) -> AsyncIterator[Event | Resync]:
        return self._iter()

    async def _iter(self) -> AsyncIterator[Event | Resync]:
        while (item := await self.get()) is not None:
            yield item


class EventBus:
    """Publish events and subscribe per user; `memory://` or `redis://`.

    `namespace` names the deployment's channel (see `app.events.wire.channel_for`); messages
    longer than `max_message_bytes` are dropped unread.
    """

    def __init__(self, url: str, *, queue_size: int = 256, namespace: str = "default",
                 max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> None:
        self.url = url
        self.queue_size = queue_size
        self.namespace = namespace
        self.channel = channel_for(namespace)
        self.max_message_bytes = max_message_bytes
        #: Counters (monotonic): subscriber resyncs, events that could not be published, resync
        #: markers sent for them, and messages on the channel that were not Tandem events.
        self.resyncs = 0
        self.dropped_publishes = 0
        self.markers_sent = 0
        self.bad_messages = 0
        self._subs: dict[str, set[Subscription]] = {}
        self._backend: BroadcastBackend
        if url.startswith(("redis://", "rediss://")):
            self._backend = ResilientRedisBackend(
                url, on_reconnect=self._reconnected, client_name=f"tandem-{namespace}")
        elif url.startswith("memory://"):
            self._backend = MemoryBackend(url)
        else:
            raise ValueError(f"unsupported broadcast URL scheme: {url.split(':', 1)[0]}")
        self._listener: asyncio.Task[None] | None = None
        self._repairer: asyncio.Task[None] | None = None
        self._lost_users: set[str] = set()
        self._lost_all = False
        self._lost_signal = asyncio.Event()
        self._warned = False

    @property
    def reconnects(self) -> int:
        """How often the broadcast connection was re-established."""
        return int(getattr(self._backend, "reconnects", 0))

    @property
    def client_name(self) -> str | None:
        """The Redis CLIENT SETNAME of this bus's connections (None on `memory://`)."""
        return getattr(self._backend, "client_name", None)

    @property
    def dispatching(self) -> bool:
        """Whether events still reach local subscribers (dispatcher and backend listener alive)."""
        alive = self._listener is not None and not self._listener.done()
        return alive and bool(getattr(self._backend, "listening", True))

    async def connect(self) -> None:
        """Connect and start dispatching."""
        try:
            await self._backend.connect()
            await self._backend.subscribe(self.channel)
        except Exception as exc:
            raise BroadcastUnavailable(f"cannot connect to broadcast ({type(exc).__name__})") from None
        self._listener = asyncio.create_task(self._dispatch(), name="bus-dispatch")
        self._repairer = asyncio.create_task(self._repair(), name="bus-repair")

    async def disconnect(self) -> None:
        """Stop dispatching, end every subscription, close the backend."""
        for task in (self._listener, self._repairer):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        for subs in self._subs.values():
            for sub in subs:
                sub.close()
        self._subs.clear()
        await self._backend.disconnect()

    async def publish(self, event: Event) -> None:
        """Publish. If the broadcast cannot take it (after the backend's own retry on a fresh
        connection), the event is dropped and counted, and a resync marker for its user is sent
        as soon as the broadcast is back, so no subscriber stays stale. Until then later events
        are not attempted (no stall per event during an outage); they join the resync."""
        # While earlier losses are not yet repaired, do not wait on a broadcast that is down:
        # this event becomes part of the resync the repairer will ask for.
        if self._lost_all or self._lost_users or not await self._send(event):
            self.dropped_publishes += 1
            if len(self._lost_users) >= MAX_LOST_USERS:
                self._lost_all = True
            else:
                self._lost_users.add(event.user_id)
            self._lost_signal.set()

    @asynccontextmanager
    async def subscribe(self, user_id: str, topics: Iterable[str] | None = None,
                        object_id: str | None = None) -> AsyncIterator[Subscription]:
        """Receive this user's events (optionally only `topics`, only `object_id`) and every
        Resync, until the block ends."""
        sub = Subscription(user_id, self.queue_size, frozenset(topics) if topics is not None else None, object_id)
        self._subs.setdefault(user_id, set()).add(sub)
        try:
            yield sub
        finally:
            subs = self._subs.get(user_id)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._subs[user_id]

    async def ping(self) -> bool:
        """Whether the broadcast is reachable."""
        ping = getattr(self._backend, "ping", None)
        return True if ping is None else bool(await ping())

    def queue_depth(self) -> int:
        """Events waiting in local subscriber queues."""
        return sum(s.qsize() for subs in self._subs.values() for s in subs)

    def subscriber_count(self) -> int:
        """Local subscribers."""
        return sum(len(subs) for subs in self._subs.values())

    def resync_local(self, reason: str, user_id: str = ALL) -> None:
        """Queue a Resync for one user's local subscribers (or, with `ALL`, everyone's)."""
        groups: Iterable[set[Subscription]]
        groups = self._subs.values() if user_id == ALL else [self._subs.get(user_id, set())]
        item = Resync(reason, next_seq())
        for subs in groups:
            for sub in subs:
                sub.offer(item)
                self.resyncs += 1

    async def _send(self, event: Event) -> bool:
        try:
            await self._backend.publish(self.channel, event.encode())
        except Exception as exc:
            if not self._warned:
                log.warning("broadcast unavailable, events wait for a resync (%s)", type(exc).__name__)
                self._warned = True
            return False
        if self._warned:
            log.info("broadcast available again")
        self._warned = False
        return True

    async def _repair(self) -> None:
        """Send resync markers for lost events until they are delivered (capped backoff)."""
        delay = 0.1
        while True:
            await self._lost_signal.wait()
            if self._lost_all:
                if await self._send(Event(RESYNC_TOPIC, ALL, ALL)):
                    self.markers_sent += 1
                    self._lost_all = False
                    self._lost_users.clear()
            for user_id in list(self._lost_users):
                if not await self._send(Event(RESYNC_TOPIC, user_id, ALL)):
                    break
                self.markers_sent += 1
                self._lost_users.discard(user_id)
            if self._lost_all or self._lost_users:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
            else:
                self._lost_signal.clear()
                delay = 0.1

    def _reconnected(self) -> None:
        self.resync_local("broadcast reconnected")

    async def _dispatch(self) -> None:
        while True:
            raw = await self._backend.next_published()
            try:
                self._deliver(raw.message)
            except BadMessage as exc:
                self._bad(str(exc))
            except Exception as exc:  # one message must never stop the dispatcher
                self._bad(f"{type(exc).__name__} while dispatching")

    def _deliver(self, message: Any) -> None:
        event = Event.decode(message, self.max_message_bytes)
        if event.topic == RESYNC_TOPIC:
            self.resync_local("publisher lost events", event.user_id)
            return
        subs = self._subs.get(event.user_id)
        if not subs:
            return
        event = Event(event.topic, event.user_id, event.object_id, event.payload, next_seq())
        for sub in list(subs):
            if sub.wants(event) and not sub.offer(event):
                self.resyncs += 1

    def _bad(self, why: str) -> None:
        self.bad_messages += 1
        if self.bad_messages == 1 or self.bad_messages % 1000 == 0:
            log.warning("dropped a broadcast message that is not a Tandem event (%s; %d so far)",
                        why, self.bad_messages)
