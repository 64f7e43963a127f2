"""The SoC estimate's merge rules (app.domain.soc) and the vehicle view built on them."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from adapters.types import PowerState
from app.domain import soc
from app.domain.chargestate import CarData, ChargerData, vehicle_state
from app.domain.soc import Estimate, Meter, Reading

T0 = datetime(2026, 3, 1, 18, 0, 0, tzinfo=UTC)
CAP = 77.0  # kWh
HOME = (59.91, 10.75)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def kwh(percent: float) -> float:
    return percent / 100 * CAP


def charging(session_kwh: float, rate: float = 11.0, since: float = -600) -> Meter:
    return Meter(True, rate, at(since), session_kwh, at(since))


def stopped(session_kwh: float, since: float, plugged_at: float = -600) -> Meter:
    return Meter(False, None, at(since), session_kwh, at(plugged_at))


def reading(level: float, when: float, plugged: bool | None = True, rate: float | None = 10.5,
            position: tuple[float, float] | None = HOME) -> Reading:
    return Reading(level, at(when), plugged, rate, position)


def show(est: Estimate, meter: Meter | None, now: float, limit: float | None = 80.0) -> float | None:
    return soc.shown_level(est, meter, CAP, limit, at(now))


# --- the numbers -------------------------------------------------------------------------


def test_unplugging_an_active_pair_keeps_the_estimate_31_2_against_the_stale_30_2() -> None:
    """The car read 30.2 % when the session meter stood at 2 kWh; 1 % more was delivered before the
    unplug. Folded at the unplug, 31.2 stays; the cloud's older 30.2 (still plugged in) changes nothing."""
    est = Estimate(30.2, at(0), 2.0)
    assert show(est, charging(2.0 + kwh(1.0)), 200) == 31.2
    folded = soc.fold(est, charging(2.0 + kwh(1.0)), CAP, 80.0, at(200), None)
    assert show(folded, None, 200) == 31.2
    for stale_at in (0, 150, 199.9, 200):  # the lagging cloud, up to the unplug itself
        assert soc.take_reading(folded, reading(30.2, stale_at), HOME, None, CAP, 80.0, at(245)) == folded
    assert show(folded, None, 245) == 31.2


def test_a_confirmed_stop_keeps_46_7_against_the_stale_45_4() -> None:
    est = Estimate(45.4, at(0), 5.0)
    meter = charging(5.0 + kwh(1.3))
    assert show(est, meter, 300) == 46.7
    after_stop = stopped(5.0 + kwh(1.3), since=300)
    folded = soc.fold(est, meter, CAP, 80.0, at(300), 5.0 + kwh(1.3))
    assert show(folded, after_stop, 301) == 46.7
    stale = soc.take_reading(folded, reading(45.4, 120), HOME, after_stop, CAP, 80.0, at(330))
    assert stale == folded and show(stale, after_stop, 330) == 46.7


def test_a_confirmed_stop_without_a_fold_would_still_not_drop() -> None:
    """Even before the stop is folded, the meter stops at the energy delivered: 46.7, not 45.4."""
    est = Estimate(45.4, at(0), 5.0)
    assert show(est, stopped(5.0 + kwh(1.3), since=300), 400) == 46.7


# --- older readings ------------------------------------------------------------------------------


@pytest.mark.parametrize("level", [10.0, 45.0, 50.0, 90.0])
def test_a_reading_not_newer_than_the_estimate_never_overwrites_it(level: float) -> None:
    est = Estimate(50.0, at(100), None, None)
    assert soc.take_reading(est, reading(level, 100), HOME, None, CAP, 80.0, at(200)) == est
    assert soc.take_reading(est, reading(level, 99), HOME, None, CAP, 80.0, at(200)) == est


def test_reading_time_is_the_data_age_clamped_to_the_receipt() -> None:
    assert soc.reading_time(at(10), at(20)) == at(10)
    assert soc.reading_time(at(30), at(20)) == at(20)  # a cloud clock ahead of ours
    assert soc.reading_time(None, at(20)) == at(20)


def test_a_first_reading_becomes_the_estimate() -> None:
    est = soc.take_reading(Estimate(), reading(42.0, 10), None, None, CAP, 80.0, at(20))
    assert est == Estimate(42.0, at(10), None, None)


def test_a_reading_without_a_level_changes_nothing() -> None:
    est = Estimate(50.0, at(0))
    assert soc.take_reading(est, Reading(None, at(60), True, None, HOME), HOME, None, CAP, 80.0, at(60)) == est


