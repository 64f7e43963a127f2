"""Plug-in detection (app.domain.pairing): which vehicle is plugged into which charger.

The rule above all: never activate the wrong pair (late beats wrong).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest

from app.domain import pairing as dp
from app.domain.pairing import ChargerTrack, Decision, PairingSettings, VehicleObs, VehicleTrack

S = PairingSettings()
T0 = datetime(2024, 6, 1, 18, 0, 0, tzinfo=UTC)
HOME = (59.9139, 10.7522)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def north_of(origin: tuple[float, float], metres: float) -> tuple[float, float]:
    """A point `metres` due north of `origin` (exact on the sphere distance_m uses)."""
    return origin[0] + math.degrees(metres / 6_371_000), origin[1]


def obs(
    t: float,
    plugged: bool | None,
    charging: bool | None = None,
    rate: float | None = None,
    loc: tuple[float, float] | None = None,
    lag: float = 5.0,
) -> VehicleObs:
    """An observation whose data describes the car at T0+t, fetched `lag` seconds later."""
    lat, lon = loc if loc else (None, None)
    return VehicleObs(
        observed_at=at(t + lag),
        data_age=at(t),
        is_plugged_in=plugged,
        is_charging=charging,
        charge_rate_kw=rate,
        lat=lat,
        lon=lon,
    )


def charger(
    cid: str = "c1",
    plugged_at: float | None = 0,
    *,
    plugged: bool = True,
    charging: bool = False,
    changed: float | None = None,
    power: float | None = None,
    location: tuple[float, float] | None = None,
) -> ChargerTrack:
    return ChargerTrack(
        cid,
        plugged,
        at(plugged_at) if plugged_at is not None else None,
        charging,
        at(changed) if changed is not None else None,
        power,
        location,
    )


def car(vid: str, *observations: VehicleObs, charge_state: bool = True) -> VehicleTrack:
    return VehicleTrack(vid, has_charge_state=charge_state, observations=observations)


def decide(
    chargers: list[ChargerTrack], vehicles: list[VehicleTrack], now: float = 120, active: dict[str, str] | None = None
) -> dict[str, Decision]:
    out = dp.decide(chargers, vehicles, active or {}, at(now), S)
    assert len({d.charger_id for d in out}) == len(out)
    return {d.charger_id: d for d in out}


def text(d: Decision) -> str:
    return "\n".join(d.evidence)


# --- distance ----------------------------------------------------------------------------


def test_distance_is_great_circle_metres() -> None:
    assert dp.distance_m(HOME, HOME) == 0
    assert dp.distance_m(HOME, north_of(HOME, 150)) == pytest.approx(150, abs=0.01)
    # one degree of longitude on the equator
    assert dp.distance_m((0.0, 0.0), (0.0, 1.0)) == pytest.approx(2 * math.pi * 6_371_000 / 360, rel=1e-9)


# --- one candidate --------------------------------------------------------------------------


def test_single_candidate_that_confirms_is_activated() -> None:
    d = decide([charger()], [car("v1", obs(-3600, False), obs(30, True))])["c1"]
    assert d.vehicle_id == "v1"
    assert not d.ambiguous and not d.needs_probe
    assert d.candidates == ("v1",)
    assert "singled out" in text(d)


def test_charger_not_plugged_in_or_already_active_gets_no_decision() -> None:
    v = car("v1", obs(30, True))
    assert decide([charger(plugged=False)], [v]) == {}
    assert decide([charger(plugged_at=None)], [v]) == {}
    assert decide([charger()], [v], active={"c1": "v1"}) == {}


def test_stale_data_neither_confirms_nor_excludes() -> None:
    """Data taken before the plug-in (even when fetched after it) counts for nothing either way."""
    stale_plugged = VehicleObs(observed_at=at(60), data_age=at(-30), is_plugged_in=True)
    stale_unplugged = VehicleObs(observed_at=at(60), data_age=at(-30), is_plugged_in=False)
    for o in (stale_plugged, stale_unplugged):
        d = decide([charger()], [car("v1", o)], now=90)["c1"]
        assert d.vehicle_id is None
        assert d.candidates == ("v1",)  # not excluded
        assert not d.ambiguous  # just waiting
        assert "no data newer than the plug-in" in text(d)
        assert "waiting for vehicle data newer than the plug-in" in text(d)


def test_observed_at_counts_when_the_vendor_gives_no_data_age() -> None:
    o = VehicleObs(observed_at=at(40), data_age=None, is_plugged_in=True)
    assert decide([charger()], [car("v1", o)])["c1"].vehicle_id == "v1"


def test_waiting_past_the_window_becomes_ambiguous_and_asks_for_a_probe() -> None:
    v = car("v1", obs(-30, True))
    before = decide([charger()], [v], now=S.confirm_window_s - 1)["c1"]
    after = decide([charger()], [v], now=S.confirm_window_s)["c1"]
    assert (before.vehicle_id, before.ambiguous, before.needs_probe) == (None, False, False)
    assert (after.vehicle_id, after.ambiguous, after.needs_probe) == (None, True, True)


def test_fresh_unplugged_excludes() -> None:
    d = decide([charger()], [car("v1", obs(20, True), obs(40, False))])["c1"]
    assert d.vehicle_id is None
    assert d.candidates == ()
    assert "excluded" in text(d)
    assert "no vehicle of this user fits" in text(d)
    assert not d.ambiguous


def test_only_the_latest_fresh_observation_counts() -> None:
    d = decide([charger()], [car("v1", obs(20, False), obs(40, True))])["c1"]
    assert d.vehicle_id == "v1"


def test_unknown_plug_state_does_not_confirm() -> None:
    d = decide([charger()], [car("v1", obs(30, None))])["c1"]
    assert d.vehicle_id is None
    assert d.candidates == ("v1",)
    assert "does not say whether it is plugged in" in text(d)


def test_car_already_plugged_in_before_the_charger_session_was_plugged_in_elsewhere() -> None:
    before = -(S.plug_skew_s + 60)
    d = decide([charger()], [car("v1", obs(before, True), obs(30, True))])["c1"]
    assert d.vehicle_id is None
    assert d.candidates == ()
    assert "already plugged in" in text(d)


def test_plug_in_within_the_skew_is_not_elsewhere() -> None:
    """Clocks and clouds differ by a little: a car plugged in just before the charger noticed counts."""
    d = decide([charger()], [car("v1", obs(-(S.plug_skew_s - 30), True), obs(30, True))])["c1"]
    assert d.vehicle_id == "v1"


def test_car_unplugged_from_elsewhere_just_before_is_not_excluded() -> None:
    """Plugged in elsewhere an hour ago, seen unplugged a minute before, plugged in here now."""
    v = car("v1", obs(-3600, True), obs(-60, False), obs(30, True))
    d = decide([charger()], [v])["c1"]
    assert d.candidates == ("v1",)
    assert d.vehicle_id == "v1"


def test_unplug_seen_before_a_later_plug_in_elsewhere_does_not_count() -> None:
    """Unplugged two hours ago, plugged in (elsewhere) an hour ago, no unplug since: excluded."""
    v = car("v1", obs(-7200, False), obs(-3600, True), obs(30, True))
    d = decide([charger()], [v])["c1"]
    assert d.candidates == ()
    assert "already plugged in" in text(d)


def test_observations_are_read_in_the_order_they_describe_the_car() -> None:
    """A later fetch returning older (cached) data does not override newer data."""
    newer = VehicleObs(observed_at=at(40), data_age=at(35), is_plugged_in=True)
    cached = VehicleObs(observed_at=at(60), data_age=at(10), is_plugged_in=False)
    d = decide([charger()], [car("v1", newer, cached)])["c1"]
    assert d.vehicle_id == "v1"


def test_car_far_from_the_charger_location_is_excluded() -> None:
    far = north_of(HOME, 5_000)
    d = decide([charger(location=HOME)], [car("v1", obs(30, True, loc=far))])["c1"]
    assert d.vehicle_id is None
    assert d.candidates == ()
    assert "5.0 km" in text(d)


def test_distance_threshold() -> None:
    inside = car("v1", obs(30, True, loc=north_of(HOME, S.distance_m - 5)))
    outside = car("v1", obs(30, True, loc=north_of(HOME, S.distance_m + 5)))
    assert decide([charger(location=HOME)], [inside])["c1"].vehicle_id == "v1"
    assert decide([charger(location=HOME)], [outside])["c1"].candidates == ()


def test_location_is_ignored_when_the_charger_has_none() -> None:
    d = decide([charger(location=None)], [car("v1", obs(30, True, loc=north_of(HOME, 50_000)))])["c1"]
    assert d.vehicle_id == "v1"


def test_car_not_charging_while_charger_delivers_power_is_excluded() -> None:
    c = charger(charging=True, changed=10, power=7.4)
    d = decide([c], [car("v1", obs(40, True, charging=False, rate=0.0))])["c1"]
    assert d.candidates == ()
    assert "reported not charging" in text(d)


def test_a_contradiction_newer_than_the_chargers_last_poll_waits_for_the_next_poll() -> None:
    """The charger may have paused after its last poll: a car's "not charging" from after that
    poll excludes nobody, or the *other* car would be singled out by its matching rate."""
    home, away = obs(40, True, charging=False, rate=0.0), obs(35, True, charging=True, rate=7.4)
    unseen = replace(charger(charging=True, changed=10, power=7.4), seen_at=at(38))
    d = decide([unseen], [car("home", home), car("away", away)])["c1"]
    assert d.vehicle_id is None and set(d.candidates) == {"home", "away"}
    assert "waiting for the charger's next poll" in text(d)
    seen = replace(unseen, seen_at=at(41))
    d = decide([seen], [car("home", home), car("away", away)])["c1"]
    assert d.candidates == ("away",) and "reported not charging: excluded" in text(d)


def test_a_car_charging_after_the_chargers_last_poll_is_not_excluded_yet() -> None:
    c = replace(charger(charging=False, changed=None), seen_at=at(50))
    assert decide([c], [car("v1", obs(61, True, charging=True))])["c1"].candidates == ("v1",)


def test_charging_evidence_from_a_probes_pause_counts_for_nothing() -> None:
    """While Tandem itself paused the charger (and for a settling time after it resumed), the car
    on the cable stops too; that must not read as a car contradicting the charger."""
    c = replace(charger(charging=True, changed=10, power=7.4), seen_at=at(500))
    home = car("home", obs(30, True, charging=True, rate=7.4), obs(200, True, charging=False))
    away = car("away", obs(30, True, charging=True, rate=7.4), obs(200, True, charging=True, rate=7.4))
    d = decide([replace(c, paused=(at(190), None))], [home, away], now=220)["c1"]
    assert d.vehicle_id is None and set(d.candidates) == {"home", "away"}
    assert S.resume_settle_s > 40  # so that data at 200, 40 s after the resume at 160, is still settling
    d = decide([replace(c, paused=(at(150), at(160)))], [home, away], now=300)["c1"]
    assert d.vehicle_id is None and set(d.candidates) == {"home", "away"}
    # the same "not charging" long after the pause ended does contradict the charger
    d = decide([replace(c, paused=(at(100), at(120)))], [home, away], now=300)["c1"]
    assert d.candidates == ("away",)


def test_not_charging_before_the_charger_started_is_no_contradiction() -> None:
    c = charger(charging=True, changed=60, power=7.4)
    d = decide([c], [car("v1", obs(40, True, charging=False))])["c1"]
    assert d.vehicle_id == "v1"


def test_low_power_is_not_used_as_evidence() -> None:
    c = charger(charging=True, changed=10, power=S.min_power_kw / 2)
    d = decide([c], [car("v1", obs(40, True, charging=False))])["c1"]
    assert d.vehicle_id == "v1"


@pytest.mark.parametrize(
    "factor, fits",
    [
        (1 - S.power_tolerance * 0.9, True),
        (1 + S.power_tolerance * 0.9, True),
        (1 - S.power_tolerance * 1.1, False),
        (1 + S.power_tolerance * 1.1, False),
    ],
)
def test_charge_rate_tolerance(factor: float, fits: bool) -> None:
    power = 11.0
    c = charger(charging=True, changed=10, power=power)
    d = decide([c], [car("v1", obs(40, True, charging=True, rate=power * factor))])["c1"]
    assert (d.vehicle_id == "v1") is fits
    assert (d.candidates == ("v1",)) is fits
    assert ("charge rates match" if fits else "charge rates differ") in text(d)


def test_car_charging_while_the_charger_never_delivered_since_the_plug_in_is_excluded() -> None:
    d = decide([charger(charging=False, changed=None)], [car("v1", obs(61, True, charging=True))])["c1"]
    assert d.candidates == ()
    assert "charging while the charger delivers nothing" in text(d)
    assert decide([charger()], [car("v1", obs(30, True, charging=True))])["c1"].vehicle_id == "v1"


def test_car_charging_long_after_the_charger_stopped_is_excluded() -> None:
    c = charger(charging=False, changed=100)
    d = decide([c], [car("v1", obs(100 + 61, True, charging=True))], now=200)["c1"]
    assert d.candidates == ()
    assert "charging while the charger delivers nothing" in text(d)


def test_car_still_charging_just_after_the_charger_stopped_is_tolerated() -> None:
    c = charger(charging=False, changed=100)
    d = decide([c], [car("v1", obs(100 + 30, True, charging=True))], now=200)["c1"]
    assert d.vehicle_id == "v1"


def test_blind_only_vehicle_is_activated_when_nothing_contradicts() -> None:
    d = decide([charger()], [car("v1", charge_state=False)])["c1"]
    assert d.vehicle_id == "v1"
    assert "only vehicle" in text(d)


def test_blind_vehicle_among_several_is_never_guessed() -> None:
    vs = [car("v1", charge_state=False), car("v2", obs(40, False))]
    d = decide([charger()], vs, now=S.confirm_window_s + 1)["c1"]
    assert d.vehicle_id is None
    assert "cannot report its plug state" in text(d)


def test_blind_only_vehicle_is_not_activated_on_two_chargers() -> None:
    ds = decide([charger("c1"), charger("c2", plugged_at=5)], [car("v1", charge_state=False)])
    chosen = [d.vehicle_id for d in ds.values() if d.vehicle_id]
    assert len(chosen) <= 1


def test_blind_only_vehicle_on_two_chargers_says_why_and_asks_for_a_probe() -> None:
    cs, vs = [charger("c1"), charger("c2", plugged_at=5)], [car("v1", charge_state=False)]
    for d in decide(cs, vs).values():
        assert d.vehicle_id is None and d.ambiguous
        assert "2 chargers are plugged in: not guessing" in text(d)
    late = decide(cs, vs, now=S.confirm_window_s + 5)
    assert all(d.needs_probe for d in late.values())


def test_blind_only_vehicle_counts_a_plugged_charger_with_no_plug_in_time() -> None:
    ds = decide([charger("c1"), charger("c2", plugged_at=None)], [car("v1", charge_state=False)])
    assert ds["c1"].vehicle_id is None


def test_blind_only_vehicle_with_the_other_charger_active_is_not_possible_twice() -> None:
    """Its only vehicle is already ACTIVE on c1: nothing to decide for c2."""
    ds = decide([charger("c1"), charger("c2", plugged_at=5)], [car("v1", charge_state=False)], active={"c1": "v1"})
    assert ds["c2"].vehicle_id is None and ds["c2"].candidates == ()


# --- several candidates -------------------------------------------------------------------


def test_other_candidate_excluded_by_fresh_unplug_leaves_one() -> None:
    vs = [car("v1", obs(30, True)), car("v2", obs(35, False))]
    d = decide([charger()], vs)["c1"]
    assert d.vehicle_id == "v1"
    assert d.candidates == ("v1",)


def test_two_plugged_in_cars_with_equal_evidence_stay_ambiguous() -> None:
    vs = [car("v1", obs(30, True)), car("v2", obs(35, True))]
    d = decide([charger()], vs)["c1"]
    assert d.vehicle_id is None
    assert d.ambiguous and not d.needs_probe
    assert set(d.candidates) == {"v1", "v2"}
    assert "several vehicles fit the evidence: not activating" in text(d)
    late = decide([charger()], vs, now=S.confirm_window_s + 1)["c1"]
    assert late.vehicle_id is None and late.needs_probe


def test_equal_strong_evidence_stays_ambiguous() -> None:
    """Both at home, both charging at the charger's rate: nothing singles one out."""
    c = charger(charging=True, changed=10, power=7.4, location=HOME)
    vs = [
        car("v1", obs(40, True, charging=True, rate=7.3, loc=north_of(HOME, 10))),
        car("v2", obs(45, True, charging=True, rate=7.2, loc=north_of(HOME, 15))),
    ]
    d = decide([c], vs)["c1"]
    assert d.vehicle_id is None and d.ambiguous


