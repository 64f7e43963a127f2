"""Learning a vehicle's charge curve in the service: samples from SoC readings while it charges,
the curve learned at the session's end, and plans that use it."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from app.db.models import Charger, Location, SmartChargingPolicy, Tariff, Vehicle, VehicleChargeCurve
from app.settings import Settings
from app.smart import hooks, learning, service
from app.smart.curve import ChargeCurve
from tests.unit.fixtures import household, now, runtime

#: The car's true behaviour: 7.4 kW onboard, tapering from 70 % to 30 % of that at 100 %; 40 kWh, 90 % efficient.
TRUE = ChargeCurve(max_kw=7.4, taper_start=70, taper_floor=0.3, capacity_kwh=40.0, efficiency=0.9)


async def active(plugged_at: datetime) -> tuple[Vehicle, Charger]:
    """A vehicle ACTIVE on a charging 32 A (22 kW) charger plugged in at `plugged_at`."""
    h = await household(1, 1, plugged_in_at=plugged_at)
    system = h.systems[("v1", "c1")]
    system.status = "ACTIVE"
    await system.save()
    charger = h.chargers["c1"]
    charger.hw_max_current, charger.max_current, charger.session_energy = 32.0, 32.0, 0.0
    await charger.save()
    return h.vehicles["v1"], charger


async def charge(vehicle: Vehicle, charger: Charger, soc: float, until: float, start: datetime,
                 every_s: float = 120.0, curve: ChargeCurve = TRUE) -> tuple[float, datetime]:
    """Charge the car along `curve` from `soc` to `until` (%), its readings every `every_s`
    recorded as the hooks do: the charger's power and meter, the car's SoC. Returns (SoC, time)."""
    t = start
    limit = learning.charger_limit_kw(charger)
    while soc < until:
        kw = curve.power_kw(soc, limit)
        assert charger.session_energy is not None
        charger.session_energy += kw * every_s / 3600
        soc = min(until, soc + kw * every_s / 3600 * curve.efficiency / curve.capacity_kwh * 100)
        t += timedelta(seconds=every_s)
        charger.charge_rate = curve.power_kw(soc, limit)  # what the charger reports as the car reads `soc`
        await learning.record(vehicle.id, charger, round(soc, 1), t, t)
    return soc, t


async def test_only_fresh_readings_of_a_charging_active_vehicle_are_samples(database: Settings) -> None:
    t0 = now()
    vehicle, charger = await active(t0)
    assert await learning.record(vehicle.id, charger, 40.0, t0, t0)
    assert not await learning.record(vehicle.id, charger, 40.1, t0, t0)  # the SoC did not move: nothing new
    assert not await learning.record(vehicle.id, charger, 45.0, t0 - timedelta(hours=1), t0)  # a stale reading
    assert not await learning.record(vehicle.id, charger, None, t0, t0)
    charger.is_charging, charger.charge_rate = False, 0.0
    assert not await learning.record(vehicle.id, charger, 46.0, t0, t0)
    row = await VehicleChargeCurve.get(vehicle_id=vehicle.id)
    assert row.samples == [[40.0, 7.0, 22.08]] and row.session_plugged_at == t0 and row.max_kw is None


async def test_samples_are_bounded_to_the_newest(database: Settings) -> None:
    t0 = now()
    vehicle, charger = await active(t0)
    for i in range(learning.MAX_SAMPLES + 10):
        assert await learning.record(vehicle.id, charger, 10 + i * 0.25, t0, t0)
    row = await VehicleChargeCurve.get(vehicle_id=vehicle.id)
    assert len(row.samples) == learning.MAX_SAMPLES
    assert row.samples[0][0] == pytest.approx(12.5) and row.samples[-1][0] == pytest.approx(10 + 409 * 0.25)


async def test_a_session_teaches_plateau_taper_and_capacity(database: Settings) -> None:
    t0 = now()
    vehicle, charger = await active(t0)
    assert await learning.stored(vehicle.id) is None
    _, t = await charge(vehicle, charger, 20.0, 99.0, t0)
    assert await learning.stored(vehicle.id) is None  # nothing is learned before the session ends
    assert await learning.session_ended(vehicle.id, t)
    learned = await learning.stored(vehicle.id)
    assert learned is not None and learned.sessions == 1
    c = learned.curve
    assert c.learned and c.max_kw == pytest.approx(7.4, rel=0.01)
    # grid kWh per SoC point is what counts: capacity under the curve's efficiency
    assert c.capacity_kwh / c.efficiency == pytest.approx(TRUE.capacity_kwh / TRUE.efficiency, rel=0.03)
    for soc in (60, 75, 85, 95):  # a 5 % bucket keeps its highest power: up to half a bucket early
        assert TRUE.fraction(soc) - 0.03 <= c.fraction(soc) <= TRUE.fraction(soc - 2.5) + 0.03, soc
    row = await VehicleChargeCurve.get(vehicle_id=vehicle.id)
    assert row.session_plugged_at is None and row.session_samples == 0
    assert not await learning.session_ended(vehicle.id, t)  # nothing recorded since: nothing to learn


async def test_a_short_session_teaches_nothing_and_a_missed_end_is_learned_at_the_next(database: Settings) -> None:
    t0 = now()
    vehicle, charger = await active(t0)
    await charge(vehicle, charger, 50.0, 51.0, t0)  # two samples
    assert not await learning.session_ended(vehicle.id, t0)
    assert await learning.stored(vehicle.id) is None
    _, t = await charge(vehicle, charger, 30.0, 90.0, t0)
    # the unplug was missed; the next plug-in's first reading learns from the session before
    charger.plugged_in_at, charger.session_energy = t + timedelta(hours=8), 0.0
    await charge(vehicle, charger, 40.0, 41.0, t + timedelta(hours=8))
    learned = await learning.stored(vehicle.id)
    assert learned is not None and learned.sessions == 1 and learned.curve.max_kw == pytest.approx(7.4, rel=0.01)


async def test_a_second_session_learns_on_from_the_first(database: Settings) -> None:
    t0 = now()
    vehicle, charger = await active(t0)
    _, t = await charge(vehicle, charger, 20.0, 80.0, t0)
    await learning.session_ended(vehicle.id, t)
    first = await learning.stored(vehicle.id)
    assert first is not None
    charger.plugged_in_at, charger.session_energy = t + timedelta(hours=10), 0.0
    _, t2 = await charge(vehicle, charger, 75.0, 99.0, t + timedelta(hours=10))
    await learning.session_ended(vehicle.id, t2)
    second = await learning.stored(vehicle.id)
    assert second is not None and second.sessions == 2
    # the top of the taper was only seen in the second session; the prior kept the rest
    assert TRUE.fraction(95) - 0.03 <= second.curve.fraction(95) <= TRUE.fraction(92.5) + 0.03
    assert first.curve.fraction(95) == pytest.approx(ChargeCurve().fraction(95))  # unseen: the defaults' taper
    assert second.curve.fraction(80) == pytest.approx(first.curve.fraction(80), abs=0.02)
    row = await VehicleChargeCurve.get(vehicle_id=vehicle.id)
    assert row.soc_gained == pytest.approx((80 - 20) + (99 - 75), abs=2)


async def smart_home(vehicle: Vehicle, charger: Charger, t0: datetime) -> SmartChargingPolicy:
    """The car at 30 % (a 40 kWh battery, its cloud says), the charger at a location with a flat
    tariff, and smart charging on to 90 % by 20 h from `t0`."""
    vehicle.battery_level, vehicle.battery_capacity, vehicle.data_age = 30.0, 40.0, t0
    await vehicle.save()
    location = await Location.create(user_id=vehicle.user_id, name="Home", latitude=59.9, longitude=10.7)
    charger.location_id = location.id  # type: ignore[attr-defined]
    await charger.save()
    await Tariff.create(location=location, currency="EUR", rates=[
        {"startAt": (t0 - timedelta(hours=1)).isoformat(), "endAt": (t0 + timedelta(days=2)).isoformat(),
         "price": 0.2}])
    return await SmartChargingPolicy.create(vehicle=vehicle, user_id=vehicle.user_id, is_enabled=True,
                                            deadline=(t0 + timedelta(hours=20)).strftime("%H:%M"),
                                            target_charge_limit=90.0)


async def test_plans_use_the_learned_curve_and_show_it(database: Settings) -> None:
    t0 = now()
    vehicle, charger = await active(t0 - timedelta(hours=1))
    policy = await smart_home(vehicle, charger, t0)
    before = await service.decide(vehicle, policy, t0)
    assert before.fields["curve"]["learned"] is False and before.fields["curve"]["maxKw"] == pytest.approx(22.08)

    # a session on another plug-in teaches the curve (the charger's plug-in time moves on)
    charger.plugged_in_at = t0 - timedelta(days=3)
    _, t = await charge(vehicle, charger, 10.0, 99.0, charger.plugged_in_at)
    await learning.session_ended(vehicle.id, t)
    charger.plugged_in_at = t0 - timedelta(hours=1)
    await charger.save()
    after = await service.decide(vehicle, policy, t0)
    view = after.fields["curve"]
    assert view["learned"] is True and view["sessions"] == 1 and view["maxKw"] == pytest.approx(7.4, rel=0.01)
    assert dict(view["points"])[50] == pytest.approx(7.4, rel=0.01)
    assert dict(view["points"])[90] == pytest.approx(TRUE.power_kw(90, 22.08), rel=0.1)
    # a 7.4 kW car that tapers takes far longer than the 22 kW the defaults assumed
    assert after.fields["estimated_finish_at"] - t0 > 2 * (before.fields["estimated_finish_at"] - t0)


async def test_polls_feed_samples_through_the_hooks_and_the_unplug_learns(database: Settings) -> None:
    rt = await runtime(database)
    t0 = now()
    vehicle, charger = await active(t0)
    energy = 0.0
    for i, soc in enumerate((30.0, 35.0, 40.0, 45.0, 50.0, 55.0)):
        t = t0 + timedelta(minutes=5 * i)
        energy += 7.0 * 5 / 60
        charger.session_energy = energy
        await charger.save()
        if i % 2:  # the charger's own SoC reading (OCPP MeterValues)
            charger.session_soc = soc
            await hooks.after_poll(rt, "charger", charger, set(), {"session_soc": soc}, t)
        else:  # the car's reading
            vehicle.battery_level, vehicle.data_age = soc, t
            await hooks.after_poll(rt, "vehicle", vehicle, set(), {"battery_level": soc}, t)
    row = await VehicleChargeCurve.get(vehicle_id=vehicle.id)
    assert [s[0] for s in row.samples] == [30.0, 35.0, 40.0, 45.0, 50.0, 55.0]
    assert await learning.stored(vehicle.id) is None
    charger.is_plugged_in, charger.is_charging, charger.charge_rate = False, False, 0.0
    await hooks.after_poll(rt, "charger", charger, {"unplugged"}, {"is_plugged_in": False}, t0 + timedelta(hours=1))
    learned = await learning.stored(vehicle.id)
    assert learned is not None and learned.curve.max_kw == pytest.approx(7.0)
    # 7 kW for 25 min between the first and last sample put 25 points in: 2.92 kWh at 90 % per 25 %
    assert learned.curve.capacity_kwh == pytest.approx(7.0 * 25 / 60 * 0.9 / 25 * 100, rel=0.01)


async def test_a_car_taking_less_than_its_curve_now_is_planned_slower_for_an_hour(database: Settings) -> None:
    t0 = now()
    vehicle, charger = await active(t0 - timedelta(hours=1))
    policy = await smart_home(vehicle, charger, t0)
    charger.plugged_in_at = t0 - timedelta(days=3)
    _, t = await charge(vehicle, charger, 10.0, 99.0, charger.plugged_in_at)
    await learning.session_ended(vehicle.id, t)
    charger.plugged_in_at = t0 - timedelta(hours=1)
    learned = await learning.stored(vehicle.id)
    assert learned is not None
    charger.charge_rate = 7.4
    assert service.derate_of(charger, learned.curve, 30.0, 22.08) == pytest.approx(1.0, abs=0.01)
    await charger.save()
    warm = await service.decide(vehicle, policy, t0)
    charger.charge_rate = 3.7  # a cold battery: half its power
    assert service.derate_of(charger, learned.curve, 30.0, 22.08) == pytest.approx(0.5, abs=0.01)
    await charger.save()
    cold = await service.decide(vehicle, policy, t0)
    # the first hour at half power: about half an hour's charge more to go (15 min slots)
    late = cold.fields["estimated_finish_at"] - warm.fields["estimated_finish_at"]
    assert timedelta(minutes=15) <= late <= timedelta(minutes=45)
    charger.charge_rate = 0.5
    assert service.derate_of(charger, learned.curve, 30.0, 22.08) == 0.3
    charger.is_charging = False
    assert service.derate_of(charger, learned.curve, 30.0, 22.08) == 1.0


async def test_plans_start_from_the_estimate_not_a_lagging_cloud(database: Settings) -> None:
    """The car's cloud last said 30 % an hour ago; since then the charger reported the car at 60 %
    (OCPP SoC, taken into Tandem's estimate): the plan needs the energy from 60 % (40 kWh usable,
    90 % efficient: 13.3 kWh to 90 %), and an estimate at the target ends it. With no estimate the
    cloud's 30 % stands (26.7 kWh)."""
    t0 = now()
    vehicle, charger = await active(t0 - timedelta(hours=2))
    policy = await smart_home(vehicle, charger, t0)
    charger.is_charging, charger.charge_rate = False, 0.0
    await charger.save()
    vehicle.data_age, vehicle.est_level, vehicle.est_at = t0 - timedelta(hours=1), None, None
    await vehicle.save()
    assert (await service.decide(vehicle, policy, t0)).fields["energy_kwh"] == pytest.approx(60 * 0.4 / 0.9, rel=0.01)
    vehicle.est_level, vehicle.est_at, vehicle.est_energy = 60.0, t0, charger.session_energy
    await vehicle.save()
    assert (await service.decide(vehicle, policy, t0)).fields["energy_kwh"] == pytest.approx(30 * 0.4 / 0.9, rel=0.01)
    vehicle.est_level = 90.0
    await vehicle.save()
    assert (await service.decide(vehicle, policy, t0)).state == "FULLY_CHARGED"
