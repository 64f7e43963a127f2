"""Pure physics of the simulated world, on a hand-driven clock (no sleeping, no HTTP)."""

from __future__ import annotations

import math

import pytest

from adapters.simulator.world import BOX_FIELDS, CAR_FIELDS, Box, Car, Clock, World
from tests.simulator.conftest import EPOCH, SPEED, RealTime, make_world


def pair(world: World, car: dict | None = None, box: dict | None = None) -> tuple[Car, Box]:
    """One smartcar car and one easee charger, not plugged."""
    sc = world.add_account("smartcar", [{"kind": "vehicle", "vin": "VIN1", **(car or {})}])
    ea = world.add_account("easee", [{"kind": "charger", "serialNumber": "EH000001", **(box or {})}])
    return world.cars[sc.devices[0]], world.boxes[ea.devices[0]]


def kw_of(amps: float, voltage: float = 230.0, phases: int = 3) -> float:
    return amps * voltage * phases / 1000


def at(world: World, hhmm: str) -> float:
    """Simulated time of HH:MM UTC on EPOCH's day."""
    h, m = hhmm.split(":")
    return EPOCH - 12 * 3600 + int(h) * 3600 + int(m) * 60


# -- clock ----------------------------------------------------------------------------------------
def test_clock_runs_speed_times_real_time_plus_manual_advances() -> None:
    real = RealTime()
    clock = Clock(speed=SPEED, real=real)
    t0 = clock.now()
    real.sleep(10)
    assert clock.now() - t0 == pytest.approx(10 * SPEED)
    clock.advance(42)
    assert clock.now() - t0 == pytest.approx(10 * SPEED + 42)


def test_clock_does_not_move_without_real_time_or_advance(world: World) -> None:
    assert world.clock.now() == world.clock.now() == EPOCH


# -- charging power ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("box_spec", "car_kw"),
    [
        ({"max_current": 32, "phases": 3}, 11.0),  # car-limited: 22.08 kW box, 11 kW car
        ({"max_current": 16, "phases": 1}, 11.0),  # box-limited: 3.68 kW
        ({"max_current": 10, "phases": 3}, 50.0),  # box-limited: 6.9 kW
        ({"max_current": 32, "phases": 3, "voltage": 240}, 7.4),  # car-limited
    ],
)
def test_plugged_car_charges_at_min_of_charger_and_car_limit(world: World, box_spec: dict, car_kw: float) -> None:
    car, box = pair(world, car={"max_charge_kw": car_kw}, box=box_spec)
    world.plug(car.vin, box.id)
    expected = min(kw_of(box.max_current, box.voltage, box.phases), car_kw)
    t = world.clock.now()
    assert world.delivering(box, car, t) == pytest.approx(expected)
    state = world.box_state(box, t)
    assert state["mode"] == 3
    assert state["kw"] == pytest.approx(round(expected, 2))
    assert state["amps"] == pytest.approx(round(expected * 1000 / (box.voltage * box.phases), 1))


def test_dynamic_current_lowers_the_charger_limit(world: World) -> None:
    car, box = pair(world, car={"max_charge_kw": 22})
    world.plug(car.vin, box.id)
    box.dynamic_current = 8
    assert world.box_kw(box) == pytest.approx(kw_of(8))
    assert world.delivering(box, car, world.clock.now()) == pytest.approx(kw_of(8))


def test_unplugged_charger_delivers_nothing_and_reports_disconnected(world: World) -> None:
    _car, box = pair(world)
    t = world.clock.now()
    assert world.delivering(box, None, t) == 0
    assert world.box_state(box, t) == {"mode": 1, "kw": 0.0, "reason": None, "amps": 0.0}


# -- energy over time -------------------------------------------------------------------------------
def test_soc_rises_with_energy_over_accelerated_time(world: World, real: RealTime) -> None:
    cap, soc0, kw = 50.0, 0.2, 11.0
    car, box = pair(world, car={"capacity_kwh": cap, "soc": soc0, "charge_limit": 0.9, "max_charge_kw": kw})
    world.plug(car.vin, box.id)
    real.sleep(30)  # 30 real seconds at speed 60 = 30 simulated minutes
    sim_s = 30 * SPEED
    world.settle(box, world.clock.now())
    energy = kw * sim_s / 3600
    assert box.session_energy == pytest.approx(energy)
    assert box.lifetime_energy == pytest.approx(energy)
    assert car.soc == pytest.approx(soc0 + energy / cap)
    assert car.power_kw == pytest.approx(kw)


