"""Pairing detection glue: feeds poll results to app.domain.pairing and applies its decisions.

A charger's plug-in starts a confirmation window: the user's vehicles are polled at once and
then every `confirm_poll_s` until `confirm_window_s` ends, because vehicle clouds lag.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q

from app.db import column
from app.db.models import Charger, EvSystem, Observation, Vehicle
from app.domain import pairing as dp
from app.runtime import Runtime
from app.services import idtags, merge, probe
from app.services.graph import UserGraph, load_graph

log = logging.getLogger("tandem.pairing")
MAX_EVIDENCE = 12
_locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
#: How late a charger cloud may report a cable (Easee: within seconds). An adapter whose reports
#: arrive faster says so with `report_lag_s` (OCPP: the charge point pushes to Tandem itself).
CHARGER_CLOUD_LAG_S = 2.0
#: Chargers a decision waits for (their last poll was older than the vehicle data), with their
#: user and until when (monotonic) the wait is counted: decide again once the last of them was
#: polled, even when the polls changed nothing. A liveness hint only, never an input.
_awaited: dict[str, tuple[str, float]] = {}
#: How long a decision's wait for its chargers' polls holds back deciding after each of them.
AWAIT_S = 10.0
#: Cable-report lags kept per vehicle, and how many make a cloud's promptness known.
REPORT_LAGS_KEPT = 5
REPORT_LAGS_NEEDED = 3
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: A vendor clock seen running further ahead than this is not trusted to date its data.
CLOCK_TOLERANCE_S = 2.0


def awaited(asset_id: str) -> bool:
    """Whether a pairing decision waits for this asset's poll (and forget it): the caller then
    runs `after_poll` even though the poll changed nothing. True only for the last of the user's
    awaited chargers still to be polled (within AWAIT_S of the wait): deciding after each of
    them re-decided the user once per charger, and held the polls of everyone else back (a user
    with 10 OCPP chargers, polled once a minute, waited for all 9 others at each plug-in)."""
    entry = _awaited.pop(asset_id, None)
    if entry is None:
        return False
    user_id, now = entry[0], time.monotonic()
    return not any(user == user_id and until > now for user, until in _awaited.values())


def wait_for_polls(user_id: str, charger_ids: Iterable[str]) -> None:
    """The user's latest decision waits for these chargers' next polls (see `awaited`); it
    waits for no other (a charger polled since, with changes, is not waited for any more)."""
    until = time.monotonic() + AWAIT_S
    for cid in [cid for cid, (user, _) in _awaited.items() if user == user_id]:
        del _awaited[cid]
    _awaited.update({cid: (user_id, until) for cid in charger_ids})


def report_lag(lags: list[float] | None) -> float | None:
    """How long after a cable event a car's cloud is known to report it: the longest of its
    recent cable-report lags, once there are enough of them; None (may lag) before."""
    lags = list(lags or [])
    return max(lags) if len(lags) >= REPORT_LAGS_NEEDED else None


def utcnow() -> datetime:
    """Now, timezone-aware."""
    return datetime.now(UTC)


def settings_of(rt: Runtime) -> dp.PairingSettings:
    """Detection settings from the process settings."""
    s = rt.settings
    return dp.PairingSettings(confirm_window_s=s.confirm_window_s,
                              plug_uncertainty_s=s.charger_poll_s * (1 + s.poll_jitter) + CHARGER_CLOUD_LAG_S)


async def after_poll(rt: Runtime, kind: str, row: Vehicle | Charger, transitions: set[str]) -> None:
    """React to a poll: `transitions` ⊆ {"plugged_in", "unplugged", "charging_started", "charging_stopped"}."""
    user_id: str = row.user_id
    if kind == "charger" and "plugged_in" in transitions:
        await confirm_vehicles(rt, user_id)
    decisions = await evaluate(rt, user_id)
    if kind == "charger":  # at most one probe per plug session: the database holds it
        for d in decisions:
            if d.charger_id == row.id:
                await probe.maybe_start(rt, user_id, row, d)  # type: ignore[arg-type]


async def confirm_vehicles(rt: Runtime, user_id: str) -> None:
    """Poll the user's vehicles now and keep polling them fast for the confirmation window."""
    until = utcnow() + timedelta(seconds=rt.settings.confirm_window_s)
    ids = await column(Vehicle.filter(user_id=user_id), "id")
    await Vehicle.filter(id__in=list(ids)).update(confirm_until=until)
    from app.workers.kick import request_poll

    for vid in ids:
        await request_poll(rt, "vehicle", str(vid))


def _label(v: Vehicle) -> str:
    name = " ".join(p for p in (v.brand, v.model) if p) or "vehicle"
    return f"{name} ({v.id[:6]})"


