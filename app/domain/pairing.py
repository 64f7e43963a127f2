"""Plug-in detection: which of a user's vehicles is plugged into which of their chargers.

Decided from both devices' data, tuned never to activate the wrong pair (late beats wrong):
- only vehicle data taken *after* the charger's plug-in counts (vehicle clouds lag minutes);
- fresh "unplugged", a location far from the charger, a car that was already plugged in
  before the charger's plug-in, or a charge rate that contradicts the charger's, excludes a car;
- several chargers are solved jointly (a car on one charger, a charger with one car);
- when the evidence cannot single one car out, nothing is activated and `evidence` says why;
  after the confirmation window a probe (pause the charger, watch who stops) can decide.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass(frozen=True)
class PairingSettings:
    """Tuning knobs."""

    confirm_window_s: float = 600.0
    distance_m: float = 200.0
    power_tolerance: float = 0.25
    min_power_kw: float = 1.0
    #: A car plugged in this long before the charger's plug-in was plugged in elsewhere.
    plug_skew_s: float = 120.0


@dataclass(frozen=True)
class ChargerTrack:
    """A charger's current plug session."""

    charger_id: str
    plugged: bool
    plugged_in_at: datetime | None
    charging: bool
    charging_changed_at: datetime | None
    power_kw: float | None
    location: tuple[float, float] | None = None


@dataclass(frozen=True)
class VehicleObs:
    """One poll of a vehicle. `data_age`: when its cloud last heard from the car."""

    observed_at: datetime
    data_age: datetime | None
    is_plugged_in: bool | None
    is_charging: bool | None = None
    charge_rate_kw: float | None = None
    lat: float | None = None
    lon: float | None = None

    @property
    def taken_at(self) -> datetime:
        """When the data describes the car."""
        return self.data_age or self.observed_at


@dataclass(frozen=True)
class VehicleTrack:
    """A candidate vehicle and its recent observations (oldest first)."""

    vehicle_id: str
    has_charge_state: bool = True
    has_location: bool = True
    observations: tuple[VehicleObs, ...] = ()
    label: str = ""

    @property
    def name(self) -> str:
        """How evidence names it."""
        return self.label or self.vehicle_id


@dataclass(frozen=True)
class Decision:
    """What to do about one plugged-in charger."""

    charger_id: str
    vehicle_id: str | None
    ambiguous: bool
    needs_probe: bool
    candidates: tuple[str, ...]
    evidence: tuple[str, ...]


@dataclass
class _Verdict:
    kind: str  # fit | unknown | blind | out
    strong: bool = False
    notes: list[str] = field(default_factory=list)


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in metres."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 6_371_000 * 2 * math.asin(math.sqrt(h))


def _t(ts: datetime) -> str:
    return ts.strftime("%H:%M:%S")


