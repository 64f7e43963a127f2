"""Plug-in detection: which of a user's vehicles is plugged into which of their chargers.

Decided from both devices' data, tuned never to activate the wrong pair (late beats wrong):
- only vehicle data taken *after* the charger's plug-in counts (vehicle clouds lag minutes);
- fresh "unplugged", a location far from the charger, a car that was already plugged in
  before the charger's plug-in (and not seen unplugged since), or charging that contradicts
  the charger's, excludes a car; being near the charger only agrees, it never singles one out;
- a car is singled out when every other vehicle of the user is excluded by its own data, or
  when its charge rate matches this charger and no other open one (strong evidence) and every
  other vehicle is *quiet*: its cloud is known to report a cable within `report_lag_s` (learnt
  from its past plug-ins), still refreshes its copy at its usual rhythm, and, asked well after
  that since the plug-in, had nothing newer to say than "unplugged". Silence from a cloud that
  may lag, or may have gone stale, is not evidence of absence: strong evidence never
  passes over a car whose lag is not known, not yet asked long enough after the plug-in, over
  another fit, or over a car that cannot report;
- among several fits, one reporting a location near the charger is singled out over fits that
  cannot report a location at all (and nearness alone never passes over a silent car, nor over
  another car near the charger: cars share garages);
- a decision rests on the chosen car's report of its cable: every charger of the user must have
  been seen since that report was received (the car may be on a charger whose next poll has
  yet to show it); otherwise it waits, naming the chargers to poll;
- a car whose last known location is too far from the charger to have reached it by the
  plug-in (at `max_speed_kmh`) is excluded without waiting for it to report;
- several chargers are solved jointly, on positive evidence only: any charger may hold a guest
  car, so a car is activated only where it fits and could be in no other of the user's chargers;
- the session's idTag (OCPP): one the user set on a vehicle singles it out (unless its own data
  excludes it) and excludes every other; one Tandem learnt (`app.domain.idtags`) singles its car
  out only over vehicles excluded or known to come with a card of their own, never over a fit,
  and excludes nobody; a learnt tag presented where its car is not is reported (`refuted`);
- when the evidence cannot single one car out, nothing is activated and `evidence` says why;
  after the confirmation window a probe (pause the charger, watch who stops) can decide.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from app.domain.idtags import LearntTag


@dataclass(frozen=True)
class PairingSettings:
    """Tuning knobs."""

    confirm_window_s: float = 600.0
    distance_m: float = 200.0
    power_tolerance: float = 0.25
    min_power_kw: float = 1.0
    #: A car plugged in this long before the charger's plug-in was plugged in elsewhere.
    plug_skew_s: float = 120.0
    #: A charger's plug-in is seen at `plugged_in_at` but happened up to this long before (one
    #: charger poll interval plus its cloud's lag): vehicle data from that span counts as fresh.
    plug_uncertainty_s: float = 0.0
    #: No car travels faster than this to a charger (bounds where a silent car can be).
    max_speed_kmh: float = 150.0
    #: After a probe resumes a charger, cars may take this long to charge again.
    resume_settle_s: float = 60.0
    #: A quiet car must have been asked this long (plus twice its known lag) after the plug-in.
    quiet_margin_s: float = 10.0
    #: A car whose SoC differs from what the charger reports by more than this (points) is not on it.
    soc_tolerance: float = 5.0


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
    #: When a poll last confirmed the charger's state (None: not known, no bound applied).
    seen_at: datetime | None = None
    #: Tandem's own pause of this charger in this plug session (a probe): (paused, resumed or None).
    paused: tuple[datetime, datetime | None] | None = None
    #: The idTag (RFID card, ISO 15118 id) this plug session was started with (OCPP chargers).
    id_tag: str | None = None
    #: The car's SoC (%) as the charger reports it (OCPP MeterValues), where it does.
    soc: float | None = None
    #: False while the charger cannot tell whether a cable is in (offline, faulted, unavailable):
    #: `plugged` is then False without meaning "unplugged".
    plug_known: bool = True

    def in_pause(self, ts: datetime, s: PairingSettings) -> bool:
        """Whether `ts` falls in Tandem's own pause of the charger or the settling time after it:
        a car's charging then says nothing about which charger it is on."""
        if self.paused is None:
            return False
        start, end = self.paused
        return ts >= start and (end is None or ts < end + timedelta(seconds=s.resume_settle_s))

    def confirmed_after(self, ts: datetime) -> bool:
        """Whether a poll confirmed the charger's recorded state at or after `ts` (a car's data
        newer than that may reflect a change the charger's next poll has yet to show)."""
        return self.seen_at is None or ts <= self.seen_at


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
    battery_level: float | None = None  # percent

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
    #: When its cloud was last asked (a poll that succeeded), whatever the age of its data.
    polled_at: datetime | None = None
    #: How long after a cable event its cloud is known to report it (seconds, learnt from past
    #: plug-ins); None: not known, so its silence is never taken for absence.
    report_lag_s: float | None = None
    #: The idTags the user says name this vehicle (`setVehicleIdTags`).
    id_tags: frozenset[str] = frozenset()
    #: The idTags Tandem learnt for it from sessions confirmed by other evidence (`app.domain.idtags`).
    learnt_tags: tuple[LearntTag, ...] = ()

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
    #: Chargers whose last poll is older than the vehicle data the decision would rest on: poll
    #: them, then decide again.
    stale_chargers: tuple[str, ...] = ()
    #: The session's idTag, and whether the chosen vehicle was singled out with it (named by it,
    #: user-set or learnt): only a choice made without it confirms the tag by other evidence.
    id_tag: str | None = None
    by_id_tag: bool = False
    #: Vehicles the session's idTag was learnt for while their own data says they are not here
    #: (or they are ACTIVE on another charger): the card is in another hand.
    refuted: tuple[str, ...] = ()


