"""A broadcaster Redis backend that survives a lost connection.

broadcaster 0.3.1's RedisBackend never reconnects. This one's listener notices a dropped
connection (CLIENT KILL, Redis restart), reconnects with capped exponential backoff,
re-subscribes its channels, and reports each reconnect so the bus can tell subscribers to resync.
A publish that fails on a dead connection is retried once on a new one. Every connection is
named (`CLIENT SETNAME`), so operators and tests can find and kill exactly this process's.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
from collections.abc import Callable
from typing import Any

from broadcaster import Event as BEvent
from broadcaster._backends.base import BroadcastBackend
from redis import asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

log = logging.getLogger("tandem.events.redis")
_instances = itertools.count(1)


class ResilientRedisBackend(BroadcastBackend):
    """Pub/sub over Redis with reconnect and re-subscribe."""

    def __init__(self, url: str, on_reconnect: Callable[[], None] | None = None, client_name: str = "tandem") -> None:
        self.url = url
        self.on_reconnect = on_reconnect
        self.channels: set[str] = set()
        self.reconnects = 0
        #: CLIENT SETNAME of every connection of this backend: unique per process and instance.
        self.client_name = f"{client_name}-{os.getpid()}-{next(_instances)}"
        # No hidden retries inside redis-py (its default retries ten times with backoff, which
        # would stall a publishing worker for seconds per event during an outage): `publish`
        # retries once itself, and the listener reconnects with its own backoff.
        self._conn: aioredis.Redis = aioredis.Redis.from_url(
            url, socket_connect_timeout=2, socket_timeout=5, client_name=self.client_name,
            retry=Retry(NoBackoff(), 0))
        self._pubsub: Any = None
        self._queue: asyncio.Queue[BEvent] = asyncio.Queue(maxsize=10_000)
        self._listener: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        """Open the pub/sub connection and start listening."""
        await self._open()
        self._listener = asyncio.create_task(self._listen(), name="redis-listener")

    async def _open(self) -> None:
        self._pubsub = self._conn.pubsub(ignore_subscribe_messages=True)
        if self.channels:
            await self._pubsub.subscribe(*self.channels)
        else:
            await self._pubsub.connect()

    async def disconnect(self) -> None:
        """Stop listening and close connections."""
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
        if self._pubsub is not None:
            await self._pubsub.aclose()
        await self._conn.aclose()

    async def subscribe(self, channel: str) -> None:
        """Subscribe (remembered for re-subscribe after a reconnect)."""
        self.channels.add(channel)
        await self._pubsub.subscribe(channel)

    async def unsubscribe(self, channel: str) -> None:
        """Unsubscribe."""
        self.channels.discard(channel)
        await self._pubsub.unsubscribe(channel)

    async def publish(self, channel: str, message: Any) -> None:
        """Publish; a failure on a dead connection is retried once on a fresh one (raises
        RedisError / OSError when Redis stays unreachable)."""
        try:
            await self._conn.publish(channel, message)
        except (RedisError, OSError):
            await self._conn.connection_pool.disconnect(inuse_connections=False)
            await self._conn.publish(channel, message)

    @property
    def listening(self) -> bool:
        """Whether the listener task is alive (it reconnects by itself; it must never die)."""
        return self._listener is not None and not self._listener.done()

    async def next_published(self) -> BEvent:
        """The next message from any subscribed channel."""
        return await self._queue.get()

    async def ping(self) -> bool:
        """Whether Redis answers."""
        try:
            return bool(await asyncio.wait_for(self._conn.ping(), 1.0))
        except (RedisError, OSError, TimeoutError):
            return False

    async def _listen(self) -> None:
        delay = 0.1
        while True:
            try:
                if not self.channels:
                    await asyncio.sleep(0.05)
                    continue
                msg = await self._pubsub.get_message(timeout=1.0)
                delay = 0.1
                if msg and msg.get("type") == "message":
                    # Raw bytes: the bus decodes (and rejects) messages, never this loop.
                    channel = msg["channel"]
                    await self._queue.put(BEvent(
                        channel=channel.decode(errors="replace") if isinstance(channel, bytes) else str(channel),
                        message=msg["data"],
                    ))
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                log.warning("broadcast connection lost (%s); reconnecting", type(exc).__name__)
                await self._reconnect(delay)
                delay = min(delay * 2, 2.0)
            except Exception:  # a bug or an unexpected reply must not end listening for good
                log.exception("broadcast listener error; reconnecting")
                await self._reconnect(delay)
                delay = min(delay * 2, 2.0)

    async def _reconnect(self, delay: float) -> None:
        while True:
            await asyncio.sleep(delay)
            try:
                if self._pubsub is not None:
                    await self._pubsub.aclose()
                await self._open()
                await self._pubsub.ping()
            except (RedisError, OSError):
                delay = min(delay * 2, 2.0)
                continue
            except Exception:
                log.exception("broadcast reconnect error")
                delay = min(delay * 2, 2.0)
                continue
            self.reconnects += 1
            log.info("broadcast connection re-established")
            if self.on_reconnect is not None:
                self.on_reconnect()
            return
