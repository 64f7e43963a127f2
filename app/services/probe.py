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
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from app.db import column
from app.db.models import ChargeAction, Charger, ChargerProbe, Vehicle, new_id
from app.domain import pairing as dp
from app.orchestrator.api import finish
from app.orchestrator.runner import nudge as nudge_actions
from app.runtime import Runtime

log = logging.getLogger("tandem.probe")
#: How often the watched cars are polled while the probe waits for them.
READ_EVERY_S = 5.0
#: How often an open probe is looked at.
STEP_S = 1.0
OPEN = ("PAUSING", "WATCHING", "RESUMING", "DECIDED")
#: charger id -> (plug session, paused at, pause ended at or None while paused)
Pauses = dict[str, tuple[datetime, datetime, datetime | None]]
#: Writes a probe's outcome line to the charger's systems and activates the car it singled out:
#: (user id, charger id, plug session, line, chosen vehicle id or None).
Recorder = Callable[[str, str, datetime, str, "str | None"], Awaitable[None]]


def utcnow() -> datetime:
    """Now, timezone-aware."""
    return datetime.now(UTC)


def session_tag(plugged_in_at: datetime) -> str:
    """What marks a probe's evidence line as belonging to one plug session."""
    return f"(plug-in {plugged_in_at.strftime('%H:%M:%S')})"


# -- what pairing reads ----------------------------------------------------------------------------
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


# -- starting --------------------------------------------------------------------------------------
async def _pending_user_actions(user_id: str, assets: list[str]) -> bool:
    return await ChargeAction.filter(user_id=user_id, origin="USER", state="PENDING", target_id__in=assets).exists()


async def maybe_start(rt: Runtime, user_id: str, charger: Charger, decision: dp.Decision) -> bool:
    """Open a probe for `decision` when allowed and none was opened in this plug session (in any
    process). Not while a user's action on the charger or a candidate car is pending."""
    if not (rt.settings.allow_probe and decision.needs_probe and charger.is_charging and charger.plugged_in_at):
        return False
    if await ChargerProbe.filter(charger_id=charger.id, plugged_in_at=charger.plugged_in_at).exists():
        return False
    if await _pending_user_actions(user_id, [charger.id, *decision.candidates]):
        return False  # the user acts: no probe now (a later evaluation may still start one)
    try:
        await ChargerProbe.create(user_id=user_id, charger_id=charger.id, plugged_in_at=charger.plugged_in_at,
                                  candidates=list(decision.candidates), next_step_at=utcnow())
    except IntegrityError:  # another process opened it first
        return False
    log.info("probe of charger %s opened (%d candidates)", charger.id, len(decision.candidates))
    nudge()
    return True


# -- readings --------------------------------------------------------------------------------------
def _obs(v: Vehicle) -> dp.VehicleObs | None:
    """A car's current reading from its row (None when it has none or its last poll failed)."""
    if v.poll_error is not None or not v.is_reachable or (v.data_age is None and v.polled_at is None):
        return None
    observed = v.polled_at or v.data_age
    assert observed is not None
    return dp.VehicleObs(observed, v.data_age, v.is_plugged_in, v.is_charging, v.charge_rate)


def _dump(o: dp.VehicleObs) -> dict[str, Any]:
    return {"observed_at": o.observed_at.isoformat(), "data_age": o.data_age.isoformat() if o.data_age else None,
            "is_plugged_in": o.is_plugged_in, "is_charging": o.is_charging, "charge_rate_kw": o.charge_rate_kw}


def _load(raw: dict[str, Any]) -> dp.VehicleObs:
    return dp.VehicleObs(datetime.fromisoformat(raw["observed_at"]),
                         datetime.fromisoformat(raw["data_age"]) if raw["data_age"] else None,
                         raw["is_plugged_in"], raw["is_charging"], raw["charge_rate_kw"])


@dataclass
class _Readings:
    """A probe's readings by phase, as stored in `ChargerProbe.readings`."""

    before: dict[str, dp.VehicleObs]
    paused: dict[str, dp.VehicleObs]
    resumed: dict[str, dp.VehicleObs]

    @classmethod
    def of(cls, p: ChargerProbe) -> _Readings:
        raw = p.readings or {}
        return cls(*({vid: _load(o) for vid, o in raw.get(k, {}).items()} for k in ("before", "paused", "resumed")))

    def dump(self) -> dict[str, Any]:
        return {k: {vid: _dump(o) for vid, o in getattr(self, k).items()} for k in ("before", "paused", "resumed")}