async def _tracks(graph: UserGraph, since: datetime, learn: bool) -> list[dp.VehicleTrack]:
    obs = await Observation.filter(asset_type="vehicle", asset_id__in=list(graph.vehicles),
                                   observed_at__gte=since).order_by("observed_at", "id")
    by_vehicle: dict[str, list[dp.VehicleObs]] = {vid: [] for vid in graph.vehicles}
    for o in obs:
        ahead = (graph.vehicles[o.asset_id].clock_ahead_s or 0.0) > CLOCK_TOLERANCE_S
        previous = by_vehicle[o.asset_id]
        # A clock seen running ahead is not trusted to date a copy: it was made after we received
        # the one before it (a cloud serves its latest copy), and that is all we know.
        age = (previous[-1].observed_at if previous else EPOCH) if ahead else o.data_age
        previous.append(dp.VehicleObs(o.observed_at, age, o.is_plugged_in, o.is_charging,
                                      o.charge_rate, o.latitude, o.longitude, o.battery_level))
    # silence is never trusted from a cloud whose clock runs ahead: its copies cannot be dated
    return [dp.VehicleTrack(v.id, "chargeState" in v.capabilities, "location" in v.capabilities,
                            tuple(by_vehicle[v.id]), _label(v), v.polled_at,
                            None if (v.clock_ahead_s or 0.0) > CLOCK_TOLERANCE_S else report_lag(v.report_lags),
                            frozenset(v.id_tags or ()), idtags.learnt_of(v) if learn else ())
            for v in graph.vehicles.values()]


def report_lag_s(rt: Runtime, vendor: str) -> float:
    """How late `vendor`'s data may show a cable (seconds)."""
    return float(getattr(rt.adapter(vendor), "report_lag_s", CHARGER_CLOUD_LAG_S))


def _charger_track(graph: UserGraph, c: Charger, pauses: probe.Pauses, lag_s: float) -> dp.ChargerTrack:
    loc = graph.charger_location(c)
    seen = max((t for t in (c.polled_at, c.state_updated_at, c.last_seen) if t), default=None)
    return dp.ChargerTrack(c.id, bool(c.is_plugged_in), c.plugged_in_at, bool(c.is_charging), c.charging_changed_at,
                           c.charge_rate, (loc.latitude, loc.longitude) if loc else None,
                           seen_at=seen - timedelta(seconds=lag_s) if seen else EPOCH,
                           paused=probe.pause_of(pauses, c), id_tag=c.session_id_tag, soc=c.session_soc,
                           plug_known=c.is_plugged_in is not None)


def user_lock(user_id: str) -> asyncio.Lock:
    """The lock that serializes one user's pairing decisions, and the writes of their polls, in
    this process (a user's assets all live in one shard, so one process decides for them)."""
    return _locks[user_id]


async def evaluate(rt: Runtime, user_id: str) -> list[dp.Decision]:
    """Re-decide the user's EV systems from current evidence; publish what changed. Chargers a
    decision waits for are polled at once (and the user re-decided after their poll)."""
    async with user_lock(user_id):
        decisions = await _evaluate(rt, user_id)
    stale = {cid for d in decisions for cid in d.stale_chargers}
    wait_for_polls(user_id, stale)
    if stale:
        from app.workers.kick import request_poll

        # a charger whose polls fail (rate limited, unreachable) keeps its back-off: no kick
        for cid in sorted(await column(Charger.filter(id__in=list(stale), poll_error=None), "id")):
            await request_poll(rt, "charger", str(cid))
    return decisions