# --- newer readings: up at once, down only when driving or discharging ---------------------------


def test_a_newer_higher_reading_re_bases_the_estimate() -> None:
    est = Estimate(50.0, at(0))
    new = soc.take_reading(est, reading(52.0, 60), HOME, None, CAP, 80.0, at(70))
    assert new == Estimate(52.0, at(60), None, None)


def test_a_newer_lower_reading_while_plugged_in_raises_a_floor_instead() -> None:
    est = Estimate(46.7, at(300), 6.0)
    meter = stopped(6.0, since=300)
    new = soc.take_reading(est, reading(45.4, 400), HOME, meter, CAP, 80.0, at(410))
    assert (new.level, new.at, new.floor) == (45.4, at(400), 46.7)
    assert show(new, meter, 410) == 46.7


def test_the_floor_holds_until_charging_passes_it_then_the_car_leads_again() -> None:
    est = Estimate(45.4, at(0), 10.0, floor=46.7)
    assert show(est, charging(10.0 + kwh(0.5)), 100) == 46.7
    assert show(est, charging(10.0 + kwh(2.0)), 200) == 47.4


@pytest.mark.parametrize("position, drops", [
    ((59.93, 10.75), True),  # 2 km away: it drove
    ((59.9105, 10.7505), False),  # 60 m: parked, the estimate was high
    (None, True),  # no position to tell by: an unplugged car may have driven
])
def test_an_unplugged_car_drops_only_when_it_may_have_driven(position: tuple[float, float] | None,
                                                           drops: bool) -> None:
    est = Estimate(60.0, at(0))
    new = soc.take_reading(est, reading(55.0, 3600, plugged=False, rate=None, position=position), HOME, None,
                           CAP, 80.0, at(3700))
    assert show(new, None, 3700) == (55.0 if drops else 60.0)


def test_a_plugged_in_car_never_drops_even_far_away() -> None:
    est = Estimate(60.0, at(0))
    new = soc.take_reading(est, reading(55.0, 3600, plugged=True, rate=0.0, position=(60.5, 11.0)), HOME, None,
                           CAP, 80.0, at(3700))
    assert show(new, None, 3700) == 60.0


def test_discharging_may_lower_the_level() -> None:
    est = Estimate(60.0, at(0))
    new = soc.take_reading(est, reading(58.0, 600, plugged=True, rate=-3.0), HOME, None, CAP, 80.0, at(700))
    assert show(new, None, 700) == 58.0


def test_the_shown_level_never_drops_over_a_random_day_without_driving() -> None:
    """Stale, fresh, lower and higher readings in any order, charging on and off, folds at each
    charger change: what is shown never goes down."""
    rng = random.Random(7)
    est, meter, energy, t, shown = Estimate(30.0, at(0), 0.0), charging(0.0, since=0), 0.0, 0.0, 30.0
    for _ in range(500):
        t += rng.uniform(1, 120)
        if meter.is_charging:
            energy += 11.0 * rng.uniform(0.5, 1.2) * 60 / 3600
        live = replace(meter, session_kwh=energy)
        if rng.random() < 0.1:  # the charger starts or stops: folded
            est = soc.fold(est, live, CAP, 100.0, at(t), energy)
            meter = Meter(not meter.is_charging, 11.0, at(t), energy, at(0))
            live = replace(meter, session_kwh=energy)
        else:
            true_level = rng.uniform(20, 90)
            plugged = rng.choice([True, None])
            est = soc.take_reading(est, reading(true_level, t - rng.uniform(0, 900), plugged=plugged), HOME,
                                   live, CAP, 100.0, at(t))
        now_shown = show(est, live, t, limit=100.0)
        assert now_shown is not None and now_shown >= shown, (t, est)
        shown = now_shown


# --- energy ---------------------------------------------------------------------------------------


def test_energy_counts_from_the_session_meter() -> None:
    est = Estimate(50.0, at(0), 3.0)
    assert soc.gained_kwh(est, charging(5.5, rate=3.7), at(999)) == pytest.approx(2.5)


def test_a_new_session_since_the_estimate_counts_from_zero() -> None:
    est = Estimate(50.0, at(0), 30.0)
    assert soc.gained_kwh(est, Meter(True, 11.0, at(60), 1.5, at(60)), at(120)) == pytest.approx(1.5)


