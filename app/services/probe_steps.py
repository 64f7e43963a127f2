"""The probe's state machine: one step of an open probe, decided from the database alone.

PAUSING (read the candidates, then pause: the pause and the scheduled resume are internal
actions) -> WATCHING (poll the watched cars until each reported from the pause) -> RESUMING
(bring the resume forward; watch the one car that followed the pause) -> DECIDED (the outcome
is fixed; recorded once the charger is restored) -> DONE.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.transactions import in_transaction

from app.db import column
from app.db.models import ActionAttempt, ChargeAction, Charger, ChargerProbe, Vehicle, new_id
from app.domain import pairing as dp
from app.orchestrator.api import finish
from app.orchestrator.runner import nudge as nudge_actions
from app.runtime import Runtime
from app.services.probe_readings import Readings, current

log = logging.getLogger("tandem.probe")
#: How often the watched cars are polled while the probe waits for them.
READ_EVERY_S = 5.0
#: How often an open probe is looked at.
STEP_S = 1.0
OPEN = ("PAUSING", "WATCHING", "RESUMING", "DECIDED")
#: Writes a probe's outcome line to the charger's systems and activates the car it singled out:
#: (user id, charger id, plug session, line, chosen vehicle id or None).
Recorder = Callable[[str, str, datetime, str, "str | None"], Awaitable[None]]


def utcnow() -> datetime:
    """Now, timezone-aware."""
    return datetime.now(UTC)


def session_tag(plugged_in_at: datetime) -> str:
    """What marks a probe's evidence line as belonging to one plug session."""
    return f"(plug-in {plugged_in_at.strftime('%H:%M:%S')})"


async def pending_user_actions(user_id: str, assets: list[str]) -> bool:
    """Whether the user has a PENDING action on any of these assets."""
    return await ChargeAction.filter(user_id=user_id, origin="USER", state="PENDING", target_id__in=assets).exists()


async def _poll(rt: Runtime, p: ChargerProbe, ids: list[str], now: datetime) -> None:
    """Ask for the cars to be polled, at most every READ_EVERY_S."""
    if p.kicked_at is not None and now < p.kicked_at + timedelta(seconds=READ_EVERY_S):
        return
    from app.workers.kick import request_poll

    for vid in ids:
        await request_poll(rt, "vehicle", vid)
    p.kicked_at = now


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
    return await pending_user_actions(p.user_id, [p.charger_id, *p.candidates])


async def _pausing(rt: Runtime, p: ChargerProbe, charger: Charger | None, same: bool, now: datetime) -> None:
    """Read the candidates, then pause: the pause and the (scheduled) resume are actions."""
    why = ("the plug session ended" if not same else
           "the charger stopped charging" if charger is None or not charger.is_charging else
           "an action on the charger or a candidate is pending" if await _user_acts(p) else None)
    if why:
        p.phase, p.next_step_at, p.outcome = "DECIDED", now, f"probe not started: {why}: not activating"
        return  # nothing to restore: recorded at the next step
    if now < p.created_at + timedelta(seconds=READ_EVERY_S) and not await _all_polled_since(p.candidates,
                                                                                            p.created_at):
        await _poll(rt, p, p.candidates, now)
        p.next_step_at = now + timedelta(seconds=STEP_S)
        return
    readings = Readings(await current(p.candidates), {}, {})
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


def _watched(p: ChargerProbe, readings: Readings) -> list[str]:
    return dp.probe_watch(p.candidates, readings.before)


async def _watching(rt: Runtime, p: ChargerProbe, same: bool, now: datetime) -> None:
    """Poll the watched cars until each reported from the pause and one stopped (or time is up)."""
    assert p.paused_at is not None
    pause = await ChargeAction.get_or_none(id=p.pause_action_id)
    readings = Readings.of(p)
    watched = _watched(p, readings)
    if not same:
        p.interrupted = "the plug session ended"
    elif await _user_acts(p):
        p.interrupted = "an action on the charger or a candidate car was requested"
    elif pause is None or pause.state in ("FAILED", "CANCELLED"):
        p.interrupted = f"could not pause the charger ({pause.failure_type if pause else 'NOT_FOUND'})"
    if not p.interrupted:
        readings.paused.update(await current(watched, since=p.paused_at))
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
    resume waits for the charger to report, so it is not confirmed by data from before the pause).
    The phase is saved first: a worker dying here leaves the resume scheduled as it was."""
    p.phase, p.resumed_at, p.kicked_at = "RESUMING", now, None
    p.next_step_at = now + timedelta(seconds=STEP_S)
    await p.save()
    resume_at = now
    if pause is not None and pause.state == "PENDING":
        sent = await ActionAttempt.filter(action_id=pause.id).exists()
        await finish(rt, pause, "CANCELLED", "REQUESTED_CANCELLATION", "The probe ended.")
        if sent:
            resume_at = now + timedelta(seconds=rt.settings.verify_charger_s)
    await ChargeAction.filter(id=p.resume_action_id, state="PENDING", next_step_at__gt=resume_at).update(
        next_step_at=resume_at)
    nudge_actions()
    log.info("probe of charger %s: resuming%s", p.charger_id, f" ({p.interrupted})" if p.interrupted else "")


async def _resuming(rt: Runtime, p: ChargerProbe, now: datetime) -> None:
    """Watch the one car that followed the pause until it charges again (or time is up); decide."""
    assert p.paused_at is not None and p.resumed_at is not None
    readings = Readings.of(p)
    watched = _watched(p, readings)
    followers = dp.probe_followers(watched, readings.paused, p.paused_at)
    if not p.interrupted and len(followers) == 1:
        readings.resumed.update(await current(followers, since=p.resumed_at))
        p.readings = readings.dump()
        back = any(o.is_charging for o in readings.resumed.values())
        if not back and now < p.resumed_at + timedelta(seconds=rt.settings.probe_s):
            await _poll(rt, p, followers, now)
            p.next_step_at = now + timedelta(seconds=STEP_S)
            return
    await _decide(p, readings)
    p.phase, p.next_step_at = "DECIDED", now


async def _decide(p: ChargerProbe, readings: Readings) -> None:
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