async def _evaluate(rt: Runtime, user_id: str) -> list[dp.Decision]:
    graph = await load_graph(user_id)
    if not graph.systems:
        return []
    now = utcnow()
    settings = settings_of(rt)
    starts = [c.plugged_in_at for c in graph.chargers.values() if c.plugged_in_at]
    active = [s for s in graph.systems if s.status == "ACTIVE"]
    since = min([*starts, *(s.activated_at for s in active if s.activated_at), now]) - timedelta(hours=2)
    learn = rt.settings.ocpp_learn_id_tags
    tracks = await _tracks(graph, since, learn)
    pauses = await probe.pauses(graph.chargers.values())
    by_vid = {t.vehicle_id: t for t in tracks}
    charger_tracks = {cid: _charger_track(graph, c, pauses, report_lag_s(rt, c.vendor))
                      for cid, c in graph.chargers.items()}
    busy = {s.vehicle_id for s in active}
    changed: list[EvSystem] = []
    for system in active:  # end activations first: each is a belief, re-checked on every datum
        track = charger_tracks[system.charger_id]
        rivals = [] if _proven_by_probe(system, track) else [t for t in tracks if t.vehicle_id not in busy]
        others = [t for cid, t in charger_tracks.items() if cid != system.charger_id]
        reason = dp.should_deactivate(track, by_vid[system.vehicle_id], system.activated_at or now, settings,
                                      rivals=rivals, other_chargers=others)
        if reason:
            system.status, system.activated_at = "ESTABLISHED", None
            # tagged with the plug session (when one goes on) so later decisions keep saying why
            tag = f" {probe.session_tag(track.plugged_in_at)}" if track.plugged and track.plugged_in_at else ""
            system.evidence = [f"deactivated: {reason}{tag}"]
            changed.append(system)
            await merge.pair_changed(system, now)
    current = {s.charger_id: s.vehicle_id for s in graph.systems if s.status == "ACTIVE"}
    decisions = dp.decide(list(charger_tracks.values()), tracks, current, now, settings)
    refutations = await _refute(rt, user_id, graph, decisions) if learn else {}
    learnt: dict[str, float] = {}
    for d in decisions:
        for system in graph.systems_of_charger(d.charger_id):
            if system.status == "ACTIVE":
                continue
            evidence = list(d.evidence[-MAX_EVIDENCE:])
            plugged_in_at = graph.chargers[d.charger_id].plugged_in_at
            if plugged_in_at:  # a probe's outcome (a card forgotten) stays for the rest of its plug session
                tag = probe.session_tag(plugged_in_at)
                kept = [e for e in system.evidence if e.endswith(tag)]
                kept += [e for e in refutations.get(d.charger_id, []) if e not in kept]
                evidence = [*evidence, *kept][-MAX_EVIDENCE:]
            if d.vehicle_id == system.vehicle_id:
                system.status, system.activated_at = "ACTIVE", now
                system.evidence = [*evidence, "activated"]
                changed.append(system)
                lag = dp.cable_report_lag(charger_tracks[d.charger_id], by_vid[system.vehicle_id], settings)
                if lag is not None:
                    learnt[system.vehicle_id] = lag
            elif system.evidence != evidence:
                system.evidence = evidence
                changed.append(system)
    done = await _save(rt, user_id, changed)
    for d in decisions if learn else []:
        for system in changed:
            # only an activation decided without the session's idTag confirms it by other evidence
            if (system.id in done and system.status == "ACTIVE" and system.charger_id == d.charger_id
                    and system.vehicle_id == d.vehicle_id and d.id_tag is not None and not d.by_id_tag):
                await _learn(rt, user_id, graph, system, d.id_tag)
    for vid, lag in learnt.items():
        lags = [*(graph.vehicles[vid].report_lags or []), round(lag, 1)][-REPORT_LAGS_KEPT:]
        await Vehicle.filter(id=vid).update(report_lags=lags)
    return decisions


async def _refute(rt: Runtime, user_id: str, graph: UserGraph,
                  decisions: list[dp.Decision]) -> dict[str, list[str]]:
    """Forget learnt tags presented where their vehicle is not; the evidence lines to add, per charger."""
    lines: dict[str, list[str]] = {}
    for d in decisions:
        plugged_in_at = graph.chargers[d.charger_id].plugged_in_at
        for vid in d.refuted:
            if d.id_tag is None or plugged_in_at is None:
                continue
            await idtags.refuted(rt, user_id, vid, d.charger_id, d.id_tag, plugged_in_at)
            lines.setdefault(d.charger_id, []).append(
                f"idTag {d.id_tag} was learnt for {_label(graph.vehicles[vid])}, which is not here: no longer "
                f"learnt {probe.session_tag(plugged_in_at)}")
    return lines


async def _learn(rt: Runtime, user_id: str, graph: UserGraph, system: EvSystem, tag: str) -> None:
    """After an activation decided without the session's idTag (by the car's data, or a probe):
    the tag may be learnt for the vehicle; the evidence says what came of it."""
    charger = graph.chargers[system.charger_id]
    vehicle = graph.vehicles[system.vehicle_id]
    line = await idtags.confirmed(rt, user_id, vehicle, charger, tag, charger.plugged_in_at, _label(vehicle))
    if line is None:
        return
    evidence = list(system.evidence)
    evidence.insert(len(evidence) - 1 if evidence and evidence[-1] == "activated" else len(evidence), line)
    system.evidence = evidence[-MAX_EVIDENCE:]
    await system.save(update_fields=["evidence", "updated_at"])
    await rt.publish("evSystem", user_id, system.id)


def _proven_by_probe(system: EvSystem, track: dp.ChargerTrack) -> bool:
    """Whether a probe singled this car out in the current plug session (a rival's data then
    contradicts nothing: the car followed the charger's pause)."""
    if track.plugged_in_at is None:
        return False
    tag = probe.session_tag(track.plugged_in_at)
    return any(e.endswith(tag) and "charged again" in e for e in system.evidence)