def test_distance_singles_out_the_car_at_home() -> None:
    vs = [car("v1", obs(30, True, loc=north_of(HOME, 20))), car("v2", obs(30, True, loc=north_of(HOME, 8_000)))]
    d = decide([charger(location=HOME)], vs)["c1"]
    assert d.vehicle_id == "v1"
    assert d.candidates == ("v1",)


def test_charge_rate_singles_out_one_car() -> None:
    c = charger(charging=True, changed=10, power=7.4)
    vs = [car("v1", obs(40, True, charging=True, rate=7.1)), car("v2", obs(40, True, charging=True, rate=11.0))]
    d = decide([c], vs)["c1"]
    assert d.vehicle_id == "v1"
    assert "charge rates differ" in text(d) and "charge rates match" in text(d)


def test_plug_in_time_singles_out_the_car_plugged_in_after_the_charger() -> None:
    """v2 has been plugged in (elsewhere) since long before this session began."""
    vs = [car("v1", obs(-3600, False), obs(30, True)), car("v2", obs(-3600, True), obs(30, True))]
    d = decide([charger()], vs)["c1"]
    assert d.vehicle_id == "v1"


def test_weak_fit_waits_for_the_other_vehicles_then_gives_up() -> None:
    vs = [car("v1", obs(30, True)), car("v2", obs(-30, False))]  # v2: nothing newer than the plug-in
    d = decide([charger()], vs)["c1"]
    assert d.vehicle_id is None and not d.ambiguous
    assert "waiting for the other vehicles to confirm" in text(d)
    late = decide([charger()], vs, now=S.confirm_window_s)["c1"]
    assert late.vehicle_id is None and late.ambiguous and late.needs_probe
    assert "not activating" in text(late)