async def _current(ids: list[str], since: datetime | None = None) -> dict[str, dp.VehicleObs]:
    """The cars' current readings (only data taken after `since`, when given)."""
    out: dict[str, dp.VehicleObs] = {}
    for v in await Vehicle.filter(id__in=ids) if ids else []:
        o = _obs(v)
        if o is not None and (since is None or o.taken_at > since):
            out[v.id] = o
    return out


async def _poll(rt: Runtime, p: ChargerProbe, ids: list[str], now: datetime) -> None:
    """Ask for the cars to be polled, at most every READ_EVERY_S."""
    if p.kicked_at is not None and now < p.kicked_at + timedelta(seconds=READ_EVERY_S):
        return
    from app.workers.kick import request_poll

    for vid in ids:
        await request_poll(rt, "vehicle", vid)
    p.kicked_at = now


# -- steps -----------------------------------------------------------------------------------------
async def step(rt: Runtime, p: ChargerProbe, recorder: Recorder) -> None:
    """Advance one open probe by one decision (every input comes from the database)."""
    now = utcnow()
    charger = await Charger.get_or_none(id=p.charger_id)
    same = charger is not None and bool(charger.is_plugged_in) and charger.plugged_in_at == p.plugged_in_at
    if p.phase == "PAUSING":
        await _pausing(rt, p, charger, same, now)
    elif p.phase == "WATCHING":
        await _watching(rt, p, same, now)
    elif p.phase == "RESUMING":
        await _resuming(rt, p, now)
    elif p.phase == "DECIDED":
        await _decided(p, now, recorder)
    await p.save()


async def _user_acts(p: ChargerProbe) -> bool:
    return await _pending_user_actions(p.user_id, [p.charger_id, *p.candidates])


async def _pausing(rt: Runtime, p: ChargerProbe, charger: Charger | None, same: bool, now: datetime) -> None:
    """Read the candidates, then pause: the pause and the (scheduled) resume are actions."""
    why = ("the plug session ended" if not same else
           "the charger stopped charging" if charger is None or not charger.is_charging else
           "an action on the charger or a candidate is pending" if await _user_acts(p) else None)
    if why:
        p.phase, p.ended_at, p.outcome = "DONE", now, f"probe not started: {why}: not activating"
        return
    if now < p.created_at + timedelta(seconds=READ_EVERY_S) and not await _all_polled_since(p.candidates,
                                                                                            p.created_at):
        await _poll(rt, p, p.candidates, now)
        p.next_step_at = now + timedelta(seconds=STEP_S)
        return
    readings = _Readings(await _current(p.candidates), {}, {})
    s = rt.settings
    p.pause_action_id, p.resume_action_id = new_id(), new_id()
    resume_at = now + timedelta(seconds=s.probe_s + STEP_S)
    holds = {"holds": [p.charger_id, *p.candidates], "probe": p.id}
    common: dict[str, Any] = {"user_id": p.user_id, "target_id": p.charger_id, "target_type": "CHARGER",
                              "origin": "PROBE"}
    async with in_transaction():
        await ChargeAction.create(id=p.pause_action_id, kind="STOP", plan=holds, next_step_at=now,
                                  deadline=now + timedelta(seconds=s.probe_s), **common)
        await ChargeAction.create(id=p.resume_action_id, kind="START", plan=holds, next_step_at=resume_at,
                                  deadline=resume_at + timedelta(seconds=s.probe_s + 2 * s.verify_charger_s), **common)
        # paused_at is before the command: a car may stop as soon as the charger does
        p.phase, p.paused_at, p.readings = "WATCHING", now, readings.dump()
        p.kicked_at, p.next_step_at = now, now + timedelta(seconds=READ_EVERY_S)
        await p.save()
    nudge_actions()
    log.info("probing charger %s: pausing, watching %d vehicles", p.charger_id, len(p.candidates))


async def _all_polled_since(ids: list[str], since: datetime) -> bool:
    polled = await column(Vehicle.filter(id__in=ids, polled_at__gte=since), "id") if ids else []
    return len(polled) == len(ids)


def _watched(p: ChargerProbe, readings: _Readings) -> list[str]:
    return dp.probe_watch(p.candidates, readings.before)


