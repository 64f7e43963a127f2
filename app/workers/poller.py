"""Polling coordinators: one in-memory entry per asset of the shards this worker owns.

Chargers are polled often, vehicles rarely (faster while charging or while confirming a
plug-in), each with jitter. Errors back off exponentially; a rate limit (capped, scoped by the
adapter) is shown on the asset until when and the asset is polled again then; asleep cars are
not woken; a refused token is renewed by logging in again with backoff (app/workers/relogin.py),
and only when that keeps failing does polling stop until the user links again. Each vendor has
its own in-flight slots, so a slow vendor never starves the polls of another.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from adapters import errors as ve
from adapters.types import Session
from app import metrics
from app.db.models import Charger, Vehicle, VendorLink
from app.runtime import Runtime
from app.workers import apply
from app.workers.leases import LeaseManager
from app.workers.relogin import Relogin

log = logging.getLogger("tandem.poller")
#: Polls in flight at once, per vendor.
MAX_IN_FLIGHT = 100
#: The asset's `rate_limited_until` is rewritten only when it moves by more than this.
RATE_LIMIT_SLACK = timedelta(seconds=2)
#: A poll of an account whose token another poll has just renewed is retried this soon.
RETRY_SOON_S = 0.5
#: poll_error while the account is being logged into again (not yet a reason to ask the user).
REAUTHENTICATING = "REAUTHENTICATING"
REFRESH_S = 5.0
#: Kicked polls of one asset are at least this far apart (commands and pushes kick often).
KICK_EVERY_S = 2.0


@dataclass
class Entry:
    """Scheduling state of one asset."""

    kind: str  # vehicle | charger
    row: Vehicle | Charger
    next_at: float = 0.0
    failures: int = 0
    stopped: bool = False
    in_flight: bool = False
    failing_logged: bool = False
    last_kick: float = 0.0
    kick_pending: bool = False  # kicked while a poll was in flight: poll again after it
    kicked: bool = False  # someone asked for the next poll (it records its time: see apply.poll_stamp)


@dataclass
class LinkState:
    """A vendor account's session, cached."""

    vendor: str
    access_token: str
    credentials: dict[str, Any] = field(default_factory=dict)
    relogin: Relogin = field(default_factory=lambda: Relogin(0, 1.0))
    login_lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def utcnow() -> datetime:
    """Now, timezone-aware."""
    return datetime.now(UTC)