def test_a_rate_match_does_not_pass_over_a_silent_vehicle() -> None:
    """Truth may be: v2 (silent) in the charger, v1 at a public charger at the same 11 kW."""
    c = charger(charging=True, changed=10, power=11.0)
    vs = [car("v1", obs(40, True, charging=True, rate=10.6)), car("v2")]
    d = decide([c], vs)["c1"]
    assert d.vehicle_id is None and set(d.candidates) == {"v1", "v2"}
    assert "charge rates match" in text(d) and "waiting for the other vehicles to confirm" in text(d)
    late = decide([c], vs, now=S.confirm_window_s + 1)["c1"]
    assert late.vehicle_id is None and late.needs_probe


def test_a_rate_match_passes_over_a_car_whose_prompt_cloud_was_asked_well_after_the_plug_in() -> None:
    """v2's cloud is known to report a cable within 5 s (learnt from its past plug-ins) and, asked
    well after that since the plug-in, had nothing new: the unique rate match singles v1 out.
    Asked too soon after the plug-in, before it, or never: wait."""
    c = charger(charging=True, changed=10, power=11.0)
    match = car("v1", obs(40, True, charging=True, rate=10.6))
    due = 2 * 5 + S.quiet_margin_s
    # refreshed every 300 s, polled as rarely: a copy is up to 290 s old when first received
    copies = tuple(obs(t, False, lag=290) for t in (-1500, -1200, -900, -600, -300))
    for polled, chosen in ((at(due), "v1"), (at(due - 1), None), (at(-5), None), (None, None)):
        quiet = VehicleTrack("v2", observations=copies, polled_at=polled, report_lag_s=5)
        d = decide([c], [match, quiet])["c1"]
        assert d.vehicle_id == chosen, polled
        assert ("by strong evidence" in text(d)) is (chosen is not None)


def test_a_prompt_cloud_that_stopped_refreshing_is_not_quiet() -> None:
    """v2's cloud kept its copies within 20 s of fresh, then stopped refreshing: asked 60 s after
    its last copy it may be stale (serving an old copy while its car is on the cable), so its
    silence counts for nothing."""
    c = charger(charging=True, changed=10, power=11.0)
    match = car("v1", obs(40, True, charging=True, rate=10.6))
    copies = tuple(obs(t, False, lag=20) for t in (-300, -200, -100, -40))
    stale = VehicleTrack("v2", observations=copies, polled_at=at(20), report_lag_s=5)
    d = decide([c], [match, stale])["c1"]
    assert d.vehicle_id is None and "it may be stale" in text(d)
    few = VehicleTrack("v2", observations=(obs(-60, False),), polled_at=at(100), report_lag_s=5)
    assert decide([c], [match, few])["c1"].vehicle_id is None