def test_without_a_meter_energy_is_rate_times_time_since_charging_started() -> None:
    est = Estimate(50.0, at(0))
    meter = Meter(True, 11.0, at(600), None, at(0))
    assert soc.gained_kwh(est, meter, at(1800)) == pytest.approx(11.0 * 1200 / 3600)
    assert soc.gained_kwh(est, replace(meter, is_charging=False), at(1800)) == 0.0


def test_the_estimate_is_capped_at_the_limit_unless_already_above() -> None:
    assert show(Estimate(79.0, at(0), 0.0), charging(20.0), 3600, limit=80.0) == 80.0
    assert show(Estimate(85.0, at(0), 0.0), charging(20.0), 3600, limit=80.0) == 85.0
    assert show(Estimate(95.0, at(0), 0.0), charging(20.0), 3600, limit=None) == 100.0


def test_meter_at_a_past_time() -> None:
    est = Estimate(50.0, at(0), 1.0)
    assert soc.energy_at(charging(4.0, rate=12.0, since=-600), at(-700), at(0), est) == 0.0  # before the session
    assert soc.energy_at(charging(4.0, rate=12.0), at(-300), at(0), Estimate()) == pytest.approx(3.0)
    assert soc.energy_at(stopped(4.0, since=-100), at(-50), at(0), est) == 4.0
    assert soc.energy_at(stopped(4.0, since=-100), at(-200), at(0), est) is None  # charging then: unknown
    assert soc.energy_at(Meter(True, 11.0, at(-60), None, None), at(-30), at(0), est) is None
    # charging started after t (seen by the charger's poll): nothing flowed between t and then
    assert soc.energy_at(Meter(True, 3.6, at(-100), 0.1, at(-300)), at(-200), at(0), Estimate()) == pytest.approx(0.0)


# --- the vehicle view ----------------------------------------------------------------------------


def car(**kw: object) -> CarData:
    base: dict[str, object] = dict(battery_level=30.2, range_km=150.0, is_plugged_in=True, is_charging=True,
                                   is_fully_charged=False, battery_capacity=CAP, charge_limit=80.0, charge_rate=10.5,
                                   max_current=None, data_age=at(0), updated=at(1))
    base.update(kw)
    return CarData(**base)  # type: ignore[arg-type]


def active(**kw: object) -> ChargerData:
    base: dict[str, object] = dict(charger_id="c1", is_plugged_in=True, is_charging=True,
                                   power_state=PowerState.PLUGGED_IN_CHARGING, charge_rate=11.0, max_current=32.0,
                                   charging_since=at(-600), updated=at(-600), session_energy=2.0,
                                   session_start=at(-600), changed_at=at(-600))
    base.update(kw)
    return ChargerData(**base)  # type: ignore[arg-type]


def test_after_the_charger_saw_the_cable_out_older_car_data_shows_it_out() -> None:
    stale = car(estimate=Estimate(31.2, at(200)), cable_out_at=at(200))
    view = vehicle_state(stale, None, at(245))
    assert (view.is_plugged_in, view.is_charging, view.power_delivery_state) == (False, False, PowerState.UNPLUGGED)
    assert (view.charge_rate, view.charge_time_remaining, view.plugged_in_charger_id) == (0.0, None, None)
    assert view.battery_level == 31.2 and view.last_updated == at(200)


def test_car_data_newer_than_the_cable_out_is_the_cars_own_again() -> None:
    fresh = car(data_age=at(300), updated=at(301), estimate=Estimate(31.2, at(300)), cable_out_at=at(200),
                battery_level=31.2, is_plugged_in=True, is_charging=True)
    view = vehicle_state(fresh, None, at(305))
    assert (view.is_plugged_in, view.is_charging) == (True, True)


def test_the_view_while_active_follows_the_charger_and_the_meter() -> None:
    view = vehicle_state(car(estimate=Estimate(30.2, at(0), 2.0)), active(session_energy=2.0 + kwh(1.0)), at(200))
    assert view.battery_level == 31.2 and view.plugged_in_charger_id == "c1"
    stopped_view = vehicle_state(car(estimate=Estimate(30.2, at(0), 2.0)),
                                 active(is_charging=False, charge_rate=0.0, power_state=PowerState.PLUGGED_IN_STOPPED,
                                        charging_since=None, session_energy=2.0 + kwh(1.0), changed_at=at(150)),
                                 at(200))
    assert (stopped_view.battery_level, stopped_view.is_charging, stopped_view.charge_rate) == (31.2, False, 0.0)