def test_lazy_settling_gives_the_same_energy_as_frequent_settling() -> None:
    results = []
    for steps in (1, 12):
        w = make_world(RealTime(), speed=1)
        car, box = pair(w, car={"capacity_kwh": 60, "soc": 0.1, "charge_limit": 1.0})
        w.plug(car.vin, box.id)
        for _ in range(steps):
            w.clock.advance(3600 / steps)
            w.settle(box, w.clock.now())
        results.append((car.soc, box.session_energy))
    assert results[0][0] == pytest.approx(results[1][0])
    assert results[0][1] == pytest.approx(results[1][1]) == pytest.approx(11.0)


def test_soc_stops_at_the_charge_limit(world: World) -> None:
    cap, soc0, limit = 50.0, 0.7, 0.8
    car, box = pair(world, car={"capacity_kwh": cap, "soc": soc0, "charge_limit": limit})
    world.plug(car.vin, box.id)
    world.clock.advance(4 * 3600)  # far more than the 5 kWh of room needs at 11 kW
    t = world.clock.now()
    state = world.box_state(box, t)
    assert car.soc == pytest.approx(limit)
    assert box.session_energy == pytest.approx((limit - soc0) * cap)
    assert state == {"mode": 4, "kw": 0.0, "reason": 3, "amps": 0.0}
    assert car.power_kw == 0
    world.clock.advance(3600)
    world.settle(box, world.clock.now())
    assert car.soc == pytest.approx(limit)
    assert box.session_energy == pytest.approx((limit - soc0) * cap)


def test_power_tapers_above_taper_from_down_to_the_floor(world: World) -> None:
    car, box = pair(world, car={"capacity_kwh": 40, "soc": 0.5, "charge_limit": 1.0, "max_charge_kw": 11.0,
                                "taper_from": 0.6, "taper_floor": 0.3})
    world.plug(car.vin, box.id)
    t = world.clock.now()
    assert world.delivering(box, car, t) == pytest.approx(11.0)  # flat below 60 %
    car.soc = 0.8  # halfway down the taper: 1 - 0.7 * 0.5 of the onboard power
    assert world.delivering(box, car, t) == pytest.approx(11.0 * 0.65)
    car.soc = 0.9999
    assert world.delivering(box, car, t) == pytest.approx(11.0 * 0.3, abs=0.01)


def test_a_tapering_car_takes_longer_and_lazy_reads_agree_with_frequent_ones() -> None:
    ends = []
    for steps in (1, 40):
        w = make_world(RealTime(), speed=1)
        car, box = pair(w, car={"capacity_kwh": 20, "soc": 0.5, "charge_limit": 1.0, "taper_from": 0.7,
                                "taper_floor": 0.2})
        w.plug(car.vin, box.id)
        for _ in range(steps):
            w.clock.advance(3600 / steps)
            w.settle(box, w.clock.now())
        ends.append((car.soc, box.session_energy))
    # 10 kWh of room at 11 kW would take 55 min flat; the taper makes one hour not enough
    assert ends[0][0] < 0.99 and ends[0][1] < 10.0
    assert ends[0][0] == pytest.approx(ends[1][0], abs=2e-3)
    assert ends[0][1] == pytest.approx(ends[1][1], abs=0.05)


def test_losses_meter_more_grid_energy_than_the_battery_gains(world: World) -> None:
    car, box = pair(world, car={"capacity_kwh": 50, "soc": 0.2, "charge_limit": 0.6, "charge_efficiency": 0.8})
    world.plug(car.vin, box.id)
    world.clock.advance(1800)
    world.settle(box, world.clock.now())
    assert box.session_energy == pytest.approx(5.5)  # 11 kW for half an hour, metered at the grid
    assert car.soc == pytest.approx(0.2 + 5.5 * 0.8 / 50)
    world.clock.advance(4 * 3600)  # to its own limit: 20 kWh in the battery, 25 from the grid
    state = world.box_state(box, world.clock.now())
    assert car.soc == pytest.approx(0.6) and box.session_energy == pytest.approx(25.0)
    assert state["mode"] == 4 and state["kw"] == 0.0