@dataclass
class _Verdict:
    kind: str  # fit | unknown | blind | out
    strong: bool = False  # fit: a charge rate only this charger explains
    near: bool = False  # fit: a fresh location near the charger's
    unlocatable: bool = False  # fit: the car cannot report a location at all
    quiet: bool = False  # unknown: a cloud known to report promptly, asked well after the plug-in, had nothing newer
    tagged: bool = False  # fit: the session's idTag names this vehicle
    learnt: LearntTag | None = None  # fit or unknown: the session's idTag was learnt for this vehicle
    carded: bool = False  # the vehicle is known to come with a card of its own (user-set or learnt)
    notes: list[str] = field(default_factory=list)


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in metres."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 6_371_000 * 2 * math.asin(math.sqrt(h))


def _t(ts: datetime) -> str:
    return ts.strftime("%H:%M:%S")


def _judge(c: ChargerTrack, v: VehicleTrack, others: list[ChargerTrack], s: PairingSettings) -> _Verdict:
    """How one vehicle's data relates to one charger's plug session (`others`: the other open chargers)."""
    assert c.plugged_in_at is not None
    start = c.plugged_in_at - timedelta(seconds=s.plug_uncertainty_s)
    timeline = sorted(v.observations, key=lambda o: o.taken_at)
    if not v.has_charge_state:
        blind = _Verdict("blind", notes=[f"{v.name} cannot report its plug state"])
        located = [o for o in timeline if o.lat is not None and o.taken_at > start]
        far = _check_location(c, v.name, located[-1], blind, s) if located else _out_of_reach(c, v.name, timeline, s)
        return _Verdict("out", notes=[far]) if far else blind
    fresh = [o for o in timeline if o.taken_at > start]
    # An "unplugged" from before the cable was seen proves nothing: the car may have been plugged in right after it.
    if not fresh or (fresh[-1].is_plugged_in is False and fresh[-1].taken_at <= c.plugged_in_at):
        far = _out_of_reach(c, v.name, timeline, s)
        if far:
            return _Verdict("out", notes=[far])
        return _silent(c, v, timeline, s)
    last = fresh[-1]
    if last.is_plugged_in is False:
        return _Verdict("out", notes=[f"{v.name} reported unplugged with data from {_t(last.taken_at)}: excluded"])
    if last.is_plugged_in is None:
        return _Verdict("unknown", notes=[f"{v.name} does not say whether it is plugged in"])
    lag = (last.taken_at - c.plugged_in_at).total_seconds()
    when = f"{lag:.0f} s after the charger's plug-in was seen" if lag >= 0 else \
        f"{-lag:.0f} s before the charger's plug-in was seen, after it was last seen unplugged"
    verdict = _Verdict("fit", unlocatable=not v.has_location,
                       notes=[f"{v.name} reported plugged in with data from {_t(last.taken_at)}, {when}"])
    reason = (_plugged_in_before(v.name, timeline, start, s)
              or _check_location(c, v.name, last, verdict, s)
              or _check_charging(c, v.name, fresh, others, verdict, s))
    return _Verdict("out", notes=[reason]) if reason else verdict