class Poller:
    """Polls the assets of owned shards."""

    def __init__(self, rt: Runtime, leases: LeaseManager) -> None:
        self.rt = rt
        self.s = rt.settings
        self.leases = leases
        self.entries: dict[str, Entry] = {}
        self.links: dict[str, LinkState] = {}
        self._heap: list[tuple[float, int, str]] = []
        self._seq = 0
        self._wake = asyncio.Event()
        self._sems: dict[str, asyncio.Semaphore] = {}  # vendor -> its polls in flight
        self._tasks: list[asyncio.Task[None]] = []
        self._polls: set[asyncio.Task[None]] = set()
        #: Called after every refresh of the asset list (and change of owned shards).
        self.on_refresh: list[Callable[[], None]] = []

    async def start(self) -> None:
        """Load assets and start the scheduler."""
        await self.refresh()
        self._tasks = [asyncio.create_task(self._schedule(), name="poller"),
                       asyncio.create_task(self._refresh_loop(), name="poller-refresh")]
        self.leases.listeners.append(lambda _owned: self._wake.set())

    async def stop(self) -> None:
        """Stop polling."""
        for task in [*self._tasks, *self._polls]:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._polls, return_exceptions=True)

    # -- schedule ---------------------------------------------------------------------------
    def _push(self, entry: Entry, at: float) -> None:
        entry.next_at = at
        self._seq += 1
        heapq.heappush(self._heap, (at, self._seq, entry.row.id))
        self._wake.set()

    def interval(self, entry: Entry) -> float:
        """Seconds until this asset's next regular poll, with jitter."""
        if entry.kind == "charger":  # a charger that pushes its reports may ask for fewer polls
            base = max(self.s.charger_poll_s, getattr(self.rt.adapter(entry.row.vendor), "poll_every_s", 0.0))
        else:
            v: Vehicle = entry.row  # type: ignore[assignment]
            base = self.s.vehicle_poll_s
            if v.is_charging:
                base = min(base, self.s.vehicle_poll_charging_s)
            if v.confirm_until is not None and v.confirm_until > utcnow():
                base = min(base, self.s.confirm_poll_s)
        return base * (1 + random.uniform(-self.s.poll_jitter, self.s.poll_jitter))

    def kick(self, asset_id: str) -> bool:
        """Poll an asset now, or as soon as it may be (kicked polls are at least KICK_EVERY_S
        apart; a kick during a poll polls again after it, since that poll may have read too
        early). False when the asset is not polled here."""
        entry = self.entries.get(asset_id)
        if entry is None or entry.stopped:
            return False
        entry.kicked = True
        if entry.in_flight:
            entry.kick_pending = True
            return True
        at = self._kick_at(entry)
        if at < entry.next_at:
            entry.last_kick = at
            self._push(entry, at)
        return True

    def _kick_at(self, entry: Entry) -> float:
        """The earliest a kicked poll of `entry` may run (an adapter whose reads cost the vendor
        nothing, such as OCPP's, may ask for a shorter gap with `kick_every_s`)."""
        gap = getattr(self.rt.adapter(entry.row.vendor), "kick_every_s", KICK_EVERY_S)
        return max(time.monotonic(), entry.last_kick + gap)

    async def _schedule(self) -> None:
        while True:
            now = time.monotonic()
            while self._heap and self._heap[0][0] <= now:
                at, _, asset_id = heapq.heappop(self._heap)
                entry = self.entries.get(asset_id)
                if entry is None or entry.stopped or entry.in_flight or entry.next_at != at:
                    continue
                if not self.leases.owns(entry.row.shard):
                    continue
                entry.in_flight = True
                task = asyncio.create_task(self._run(entry))
                self._polls.add(task)
                task.add_done_callback(self._polls.discard)
            delay = (self._heap[0][0] - now) if self._heap else 1.0
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=max(0.0, min(delay, 1.0)))
            except TimeoutError:
                pass

    async def _run(self, entry: Entry) -> None:
        sem = self._sems.get(entry.row.vendor)
        if sem is None:
            sem = self._sems[entry.row.vendor] = asyncio.Semaphore(MAX_IN_FLIGHT)
        async with sem:
            try:
                delay = await self.poll(entry)
            except Exception:
                log.exception("poll of %s %s crashed", entry.kind, entry.row.id)
                delay = self._backoff(entry)
            finally:
                entry.in_flight = False
        if not entry.stopped and entry.row.id in self.entries:
            at = time.monotonic() + delay
            if entry.kick_pending:
                entry.kick_pending = False
                at = min(at, self._kick_at(entry))
                entry.last_kick = at
            self._push(entry, at)

    # -- one poll -----------------------------------------------------------------------------
    async def poll(self, entry: Entry) -> float:
        """Poll once; returns seconds until the next poll."""
        row = entry.row
        link = self.links.get(row.link_id)
        if link is None:
            return self.interval(entry)
        adapter = self.rt.adapter(row.vendor)
        session = Session(vendor=row.vendor, access_token=link.access_token)
        now = utcnow()
        try:
            if entry.kind == "vehicle":
                snap = await adapter.read_vehicle(session, row.vendor_id)
                now = utcnow()  # received: no vehicle data can describe a later moment
                changes, trans = apply.vehicle_changes(row, snap, now)  # type: ignore[arg-type]
            else:  # a charger's state held at least from the moment it was asked
                snap = await adapter.read_charger(session, row.vendor_id)
                changes, trans = apply.charger_changes(row, snap, now)  # type: ignore[arg-type]
        except ve.VendorError as exc:
            return await self._failed(entry, exc, session.access_token)
        metrics.POLLS.labels(entry.kind, row.vendor, "ok").inc()
        if entry.failing_logged:
            log.info("%s %s recovered", entry.kind, row.id)
            entry.failing_logged = False
        entry.failures = 0
        kicked, entry.kicked = entry.kicked, entry.kick_pending  # a kick during this poll asks for the next
        await apply.save(self.rt, entry.kind, row, changes, trans, now, kicked=kicked)
        return self.interval(entry)

    def _backoff(self, entry: Entry) -> float:
        entry.failures += 1
        base = self.s.charger_poll_s if entry.kind == "charger" else min(self.s.vehicle_poll_s, 60.0)
        delay = min(self.s.backoff_max_s, base * 2 ** (entry.failures - 1))
        return float(delay * (1 + random.uniform(0, self.s.poll_jitter)))

    async def _failed(self, entry: Entry, exc: ve.VendorError, token: str) -> float:
        row = entry.row
        metrics.POLLS.labels(entry.kind, row.vendor, exc.code).inc()
        if not entry.failing_logged:
            log.warning("%s %s poll failed: %s", entry.kind, row.id, exc.code)
            entry.failing_logged = True
        if isinstance(exc, ve.AuthRevoked):
            return await self._reauthenticate(entry, token)
        if isinstance(exc, ve.NotFound):
            await self._stop(entry, exc.code)
            return self.s.backoff_max_s
        if isinstance(exc, ve.Asleep):
            await self._mark(entry, reachable=True, error=exc.code)
            return self.interval(entry)
        if isinstance(exc, ve.RateLimited) and exc.scope == ve.LOCAL:
            return exc.retry_after  # Tandem's own budget: later, and nothing to show on the asset
        if isinstance(exc, ve.RateLimited):
            entry.failures += 1
            wait = max(exc.retry_after, 1.0)
            await self._mark(entry, reachable=False, error=exc.code, limited_until=utcnow() + timedelta(seconds=wait))
            return wait
        await self._mark(entry, reachable=False, error=exc.code)
        return self._backoff(entry)

    async def _mark(self, entry: Entry, *, reachable: bool, error: str, limited_until: datetime | None = None) -> None:
        """Record a failed poll on the asset (and publish it when a client would see a change)."""
        row = entry.row
        was = row.rate_limited_until
        moved = (was is None) != (limited_until is None) or (
            was is not None and limited_until is not None and abs(was - limited_until) > RATE_LIMIT_SLACK)
        if row.is_reachable == reachable and row.poll_error == error and not moved:
            return
        row.is_reachable, row.poll_error = reachable, error
        if moved:
            row.rate_limited_until = limited_until
        await row.save(update_fields=["is_reachable", "poll_error", "rate_limited_until"])
        await self.rt.publish(entry.kind, row.user_id, row.id)

    async def _reauthenticate(self, entry: Entry, token: str) -> float:
        """The vendor refused the account's token: log in again (once per account, with backoff);
        seconds until this asset's next poll. Stops the account's polling when logins keep failing."""
        link = self.links.get(entry.row.link_id)
        if link is None or not link.credentials or link.relogin.attempts == 0:
            await self._stop(entry, "AUTH_REVOKED")
            return self.s.backoff_max_s
        async with link.login_lock:  # one login per account, whichever of its assets noticed first
            if link.access_token != token:
                return RETRY_SOON_S  # another poll has logged in again meanwhile
            now = time.monotonic()
            if (wait := link.relogin.wait(now)) == 0:
                try:
                    session = await self.rt.adapter(link.vendor).login(link.credentials)
                except (ve.BadCredentials, ve.AuthRevoked):
                    link.relogin.refused(now)
                except ve.VendorError:
                    link.relogin.failed(now)
                else:
                    link.relogin.succeeded()
                    link.access_token = session.access_token
                    await VendorLink.filter(id=entry.row.link_id).update(access_token=session.access_token)
                    self._kick_link(entry.row.link_id)
                    return RETRY_SOON_S
                if link.relogin.exhausted:
                    log.warning("account %s: %d logins refused; the user must link it again",
                                entry.row.link_id[:8], link.relogin.refusals)
                    await self._stop(entry, "AUTH_REVOKED")
                    return self.s.backoff_max_s
                wait = link.relogin.wait(now)
        await self._mark(entry, reachable=False, error=REAUTHENTICATING)
        return wait + random.uniform(0, 0.1)

    def _kick_link(self, link_id: str) -> None:
        """Poll every asset of an account soon (its token was just renewed)."""
        for other in self.entries.values():
            if other.row.link_id == link_id and not other.in_flight and not other.stopped:
                self._push(other, time.monotonic() + random.uniform(0, RETRY_SOON_S))

    async def _stop(self, entry: Entry, code: str) -> None:
        link_id = entry.row.link_id
        if code == "AUTH_REVOKED":
            await VendorLink.filter(id=link_id).update(status="REVOKED")
            stopping = [e for e in self.entries.values() if e.row.link_id == link_id]
        else:
            stopping = [entry]
        for e in stopping:
            e.stopped = True
            await self._mark(e, reachable=False, error=code)

    # -- asset list ---------------------------------------------------------------------------
    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(REFRESH_S)
            try:
                await self.refresh()
            except Exception:
                log.exception("asset refresh failed")

    async def refresh(self) -> None:
        """Sync entries with the owned shards: add new assets, drop gone ones, restart re-linked."""
        owned = list(self.leases.owned)
        seen: set[str] = set()
        for kind, model in (("vehicle", Vehicle), ("charger", Charger)):
            fields = ["id", "poll_error", "link_id"] + (["confirm_until"] if kind == "vehicle" else [])
            rows = await model.filter(shard__in=owned).values(*fields) if owned else []
            new_ids = []
            for r in rows:
                seen.add(r["id"])
                entry = self.entries.get(r["id"])
                if entry is None or (entry.stopped and r["poll_error"] is None):
                    new_ids.append(r["id"])
                elif kind == "vehicle":
                    entry.row.confirm_until = r["confirm_until"]
                    if r["confirm_until"] and entry.next_at - time.monotonic() > self.s.confirm_poll_s:
                        self._push(entry, time.monotonic())
            if new_ids:
                full = await model.filter(id__in=new_ids)
                await self._load_links({r.link_id for r in full})
                for row in full:
                    entry = Entry(kind=kind, row=row)
                    self.entries[row.id] = entry
                    if row.poll_error in ("AUTH_REVOKED", "NOT_FOUND"):
                        entry.stopped = True
                    else:
                        self._push(entry, time.monotonic() + random.uniform(0, 0.2))
        for gone in set(self.entries) - seen:
            del self.entries[gone]
        for listener in self.on_refresh:
            listener()

    async def _load_links(self, link_ids: set[str]) -> None:
        for link in await VendorLink.filter(id__in=list(link_ids)):
            self.links[link.id] = LinkState(link.vendor, link.access_token, dict(link.credentials or {}),
                                            Relogin(self.s.relogin_attempts, self.s.relogin_backoff_s))