def test_a_cold_battery_is_derated_for_its_first_minutes_of_each_plug_in(world: World) -> None:
    car, box = pair(world, car={"capacity_kwh": 100, "soc": 0.2, "cold_derate": 0.5, "cold_minutes": 30})
    world.plug(car.vin, box.id)
    t0 = world.clock.now()
    assert world.delivering(box, car, t0) == pytest.approx(5.5)
    world.clock.advance(3600)
    world.settle(box, world.clock.now())
    assert box.session_energy == pytest.approx(5.5 * 0.5 + 11.0 * 0.5)  # cold half hour, then warm
    assert car.power_kw == pytest.approx(11.0)
    world.unplug(car.vin)
    world.plug(car.vin, box.id)  # a new plug-in starts cold again
    assert world.delivering(box, car, world.clock.now()) == pytest.approx(5.5)


def test_car_already_at_limit_does_not_charge(world: World) -> None:
    car, box = pair(world, car={"soc": 0.8, "charge_limit": 0.8})
    world.plug(car.vin, box.id)
    world.clock.advance(3600)
    assert world.box_state(box, world.clock.now())["mode"] == 4
    assert car.soc == pytest.approx(0.8)
    assert box.session_energy == 0


def test_unplug_stops_charging(world: World) -> None:
    cap, soc0 = 77.0, 0.3
    car, box = pair(world, car={"capacity_kwh": cap, "soc": soc0})
    world.plug(car.vin, box.id)
    world.clock.advance(1800)
    world.unplug(car.vin)
    soc_at_unplug = car.soc
    assert soc_at_unplug == pytest.approx(soc0 + 11 * 0.5 / cap)
    assert car.plugged_into is None and box.plugged_vin is None and car.power_kw == 0
    world.clock.advance(3600)
    world.settle(box, world.clock.now())
    world.settle_car(car, world.clock.now())
    assert car.soc == soc_at_unplug
    assert box.session_energy == pytest.approx(11 * 0.5)
    assert world.box_state(box, world.clock.now())["mode"] == 1


def test_plugging_a_new_session_resets_session_energy_not_lifetime(world: World) -> None:
    car, box = pair(world, car={"soc": 0.1, "charge_limit": 1.0})
    world.plug(car.vin, box.id)
    world.clock.advance(3600)
    world.unplug(car.vin)
    world.plug(car.vin, box.id)
    world.clock.advance(1800)
    world.settle(box, world.clock.now())
    assert box.session_energy == pytest.approx(5.5)
    assert box.lifetime_energy == pytest.approx(16.5)


def test_plugging_into_another_charger_unplugs_from_the_first(world: World) -> None:
    car, box = pair(world)
    other = world.boxes[world.add_account("easee", [{"kind": "charger", "serialNumber": "EH000002"}]).devices[0]]
    world.plug(car.vin, box.id)
    world.plug(car.vin, other.id)
    assert box.plugged_vin is None and other.plugged_vin == car.vin and car.plugged_into == other.id


def test_car_power_is_known_the_moment_it_is_plugged_in(world: World) -> None:
    car, box = pair(world)
    world.plug(car.vin, box.id)
    assert car.power_kw == pytest.approx(11.0)


# -- schedules ---------------------------------------------------------------------------------------
def test_schedule_outside_its_window_blocks_charging_until_overridden(world: World) -> None:
    # EPOCH is 12:00 UTC; the window is 22:00-06:00.
    car, box = pair(world, box={"schedule": {"start": "22:00", "stop": "06:00"}})
    world.plug(car.vin, box.id)
    t = world.clock.now()
    assert world.schedule_blocks(box, t)
    assert world.box_state(box, t) == {"mode": 2, "kw": 0.0, "reason": 1, "amps": 0.0}
    assert not world.schedule_blocks(box, at(world, "23:00"))
    assert not world.schedule_blocks(box, at(world, "05:59") + 86400)
    assert world.schedule_blocks(box, at(world, "06:00") + 86400)
    box.override = True
    assert world.box_state(box, t)["mode"] == 3


def test_charging_inside_the_schedule_window(world: World) -> None:
    car, box = pair(world, box={"schedule": {"start": "11:00", "stop": "13:00"}})
    world.plug(car.vin, box.id)
    assert world.box_state(box, world.clock.now())["mode"] == 3


def test_energy_when_the_schedule_window_opens_between_reads(world: World) -> None:
    car, box = pair(world, car={"soc": 0.1, "charge_limit": 1.0},
                    box={"schedule": {"start": "13:00", "stop": "23:00"}})
    world.plug(car.vin, box.id)  # 12:00, blocked
    world.clock.advance(2 * 3600)  # 14:00: one hour inside the window
    world.settle(box, world.clock.now())
    assert box.session_energy == pytest.approx(11.0)