def _tagged(c: ChargerTrack, v: VehicleTrack, owner: VehicleTrack | None, learner: LearntTag | None,
            verdict: _Verdict, s: PairingSettings) -> _Verdict:
    """The charger's own identification of the car, on top of the car's data: the idTag the
    session was started with names one of the user's vehicles (it singles that one out, unless
    its own data excludes it, and excludes every other), and a SoC the charger reports must match
    the car's (it only ever excludes: two cars may stand at the same level). A tag Tandem learnt
    (`learner`, only when no vehicle has it user-set) marks its car and excludes nobody: `_certain`
    lets it pass over vehicles known to come with another card only."""
    if verdict.kind != "out" and c.soc is not None and c.plugged_in_at is not None:
        levels = [o for o in v.observations if o.battery_level is not None and o.taken_at > c.plugged_in_at]
        if levels:
            level = levels[-1].battery_level
            assert level is not None
            if abs(level - c.soc) > s.soc_tolerance:
                return _Verdict("out", notes=[
                    f"the charger reports the car at {c.soc:.0f} %, {v.name} reported {level:.0f} %: excluded"])
            verdict.notes.append(f"the charger reports the car at {c.soc:.0f} %, as {v.name} does")
    if c.id_tag is None:
        return verdict
    if owner is None:
        if learner is not None and learner.vehicle_id == v.vehicle_id and verdict.kind != "out":
            verdict.learnt = learner
            verdict.notes.append(f"the session was started with idTag {c.id_tag}, which Tandem learnt for "
                                 f"{v.name} from {learner.origin()}, confirmed then by other evidence")
        return verdict
    if owner.vehicle_id != v.vehicle_id:
        return _Verdict("out", notes=[f"the session was started with idTag {c.id_tag}, which names "
                                      f"{owner.name}, not {v.name}: excluded"])
    if verdict.kind == "out":
        return verdict  # the car's own data says it is not here: the card may be in another hand
    return _Verdict("fit", strong=True, near=verdict.near, unlocatable=verdict.unlocatable, tagged=True,
                    notes=[*verdict.notes, f"the session was started with idTag {c.id_tag}, which names {v.name}"])


def _silent(c: ChargerTrack, v: VehicleTrack, timeline: list[VehicleObs], s: PairingSettings) -> _Verdict:
    """A car with no data newer than the plug-in: quiet when its cloud is known to report a cable
    within `report_lag_s`, was asked well after that since the plug-in, and its last word was
    "unplugged"; else it may simply not have reported yet (or its "plugged in" from around the
    plug-in may be this very cable)."""
    assert c.plugged_in_at is not None
    lag = v.report_lag_s
    if lag is None:
        return _Verdict("unknown", notes=[f"{v.name} has no data newer than the plug-in yet "
                                          "(its cloud may lag: silence is not absence)"])
    if not timeline or timeline[-1].is_plugged_in is not False:
        return _Verdict("unknown", notes=[f"{v.name} has no data newer than the plug-in yet "
                                          "(and its last report was not \"unplugged\")"])
    due = c.plugged_in_at + timedelta(seconds=2 * lag + s.quiet_margin_s)
    if v.polled_at is not None and v.polled_at >= due and not _gone_stale(v.polled_at, timeline, s):
        return _Verdict("unknown", quiet=True, notes=[
            f"{v.name} has no data newer than the plug-in (its cloud, known to report within {lag:.0f} s, "
            f"had nothing newer at {_t(v.polled_at)})"])
    if v.polled_at is not None and v.polled_at >= due:
        return _Verdict("unknown", notes=[f"{v.name} has no data newer than the plug-in yet "
                                          "(its cloud has not refreshed as usual: it may be stale)"])
    return _Verdict("unknown", notes=[f"{v.name} has no data newer than the plug-in yet "
                                      f"(its cloud reports within {lag:.0f} s: asking again)"])


def _gone_stale(asked: datetime, timeline: list[VehicleObs], s: PairingSettings) -> bool:
    """Whether the car's cloud may have stopped refreshing: its newest copy, when the cloud was
    last asked, is older than half again the oldest any copy was when first received (plus the
    margin), or there are too few copies to know how fresh it keeps them. A stale cloud's silence
    says nothing, however promptly it used to report."""
    usual = [(o.observed_at - o.taken_at).total_seconds() for o in timeline]
    if len(usual) < 2:
        return True
    return (asked - timeline[-1].taken_at).total_seconds() > 1.5 * max(usual) + s.quiet_margin_s


def _plugged_in_before(name: str, timeline: list[VehicleObs], start: datetime, s: PairingSettings) -> str | None:
    """Why the car must be plugged in elsewhere: seen plugged in more than `plug_skew_s` before the
    charger's plug-in and never seen unplugged since (before or after the plug-in). None if not.
    "Seen" by when we received the answer, not by the vendor's time: a vendor clock that runs
    behind must not make a plug-in here look older than the charger's."""
    cutoff = start - timedelta(seconds=s.plug_skew_s)
    early = [i for i, o in enumerate(timeline) if o.observed_at < cutoff and o.is_plugged_in]
    if not early:
        return None
    since = early[-1]
    if any(o.is_plugged_in is False for o in timeline[since + 1:]):
        return None  # unplugged in between: plugged in again, possibly here
    return f"{name} was already plugged in at {_t(timeline[since].taken_at)}, before the charger's plug-in: excluded"