@pytest.mark.parametrize("lag", [None, 150.0])
def test_silence_from_a_cloud_that_may_lag_is_not_absence(lag: float | None) -> None:
    """The issue's household: A (no location, prompt cloud) charges at a public charger at 11 kW;
    B (at home, cloud lagging minutes) is on the charger, also 11 kW, and silent so far. A's rate
    match must not pass over B, however often B's cloud is asked: its lag is not known, or known
    to be long."""
    c = charger(charging=True, changed=2, power=11.0, location=HOME)
    a = VehicleTrack("A", has_location=False, observations=(obs(-900, False), obs(3, True, charging=True, rate=10.5)),
                     polled_at=at(4), report_lag_s=1.0)
    b = VehicleTrack("B", observations=(obs(-900, False, loc=HOME),), polled_at=at(100), report_lag_s=lag)
    for now in (5, 60, 100):
        d = decide([c], [a, b], now=now)["c1"]
        assert d.vehicle_id is None, d.evidence
        assert "silence is not absence" in text(d) or "asking again" in text(d)


def test_the_car_at_the_chargers_location_is_singled_out_over_a_fit_that_cannot_tell_where_it_is() -> None:
    """Same household, once B confirms: both are plugged in and charging at the charger's rate; B
    reports a location at the charger, A cannot report one. B is singled out, A never."""
    c = charger(charging=True, changed=2, power=11.0, location=HOME)
    a = VehicleTrack("A", has_location=False, observations=(obs(-900, False), obs(3, True, charging=True, rate=10.5)))
    b = VehicleTrack("B", observations=(obs(-900, False, loc=HOME), obs(150, True, charging=True, rate=10.4,
                                                                        loc=north_of(HOME, 15))))
    d = decide([c], [a, b], now=160)["c1"]
    assert d.vehicle_id == "B"
    assert "cannot report a location" in text(d)


def test_nearness_does_not_pass_over_another_car_near_the_charger_or_a_silent_one() -> None:
    """Cars share garages: a second fit near the charger, or a silent car, keeps it ambiguous."""
    c = charger(location=HOME)
    b = car("B", obs(30, True, loc=north_of(HOME, 10)))
    twin = car("T", obs(31, True, loc=north_of(HOME, 20)))
    silent = VehicleTrack("S", has_location=False, observations=(obs(-900, False),))
    assert decide([c], [b, twin])["c1"].vehicle_id is None
    assert decide([c], [b, silent])["c1"].vehicle_id is None


def test_strong_evidence_never_passes_over_a_car_that_cannot_tell() -> None:
    c = charger(charging=True, changed=10, power=11.0)
    match = car("v1", obs(40, True, charging=True, rate=10.6))
    blind = VehicleTrack("v2", has_charge_state=False, polled_at=at(20))
    unsure = VehicleTrack("v2", observations=(obs(30, None),), polled_at=at(35))
    for other in (blind, unsure):
        assert decide([c], [match, other])["c1"].vehicle_id is None


def test_a_rate_that_another_charger_also_delivers_is_not_strong() -> None:
    cs = [charger("c1", charging=True, changed=10, power=11.0),
          charger("c2", plugged_at=5, charging=True, changed=12, power=11.0)]
    quiet = VehicleTrack("v2", observations=(obs(-600, False),), polled_at=at(20))
    ds = decide(cs, [car("v1", obs(40, True, charging=True, rate=10.7)), quiet])
    assert ds["c1"].vehicle_id is None and "not conclusive" in text(ds["c1"])


@pytest.mark.parametrize("km, seconds_before, excluded", [(50, 120, True), (2, 600, False), (30, 600, True),
                                                           (30, 3600, False)])
def test_a_silent_car_too_far_away_to_have_arrived_is_excluded(km: float, seconds_before: float,
                                                               excluded: bool) -> None:
    """v2 last reported `km` from home `seconds_before` the plug-in; at 150 km/h could it be here?"""
    away = car("v2", obs(-seconds_before, False, loc=north_of(HOME, km * 1000)))
    d = decide([charger(location=HOME)], [car("v1", obs(30, True, loc=north_of(HOME, 10))), away])["c1"]
    assert (d.vehicle_id == "v1") is excluded
    assert ("too far to have reached it" in text(d)) is excluded


def test_being_at_home_does_not_single_out_a_car_while_another_is_silent() -> None:
    """Truth: v2 (no data yet) is in the charger; v1 is plugged into a socket in the same garage."""
    vs = [car("v1", obs(30, True, loc=north_of(HOME, 10))), car("v2", obs(-600, False, loc=HOME))]
    d = decide([charger(location=HOME)], vs)["c1"]
    assert d.vehicle_id is None


def test_being_near_the_charger_only_agrees() -> None:
    """Near the charger is noted, and a lone fitting car is still activated, but not 'by strong evidence'."""
    vs = [car("v1", obs(30, True, loc=north_of(HOME, 10))), car("v2", obs(40, False, loc=north_of(HOME, 12)))]
    d = decide([charger(location=HOME)], vs)["c1"]
    assert d.vehicle_id == "v1"
    assert "10 m from the charger's location" in text(d)
    assert "strong" not in text(d)


def test_a_car_that_fits_two_chargers_is_activated_on_neither() -> None:
    cs = [
        charger("c1", charging=True, changed=10, power=11.0),
        charger("c2", plugged_at=5, charging=True, changed=12, power=11.0),
    ]
    vs = [car("v1", obs(40, True, charging=True, rate=10.7)), car("v2")]
    ds = decide(cs, vs)
    assert ds["c1"].vehicle_id is None and ds["c2"].vehicle_id is None
    assert "fits c2 as well" in text(ds["c1"])


def test_busy_vehicle_is_not_a_candidate_elsewhere() -> None:
    ds = decide(
        [charger("c1"), charger("c2", plugged_at=30)],
        [car("v1", obs(40, True)), car("v2", obs(45, True))],
        active={"c1": "v1"},
    )
    assert set(ds) == {"c2"}
    assert ds["c2"].vehicle_id == "v2"
    assert ds["c2"].candidates == ("v2",)


# --- several chargers: solved jointly ------------------------------------------------------


def test_joint_solution_a_car_on_one_charger_a_charger_with_one_car() -> None:
    """c1 charges at 11 kW, c2 at 7.4 kW; each car's rate fits only its own charger."""
    cs = [
        charger("c1", charging=True, changed=10, power=11.0),
        charger("c2", plugged_at=3, charging=True, changed=12, power=7.4),
    ]
    vs = [car("v1", obs(60, True, charging=True, rate=10.8)), car("v2", obs(62, True, charging=True, rate=7.2))]
    ds = decide(cs, vs)
    assert (ds["c1"].vehicle_id, ds["c2"].vehicle_id) == ("v1", "v2")


def test_joint_solution_by_elimination() -> None:
    """c2 plugged in after v1's data was taken: only v2 can be judged for c2; v1 then takes c1."""
    cs = [charger("c1", plugged_at=0), charger("c2", plugged_at=20)]
    vs = [car("v1", obs(10, True)), car("v2", obs(40, True))]
    ds = decide(cs, vs)
    # c2: v2 fits, v1 has nothing newer than c2's plug-in, so c2 waits for v1
    assert ds["c2"].vehicle_id is None
    # c1: v1 and v2 both fit, but v2 is c2's only fit... which is not yet certain, so c1 must not guess v2
    assert ds["c1"].vehicle_id in (None, "v1")