def test_energy_when_the_schedule_window_closes_between_reads(world: World) -> None:
    car, box = pair(world, car={"soc": 0.1, "charge_limit": 1.0},
                    box={"schedule": {"start": "10:00", "stop": "12:30"}})
    world.plug(car.vin, box.id)  # 12:00, charging
    world.clock.advance(2 * 3600)  # 14:00: only half an hour was inside the window
    world.settle(box, world.clock.now())
    assert box.session_energy == pytest.approx(5.5)


def test_energy_over_days_counts_only_the_time_inside_an_overnight_window(world: World) -> None:
    car, box = pair(world, car={"capacity_kwh": 500, "soc": 0.0, "charge_limit": 1.0},
                    box={"schedule": {"start": "22:00", "stop": "06:00"}})
    world.plug(car.vin, box.id)  # day 1, 12:00
    world.clock.advance(2 * 86400)  # two nights of 8 hours each
    world.settle(box, world.clock.now())
    assert box.session_energy == pytest.approx(2 * 8 * 11.0)
    assert car.power_kw == 0  # 12:00 again: outside the window


def test_energy_is_the_same_however_often_a_scheduled_charger_is_read() -> None:
    results = []
    for steps in (1, 7, 48):
        w = make_world(RealTime(), speed=1)
        car, box = pair(w, car={"capacity_kwh": 60, "soc": 0.1, "charge_limit": 0.9},
                        box={"schedule": {"start": "13:30", "stop": "15:10"}})
        w.plug(car.vin, box.id)
        for _ in range(steps):
            w.clock.advance(6 * 3600 / steps)
            w.settle(box, w.clock.now())
        results.append(box.session_energy)
    assert results == pytest.approx([11.0 * 100 / 60] * 3)


def test_a_full_car_stops_counting_as_active_when_it_got_full(world: World) -> None:
    car, box = pair(world, car={"capacity_kwh": 11.0, "soc": 0.0, "charge_limit": 1.0})
    world.plug(car.vin, box.id)
    t0 = world.clock.now()
    world.clock.advance(5 * 3600)
    world.settle(box, world.clock.now())
    assert car.soc == pytest.approx(1.0)
    assert car.last_activity == pytest.approx(t0 + 3600)  # full after one hour at 11 kW


def test_requested_current_limits_the_car_and_can_be_raised_again(world: World) -> None:
    car, box = pair(world, car={"max_charge_kw": 22.0})
    world.plug(car.vin, box.id)
    t = world.clock.now()
    car.current_limit = 8
    assert world.delivering(box, car, t) == pytest.approx(kw_of(8))
    car.current_limit = 40  # above the car's own limit: the car's limit applies
    assert world.delivering(box, car, t) == pytest.approx(min(22.0, kw_of(32)))
    assert car.max_charge_kw == 22.0


# -- sleep ------------------------------------------------------------------------------------------
def test_a_woken_car_is_awake_only_after_the_delay(world: World) -> None:
    car, _box = pair(world, car={"sleeps": True, "sleep_after_s": 900})
    world.clock.advance(901)
    t = world.clock.now()
    assert world.asleep(car, t, set())
    world.wake(car, t, 5, set())
    assert world.asleep(car, t, set()) and world.asleep(car, t + 4.9, set())
    world.wake(car, t + 3, 5, set())  # a second wake does not postpone the first
    assert not world.asleep(car, t + 5, set())
    assert not world.asleep(car, t + 5 + 900, set())
    assert world.asleep(car, t + 5 + 901, set())


def test_waking_an_awake_car_keeps_it_awake(world: World) -> None:
    car, _box = pair(world, car={"sleeps": True})
    t = world.clock.now()
    world.wake(car, t, 5, set())
    assert not world.asleep(car, t, set())


def test_plugging_in_wakes_a_car_at_once(world: World) -> None:
    car, box = pair(world, car={"sleeps": True, "sleep_after_s": 900})
    world.clock.advance(1000)
    t = world.clock.now()
    world.wake(car, t, 8, set())
    world.plug(car.vin, box.id)
    assert not world.asleep(car, t, set())


# -- the vehicle cloud's cache -------------------------------------------------------------------------
def next_refresh(car: Car, t: float) -> float:
    """The first refresh boundary strictly after t."""
    return car.phase + (math.floor((t - car.phase) / car.vehicle_refresh_s) + 1) * car.vehicle_refresh_s


