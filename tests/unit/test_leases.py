"""Shard leases (app.workers.leases): fair split between live workers, takeover after a death."""

from __future__ import annotations

from datetime import datetime, timedelta

from app.settings import Settings
from app.workers.leases import LeaseManager, utcnow

SHARDS, LEASE_S = 8, 10.0


async def split_between_two() -> tuple[LeaseManager, LeaseManager, datetime]:
    """Workers a and b after a took everything, b came alive and a gave half back; and the start time."""
    a, b = LeaseManager("a", SHARDS, LEASE_S), LeaseManager("b", SHARDS, LEASE_S)
    await a.ensure_shards()
    now = utcnow()
    await a.tick(now)
    assert a.owned == frozenset(range(SHARDS)), "alone, a worker takes every shard"
    await b.tick(now)  # b is alive now, but a still holds everything
    await a.tick(now + timedelta(seconds=1))  # a sees two live workers and gives half back
    await b.tick(now + timedelta(seconds=2))
    return a, b, now


async def test_two_workers_split_the_shards_and_never_share_one(database: Settings) -> None:
    a, b, _ = await split_between_two()
    assert len(a.owned) == len(b.owned) == SHARDS // 2
    assert not a.owned & b.owned
    assert a.owned | b.owned == frozenset(range(SHARDS))


async def test_a_dead_workers_shards_are_taken_over_after_the_lease(database: Settings) -> None:
    a, b, now = await split_between_two()
    held_by_a = a.owned
    # a dies without releasing anything; before its lease ends b must not take a's shards
    await b.tick(now + timedelta(seconds=LEASE_S / 2))
    assert not b.owned & held_by_a
    await b.tick(now + timedelta(seconds=LEASE_S + 2))
    assert b.owned == frozenset(range(SHARDS))


async def test_a_clean_stop_hands_over_at_once(database: Settings) -> None:
    a, b = LeaseManager("a", SHARDS, LEASE_S), LeaseManager("b", SHARDS, LEASE_S)
    await a.ensure_shards()
    now = utcnow()
    await a.tick(now)
    await b.tick(now)
    await a.stop()
    assert a.owned == frozenset()
    await b.tick(now + timedelta(seconds=1))
    assert b.owned == frozenset(range(SHARDS))
