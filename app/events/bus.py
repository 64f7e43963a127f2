"""The event bus: one broadcast channel per deployment, fanned out to bounded local queues.

Events say only *which* object changed; the database is the source of truth. A subscriber
that falls behind, or any subscriber after a broadcast reconnect, receives a `Resync` and
should re-read what it shows, instead of the process buffering without bound.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from broadcaster._backends.base import BroadcastBackend
from broadcaster._backends.memory import MemoryBackend

from app.events.redis_backend import ResilientRedisBackend

log = logging.getLogger("tandem.events")
CHANNEL = "tandem.events"


class BroadcastUnavailable(RuntimeError):
    """The broadcast backend cannot be reached."""


@dataclass(frozen=True)
class Event:
    """Something changed: `topic` names the kind of object, `object_id` which one."""

    topic: str
    user_id: str
    object_id: str
    payload: dict[str, Any] = field(default_factory=dict)

    def encode(self) -> str:
        """Wire form."""
        return json.dumps([self.topic, self.user_id, self.object_id, self.payload])

    @staticmethod
    def decode(raw: str) -> Event:
        """From the wire form (raises ValueError on garbage)."""
        topic, user_id, object_id, payload = json.loads(raw)
        return Event(str(topic), str(user_id), str(object_id), dict(payload))


@dataclass(frozen=True)
class Resync:
    """Events may have been missed: re-read current state."""

    reason: str


class Subscription:
    """One local subscriber's bounded queue."""

    def __init__(self, user_id: str, size: int) -> None:
        self.user_id = user_id
        self.queue: asyncio.Queue[Event | Resync | None] = asyncio.Queue(maxsize=size)

    def offer(self, item: Event | Resync) -> bool:
        """Queue an item; on overflow drop the backlog and queue one Resync. False on overflow."""
        try:
            self.queue.put_nowait(item)
            return True
        except asyncio.QueueFull:
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(Resync("slow consumer"))
            return False

    def close(self) -> None:
        """End iteration."""
        while True:
            try:
                self.queue.put_nowait(None)
                return
            except asyncio.QueueFull:
                self.queue.get_nowait()

    def __aiter__(self) -> AsyncIterator[Event | Resync]:
        return self._iter()

    async def _iter(self) -> AsyncIterator[Event | Resync]:
        while True:
            item = await self.queue.get()
            if item is None:
                return
            yield item


class EventBus:
    """Publish events and subscribe per user; `memory://` or `redis://`."""

    def __init__(self, url: str, *, queue_size: int = 256) -> None:
        self.url = url
        self.queue_size = queue_size
        self.resyncs = 0
        self.dropped_publishes = 0
        self._subs: dict[str, set[Subscription]] = {}
        self._backend: BroadcastBackend
        if url.startswith(("redis://", "rediss://")):
            self._backend = ResilientRedisBackend(url, on_reconnect=self._reconnected)
        elif url.startswith("memory://"):
            self._backend = MemoryBackend(url)
        else:
            raise ValueError(f"unsupported broadcast URL scheme: {url.split(':', 1)[0]}")
        self._listener: asyncio.Task[None] | None = None
        self._warned = False

    @property
    def reconnects(self) -> int:
        """How often the broadcast connection was re-established."""
        return getattr(self._backend, "reconnects", 0)

    async def connect(self) -> None:
        """Connect and start dispatching."""
        try:
            await self._backend.connect()
            await self._backend.subscribe(CHANNEL)
        except Exception as exc:
            raise BroadcastUnavailable(f"cannot connect to broadcast ({type(exc).__name__})") from None
        self._listener = asyncio.create_task(self._dispatch(), name="bus-dispatch")

    async def disconnect(self) -> None:
        """Stop dispatching, end every subscription, close the backend."""
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
        for subs in self._subs.values():
            for sub in subs:
                sub.close()
        self._subs.clear()
        await self._backend.disconnect()

    async def publish(self, event: Event) -> None:
        """Publish; on a broadcast outage the event is dropped (subscribers resync later)."""
        try:
            await self._backend.publish(CHANNEL, event.encode())
            self._warned = False
        except Exception as exc:
            self.dropped_publishes += 1
            if not self._warned:
                log.warning("broadcast unavailable, dropping events (%s)", type(exc).__name__)
                self._warned = True

    @asynccontextmanager
    async def subscribe(self, user_id: str) -> AsyncIterator[Subscription]:
        """Receive this user's events (and Resyncs) until the block ends."""
        sub = Subscription(user_id, self.queue_size)
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
        return sum(s.queue.qsize() for subs in self._subs.values() for s in subs)

    def subscriber_count(self) -> int:
        """Local subscribers."""
        return sum(len(subs) for subs in self._subs.values())

    def _reconnected(self) -> None:
        for subs in self._subs.values():
            for sub in subs:
                sub.offer(Resync("broadcast reconnected"))
                self.resyncs += 1

    async def _dispatch(self) -> None:
        while True:
            raw = await self._backend.next_published()
            try:
                event = Event.decode(raw.message)
            except (ValueError, TypeError):
                log.warning("ignoring a malformed broadcast message")
                continue
            for sub in list(self._subs.get(event.user_id, ())):
                if not sub.offer(event):
                    self.resyncs += 1
