"""A charging session's battery levels are the levels Tandem shows (`Vehicle.batteryLevel`: its
SoC estimate, which takes the charger's own readings and meter), not the car cloud's raw value."""

from __future__ import annotations

from datetime import datetime, timedelta

from app.db.models import Charger, ChargingSession, EvSystem, Vehicle
from app.settings import Settings
from app.smart import sessions
from app.smart.service import battery_of
from tests.unit.fixtures import household, now


async def plugged(t0: datetime, cloud_at: datetime) -> tuple[Vehicle, Charger, EvSystem]:
    """One car and one charger plugged in at `t0`, their EV system ACTIVE; the cloud last said 45 %
    (of 60 kWh) with data from `cloud_at`; the charger's session meter at 0 kWh, charging since `t0`."""
    h = await household(1, 1, plugged_in_at=t0)
    system = h.systems[("v1", "c1")]
    system.status = "ACTIVE"
    await system.save()
    vehicle, charger = h.vehicles["v1"], h.chargers["c1"]
    vehicle.battery_level, vehicle.battery_capacity, vehicle.data_age = 45.0, 60.0, cloud_at
    vehicle.est_level, vehicle.est_at, vehicle.est_energy = 45.0, cloud_at, None
    await vehicle.save()
    charger.session_energy, charger.charging_changed_at = 0.0, t0
    await charger.save()
    return vehicle, charger, system


async def test_start_and_end_levels_are_tandems_estimate_not_the_lagging_cloud(database: Settings) -> None:
    t0 = now()
    vehicle, charger, system = await plugged(t0, t0 - timedelta(minutes=30))
    # an OCPP reading put the car at 70 % with the session meter at 0 kWh
    vehicle.est_level, vehicle.est_at, vehicle.est_energy = 70.0, t0, 0.0
    await vehicle.save()

    await sessions.on_charger(charger, system, {"plugged_in"}, t0)
    (session,) = await ChargingSession.filter(charger_id=charger.id)
    assert session.start_battery_level == battery_of(vehicle, charger, t0)[0] == 70.0

    later = t0 + timedelta(minutes=40)
    charger.session_energy = 6.0  # delivered since the reading: the estimate moved on
    await charger.save()
    expected = battery_of(vehicle, charger, later)[0]
    assert expected is not None and expected > 75.0
    charger.is_plugged_in = False
    await sessions.on_charger(charger, system, {"unplugged"}, later)
    await session.refresh_from_db()
    assert session.end_battery_level == expected


async def test_a_start_level_from_a_reading_older_than_the_session_is_taken_again_from_a_newer_one(
        database: Settings) -> None:
    """Identified at once (a card) while the only reading is the lagging cloud's 45 %, from before
    the plug-in: the start level is 45 %. The charger's first SoC (70 %, with 1.2 kWh delivered since
    the plug-in) makes it 70 − 1.2/60 = 68 %; later readings leave it there."""
    t0 = now()
    vehicle, charger, system = await plugged(t0, t0 - timedelta(minutes=30))
    await sessions.on_charger(charger, system, {"plugged_in"}, t0)
    (session,) = await ChargingSession.filter(charger_id=charger.id)
    assert session.start_battery_level == 45.0

    t1 = t0 + timedelta(minutes=7)
    charger.session_energy = 1.2
    await charger.save()
    vehicle.est_level, vehicle.est_at, vehicle.est_energy = 70.0, t1, 1.2
    await vehicle.save()
    await sessions.on_charger(charger, system, set(), t1)
    await session.refresh_from_db()
    assert session.start_battery_level == 68.0

    t2 = t0 + timedelta(minutes=20)
    charger.session_energy = 3.6
    await charger.save()
    vehicle.est_level, vehicle.est_at, vehicle.est_energy = 75.0, t2, 3.6  # the car's own rounding differs
    await vehicle.save()
    await sessions.on_charger(charger, system, set(), t2)
    await session.refresh_from_db()
    assert session.start_battery_level == 68.0 and session.energy_kwh == 3.6


async def test_a_car_identified_after_charging_began_starts_below_its_level_then(database: Settings) -> None:
    """The EV system became ACTIVE 6 kWh into the session (a lagging cloud, no card): the session
    started at the level then less those 6 kWh, 80 − 6/60 = 70 %, not at 80 %."""
    t0 = now()
    vehicle, charger, system = await plugged(t0, t0 - timedelta(minutes=30))
    await sessions.on_charger(charger, None, {"plugged_in"}, t0)  # not yet known to be ACTIVE
    later = t0 + timedelta(minutes=35)
    charger.session_energy = 6.0
    await charger.save()
    vehicle.battery_level, vehicle.data_age = 80.0, later
    vehicle.est_level, vehicle.est_at, vehicle.est_energy = 80.0, later, 6.0
    await vehicle.save()
    await sessions.on_charger(charger, system, set(), later)
    (session,) = await ChargingSession.filter(charger_id=charger.id)
    assert (session.vehicle_id, session.start_battery_level) == (vehicle.id, 70.0)