def _out_of_reach(c: ChargerTrack, name: str, timeline: list[VehicleObs], s: PairingSettings) -> str | None:
    """Why a car that has not reported since the plug-in cannot be on the cable: its last known
    location is too far from the charger to have been driven there by the plug-in. None if not."""
    located = [o for o in timeline if o.lat is not None and o.lon is not None]
    if not c.location or not located or c.plugged_in_at is None:
        return None
    last = located[-1]
    assert last.lat is not None and last.lon is not None
    d = distance_m(c.location, (last.lat, last.lon))
    elapsed = max(0.0, (c.plugged_in_at - last.taken_at).total_seconds())
    if d - s.distance_m <= s.max_speed_kmh / 3.6 * elapsed:
        return None
    return (f"{name} was {d / 1000:.1f} km from the charger at {_t(last.taken_at)}, too far to have reached it "
            f"by the plug-in: excluded")


def _check_location(c: ChargerTrack, name: str, last: VehicleObs, verdict: _Verdict,
                    s: PairingSettings) -> str | None:
    """Far from the charger excludes the car. Near it only agrees: cars share garages, so
    location never singles a car out."""
    if not c.location or last.lat is None or last.lon is None:
        return None
    d = distance_m(c.location, (last.lat, last.lon))
    if d > s.distance_m:
        return f"{name} is {d / 1000:.1f} km from the charger's location: excluded"
    verdict.near = True
    verdict.notes.append(f"{name} is {d:.0f} m from the charger's location")
    return None


def _delivers(c: ChargerTrack, s: PairingSettings) -> bool:
    """Whether the charger delivers enough power for its rate to be evidence."""
    return c.charging and c.power_kw is not None and c.power_kw >= s.min_power_kw


def _rates_match(rate_kw: float, power_kw: float, s: PairingSettings) -> bool:
    return abs(rate_kw - power_kw) / power_kw <= s.power_tolerance


def _check_charging(c: ChargerTrack, name: str, fresh: list[VehicleObs], others: list[ChargerTrack],
                    verdict: _Verdict, s: PairingSettings) -> str | None:
    """Compare the car's charging with the charger's. A contradiction excludes the car; a rate
    match that no other open charger could also explain is strong evidence. Car data from a
    probe's pause, or newer than the charger's last poll, contradicts nothing.
    Returns why the car is excluded, or None. A charger that cannot tell now (offline, faulted)
    delivers nothing it could compare: it contradicts nothing."""
    start = c.plugged_in_at
    assert start is not None
    if not c.plug_known:
        return None
    if c.charging:
        if not _delivers(c, s) or c.charging_changed_at is None:
            return None
        after_start = [o for o in fresh if o.taken_at > c.charging_changed_at and not c.in_pause(o.taken_at, s)]
        if not after_start:
            return None
        o = after_start[-1]
        if o.is_charging is False:
            if not c.confirmed_after(o.taken_at):
                verdict.notes.append(f"{name} reported not charging; waiting for the charger's next poll")
                return None
            return f"charger delivers {c.power_kw:.1f} kW but {name} reported not charging: excluded"
        if not o.is_charging or o.charge_rate_kw is None:
            return None
        assert c.power_kw is not None
        rates = f"charger {c.power_kw:.1f} kW, {name} {o.charge_rate_kw:.1f} kW"
        if not _rates_match(o.charge_rate_kw, c.power_kw, s):
            return f"charge rates differ: {rates}: excluded"
        shared = [x.charger_id for x in others
                  if x.power_kw is not None and _delivers(x, s) and _rates_match(o.charge_rate_kw, x.power_kw, s)]
        if shared:
            verdict.notes.append(f"charge rates match: {rates}; but {', '.join(shared)} delivers as much: "
                                 "not conclusive")
        else:
            verdict.strong = True
            verdict.notes.append(f"charge rates match: {rates}")
        return None
    # not charging: since the plug-in, or since it stopped (cars report a little late)
    quiet_since = max(start, c.charging_changed_at or start) + timedelta(seconds=60)
    after_stop = [o for o in fresh if o.taken_at > quiet_since and not c.in_pause(o.taken_at, s)]
    if after_stop and after_stop[-1].is_charging and c.confirmed_after(after_stop[-1].taken_at):
        return f"{name} is charging while the charger delivers nothing: excluded"
    return None