async def _watching(rt: Runtime, p: ChargerProbe, same: bool, now: datetime) -> None:
    """Poll the watched cars until each reported from the pause and one stopped (or time is up)."""
    assert p.paused_at is not None
    pause = await ChargeAction.get_or_none(id=p.pause_action_id)
    readings = _Readings.of(p)
    watched = _watched(p, readings)
    if not same:
        p.interrupted = "the plug session ended"
    elif await _user_acts(p):
        p.interrupted = "an action on the charger or a candidate car was requested"
    elif pause is None or pause.state in ("FAILED", "CANCELLED"):
        p.interrupted = f"could not pause the charger ({pause.failure_type if pause else 'NOT_FOUND'})"
    if not p.interrupted:
        readings.paused.update(await _current(watched, since=p.paused_at))
        p.readings = readings.dump()
        enough = not watched or (len(readings.paused) == len(watched)
                                 and not all(o.is_charging for o in readings.paused.values()))
        if not enough and now < p.paused_at + timedelta(seconds=rt.settings.probe_s):
            await _poll(rt, p, watched, now)
            p.next_step_at = now + timedelta(seconds=STEP_S)
            return
    await _resume(rt, p, pause, now)


async def _resume(rt: Runtime, p: ChargerProbe, pause: ChargeAction | None, now: datetime) -> None:
    """Bring the scheduled resume forward; a pause still in flight is cancelled first (and the
    resume waits for the charger to report, so it is not confirmed by data from before the pause)."""
    resume_at = now
    if pause is not None and pause.state == "PENDING":
        sent = (pause.plan or {}).get("current") is not None
        await finish(rt, pause, "CANCELLED", "REQUESTED_CANCELLATION", "The probe ended.")
        if sent:
            resume_at = now + timedelta(seconds=rt.settings.verify_charger_s)
    await ChargeAction.filter(id=p.resume_action_id, state="PENDING", next_step_at__gt=resume_at).update(
        next_step_at=resume_at)
    nudge_actions()
    p.phase, p.resumed_at, p.kicked_at = "RESUMING", now, None
    p.next_step_at = now + timedelta(seconds=STEP_S)
    log.info("probe of charger %s: resuming%s", p.charger_id, f" ({p.interrupted})" if p.interrupted else "")


async def _resuming(rt: Runtime, p: ChargerProbe, now: datetime) -> None:
    """Watch the one car that followed the pause until it charges again (or time is up); decide."""
    assert p.paused_at is not None and p.resumed_at is not None
    readings = _Readings.of(p)
    watched = _watched(p, readings)
    followers = dp.probe_followers(watched, readings.paused, p.paused_at)
    if not p.interrupted and len(followers) == 1:
        readings.resumed.update(await _current(followers, since=p.resumed_at))
        p.readings = readings.dump()
        back = any(o.is_charging for o in readings.resumed.values())
        if not back and now < p.resumed_at + timedelta(seconds=rt.settings.probe_s):
            await _poll(rt, p, followers, now)
            p.next_step_at = now + timedelta(seconds=STEP_S)
            return
    await _decide(p, readings)
    p.phase, p.next_step_at = "DECIDED", now


async def _decide(p: ChargerProbe, readings: _Readings) -> None:
    assert p.paused_at is not None and p.resumed_at is not None
    if p.interrupted:
        p.outcome = f"probe at {p.paused_at.strftime('%H:%M:%S')} ended early ({p.interrupted}): not activating"
        return
    chosen, line = dp.interpret_probe(p.candidates, readings.before, readings.paused, readings.resumed,
                                      p.paused_at, p.resumed_at)
    for car in await Vehicle.filter(id__in=p.candidates):
        name = " ".join(part for part in (car.brand, car.model) if part) + f" ({car.id[:6]})"
        line = line.replace(car.id, name)
    p.outcome, p.chosen_vehicle_id = line, chosen


async def _decided(p: ChargerProbe, now: datetime, recorder: Recorder) -> None:
    """Once the charger is restored (the resume action ended), record the outcome."""
    resume = await ChargeAction.get_or_none(id=p.resume_action_id) if p.resume_action_id else None
    if resume is not None and resume.state == "PENDING":
        p.next_step_at = now + timedelta(seconds=STEP_S)
        return
    if resume is not None and resume.state != "CONFIRMED":
        log.warning("probe could not resume charger %s: %s", p.charger_id, resume.failure_type)
    p.ended_at = (resume.completed_at if resume is not None else None) or now
    assert p.outcome is not None
    await recorder(p.user_id, p.charger_id, p.plugged_in_at, f"{p.outcome} {session_tag(p.plugged_in_at)}",
                   p.chosen_vehicle_id)
    p.phase, p.next_step_at = "DONE", None


# -- the runner ------------------------------------------------------------------------------------
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
