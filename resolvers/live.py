"""Shared reads for subscriptions: one database read per object per change, per process.

Every subscriber of a user receives the same dispatched event (numbered by `seq`). Instead of
each re-reading the user's graph, they ask a `Shared` cache for a value *read after* that event
arrived: the first asks, the rest await the same read, and reads requested while one is running
are batched into the next (one `load_graphs` for many users). A read is reused only for events
numbered at or below the dispatch number current when the read was requested, so nobody ever
gets state older than its event. Values are keyed by the user (graphs) or by the object and
checked against the caller (actions), so a subscriber only ever sees its own user's objects.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Generic, TypeVar

from app.db.models import ChargeAction as ActionRow
from app.events import last_seq
from app.services.graph import UserGraph, load_graphs

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Shared(Generic[K, V]):
    """Coalescing, batching reads of `load(keys) -> values in key order`.

    A finished read stays cached at most `ttl` seconds (time enough for the subscribers of one
    event to catch up; a later event needs a new read anyway) and at most `keep` of them;
    `batch` bounds the keys of one load.
    """

    def __init__(self, load: Callable[[Sequence[K]], Awaitable[Sequence[V]]], *, keep: int = 1024,
                 ttl: float = 2.0, batch: int = 500) -> None:
        self._load = load
        self._keep = keep
        self._ttl = ttl
        self._batch = batch
        self._entries: OrderedDict[K, tuple[int, asyncio.Future[V], float]] = OrderedDict()
        self._pending: dict[K, asyncio.Future[V]] = {}
        self._runner: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        #: Reads done and keys read (for tests and benchmarks).
        self.loads = 0
        self.keys_loaded = 0

    async def get(self, key: K, seq: int) -> V:
        """The value of `key` as read after the event numbered `seq` was dispatched."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new event loop (tests): nothing of the old one is usable
            self._entries.clear()
            self._pending.clear()
            self._runner, self._loop = None, loop
        entry = self._entries.get(key)
        if entry is not None and entry[0] >= seq:
            return await asyncio.shield(entry[1])
        queued = self._pending.get(key)
        if queued is not None:  # not started yet: it reads after this event too, so serves both
            self._entries[key] = (last_seq(), queued, time.monotonic())
            self._entries.move_to_end(key)
            return await asyncio.shield(queued)
        fut: asyncio.Future[V] = loop.create_future()
        self._entries[key] = (last_seq(), fut, time.monotonic())
        self._entries.move_to_end(key)  # the dict stays in request order
        self._pending[key] = fut
        self._evict()
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._run(), name="shared-reads")
        return await asyncio.shield(fut)

    def _evict(self) -> None:
        """Drop the oldest finished reads beyond `keep` or older than `ttl` (in request order)."""
        old = time.monotonic() - self._ttl
        while self._entries:
            key, (_, fut, requested) = next(iter(self._entries.items()))
            if not fut.done() or (len(self._entries) <= self._keep and requested > old):
                return
            del self._entries[key]

    async def _run(self) -> None:
        while self._pending:
            keys = list(self._pending)[: self._batch]
            futs = [self._pending.pop(k) for k in keys]
            try:
                values = await self._load(keys)
            except Exception as exc:
                for key, fut in zip(keys, futs, strict=True):
                    entry = self._entries.get(key)
                    if entry is not None and entry[1] is fut:
                        del self._entries[key]
                    if not fut.done():
                        fut.set_exception(exc)
                        fut.exception()  # retrieved: waiters re-raise it, nobody logs it as lost
                continue
            self.loads += 1
            self.keys_loaded += len(keys)
            for fut, value in zip(futs, values, strict=True):
                if not fut.done():
                    fut.set_result(value)


async def _load_actions(ids: Sequence[str]) -> list[ActionRow | None]:
    rows = {a.id: a for a in await ActionRow.filter(id__in=list(ids)).prefetch_related("attempts")}
    return [rows.get(i) for i in ids]


graphs: Shared[str, UserGraph] = Shared(load_graphs)
actions: Shared[str, ActionRow | None] = Shared(_load_actions)


async def graph_after(user_id: str, seq: int) -> UserGraph:
    """The user's graph as read after event `seq` (shared with the user's other subscribers)."""
    return await graphs.get(user_id, seq)


async def action_after(user_id: str, action_id: str, seq: int) -> ActionRow | None:
    """The action with attempts as read after event `seq`, or None when it is not the user's."""
    row = await actions.get(action_id, seq)
    # Tandem's own actions (a probe's pause and resume) are internal
    ok = row is not None and row.user_id == user_id and row.origin == "USER"  # type: ignore[attr-defined]
    return row if ok else None