def decide(chargers: Iterable[ChargerTrack], vehicles: Iterable[VehicleTrack], active: dict[str, str],
           now: datetime, s: PairingSettings | None = None) -> list[Decision]:
    """Decisions for every plugged-in charger that has no ACTIVE vehicle yet. At most one vehicle
    per charger and one charger per vehicle, never one already ACTIVE."""
    s = s or PairingSettings()
    chargers, vehicles = list(chargers), list(vehicles)
    busy = set(active.values())
    open_chargers = [c for c in chargers if c.plugged and c.plugged_in_at and c.charger_id not in active]
    free = [v for v in vehicles if v.vehicle_id not in busy]
    verdicts: dict[str, dict[str, _Verdict]] = {}
    refuted: dict[str, tuple[str, ...]] = {}
    carded = {v.vehicle_id for v in vehicles if v.id_tags or v.learnt_tags}
    for c in open_chargers:
        others = [o for o in open_chargers if o is not c]
        owner = next((v for v in vehicles if c.id_tag is not None and c.id_tag in v.id_tags), None)
        learner = _learner(c, vehicles) if owner is None else None
        vs = verdicts[c.charger_id] = {
            v.vehicle_id: _tagged(c, v, owner, learner, _judge(c, v, others, s), s) for v in free}
        for vid, verdict in vs.items():
            verdict.carded = vid in carded
        if learner is not None and (learner.vehicle_id in busy or vs[learner.vehicle_id].kind == "out"):
            refuted[c.charger_id] = (learner.vehicle_id,)
    assigned = _solve(verdicts)
    plugged_open = [c for c in chargers if c.plugged and c.charger_id not in active]
    blind = _blind_only_vehicle(vehicles, verdicts, plugged_open)
    if blind:
        assigned[blind[0]] = blind[1]
    assigned = _one_each(assigned)
    # a car named by the card presented at its charger is there whatever the other chargers show
    # (`_certain`): only the choices made from the cars' data wait for a full view
    by_data = {cid: vid for cid, vid in assigned.items() if not verdicts[cid][vid].tagged}
    stale = _stale_chargers(chargers, by_data, vehicles, s)
    held = by_data if stale else {}
    if stale:
        assigned = {cid: vid for cid, vid in assigned.items() if cid not in by_data}
    return [replace(_decision(c, verdicts, assigned, vehicles, len(plugged_open), now, s, held, stale),
                    refuted=refuted.get(c.charger_id, ())) for c in open_chargers]


def _learner(c: ChargerTrack, vehicles: list[VehicleTrack]) -> LearntTag | None:
    """The learnt tag the session was started with, when exactly one vehicle has it learnt."""
    found = [t for v in vehicles for t in v.learnt_tags if c.id_tag is not None and t.id_tag == c.id_tag]
    return found[0] if len(found) == 1 else None


def _stale_chargers(chargers: list[ChargerTrack], assigned: dict[str, str], vehicles: list[VehicleTrack],
                    s: PairingSettings) -> tuple[str, ...]:
    """The chargers last seen before a chosen car's plug-in was first received: that car may be
    on one of them, whose cable the next poll would show (two cars plugged in seconds apart). A
    decision is not taken on such a partial view. (A car that cannot report a cable: its
    charger's plug-in stands in for it.) `assigned` holds the choices made from the cars' data
    only: a user-set idTag presented at a charger names its car there, and the other chargers'
    cables cannot change that (a pushed plug-in with a known card is decided at once)."""
    by_id = {c.charger_id: c for c in chargers}
    cars = {v.vehicle_id: v for v in vehicles}
    anchors = [_anchor(by_id[cid], cars[vid], s) for cid, vid in assigned.items()]
    if not anchors:
        return ()
    latest = max(anchors)
    return tuple(c.charger_id for c in chargers if not c.confirmed_after(latest))


def _anchor(c: ChargerTrack, v: VehicleTrack, s: PairingSettings) -> datetime:
    """When the first answer saying the car is plugged in (with data from this plug session) was
    received; the charger's plug-in when there is none."""
    assert c.plugged_in_at is not None
    return _first_plugged_answer(c, v, s) or c.plugged_in_at


def _first_plugged_answer(c: ChargerTrack, v: VehicleTrack, s: PairingSettings) -> datetime | None:
    """When the car's cloud first answered "plugged in" with data from after the earliest the
    charger's cable can have gone in; None: not yet."""
    assert c.plugged_in_at is not None
    start = c.plugged_in_at - timedelta(seconds=s.plug_uncertainty_s)
    answers = [o.observed_at for o in v.observations if o.is_plugged_in and o.taken_at > start]
    return min(answers) if answers else None