def _judge(c: ChargerTrack, v: VehicleTrack, s: PairingSettings) -> _Verdict:
    """How one vehicle's data relates to one charger's plug session."""
    assert c.plugged_in_at is not None
    start = c.plugged_in_at
    if not v.has_charge_state:
        return _Verdict("blind", notes=[f"{v.name} cannot report its plug state"])
    before = [o for o in v.observations if o.taken_at <= start]
    fresh = [o for o in v.observations if o.taken_at > start]
    if not fresh:
        return _Verdict("unknown", notes=[f"{v.name} has no data newer than the plug-in yet"])
    last = fresh[-1]
    lag = (last.taken_at - start).total_seconds()
    if last.is_plugged_in is False:
        return _Verdict("out", notes=[f"{v.name} reported unplugged with data from {_t(last.taken_at)}: excluded"])
    if last.is_plugged_in is None:
        return _Verdict("unknown", notes=[f"{v.name} does not say whether it is plugged in"])
    verdict = _Verdict("fit", notes=[
        f"{v.name} reported plugged in with data from {_t(last.taken_at)}, {lag:.0f} s after the charger's plug-in"
    ])
    # plugged in since before the charger's session, with no unplug seen since: elsewhere
    earlier = [o for o in before if o.taken_at < start - timedelta(seconds=s.plug_skew_s)]
    if earlier and earlier[-1].is_plugged_in and all(o.is_plugged_in is not False for o in fresh):
        return _Verdict("out", notes=[
            f"{v.name} was already plugged in at {_t(earlier[-1].taken_at)}, before the charger's plug-in: excluded"
        ])
    if c.location and last.lat is not None and last.lon is not None:
        d = distance_m(c.location, (last.lat, last.lon))
        if d > s.distance_m:
            return _Verdict("out", notes=[f"{v.name} is {d / 1000:.1f} km from the charger's location: excluded"])
        verdict.strong = True
        verdict.notes.append(f"{v.name} is {d:.0f} m from the charger's location")
    if c.charging and c.power_kw and c.power_kw >= s.min_power_kw and c.charging_changed_at:
        after_start = [o for o in fresh if o.taken_at > c.charging_changed_at]
        if after_start:
            o = after_start[-1]
            if o.is_charging is False:
                return _Verdict("out", notes=[
                    f"charger delivers {c.power_kw:.1f} kW but {v.name} reported not charging: excluded"])
            if o.is_charging and o.charge_rate_kw is not None:
                diff = abs(o.charge_rate_kw - c.power_kw) / c.power_kw
                rates = f"charger {c.power_kw:.1f} kW, {v.name} {o.charge_rate_kw:.1f} kW"
                if diff > s.power_tolerance:
                    return _Verdict("out", notes=[f"charge rates differ: {rates}: excluded"])
                verdict.strong = True
                verdict.notes.append(f"charge rates match: {rates}")
    elif c.plugged and not c.charging and c.charging_changed_at:
        after_stop = [o for o in fresh if o.taken_at > c.charging_changed_at + timedelta(seconds=60)]
        if after_stop and after_stop[-1].is_charging:
            return _Verdict("out", notes=[f"{v.name} is charging while the charger delivers nothing: excluded"])
    return verdict


def decide(chargers: Iterable[ChargerTrack], vehicles: Iterable[VehicleTrack], active: dict[str, str],
           now: datetime, s: PairingSettings | None = None) -> list[Decision]:
    """Decisions for every plugged-in charger that has no ACTIVE vehicle yet."""
    s = s or PairingSettings()
    vehicles = list(vehicles)
    busy = set(active.values())
    open_chargers = [c for c in chargers if c.plugged and c.plugged_in_at and c.charger_id not in active]
    free = [v for v in vehicles if v.vehicle_id not in busy]
    verdicts = {c.charger_id: {v.vehicle_id: _judge(c, v, s) for v in free} for c in open_chargers}
    assigned = _solve(verdicts)
    out: list[Decision] = []
    for c in open_chargers:
        vs = verdicts[c.charger_id]
        notes = [f"charger plugged in at {_t(c.plugged_in_at)}"]  # type: ignore[arg-type]
        for verdict in vs.values():
            notes.extend(verdict.notes)
        fits = [vid for vid, vd in vs.items() if vd.kind == "fit"]
        waiting = [vid for vid, vd in vs.items() if vd.kind == "unknown"]
        blinds = [vid for vid, vd in vs.items() if vd.kind == "blind"]
        window_over = (now - c.plugged_in_at).total_seconds() >= s.confirm_window_s  # type: ignore[operator]
        choice = assigned.get(c.charger_id)
        chosen: str | None = None
        if choice is not None:
            strong = vs[choice].strong
            others_open = [v for v in waiting + blinds if v != choice]
            if not others_open or strong:
                chosen = choice
                notes.append(f"{_name(vehicles, choice)} singled out" + (" by strong evidence" if strong else ""))
            elif window_over:
                notes.append("other vehicles never confirmed and the evidence is not strong: not activating")
            else:
                notes.append("waiting for the other vehicles to confirm")
        elif not fits and not waiting and len(blinds) == 1 and len(vehicles) == 1:
            chosen = blinds[0]
            notes.append(f"{_name(vehicles, chosen)} is the user's only vehicle and nothing contradicts it")
        elif len(fits) > 1 or (fits and choice is None):
            notes.append("several vehicles fit the evidence: not activating")
        elif not fits and waiting:
            notes.append("waiting for vehicle data newer than the plug-in")
        elif not fits:
            notes.append("no vehicle of this user fits: not one of the user's vehicles, or one that cannot tell")
        ambiguous = chosen is None and (len(fits) > 1 or (bool(fits) and choice is None) or
                                        (window_over and bool(fits or waiting or blinds)))
        out.append(Decision(
            charger_id=c.charger_id, vehicle_id=chosen, ambiguous=ambiguous,
            needs_probe=ambiguous and window_over,
            candidates=tuple(v for v in vs if vs[v].kind != "out"), evidence=tuple(notes),
        ))
    return out


