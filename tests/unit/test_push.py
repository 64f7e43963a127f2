"""Pushed changes become polls: the poller's kicks (never lost, at most one per KICK_EVERY_S)
and the PushWatcher that follows one change stream per account (fake adapters: the real
stream is tested against the simulator in tests/adapters/test_easee_stream.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest

from adapters import errors as ve
from adapters.types import Session
from app.settings import Settings
from app.workers import push as push_mod
from app.workers.poller import KICK_EVERY_S, Entry, LinkState, Poller
from app.workers.push import PushWatcher


def poller(adapters: dict[str, Any] | None = None, owned: set[int] | None = None) -> Poller:
    known = adapters or {}
    rt: Any = SimpleNamespace(settings=Settings(), adapter=lambda vendor: known.get(vendor, SimpleNamespace()))
    leases: Any = SimpleNamespace(owns=lambda shard: owned is None or shard in owned, listeners=[])
    return Poller(rt, leases)


def charger(p: Poller, asset_id: str, *, link: str = "L1", vendor: str = "easee", vendor_id: str = "",
            shard: int = 0, next_in: float = 10.0) -> Entry:
    row: Any = SimpleNamespace(id=asset_id, link_id=link, vendor=vendor, vendor_id=vendor_id or asset_id.upper(),
                               shard=shard)
    entry = Entry(kind="charger", row=row, next_at=time.monotonic() + next_in)
    p.entries[asset_id] = entry
    p.links.setdefault(link, LinkState(vendor, f"token-{link}"))
    return entry


def due(entry: Entry) -> float:
    """Seconds from now until the entry's scheduled poll."""
    return entry.next_at - time.monotonic()


# -- kicks --------------------------------------------------------------------------------------------
def test_a_kick_polls_now_and_a_second_one_waits_its_turn() -> None:
    p = poller()
    e = charger(p, "c1")
    assert p.kick("c1") is True
    assert due(e) <= 0.01
    e.next_at = time.monotonic() + 10  # polled; next regular poll in 10 s
    p.kick("c1")
    assert KICK_EVERY_S - 0.1 < due(e) <= KICK_EVERY_S  # not dropped, not sooner than allowed


def test_an_adapter_with_cheap_reads_is_kicked_sooner() -> None:
    """OCPP reads are database reads of what the charge point pushed: its gap is the adapter's."""
    from adapters.ocpp import OcppAdapter

    p = poller({"ocpp": OcppAdapter()})
    e = charger(p, "c1", vendor="ocpp")
    p.kick("c1")
    e.next_at = time.monotonic() + 10
    p.kick("c1")
    assert due(e) <= OcppAdapter.kick_every_s < KICK_EVERY_S


def test_a_kick_never_delays_a_poll_already_due_sooner() -> None:
    p = poller()
    e = charger(p, "c1", next_in=0.5)
    e.last_kick = time.monotonic()
    p.kick("c1")
    assert due(e) <= 0.5


def test_an_unknown_or_stopped_asset_is_not_ours() -> None:
    p = poller()
    charger(p, "c1").stopped = True
    assert p.kick("c1") is False
    assert p.kick("nope") is False


async def test_a_kick_during_a_poll_polls_again_right_after_it(monkeypatch: pytest.MonkeyPatch) -> None:
    p = poller()
    e = charger(p, "c1")
    started, release = asyncio.Event(), asyncio.Event()

    async def slow_poll(entry: Entry) -> float:
        started.set()
        await release.wait()
        return 10.0  # the regular interval

    monkeypatch.setattr(p, "poll", slow_poll)
    e.in_flight = True
    run = asyncio.create_task(p._run(e))
    await started.wait()
    assert p.kick("c1") is True  # this poll may have read before the change
    release.set()
    await run
    assert due(e) <= 0.01


async def test_without_a_kick_the_next_poll_is_the_regular_one(monkeypatch: pytest.MonkeyPatch) -> None:
    p = poller()
    e = charger(p, "c1")

    async def poll(entry: Entry) -> float:
        return 10.0

    monkeypatch.setattr(p, "poll", poll)
    e.in_flight = True
    await p._run(e)
    assert 9.9 < due(e) <= 10.0


# -- the watcher --------------------------------------------------------------------------------------
class FakeStreams:
    """An adapter with a change stream per token: pushes what tests put in, or fails."""

    def __init__(self) -> None:
        self.queues: dict[str, asyncio.Queue[str | ve.VendorError]] = {}
        self.opened: list[str] = []

    def queue(self, token: str) -> asyncio.Queue[str | ve.VendorError]:
        return self.queues.setdefault(token, asyncio.Queue())

    async def watch(self, session: Session) -> AsyncIterator[str]:
        self.opened.append(session.access_token)
        q = self.queue(session.access_token)
        while True:
            item = await q.get()
            if isinstance(item, ve.VendorError):
                raise item
            yield item


async def until(predicate: Any, timeout: float = 2.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "condition not reached"
        await asyncio.sleep(0.01)


async def test_one_stream_per_owned_account_and_a_push_kicks_its_charger() -> None:
    streams = FakeStreams()
    p = poller({"easee": streams, "other": object()}, owned={0})
    a = charger(p, "c1", link="L1", vendor_id="EH1", next_in=60)
    charger(p, "c2", link="L1", vendor_id="EH2", next_in=60)
    charger(p, "c3", link="L2", shard=5)  # not owned here
    charger(p, "c4", link="L3", vendor="other")  # a vendor without a stream
    w = PushWatcher(p)
    w.sync()
    assert w.following == 1
    await until(lambda: streams.opened == ["token-L1"])
    await streams.queue("token-L1").put("EH1")
    await until(lambda: due(a) <= 0.05)
    assert due(p.entries["c2"]) > 50  # only the charger that changed
    # A charger not polled here is ignored, and the stream goes on.
    await streams.queue("token-L1").put("UNKNOWN")
    await streams.queue("token-L1").put("EH2")
    await until(lambda: due(p.entries["c2"]) <= 0.05)
    assert streams.opened == ["token-L1"]
    await w.stop()


async def test_a_broken_stream_is_reopened_and_a_lost_account_let_go(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(push_mod, "RETRY_MIN_S", 0.01)
    streams = FakeStreams()
    p = poller({"easee": streams})
    charger(p, "c1", link="L1")
    w = PushWatcher(p)
    w.sync()
    await until(lambda: len(streams.opened) == 1)
    await streams.queue("token-L1").put(ve.Unreachable("dropped"))
    await until(lambda: len(streams.opened) == 2)
    del p.entries["c1"]
    w.sync()
    assert w.following == 0
    await w.stop()