def _decision(c: ChargerTrack, verdicts: dict[str, dict[str, _Verdict]], assigned: dict[str, str],
              vehicles: list[VehicleTrack], n_plugged: int, now: datetime, s: PairingSettings,
              held: dict[str, str], stale: tuple[str, ...]) -> Decision:
    """One charger's decision, with evidence in words."""
    assert c.plugged_in_at is not None
    cid = c.charger_id
    vs = verdicts[cid]
    placed = {vid: other for other, vid in assigned.items() if other != cid}
    notes = [f"charger plugged in at {_t(c.plugged_in_at)}"]
    for vid, verdict in vs.items():
        notes.extend(verdict.notes)
        if vid in placed and verdict.kind != "out":
            notes.append(f"{_name(vehicles, vid)} is plugged into {placed[vid]}")
    open_vs = {vid: vd for vid, vd in vs.items() if vd.kind != "out" and vid not in placed}
    window_over = (now - c.plugged_in_at).total_seconds() >= s.confirm_window_s
    chosen = assigned.get(cid)
    if chosen is not None:
        notes.append(_chosen_note(vehicles, chosen, vs, open_vs))
        ambiguous = False
    elif cid in held:
        notes.append(f"{_name(vehicles, held[cid])} would be singled out, but waiting for a poll of "
                     f"{', '.join(stale)} newer than the vehicle data")
        ambiguous = False
    else:
        why, ambiguous = _not_chosen(cid, verdicts, open_vs, placed, vehicles, n_plugged, window_over)
        notes.append(why)
        ambiguous = ambiguous or (window_over and bool(open_vs))
    picked = chosen or held.get(cid)
    by_tag = picked is not None and picked in vs and (vs[picked].tagged or vs[picked].learnt is not None)
    return Decision(
        charger_id=cid, vehicle_id=chosen, ambiguous=ambiguous, needs_probe=ambiguous and window_over,
        candidates=tuple(open_vs), evidence=tuple(notes), stale_chargers=stale if cid in held else (),
        id_tag=c.id_tag, by_id_tag=by_tag,
    )


def _chosen_note(vehicles: list[VehicleTrack], vid: str, vs: dict[str, _Verdict], open_vs: dict[str, _Verdict]) -> str:
    name = _name(vehicles, vid)
    verdict = vs[vid]
    rest = [vd for o, vd in open_vs.items() if o != vid]
    if verdict.learnt is not None and all(vd.kind != "fit" and vd.carded for vd in rest):
        return (f"{name} singled out by the learnt idTag {verdict.learnt.id_tag}: no other vehicle fits, and each "
                "other one is excluded or comes with a card of its own")
    if verdict.kind == "blind":
        return f"{name} is the user's only vehicle, only this charger is plugged in, and nothing contradicts it"
    if any(vd.kind == "fit" for vd in rest):
        return (f"{name} singled out: plugged in at the charger's location, and the other vehicles that fit "
                "cannot report a location")
    if rest:
        return f"{name} singled out by strong evidence; the other vehicles are quiet since the plug-in"
    return f"{name} singled out: every other vehicle is excluded"


def _not_chosen(cid: str, verdicts: dict[str, dict[str, _Verdict]], open_vs: dict[str, _Verdict],
                placed: dict[str, str], vehicles: list[VehicleTrack], n_plugged: int,
                window_over: bool) -> tuple[str, bool]:
    """Why nothing is activated on this charger, and whether the evidence is ambiguous."""
    fits = [vid for vid, vd in open_vs.items() if vd.kind == "fit"]
    waiting = [vid for vid, vd in open_vs.items() if vd.kind == "unknown"]
    blinds = [vid for vid, vd in open_vs.items() if vd.kind == "blind"]
    if len(fits) > 1:
        return "several vehicles fit the evidence: not activating", True
    if fits:
        (vid,) = fits
        name = _name(vehicles, vid)
        rivals = {o: vs[vid] for o, vs in verdicts.items()
                  if o != cid and o not in placed.values() and vid in vs and vs[vid].kind != "out"}
        fitting = sorted(o for o, vd in rivals.items() if vd.kind == "fit")
        if fitting:
            return f"{name} fits {', '.join(fitting)} as well: not activating", True
        if rivals:
            return f"waiting for {name} to report after the plug-in of {', '.join(sorted(rivals))}", False
        if window_over:
            return "other vehicles never confirmed and the evidence is not strong: not activating", True
        return "waiting for the other vehicles to confirm", False
    if waiting:
        return "waiting for vehicle data newer than the plug-in", False
    if blinds:
        if len(vehicles) == 1 and n_plugged > 1:
            return (f"{_name(vehicles, blinds[0])} is the user's only vehicle but cannot report its plug state, "
                    f"and {n_plugged} chargers are plugged in: not guessing"), True
        return "only vehicles that cannot report their plug state remain: not guessing", False
    return "no vehicle of this user fits: not one of the user's vehicles, or one that cannot tell", False