def _name(vehicles: list[VehicleTrack], vid: str) -> str:
    return next((v.name for v in vehicles if v.vehicle_id == vid), vid)


def _solve(verdicts: dict[str, dict[str, _Verdict]]) -> dict[str, str]:
    """Assign chargers to vehicles jointly: repeatedly fix chargers with exactly one fitting
    vehicle that fits no other open charger as uniquely, removing it elsewhere."""
    fits = {cid: {vid for vid, vd in vs.items() if vd.kind == "fit"} for cid, vs in verdicts.items()}
    assigned: dict[str, str] = {}
    changed = True
    while changed:
        changed = False
        for cid, cands in fits.items():
            if cid in assigned or len(cands) != 1:
                continue
            (vid,) = cands
            rivals = [o for o, oc in fits.items() if o != cid and o not in assigned and oc == {vid}]
            if rivals:
                continue  # the same car is the only fit of two chargers: ambiguous
            assigned[cid] = vid
            for other, oc in fits.items():
                if other != cid and vid in oc:
                    oc.discard(vid)
            changed = True
    return assigned


def interpret_probe(candidates: Iterable[str], before: dict[str, VehicleObs], after: dict[str, VehicleObs],
                    paused_at: datetime) -> tuple[str | None, str]:
    """Which car's charging followed a brief pause of the charger (exactly one, or None)."""
    followed = [
        vid for vid in candidates
        if vid in before and vid in after and before[vid].is_charging
        and after[vid].taken_at > paused_at and after[vid].is_charging is False
    ]
    if len(followed) == 1:
        return followed[0], f"probe at {_t(paused_at)}: only {followed[0]} stopped charging when the charger paused"
    return None, f"probe at {_t(paused_at)}: {len(followed)} vehicles followed the pause: still ambiguous"


def should_deactivate(c: ChargerTrack, v: VehicleTrack, activated_at: datetime,
                      s: PairingSettings | None = None) -> str | None:
    """Why an ACTIVE pair is no longer plugged together, or None."""
    s = s or PairingSettings()
    if not c.plugged:
        return "charger reported unplugged"
    if c.plugged_in_at and c.plugged_in_at > activated_at:
        return f"new plug session on the charger at {_t(c.plugged_in_at)} (unplugged and plugged in again)"
    fresh = [o for o in v.observations if o.taken_at > activated_at]
    if not fresh:
        return None
    last = fresh[-1]
    if last.is_plugged_in is False:
        return f"{v.name} reported unplugged with data from {_t(last.taken_at)}"
    if c.location and last.lat is not None and last.lon is not None:
        d = distance_m(c.location, (last.lat, last.lon))
        if d > s.distance_m and last.is_plugged_in:
            return f"{v.name} is plugged in {d / 1000:.1f} km from the charger"
    return None
