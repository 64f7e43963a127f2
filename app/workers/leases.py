"""Shard leases: each asset shard is worked by exactly one live worker process at a time.

Workers heartbeat, count the live ones, and claim a fair share of shards with compare-and-set
updates (no row locks needed, so it works alike on SQLite and PostgreSQL). A dead worker's
shards expire after `lease_s` and are claimed by the others.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from tortoise.expressions import Q

from app.db import column
from app.db.models import WorkerHeartbeat, WorkerLease

log = logging.getLogger("tandem.leases")


def utcnow() -> datetime:
    """Now, timezone-aware."""
    return datetime.now(UTC)


class LeaseManager:
    """Claims, renews and releases shards for one worker."""

    def __init__(self, worker_id: str, shards: int, lease_s: float) -> None:
        self.worker_id = worker_id
        self.shards = shards
        self.lease_s = lease_s
        self.owned: frozenset[int] = frozenset()
        self.listeners: list[Callable[[frozenset[int]], None]] = []
        self._task: asyncio.Task[None] | None = None

    def owns(self, shard: int) -> bool:
        """Whether this worker currently holds `shard`."""
        return shard in self.owned

    async def start(self) -> None:
        """Claim a first share, then keep renewing in the background."""
        await self.ensure_shards()
        await self.tick()
        self._task = asyncio.create_task(self._loop(), name="leases")

    async def ensure_shards(self) -> None:
        """Create the lease rows of shards that have none yet."""
        existing = set(await column(WorkerLease.all(), "shard"))
        missing = [WorkerLease(shard=s) for s in range(self.shards) if s not in existing]
        if missing:
            await WorkerLease.bulk_create(missing, ignore_conflicts=True)

    async def stop(self) -> None:
        """Stop renewing and release every shard so others take over at once."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await WorkerLease.filter(owner=self.worker_id).update(owner=None, lease_until=None)
        await WorkerHeartbeat.filter(id=self.worker_id).delete()
        self._set(frozenset())

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.lease_s / 3)
            try:
                await self.tick()
            except Exception:
                log.exception("lease renewal failed")

    async def tick(self, now: datetime | None = None) -> None:
        """Heartbeat, renew, then claim up to (or release down to) the fair share."""
        now = now or utcnow()
        until = now + timedelta(seconds=self.lease_s)
        hb = await WorkerHeartbeat.filter(id=self.worker_id).update(heartbeat_at=now)
        if not hb:
            await WorkerHeartbeat.create(id=self.worker_id, heartbeat_at=now)
        alive_since = now - timedelta(seconds=self.lease_s)
        live = max(1, await WorkerHeartbeat.filter(heartbeat_at__gt=alive_since).count())
        target = math.ceil(self.shards / live)
        await WorkerLease.filter(owner=self.worker_id, lease_until__gt=now).update(lease_until=until)
        owned = set(await column(WorkerLease.filter(owner=self.worker_id, lease_until__gt=now), "shard"))
        if len(owned) < target:
            vacant = Q(owner=None) | Q(lease_until__lt=now) | Q(lease_until=None)
            free = await column(WorkerLease.filter(vacant), "shard")
            for shard in free:
                if len(owned) >= target:
                    break
                if shard in owned:
                    continue
                won = await WorkerLease.filter(
                    Q(shard=shard) & vacant
                ).update(owner=self.worker_id, lease_until=until)
                if won:
                    owned.add(shard)
        elif len(owned) > target:
            extra = sorted(owned)[target:]
            await WorkerLease.filter(owner=self.worker_id, shard__in=extra).update(owner=None, lease_until=None)
            owned -= set(extra)
        await WorkerHeartbeat.filter(heartbeat_at__lt=now - timedelta(seconds=self.lease_s * 4)).delete()
        self._set(frozenset(owned))

    def _set(self, owned: frozenset[int]) -> None:
        if owned != self.owned:
            self.owned = owned
            for listener in self.listeners:
                listener(owned)