async def activate_if_still_open(rt: Runtime, user_id: str, charger_id: str, vehicle_id: str,
                                 plugged_in_at: datetime) -> bool:
    """Activate a pair a probe singled out, unless the plug session ended or either side got paired."""
    async with user_lock(user_id):
        return await _activate_if_still_open(rt, user_id, charger_id, vehicle_id, plugged_in_at)


async def _activate_if_still_open(rt: Runtime, user_id: str, charger_id: str, vehicle_id: str,
                                  plugged_in_at: datetime) -> bool:
    graph = await load_graph(user_id)
    charger = graph.chargers.get(charger_id)
    if charger is None or not charger.is_plugged_in or charger.plugged_in_at != plugged_in_at:
        return False
    if any(s.status == "ACTIVE" and (s.charger_id == charger_id or s.vehicle_id == vehicle_id)
           for s in graph.systems):
        return False
    system = next((s for s in graph.systems_of_charger(charger_id) if s.vehicle_id == vehicle_id), None)
    if system is None:
        return False
    system.status, system.activated_at = "ACTIVE", utcnow()
    system.evidence = [*system.evidence, "activated"][-MAX_EVIDENCE:]
    if system.id not in await _save(rt, user_id, [system]):
        return False
    if rt.settings.ocpp_learn_id_tags and charger.session_id_tag:  # a probe is other evidence than an idTag
        await _learn(rt, user_id, graph, system, charger.session_id_tag)
    return True


async def record_probe(rt: Runtime, user_id: str, charger_id: str, plugged_in_at: datetime, line: str,
                       chosen: str | None) -> None:
    """Write a probe's outcome line to the charger's open systems (once); activate the car it
    singled out, unless the plug session ended or either side got paired meanwhile."""
    for system in await EvSystem.filter(charger_id=charger_id, status="ESTABLISHED"):
        if line in system.evidence:
            continue
        system.evidence = [*system.evidence, line][-MAX_EVIDENCE:]
        await system.save(update_fields=["evidence", "updated_at"])
        await rt.publish("evSystem", user_id, system.id)
    if chosen:
        await activate_if_still_open(rt, user_id, charger_id, chosen, plugged_in_at)


async def _activate(rt: Runtime, user_id: str, system: EvSystem) -> bool:
    """Compare-and-set ESTABLISHED -> ACTIVE. Whoever else decided meanwhile (another process)
    wins: this system already ACTIVE, or (the database's one-ACTIVE-per-vehicle-and-charger
    constraint) another system holding its vehicle or charger; the loser stays ESTABLISHED and
    its evidence says why."""
    try:
        return bool(await EvSystem.filter(id=system.id, status="ESTABLISHED").update(
            status="ACTIVE", activated_at=system.activated_at, evidence=system.evidence, updated_at=utcnow()))
    except IntegrityError:
        pass
    holder = await EvSystem.filter(Q(status="ACTIVE") & (Q(charger_id=system.charger_id)
                                                         | Q(vehicle_id=system.vehicle_id))).first()
    side = "the charger is already ACTIVE with another vehicle" if holder is None or \
        holder.charger_id == system.charger_id else "the vehicle is already ACTIVE on another charger"
    system.status, system.activated_at = "ESTABLISHED", None
    system.evidence = [*system.evidence[:-1], f"not activated: {side} (decided at the same time elsewhere)"]
    await system.save(update_fields=["evidence", "updated_at"])
    await rt.publish("evSystem", user_id, system.id)
    log.info("ev system %s not activated: %s", system.id, side)
    return False


def _activates(system: EvSystem) -> bool:
    """Whether this change of the system is its activation."""
    return system.status == "ACTIVE" and bool(system.evidence) and system.evidence[-1] == "activated"


async def _save(rt: Runtime, user_id: str, changed: list[EvSystem]) -> set[str]:
    """Write the changed systems and publish; returns the ids whose change took effect.
    Activations go last: whoever sees a system ACTIVE finds the others' evidence (why not them)
    and every deactivation of the same evaluation already written."""
    done: set[str] = set()
    for system in sorted(changed, key=_activates):
        if _activates(system):
            if not await _activate(rt, user_id, system):
                continue
        else:
            await system.save(update_fields=["status", "activated_at", "evidence", "updated_at"])
        done.add(system.id)
        if system.status == "ACTIVE":  # only activations reach here ACTIVE
            await merge.pair_changed(system, utcnow())  # the vehicle's SoC estimate follows the pair
        await rt.publish("evSystem", user_id, system.id)
        if system.status == "ACTIVE" or any(e.startswith("deactivated") for e in system.evidence):
            await rt.publish("vehicle", user_id, system.vehicle_id)
            await rt.publish("charger", user_id, system.charger_id)
            log.info("ev system %s is now %s", system.id, system.status)
    return done
