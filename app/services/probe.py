"""Active probe (opt-in, `TANDEM_ALLOW_PROBE`): tell ambiguous cars apart by pausing the charger.

When a plugged-in, charging charger still cannot be paired after the confirmation window, the
charger is paused for at most `probe_s` while the candidate cars are polled until each reports
data from after the pause, and charging is resumed. The one car that stopped, and charged
again after the resume, is the one on the cable; anything else leaves the systems ESTABLISHED.
Either way the outcome is written to the systems' `evidence`, tagged with the plug session so
it is kept until unplug.

Everything a probe decides from is in the database (`ChargerProbe`): at most one per plug
session (a unique constraint), its phase, the cars' readings, when it paused and resumed. The
pause and the resume are internal `ChargeAction`s (origin PROBE) that the orchestrator carries
out like any other; the resume is scheduled when the pause is, so the charger is restored even
if no worker drives the probe on. `ProbeRunner` steps open probes of the shards its worker
owns, under a lease, so after a restart or a shard move the next worker carries on where the
last one stopped. Pairing, in any process, reads no charging evidence from the pause
(`pauses`). A user's pending action on the charger or a candidate car keeps a probe from
starting, and one made during a probe ends it early (the charger is resumed first, see
`app.orchestrator.holds`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q

from app.db import column
from app.db.models import Charger, ChargerProbe
from app.domain import pairing as dp
from app.runtime import Runtime
from app.services.probe_steps import OPEN, STEP_S, Recorder, pending_user_actions, session_tag, step, utcnow

__all__ = ["Pauses", "ProbeRunner", "Recorder", "maybe_start", "nudge", "pause_of", "pauses", "session_tag"]
log = logging.getLogger("tandem.probe")
#: charger id -> (plug session, paused at, pause ended at or None while paused)
Pauses = dict[str, tuple[datetime, datetime, datetime | None]]


async def pauses(chargers: Iterable[Charger]) -> Pauses:
    """The probes' pauses of these chargers in their current plug sessions, whichever process
    ran them."""
    sessions = {c.id: c.plugged_in_at for c in chargers if c.plugged_in_at is not None}
    if not sessions:
        return {}
    rows = await ChargerProbe.filter(charger_id__in=list(sessions), plugged_in_at__in=list(sessions.values()),
                                     paused_at__not_isnull=True)
    return {p.charger_id: (p.plugged_in_at, p.paused_at, p.ended_at) for p in rows  # type: ignore[misc]
            if sessions[p.charger_id] == p.plugged_in_at}


def pause_of(all_pauses: Pauses, charger: Charger) -> tuple[datetime, datetime | None] | None:
    """When a probe paused this charger in its current plug session, and when the charger was
    restored (None: not yet). Pairing reads no charging evidence from that span."""
    entry = all_pauses.get(charger.id)
    if entry is None or entry[0] != charger.plugged_in_at:
        return None
    return entry[1], entry[2]


async def maybe_start(rt: Runtime, user_id: str, charger: Charger, decision: dp.Decision) -> bool:
    """Open a probe for `decision` when allowed and none was opened in this plug session (in any
    process). Not while a user's action on the charger or a candidate car is pending."""
    if not (rt.settings.allow_probe and decision.needs_probe and charger.is_charging and charger.plugged_in_at):
        return False
    if await ChargerProbe.filter(charger_id=charger.id, plugged_in_at=charger.plugged_in_at).exists():
        return False
    if await pending_user_actions(user_id, [charger.id, *decision.candidates]):
        return False  # the user acts: no probe now (a later evaluation may still start one)
    try:
        await ChargerProbe.create(user_id=user_id, charger_id=charger.id, plugged_in_at=charger.plugged_in_at,
                                  candidates=list(decision.candidates), next_step_at=utcnow())
    except IntegrityError:  # another process opened it first
        return False
    log.info("probe of charger %s opened (%d candidates)", charger.id, len(decision.candidates))
    nudge()
    return True


_local: list[ProbeRunner] = []


def nudge() -> None:
    """Wake local probe runners now (a probe was opened)."""
    for runner in _local:
        runner.wake.set()


class ProbeRunner:
    """Steps the open probes of chargers in shards this worker owns, one worker per probe (a
    lease in the probe's row), so a probe outlives the process that began it."""

    def __init__(self, rt: Runtime, owns: Callable[[int], bool], recorder: Recorder) -> None:
        self.rt = rt
        self.owns = owns
        self.recorder = recorder
        self.wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the loop."""
        _local.append(self)
        self._task = asyncio.create_task(self._loop(), name="probes")

    async def stop(self) -> None:
        """Stop and release the probes this worker holds (the next owner carries them on)."""
        if self in _local:
            _local.remove(self)
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await ChargerProbe.filter(lease_owner=self.rt.worker_id).update(lease_owner=None, lease_until=None)

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_due()
            except Exception:
                log.exception("probe loop failed")
            self.wake.clear()
            try:
                await asyncio.wait_for(self.wake.wait(), STEP_S)
            except TimeoutError:
                pass

    async def run_due(self) -> int:
        """Step every due open probe this worker may take; returns how many it stepped."""
        now = utcnow()
        due = await ChargerProbe.filter(ended_at__isnull=True, phase__in=OPEN, next_step_at__lte=now).order_by(
            "next_step_at").limit(50)
        ran = 0
        for p in due:
            shard = await column(Charger.filter(id=p.charger_id), "shard")
            if shard and not self.owns(int(shard[0])):
                continue
            if not await self._claim(p.id, now):
                continue
            try:
                fresh = await ChargerProbe.get(id=p.id)
                if fresh.phase in OPEN:
                    await step(self.rt, fresh, self.recorder)
                    ran += 1
            except Exception:
                log.exception("probe %s step failed", p.id)
            finally:
                await ChargerProbe.filter(id=p.id, lease_owner=self.rt.worker_id).update(lease_owner=None)
        return ran

    async def _claim(self, probe_id: str, now: datetime) -> bool:
        me = self.rt.worker_id
        won = await ChargerProbe.filter(
            Q(id=probe_id) & (Q(lease_owner=None) | Q(lease_until__lt=now) | Q(lease_owner=me))
        ).update(lease_owner=me, lease_until=now + timedelta(seconds=self.rt.settings.lease_s))
        return bool(won)