def test_two_cars_plugged_within_seconds_into_two_chargers_stay_ambiguous() -> None:
    cs = [charger("c1", plugged_at=0), charger("c2", plugged_at=4)]
    vs = [car("v1", obs(30, True)), car("v2", obs(33, True))]
    ds = decide(cs, vs, now=S.confirm_window_s + 10)
    for d in ds.values():
        assert d.vehicle_id is None
        assert d.ambiguous and d.needs_probe
        assert set(d.candidates) == {"v1", "v2"}


def test_same_car_only_fit_of_two_chargers_activates_neither() -> None:
    cs = [charger("c1", plugged_at=0), charger("c2", plugged_at=4)]
    vs = [car("v1", obs(30, True)), car("v2", obs(33, False))]
    ds = decide(cs, vs)
    assert ds["c1"].vehicle_id is None and ds["c2"].vehicle_id is None
    assert ds["c1"].ambiguous and ds["c2"].ambiguous


def test_joint_solution_does_not_assume_every_charger_holds_a_users_car() -> None:
    """Truth: a guest car in c1 (starts charging 11 kW at +100 s), v1 in c2 (idle), v2 at a public DC charger."""
    cs = [charger("c1", plugged_at=0, charging=True, changed=100, power=11.0), charger("c2", plugged_at=20)]
    vs = [car("v1", obs(30, True, charging=False)), car("v2", obs(150, True, charging=True, rate=50.0))]
    ds = decide(cs, vs, now=200)
    assert ds["c1"].vehicle_id is None
    assert ds["c2"].vehicle_id in (None, "v1")


def test_rate_match_is_not_strong_when_another_charger_delivers_the_same_power() -> None:
    """Truth: v2 in c1 (11 kW), v1 in c2 (idle), v3 in c3 (11 kW, no data yet)."""
    cs = [
        charger("c1", plugged_at=0, charging=True, changed=30, power=11.0),
        charger("c2", plugged_at=10),
        charger("c3", plugged_at=200, charging=True, changed=230, power=11.0),
    ]
    vs = [car("v1", obs(100, True)), car("v2", obs(300, True, charging=True, rate=10.4)), car("v3", obs(-600, False))]
    ds = decide(cs, vs, now=400)
    assert ds["c3"].vehicle_id in (None, "v3")
    assert ds["c1"].vehicle_id in (None, "v2")
    assert ds["c2"].vehicle_id in (None, "v1")


def test_two_chargers_each_car_excluded_from_the_other() -> None:
    """v2 charges while c1 delivers nothing and v1 does not charge while c2 delivers: each car
    fits one charger only."""
    cs = [charger("c1", plugged_at=0), charger("c2", plugged_at=50, charging=True, changed=60, power=11.0)]
    vs = [car("v1", obs(70, True, charging=False)), car("v2", obs(100, True, charging=True, rate=10.5))]
    ds = decide(cs, vs)
    assert (ds["c1"].vehicle_id, ds["c2"].vehicle_id) == ("v1", "v2")
    assert "v2 is charging while the charger delivers nothing: excluded" in text(ds["c1"])
    assert "v1 reported not charging" in text(ds["c2"]) and "every other vehicle is excluded" in text(ds["c2"])
    assert ds["c1"].candidates == ("v1",)


def test_no_elimination_when_the_remaining_car_has_not_confirmed() -> None:
    """As above, but v1 has no data newer than either plug-in: it may be in c2 (and v2 charging
    elsewhere at the same rate), and c1 may hold a guest car. Nothing is decided."""
    cs = [charger("c1", plugged_at=0), charger("c2", plugged_at=50, charging=True, changed=60, power=11.0)]
    vs = [car("v1", obs(-30, False)), car("v2", obs(100, True, charging=True, rate=10.5))]
    ds = decide(cs, vs)
    assert (ds["c1"].vehicle_id, ds["c2"].vehicle_id) == (None, None)


def test_guest_car_in_one_charger_activates_nothing_for_it() -> None:
    """Both chargers plugged in, only one of the user's cars, which could be in either: neither."""
    cs = [charger("c1", plugged_at=0), charger("c2", plugged_at=20)]
    ds = decide(cs, [car("v1", obs(60, True))])
    assert ds["c1"].vehicle_id is None and ds["c2"].vehicle_id is None
    assert ds["c1"].ambiguous and ds["c2"].ambiguous
    assert "fits c2 as well" in text(ds["c1"])


def test_car_waiting_for_data_after_another_chargers_plug_in_is_not_activated() -> None:
    cs = [charger("c1", plugged_at=0), charger("c2", plugged_at=50)]
    d = decide(cs, [car("v1", obs(30, True))])["c1"]
    assert d.vehicle_id is None and not d.ambiguous
    assert "waiting for v1 to report after the plug-in of c2" in text(d)


# --- probe ---------------------------------------------------------------------------------


CHARGING = {"v1": obs(100, True, charging=True, rate=7.4), "v2": obs(100, True, charging=True, rate=7.4)}


def probe(paused: dict[str, VehicleObs], resumed: dict[str, VehicleObs],
          before: dict[str, VehicleObs] | None = None) -> tuple[str | None, str]:
    """interpret_probe with the pause at T0+150 and the resume at T0+170."""
    before = CHARGING if before is None else before
    return dp.interpret_probe(list(before), before, paused, resumed, at(150), at(170))


def test_probe_singles_out_the_car_that_stopped_and_charged_again() -> None:
    paused = {"v1": obs(160, True, charging=False), "v2": obs(160, True, charging=True)}
    vid, why = probe(paused, {"v1": obs(175, True, charging=True)})
    assert vid == "v1"
    assert "only v1 stopped" in why


def test_probe_does_not_credit_a_car_that_stopped_for_its_own_reasons() -> None:
    paused = {"v1": obs(160, True, charging=False), "v2": obs(160, True, charging=True)}
    for resumed in ({}, {"v1": obs(175, True, charging=False)}, {"v1": obs(165, True, charging=True)}):
        vid, why = probe(paused, resumed)
        assert vid is None and "did not charge again" in why


def test_probe_needs_every_candidate_watched() -> None:
    """The car on the cable may be the one whose read failed: then nobody is singled out."""
    vid, why = probe({"v1": obs(160, True, charging=False)}, {"v1": obs(175, True, charging=True)})
    assert vid is None and "v2 did not report during the pause" in why
    stale = {"v1": obs(160, True, charging=False), "v2": obs(140, True, charging=True)}
    assert probe(stale, {"v1": obs(175, True, charging=True)})[0] is None
    vid, why = probe({"v1": obs(160, True, charging=False)}, {"v1": obs(175, True, charging=True)},
                     before={"v1": CHARGING["v1"]})
    assert vid == "v1"
    unread = dp.interpret_probe(["v1", "v2"], {"v1": CHARGING["v1"]}, {"v1": obs(160, True, charging=False)},
                                {"v1": obs(175, True, charging=True)}, at(150), at(170))
    assert unread[0] is None and "could not read v2" in unread[1]