def test_vehicle_cloud_serves_a_cached_copy_until_the_next_refresh_boundary(world: World) -> None:
    car, box = pair(world, car={"vehicle_refresh_s": 300})
    t0 = world.clock.now()
    view, cached_at = world.car_view(car, t0)
    assert view["plugged"] is False and cached_at == t0
    world.plug(car.vin, box.id)
    # The charger sees the cable at once; the car cloud does not.
    assert world.box_state(box, t0)["mode"] == 3
    view, cached_at = world.car_view(car, t0)
    assert view["plugged"] is False and view["kw"] == 0 and cached_at == t0
    boundary = next_refresh(car, t0)
    assert t0 < boundary <= t0 + 300
    world.clock.advance(boundary - t0 - 1)
    view, cached_at = world.car_view(car, world.clock.now())
    assert view["plugged"] is False and cached_at == t0
    world.clock.advance(1)
    t1 = world.clock.now()
    view, cached_at = world.car_view(car, t1)
    assert cached_at == t1
    assert view["plugged"] is True and view["kw"] == pytest.approx(11.0)
    assert view["soc"] == pytest.approx(car.soc)


def test_cached_soc_lags_the_true_soc(world: World) -> None:
    car, box = pair(world, car={"vehicle_refresh_s": 600, "soc": 0.2, "charge_limit": 1.0})
    world.plug(car.vin, box.id)
    world.clock.advance(1)
    t0 = world.clock.now()
    first, _ = world.car_view(car, t0)
    soc0 = first["soc"]
    dt = next_refresh(car, t0) - t0 - 1
    world.clock.advance(dt)
    view, _ = world.car_view(car, world.clock.now())
    assert view["soc"] == soc0
    assert car.soc == pytest.approx(soc0 + 11 * dt / 3600 / car.capacity_kwh)


def test_car_that_pushes_on_change_shows_the_plug_at_once(world: World) -> None:
    car, box = pair(world, car={"pushes_on_change": True})
    t0 = world.clock.now()
    world.car_view(car, t0)
    world.plug(car.vin, box.id)
    view, cached_at = world.car_view(car, t0)
    assert view["plugged"] is True and cached_at == t0


# -- accounts ---------------------------------------------------------------------------------------
def test_accounts_reject_unknown_fields_bad_fractions_and_duplicates(world: World) -> None:
    with pytest.raises(ValueError, match="unknown vehicle fields"):
        world.add_account("smartcar", [{"kind": "vehicle", "colour": "red"}])
    with pytest.raises(ValueError, match="fractions"):
        world.add_account("smartcar", [{"kind": "vehicle", "soc": 1.5}])
    with pytest.raises(ValueError, match="kind"):
        world.add_account("easee", [{"kind": "vehicle"}])
    world.add_account("smartcar", [{"kind": "vehicle", "vin": "DUP"}])
    with pytest.raises(ValueError, match="vin already exists"):
        world.add_account("smartcar", [{"kind": "vehicle", "vin": "DUP"}])
    assert len(world.accounts) == 1  # failed calls left nothing behind


@pytest.mark.parametrize(("spec", "message"), [
    ({"soc": "half"}, "soc"), ({"vehicle_refresh_s": 0}, "vehicle_refresh_s"), ({"vin": 7}, "vin"),
    ({"can_start": "no"}, "can_start"), ({"year": True}, "year"), ({"soc": float("nan")}, "soc"),
])
def test_accounts_reject_badly_typed_vehicle_fields(world: World, spec: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        world.add_account("smartcar", [{"kind": "vehicle", **spec}])
    assert not world.accounts and not world.cars


def test_account_rules_name_real_fields() -> None:
    internal = {"id", "account", "plugged_into", "wants_charge", "current_limit", "power_kw", "charged_s",
                "last_activity", "awake_at", "phase", "cache", "cache_at", "dirty", "pending", "cable_log"}
    assert CAR_FIELDS == set(Car.__dataclass_fields__) - internal
    assert BOX_FIELDS - {"serialNumber"} <= set(Box.__dataclass_fields__)


def test_login_checks_vendor_password_and_revocation(world: World) -> None:
    acct = world.add_account("smartcar", [{"kind": "vehicle"}])
    assert world.login("smartcar", acct.username, "wrong", set()) is None
    assert world.login("easee", acct.username, acct.password, set()) is None
    assert world.login("smartcar", acct.username, acct.password, {acct.username}) is None
    token = world.login("smartcar", acct.username, acct.password, set())
    assert token and world.account_of(token) is acct
    assert world.account_of("nope") is None and world.account_of(None) is None


def test_generated_serial_numbers_never_collide() -> None:
    world = World(seed=7)
    for _ in range(3000):
        world.add_account("easee", [{"kind": "charger"}])
    assert len(world.boxes) == 3000