def _name(vehicles: list[VehicleTrack], vid: str) -> str:
    return next((v.name for v in vehicles if v.vehicle_id == vid), vid)


def _solve(verdicts: dict[str, dict[str, _Verdict]]) -> dict[str, str]:
    """Certain pairs only, fixed one at a time. A vehicle is certain on a charger when it fits
    it, no other vehicle is possible there (all others excluded or certainly on another charger;
    strong evidence or nearness may pass over quiet vehicles only, nearness over fits that
    cannot report a location), and it is possible on no other open charger. No charger is
    presumed to hold one of the user's
    vehicles: a guest car may be in any of them, so elimination never rests on that."""
    possible = {cid: {vid for vid, vd in vs.items() if vd.kind != "out"} for cid, vs in verdicts.items()}
    assigned: dict[str, str] = {}
    changed = True
    while changed:
        changed = False
        for cid, vs in verdicts.items():
            vid = None if cid in assigned else _certain(cid, vs, possible, assigned)
            if vid is None:
                continue
            assigned[cid] = vid
            for other, cands in possible.items():
                if other != cid:
                    cands.discard(vid)
            changed = True
    return assigned


def _certain(cid: str, vs: dict[str, _Verdict], possible: dict[str, set[str]], assigned: dict[str, str]) -> str | None:
    """The vehicle certainly plugged into `cid` given the pairs fixed so far, or None."""
    tagged = [vid for vid in possible[cid] if vs[vid].tagged]
    if len(tagged) == 1:  # the card was presented at this charger: it is here, whatever else is open
        return tagged[0]
    learnt = [vid for vid in possible[cid] if vs[vid].learnt is not None]
    if len(learnt) == 1 and all(vs[o].kind != "fit" and vs[o].carded for o in possible[cid] - {learnt[0]}):
        # a card Tandem learnt: a shared card, a guest's borrowed one, must not pass over a car
        # that fits, nor over one that may come with this very card (none of its own seen)
        return learnt[0]
    fits = [vid for vid in possible[cid] if vs[vid].kind == "fit"]
    if len(fits) > 1:  # a car at the charger's location beats fits that cannot tell where they are
        near = [vid for vid in fits if vs[vid].near]
        if len(near) != 1 or not all(vs[o].unlocatable for o in fits if o != near[0]):
            return None
        fits = near
    if len(fits) != 1:
        return None
    (vid,) = fits
    if any(vid in cands for other, cands in possible.items() if other != cid and other not in assigned):
        return None  # it could be in another of the user's chargers
    chosen = vs[vid]
    for o in possible[cid] - {vid}:
        other = vs[o]
        if other.kind == "fit" and other.unlocatable and chosen.near:
            continue  # passed over by location
        if other.kind == "unknown" and other.quiet and (chosen.strong or chosen.near):
            continue  # a prompt cloud that had nothing to say
        return None  # others have not reported (or cannot): wait
    return vid


def _blind_only_vehicle(vehicles: list[VehicleTrack], verdicts: dict[str, dict[str, _Verdict]],
                        plugged_open: list[ChargerTrack]) -> tuple[str, str] | None:
    """The user's only vehicle, which cannot report its plug state, on the only plugged-in
    charger without an ACTIVE vehicle: (charger, vehicle). None otherwise, e.g. with two
    chargers plugged in (either could hold it, or a guest car)."""
    if len(vehicles) != 1 or len(plugged_open) != 1 or len(verdicts) != 1:
        return None
    ((cid, vs),) = verdicts.items()
    vid = vehicles[0].vehicle_id
    return (cid, vid) if vid in vs and vs[vid].kind == "blind" else None


def _one_each(assigned: dict[str, str]) -> dict[str, str]:
    """Drop any vehicle chosen for two chargers (a safety net: never two ACTIVE for one vehicle)."""
    counts: dict[str, int] = {}
    for vid in assigned.values():
        counts[vid] = counts.get(vid, 0) + 1
    return {cid: vid for cid, vid in assigned.items() if counts[vid] == 1}


def cable_report_lag(c: ChargerTrack, v: VehicleTrack, s: PairingSettings | None = None) -> float | None:
    """Seconds from the earliest the charger's cable can have gone in to the first answer of the
    car's cloud saying it is plugged in (with data from after that): one sample of how promptly
    this cloud reports a cable, taken when the pair is activated. Over-estimates, never under
    (the cable is taken to have gone in as early as the charger's poll allows). None: no such answer."""
    s = s or PairingSettings()
    if c.plugged_in_at is None:
        return None
    first = _first_plugged_answer(c, v, s)
    start = c.plugged_in_at - timedelta(seconds=s.plug_uncertainty_s)
    return max(0.0, (first - start).total_seconds()) if first else None