def test_probe_is_inconclusive_unless_exactly_one_followed() -> None:
    both = {"v1": obs(160, True, charging=False), "v2": obs(160, True, charging=False)}
    vid, why = probe(both, {"v1": obs(175, True, charging=True)})
    assert vid is None and "2 vehicles" in why
    neither = {"v1": obs(160, True, charging=True), "v2": obs(160, True, charging=True)}
    assert probe(neither, {})[0] is None
    # "does not say" during the pause is not "stopped"
    silent = {"v1": obs(160, True, charging=None), "v2": obs(160, True, charging=True)}
    assert probe(silent, {"v1": obs(175, True, charging=True)})[0] is None
    # a car that was not charging before cannot have followed the pause
    idle = {"v1": obs(100, True, charging=False), "v2": obs(100, True, charging=True)}
    assert probe({"v1": obs(160, True, charging=False), "v2": obs(160, True, charging=True)},
                 {"v1": obs(175, True, charging=True)}, before=idle)[0] is None


# --- deactivation ----------------------------------------------------------------------------


def test_unplugged_charger_ends_activation() -> None:
    assert dp.should_deactivate(charger(plugged=False), car("v1"), at(60), S) == "charger reported unplugged"


def test_a_charger_that_cannot_tell_ends_nothing_but_the_cars_data_still_can() -> None:
    """Offline, faulted or unavailable, a charger does not know whether a cable is in: that is no
    "unplugged". The car reporting unplugged (or plugged in far away) still ends the activation."""
    dark = replace(charger(plugged=False), plugged_in_at=at(0), plug_known=False)
    assert dp.should_deactivate(dark, car("v1", obs(50, True)), at(10), S) is None
    assert dp.should_deactivate(dark, car("v1"), at(10), S) is None
    reason = dp.should_deactivate(dark, car("v1", obs(50, True), obs(70, False)), at(10), S)
    assert reason is not None and "reported unplugged" in reason and "charger" not in reason
    # a rival reporting plugged in and charging is not dismissed for a charger "delivering nothing":
    # the dark charger delivers nothing it could compare, so the rival fits as well
    rival = car("v2", obs(-600, False), obs(90, True, charging=True, rate=11.0))
    reason = dp.should_deactivate(dark, car("v1", obs(50, True)), at(10), S, rivals=[rival])
    assert reason is not None and "v2 reported plugged in after the plug-in too" in reason


def test_swap_new_plug_session_ends_activation() -> None:
    reason = dp.should_deactivate(charger(plugged_at=500), car("v1", obs(510, True)), at(60), S)
    assert reason is not None and "new plug session" in reason


def test_vehicle_reporting_unplugged_after_activation_ends_it() -> None:
    reason = dp.should_deactivate(charger(), car("v1", obs(120, False)), at(60), S)
    assert reason is not None and "unplugged" in reason


def test_vehicle_unplugged_data_from_before_activation_does_not_end_it() -> None:
    assert dp.should_deactivate(charger(), car("v1", obs(50, False)), at(60), S) is None


def test_vehicle_plugged_in_far_away_ends_activation() -> None:
    far = north_of(HOME, 3_000)
    reason = dp.should_deactivate(charger(location=HOME), car("v1", obs(120, True, loc=far)), at(60), S)
    assert reason is not None and "3.0 km" in reason


def test_still_plugged_in_at_home_stays_active() -> None:
    v = car("v1", obs(120, True, charging=True, loc=north_of(HOME, 12)))
    assert dp.should_deactivate(charger(location=HOME), v, at(60), S) is None
    assert dp.should_deactivate(charger(location=HOME), car("v1"), at(60), S) is None


def test_a_rival_that_fits_as_well_ends_an_activation() -> None:
    """A·C was believed (A singled out while B was silent); B's lagging cloud now reports plugged in
    since the plug-in, at the charger's location, and A cannot tell where it is: the belief ends."""
    c = charger(charging=True, changed=2, power=11.0, location=HOME)
    a = VehicleTrack("A", has_location=False, observations=(obs(3, True, charging=True, rate=10.5),))
    b = VehicleTrack("B", observations=(obs(-900, False, loc=HOME), obs(150, True, charging=True, rate=10.4, loc=HOME)))
    reason = dp.should_deactivate(c, a, at(10), S, rivals=[b])
    assert reason is not None and "B reported plugged in after the plug-in too" in reason
    assert dp.should_deactivate(c, a, at(10), S, rivals=[]) is None


def test_a_rival_that_was_seen_unplugged_during_the_session_or_cannot_tell_where_it_is_ends_nothing() -> None:
    c = charger(charging=True, changed=2, power=11.0, location=HOME)
    a = car("A", obs(3, True, charging=True, rate=10.5, loc=north_of(HOME, 10)))
    later = car("B", obs(-900, False), obs(600, False), obs(900, True, charging=True, rate=10.6))
    blind = VehicleTrack("B", has_location=False, observations=(obs(150, True, charging=True, rate=10.4),))
    other_rate = car("B", obs(150, True, charging=True, rate=7.0))
    for rival in (later, blind, other_rate):
        assert dp.should_deactivate(c, a, at(10), S, rivals=[rival]) is None, rival


def test_a_decision_waits_for_every_charger_to_be_seen_after_the_vehicle_data() -> None:
    """The crossed race: A (lagging) on C1, B (prompt) on C2 0.6 s later. C1 was seen plugged,
    C2 not yet (its last poll is from before B's answer). B's rate matches C1 and no other open
    charger, A is quiet by all the data Tandem has: on that partial view B·C1 would be chosen.
    It is not taken; C2 is named to be polled."""
    c1 = replace(charger("c1", 0, charging=True, changed=0, power=11.0), seen_at=at(2))
    c2 = replace(charger("c2", None, plugged=False), seen_at=at(-3))
    a = VehicleTrack("A", observations=tuple(obs(t, False, lag=30) for t in (-100, -60, -20)), polled_at=at(30),
                     report_lag_s=1.0)
    b = car("B", VehicleObs(observed_at=at(1.5), data_age=at(0.6), is_plugged_in=True, is_charging=True,
                            charge_rate_kw=10.5))
    d = decide([c1, c2], [a, b], now=31)["c1"]
    assert d.vehicle_id is None and d.stale_chargers == ("c2",)
    assert "waiting for a poll of c2" in text(d)
    # C2 polled after B's answer: it shows B's cable, the rate no longer tells, nothing is decided
    c2_now = replace(charger("c2", 2, charging=True, changed=2, power=11.0), seen_at=at(3))
    ds = decide([replace(c1, seen_at=at(3)), c2_now], [a, b], now=32)
    assert ds["c1"].vehicle_id is None and ds["c2"].vehicle_id is None
    assert not ds["c1"].stale_chargers


def test_a_fresh_view_of_every_charger_lets_the_decision_through() -> None:
    c = replace(charger("c1", 0), seen_at=at(40))
    other = replace(charger("c2", None, plugged=False), seen_at=at(40))
    d = decide([c, other], [car("v1", obs(30, True, lag=5))])["c1"]
    assert d.vehicle_id == "v1" and not d.stale_chargers


