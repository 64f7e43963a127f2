"""Shared subscription reads (`resolvers.live.Shared`): one read per change, batched, never stale."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from app.events import EventBus, last_seq
from app.events.wire import next_seq
from resolvers.live import Shared


class Store:
    """A value per key that changes, and a loader that reads it (counting calls and keys)."""

    def __init__(self) -> None:
        self.values: dict[str, int] = {}
        self.calls: list[list[str]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.started = asyncio.Event()
        self.fail = False

    async def load(self, keys: Sequence[str]) -> list[int]:
        self.calls.append(list(keys))
        self.started.set()
        snapshot = [self.values.get(k, 0) for k in keys]  # read when the load starts
        await self.gate.wait()
        if self.fail:
            raise RuntimeError("database down")
        return snapshot


async def test_many_subscribers_of_one_change_share_one_read() -> None:
    """2,000 concurrent readers of the same key for the same event cause one load."""
    store = Store()
    shared: Shared[str, int] = Shared(store.load)
    store.values["alice"] = 1
    seq = next_seq()
    got = await asyncio.gather(*(shared.get("alice", seq) for _ in range(2000)))
    assert set(got) == {1}
    assert store.calls == [["alice"]]


async def test_a_newer_event_never_gets_an_older_read() -> None:
    """A read requested before an event was dispatched is not reused for that event."""
    store = Store()
    shared: Shared[str, int] = Shared(store.load)
    store.values["alice"] = 1
    assert await shared.get("alice", next_seq()) == 1
    assert await shared.get("alice", last_seq()) == 1  # same event: reused
    assert len(store.calls) == 1
    store.values["alice"] = 2  # the change is written, then its event dispatched
    assert await shared.get("alice", next_seq()) == 2
    assert len(store.calls) == 2


async def test_reads_requested_during_a_load_are_batched_into_the_next() -> None:
    """While one load runs, requests for other users queue up and go out as one load."""
    store = Store()
    shared: Shared[str, int] = Shared(store.load, batch=500)
    store.values.update({f"u{i}": i for i in range(1000)})
    store.gate.clear()
    first = asyncio.create_task(shared.get("u0", next_seq()))
    await store.started.wait()
    seq = next_seq()
    rest = [asyncio.create_task(shared.get(f"u{i}", seq)) for i in range(1, 1000)]
    await asyncio.sleep(0)
    store.gate.set()
    assert await first == 0
    assert [await t for t in rest] == list(range(1, 1000))
    assert [len(c) for c in store.calls] == [1, 500, 499]


async def test_a_cancelled_reader_does_not_cancel_the_others() -> None:
    """A subscriber going away mid-read leaves the shared read to the rest."""
    store = Store()
    shared: Shared[str, int] = Shared(store.load)
    store.values["alice"] = 7
    store.gate.clear()
    seq = next_seq()
    a = asyncio.create_task(shared.get("alice", seq))
    b = asyncio.create_task(shared.get("alice", seq))
    await asyncio.sleep(0.01)
    a.cancel()
    store.gate.set()
    assert await b == 7
    with pytest.raises(asyncio.CancelledError):
        await a


async def test_a_failed_read_reaches_its_waiters_and_is_retried_next_time() -> None:
    """Errors are not cached: the next request loads again."""
    store = Store()
    shared: Shared[str, int] = Shared(store.load)
    store.fail = True
    seq = next_seq()
    results = await asyncio.gather(shared.get("alice", seq), shared.get("alice", seq), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
    store.fail = False
    store.values["alice"] = 3
    assert await shared.get("alice", seq) == 3
    assert len(store.calls) == 2


async def test_finished_reads_kept_are_bounded() -> None:
    """Only `keep` finished reads stay cached, none longer than `ttl`."""
    store = Store()
    shared: Shared[str, int] = Shared(store.load, keep=10)
    seq = next_seq()
    for i in range(100):
        await shared.get(f"u{i}", seq)
    assert len(shared._entries) <= 10
    stale: Shared[str, int] = Shared(store.load, ttl=0.0)
    for i in range(100):
        await stale.get(f"u{i}", seq)
    assert len(stale._entries) == 1  # only the newest: every older finished read had expired


async def test_bus_numbers_are_what_the_cache_compares() -> None:
    """The bus numbers its dispatched events with the same counter `last_seq` reads."""
    bus = EventBus("memory://")
    await bus.connect()
    try:
        from app.events import Event

        async with bus.subscribe("alice") as sub:
            before = last_seq()
            await bus.publish(Event("vehicle", "alice", "v"))
            item = await asyncio.wait_for(sub.get(), 2)
            assert item is not None and item.seq > before and last_seq() >= item.seq
    finally:
        await bus.disconnect()


async def test_a_newer_event_for_a_key_still_queued_keeps_the_earlier_readers() -> None:
    """A key whose read is queued behind a running load, asked for again after a newer event,
    is read once for both: the earlier reader gets the value too (it was once left waiting
    forever, and its subscription heard nothing more)."""
    store = Store()
    shared: Shared[str, int] = Shared(store.load)
    store.values.update(busy=1, alice=2)
    store.gate.clear()
    running = asyncio.create_task(shared.get("busy", next_seq()))
    await store.started.wait()  # the runner is inside a load: new keys queue up
    earlier = asyncio.create_task(shared.get("alice", next_seq()))
    await asyncio.sleep(0)
    store.values["alice"] = 3  # a change, then its event
    later = asyncio.create_task(shared.get("alice", next_seq()))
    await asyncio.sleep(0)
    store.gate.set()
    assert await asyncio.wait_for(running, 2) == 1
    assert await asyncio.wait_for(later, 2) == 3
    assert await asyncio.wait_for(earlier, 2) == 3  # read after both events: fresh for either
    assert store.calls == [["busy"], ["alice"]]