def probe_watch(candidates: Iterable[str], before: dict[str, VehicleObs]) -> list[str]:
    """The candidates a probe can watch: those charging just before the pause."""
    return [vid for vid in candidates if vid in before and before[vid].is_charging]


def probe_followers(watched: Iterable[str], paused: dict[str, VehicleObs], paused_at: datetime) -> list[str]:
    """The watched cars whose data from after the pause says they stopped charging."""
    return [vid for vid in watched if vid in paused and paused[vid].taken_at > paused_at
            and paused[vid].is_charging is False]


def interpret_probe(candidates: Iterable[str], before: dict[str, VehicleObs], paused: dict[str, VehicleObs],
                    resumed: dict[str, VehicleObs], paused_at: datetime,
                    resumed_at: datetime) -> tuple[str | None, str]:
    """Which car's charging followed a brief pause of the charger, or None.

    A car is singled out only when every candidate was read while charging before the pause
    and again during it, exactly one of them stopped, and that one charged again once the
    charger resumed (a car that stops for its own reasons does not resume on cue)."""
    candidates = list(candidates)
    head = f"probe at {_t(paused_at)}:"
    unread = [vid for vid in candidates if vid not in before]
    if unread:
        return None, f"{head} could not read {', '.join(unread)} before the pause: still ambiguous"
    watched = probe_watch(candidates, before)
    silent = [vid for vid in watched if vid not in paused or paused[vid].taken_at <= paused_at]
    if silent:
        return None, f"{head} {', '.join(silent)} did not report during the pause: still ambiguous"
    followed = probe_followers(watched, paused, paused_at)
    if len(followed) != 1:
        return None, f"{head} {len(followed)} vehicles followed the pause: still ambiguous"
    (vid,) = followed
    back = resumed.get(vid)
    if back is None or back.taken_at <= resumed_at or not back.is_charging:
        return None, f"{head} {vid} stopped but did not charge again when the charger resumed: still ambiguous"
    return vid, f"{head} only {vid} stopped charging when the charger paused and charged again when it resumed"


def should_deactivate(c: ChargerTrack, v: VehicleTrack, activated_at: datetime,
                      s: PairingSettings | None = None, rivals: Iterable[VehicleTrack] = (),
                      other_chargers: Iterable[ChargerTrack] = ()) -> str | None:
    """Why an ACTIVE pair is no longer believed to be plugged together, or None.

    An activation is a belief, re-checked on every datum: it ends when the charger or the car
    says the cable is out (a charger that cannot tell, being offline or faulted, says nothing),
    the car is plugged in far away, or a *rival* appears: another vehicle of the user, ACTIVE
    nowhere (`rivals`), whose data now fits this plug session as well (it reported plugged in
    after the plug-in and was never seen unplugged since), unless the active car is the one at the
    charger's location and the rival cannot report one. `other_chargers`: the user's other
    chargers (a rate they deliver as well is no contradiction)."""
    s = s or PairingSettings()
    if not c.plugged and c.plug_known:
        return "charger reported unplugged"
    # a charger that cannot tell now (offline, faulted) contradicts nothing: the car's data still can
    if c.plugged_in_at and c.plugged_in_at > activated_at:
        return f"new plug session on the charger at {_t(c.plugged_in_at)} (unplugged and plugged in again)"
    fresh = [o for o in v.observations if o.taken_at > activated_at]
    if fresh:
        last = fresh[-1]
        if last.is_plugged_in is False:
            return f"{v.name} reported unplugged with data from {_t(last.taken_at)}"
        if c.location and last.lat is not None and last.lon is not None:
            d = distance_m(c.location, (last.lat, last.lon))
            if d > s.distance_m and last.is_plugged_in:
                return f"{v.name} is plugged in {d / 1000:.1f} km from the charger"
    return _rival(c, v, list(rivals), [o for o in other_chargers if o.plugged and o.plugged_in_at], s)


def _rival(c: ChargerTrack, v: VehicleTrack, rivals: list[VehicleTrack], others: list[ChargerTrack],
           s: PairingSettings) -> str | None:
    """Why another vehicle now makes the ACTIVE car uncertain on `c`, or None."""
    if c.plugged_in_at is None:
        return None
    mine = _judge(c, v, others, s)
    for w in rivals:
        verdict = _judge(c, w, others, s)
        if verdict.kind != "fit":
            continue
        if any(o.is_plugged_in is False and o.taken_at > c.plugged_in_at for o in w.observations):
            continue  # unplugged while this session's cable was in: not this session's car
        if mine.kind == "fit" and mine.near and verdict.unlocatable:
            continue
        return (f"{w.name} reported plugged in after the plug-in too and fits as well ({verdict.notes[0]}): "
                f"{v.name} is no longer certain")
    return None