def test_a_vendor_clock_running_behind_does_not_make_a_plug_in_here_look_older() -> None:
    """The car's cloud stamps its data 10 min early: its plug-in here looks 10 min before the
    charger's. Received after the plug-in, it is no plug-in elsewhere."""
    behind = VehicleObs(observed_at=at(20), data_age=at(20 - 600), is_plugged_in=True)
    d = decide([charger()], [car("v1", obs(-900, False), behind)])["c1"]
    assert "already plugged in" not in text(d)
    received_before = VehicleObs(observed_at=at(-400), data_age=at(-1000), is_plugged_in=True)
    d2 = decide([charger()], [car("v1", received_before, obs(30, True))])["c1"]
    assert "already plugged in" in text(d2)


# --- property: honest worlds never produce a false activation --------------------------------


@dataclass
class World:
    chargers: list[ChargerTrack]
    vehicles: list[VehicleTrack]
    truth: dict[str, str | None]  # vehicle -> charger it is really plugged into
    active: dict[str, str]
    now: datetime


def _world(rng: random.Random, *, distinct_power: bool = False, allow_location: bool = True) -> World:
    """A random household whose data is honest, with the confusions the design is meant to handle:
    vendor lag, stale data, cars unplugged at home, cars plugged in elsewhere since long ago, cars
    plugged in far away (reported with location), charging starts and stops, similar plug-in times."""
    n_chargers, n_cars = rng.randint(1, 3), rng.randint(1, 3)
    located = allow_location and rng.random() < 0.6
    powers = [3.7, 7.4, 11.0, 22.0]
    rng.shuffle(powers)
    cids = [f"c{i}" for i in range(n_chargers)]
    vids = [f"v{i}" for i in range(n_cars)]
    kinds = ["elsewhere_long", "unplugged"] + (["far_recent"] if located else [])
    slots = cids[:]
    rng.shuffle(slots)
    truth: dict[str, str | None] = {}
    kind_of: dict[str, str] = {}
    for vid in vids:
        kind = rng.choice(kinds) if not slots or rng.random() < 0.3 else "charger"
        if kind == "charger":
            truth[vid] = slots.pop()
        kind_of[vid] = kind
        truth.setdefault(vid, None)
    occupant = {c: v for v, c in truth.items() if c}
    chargers: list[ChargerTrack] = []
    phys: dict[str, tuple[float, float | None, float | None, float]] = {}  # plug, start, stop, power
    for cid in cids:
        if cid not in occupant:
            chargers.append(charger(cid, None, plugged=False, location=HOME if located else None))
            continue
        plug = rng.choice([0.0, rng.uniform(0, 10), rng.uniform(0, 300)])
        power = powers.pop() if distinct_power else rng.choice([3.7, 7.4, 11.0, 22.0])
        mode = rng.choice(["idle", "charging", "stopped"])
        start = plug + rng.uniform(1, 60) if mode != "idle" else None
        stop = start + rng.uniform(30, 400) if mode == "stopped" and start is not None else None
        phys[cid] = (plug, start, stop, power)
        changed = stop if stop is not None else start
        chargers.append(
            charger(
                cid,
                plug,
                charging=mode == "charging",
                changed=changed,
                power=power if mode == "charging" else None,
                location=HOME if located else None,
            )
        )
    now = rng.uniform(0, 1000)
    vehicles: list[VehicleTrack] = []
    for vid in vids:
        kind = kind_of[vid]
        elsewhere_rate = rng.choice([2.3, 50.0, 150.0])
        far = north_of(HOME, rng.uniform(1_000, 50_000))
        recent_plug = rng.uniform(-60, 300)
        has_loc = rng.random() < 0.5 or kind == "far_recent"

        def state(
            t: float,
            kind: str = kind,
            vid: str = vid,
            far: tuple[float, float] = far,
            elsewhere_rate: float = elsewhere_rate,
            recent_plug: float = recent_plug,
        ) -> tuple[bool, bool, float, tuple[float, float]]:
            if kind == "charger":
                plug, start, stop, power = phys[truth[vid]]  # type: ignore[index]
                if t < plug:
                    return False, False, 0.0, HOME
                on = start is not None and t >= start and (stop is None or t < stop)
                return True, on, power * rng.uniform(0.85, 1.0) if on else 0.0, north_of(HOME, rng.uniform(0, 30))
            if kind == "elsewhere_long":
                return True, True, elsewhere_rate, far
            if kind == "far_recent":
                plugged = t >= recent_plug
                return plugged, plugged, elsewhere_rate if plugged else 0.0, far
            return False, False, 0.0, rng.choice([north_of(HOME, rng.uniform(0, 30)), far])

        times = sorted([-3600.0, *(rng.uniform(-200, 700) for _ in range(rng.randint(0, 4)))])
        observations = []
        for t in times:
            lag = rng.choice([1.0, 30.0, 240.0])
            if t + lag > now:
                continue
            age = rng.choice(["exact", "exact", "none", "stale"])
            described = {"exact": t, "none": t + lag, "stale": t - 600}[age]  # when the data describes the car
            plugged, charging, rate, loc = state(described)
            observations.append(
                VehicleObs(
                    observed_at=at(t + lag),
                    data_age=None if age == "none" else at(described),
                    is_plugged_in=plugged if rng.random() > 0.1 else None,
                    is_charging=charging if rng.random() > 0.2 else None,
                    charge_rate_kw=rate if rng.random() > 0.3 else None,
                    lat=loc[0] if has_loc else None,
                    lon=loc[1] if has_loc else None,
                )
            )
        observations.sort(key=lambda o: o.observed_at)
        vehicles.append(VehicleTrack(vid, observations=tuple(observations)))
    active = {c: v for c, v in occupant.items() if rng.random() < 0.2}
    return World(chargers, vehicles, truth, active, at(now))


def _check(w: World, *, truthful: bool) -> None:
    ds = dp.decide(w.chargers, w.vehicles, w.active, w.now, S)
    chosen = [d.vehicle_id for d in ds if d.vehicle_id]
    assert len(chosen) == len(set(chosen)), "a vehicle chosen for two chargers"
    assert not set(chosen) & set(w.active.values()), "an ACTIVE vehicle chosen again"
    assert not {d.charger_id for d in ds} & set(w.active), "an ACTIVE charger decided again"
    if truthful:
        for d in ds:
            if d.vehicle_id is not None:
                assert w.truth[d.vehicle_id] == d.charger_id, (
                    f"false activation {d.charger_id} <- {d.vehicle_id}; truth {w.truth}; evidence {d.evidence}"
                )


