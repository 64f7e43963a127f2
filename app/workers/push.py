"""Vendor push channels: a change stream per vendor account whose adapter offers one
(`adapters.capabilities.ChangeStream`, e.g. Easee's streaming API), for the accounts whose
chargers this poller owns.

A pushed change makes the poller poll that device at once: polling stays the one source of
state, so a lost, late or duplicated message costs nothing but the wait for the next regular
poll. A broken stream is reopened with exponential backoff; a refused token waits for the
poller, which logs in again or marks the account for re-linking.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time

from adapters import errors as ve
from adapters.capabilities import ChangeStream
from adapters.types import Session
from app import metrics
from app.workers.poller import Poller

log = logging.getLogger("tandem.push")
RETRY_MIN_S = 5.0
RETRY_MAX_S = 300.0
#: A stream that stayed open this long was healthy: its next failure starts the backoff over.
HEALTHY_S = 60.0


class PushWatcher:
    """Follows the change streams of the accounts whose chargers `poller` owns."""

    def __init__(self, poller: Poller) -> None:
        self.poller = poller
        self._streams: dict[str, asyncio.Task[None]] = {}  # link id -> its stream's task
        self._assets: dict[tuple[str, str], str] = {}  # (link id, vendor id) -> asset id

    def sync(self) -> None:
        """Follow the accounts of the chargers polled here now; let go of the others."""
        p = self.poller
        wanted: set[str] = set()
        assets: dict[tuple[str, str], str] = {}
        streams: dict[str, bool] = {}  # vendor -> whether its adapter pushes (asked once per vendor)
        for entry in p.entries.values():
            row = entry.row
            if entry.kind != "charger" or entry.stopped or row.link_id not in p.links:
                continue
            if row.vendor not in streams:
                streams[row.vendor] = isinstance(p.rt.adapter(row.vendor), ChangeStream)
            if not streams[row.vendor] or not p.leases.owns(row.shard):
                continue
            wanted.add(row.link_id)
            assets[(row.link_id, row.vendor_id)] = row.id
        self._assets = assets
        for link_id in set(self._streams) - wanted:
            self._streams.pop(link_id).cancel()
        for link_id in wanted - set(self._streams):
            self._streams[link_id] = asyncio.create_task(self._follow(link_id), name=f"push-{link_id[:8]}")

    @property
    def following(self) -> int:
        """How many account streams are followed."""
        return len(self._streams)

    async def stop(self) -> None:
        """Close every stream."""
        tasks = list(self._streams.values())
        self._streams.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _follow(self, link_id: str) -> None:
        delay = RETRY_MIN_S
        while (link := self.poller.links.get(link_id)) is not None:
            adapter = self.poller.rt.adapter(link.vendor)
            if not isinstance(adapter, ChangeStream):
                return
            opened = time.monotonic()
            try:
                async for vendor_id in adapter.watch(Session(vendor=link.vendor, access_token=link.access_token)):
                    metrics.PUSHES.labels(link.vendor).inc()
                    asset_id = self._assets.get((link_id, vendor_id))
                    if asset_id is not None:
                        self.poller.kick(asset_id)
            except ve.VendorError as exc:
                log.info("%s change stream of account %s: %s", link.vendor, link_id[:8], exc.code)
            if time.monotonic() - opened >= HEALTHY_S:
                delay = RETRY_MIN_S
            await asyncio.sleep(delay * (1 + random.uniform(0, 0.2)))
            delay = min(RETRY_MAX_S, delay * 2)