@pytest.mark.parametrize("seed", range(20))
def test_honest_worlds_keep_one_active_per_vehicle_and_charger(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(200):
        _check(_world(rng), truthful=False)


@pytest.mark.parametrize("seed", range(20))
def test_honest_worlds_with_telling_rates_never_activate_a_wrong_pair(seed: int) -> None:
    """Chargers charging at distinct rates and no charger location: no false activation, ever.
    (With charger locations: see the next test.)"""
    rng = random.Random(1000 + seed)
    for _ in range(200):
        _check(_world(rng, distinct_power=True, allow_location=False), truthful=True)


def test_honest_worlds_with_locations_never_activate_a_wrong_pair() -> None:
    rng = random.Random(2000)
    for _ in range(2000):
        _check(_world(rng, distinct_power=True, allow_location=True), truthful=True)


def test_car_data_from_between_the_chargers_polls_counts_with_plug_uncertainty() -> None:
    """The charger saw its cable at T0 but it went in up to one poll earlier: a car that reported
    plugged in 5 s before T0 (and unplugged long before) fits only when that span is allowed for."""
    chargers = [charger("c1", 0)]
    cars = [car("v1", obs(-600, False), obs(-5, True))]
    strict = dp.decide(chargers, cars, {}, at(30), S)
    assert strict[0].vehicle_id is None
    lenient = dp.decide(chargers, cars, {}, at(30), PairingSettings(plug_uncertainty_s=12))
    assert lenient[0].vehicle_id == "v1"
    too_early = [car("v1", obs(-600, False), obs(-20, True))]
    assert dp.decide(chargers, too_early, {}, at(30), PairingSettings(plug_uncertainty_s=12))[0].vehicle_id is None


def test_unplugged_data_from_before_the_cable_was_seen_never_excludes() -> None:
    """Inside the uncertainty span an "unplugged" report proves nothing (the car may have been
    plugged in right after it); only one taken after the charger saw its cable excludes."""
    lenient = PairingSettings(plug_uncertainty_s=12)
    chargers = [charger("c1", 0)]
    before = dp.decide(chargers, [car("v1", obs(-5, False))], {}, at(30), lenient)[0]
    assert before.vehicle_id is None and "v1" in before.candidates
    assert "no data newer than the plug-in" in text(before)
    after = dp.decide(chargers, [car("v1", obs(5, False))], {}, at(30), lenient)[0]
    assert "v1" not in after.candidates
    unplugged_again = dp.decide(chargers, [car("v1", obs(-8, True), obs(-3, False))], {}, at(30), lenient)[0]
    assert unplugged_again.vehicle_id is None


def test_a_car_that_cannot_report_its_plug_state_is_still_excluded_when_far_away() -> None:
    far = dp.VehicleObs(observed_at=at(20), data_age=at(15), is_plugged_in=None,
                        lat=north_of(HOME, 5000)[0], lon=HOME[1])
    blind_far = car("v1", far, charge_state=False)
    d = dp.decide([charger("c1", 0, location=HOME)], [blind_far], {}, at(60), S)[0]
    assert d.vehicle_id is None and "km from the charger" in text(d)
    near = dp.VehicleObs(observed_at=at(20), data_age=at(15), is_plugged_in=None, lat=HOME[0], lon=HOME[1])
    d = dp.decide([charger("c1", 0, location=HOME)], [car("v1", near, charge_state=False)], {}, at(60), S)[0]
    assert d.vehicle_id == "v1"


def test_a_cable_report_lag_is_measured_from_the_earliest_the_cable_can_have_gone_in() -> None:
    s = replace(S, plug_uncertainty_s=12.0)
    c = charger("c1", 0)
    v = car("v1", obs(-600, False), obs(3, True, lag=2), obs(30, True))
    assert dp.cable_report_lag(c, v, s) == pytest.approx(17.0)  # answer at 5 s, cable in from -12 s
    assert dp.cable_report_lag(c, car("v1", obs(-600, False)), s) is None


# --- property: prompt and lagging clouds, cars charging elsewhere at the same rate ---------------


def _cloud_world(rng: random.Random) -> World:
    """One charger at home (a Location or none), 2-3 cars, all 11 kW. At most one car is on the
    charger (plugged in at P; or a guest car is), the others idle at home since long ago, or
    plugged in elsewhere at the same rate within seconds of P (located far away, or unable to
    report a location), or elsewhere since long ago. Each car's cloud either pushes every change
    within 5 s (its `report_lag_s` known as 5, or not known) or refreshes only every 240 s (its
    lag not known, or known as 260). Honest data: every answer describes the car as it was."""
    located = rng.random() < 0.7
    plug = rng.uniform(0, 60)
    now = plug + rng.uniform(1, 900)
    vids = [f"v{i}" for i in range(rng.randint(2, 3))]
    occupant = rng.choice([*vids, None])
    kinds = {vid: "charger" if vid == occupant else rng.choice(["idle", "elsewhere_now", "elsewhere_long"])
             for vid in vids}
    vehicles: list[VehicleTrack] = []
    for vid in vids:
        kind = kinds[vid]
        has_loc = kind == "charger" or rng.random() < 0.5
        pos = north_of(HOME, rng.uniform(0, 30)) if kind in ("charger", "idle") else north_of(HOME, 30_000)
        when = {"charger": plug, "elsewhere_now": plug + rng.uniform(-10, 10), "elsewhere_long": -3000.0,
                "idle": None}[kind]

        def state(t: float, when: float | None = when) -> tuple[bool, float]:
            on = when is not None and t >= when
            return on, (10.5 if on and t >= when + 1 else 0.0)  # type: ignore[operator]

        push = rng.random() < 0.6
        if push:
            times = [-3600.0] + ([when + rng.uniform(0.1, 1.0), when + 1.5] if when is not None else [])
            lag_known = 5.0 if rng.random() < 0.5 else None
        else:
            phase = rng.uniform(0, 240)
            times = [-3600.0] + [phase + k * 240 for k in range(-2, 8) if phase + k * 240 > -3600]
            lag_known = 260.0 if rng.random() < 0.5 else None
        observations = []
        for t in sorted(times):
            received = t + (rng.uniform(0, 5) if push else rng.uniform(0, 20))
            if received > now:
                continue
            on, rate = state(t)
            observations.append(VehicleObs(observed_at=at(received), data_age=at(t), is_plugged_in=on,
                                           is_charging=rate > 0, charge_rate_kw=rate or None,
                                           lat=pos[0] if has_loc else None, lon=pos[1] if has_loc else None))
        vehicles.append(VehicleTrack(vid, has_location=has_loc, observations=tuple(observations),
                                     polled_at=at(now - rng.uniform(0, 3)), report_lag_s=lag_known))
    # A guest car in the charger just as a car of the user that cannot be located (or a charger
    # without a Location) starts charging
    # elsewhere at the same rate is indistinguishable from that car on the charger (README, known
    # gaps): guests come only while no such car plugs in elsewhere.
    coincident = any(kinds[v.vehicle_id] == "elsewhere_now" and not (v.has_location and located) for v in vehicles)
    guest = occupant is None and not coincident and rng.random() < 0.5
    busy = occupant is not None or guest
    c = ChargerTrack("c1", busy, at(plug) if busy else None, busy and now >= plug + 1,
                     at(plug + 1) if busy and now >= plug + 1 else None, 11.0 if busy and now >= plug + 1 else None,
                     HOME if located else None, seen_at=at(now))
    truth: dict[str, str | None] = {vid: "c1" if vid == occupant else None for vid in vids}
    return World([c], vehicles, truth, {}, at(now))


@pytest.mark.parametrize("seed", range(10))
def test_cloud_worlds_never_activate_a_wrong_pair(seed: int) -> None:
    """Silence from a cloud not known to be prompt never counts, a location only singles out over
    cars that cannot report one: no false activation, whatever the clouds' lags."""
    rng = random.Random(3000 + seed)
    for _ in range(300):
        _check(_cloud_world(rng), truthful=True)
