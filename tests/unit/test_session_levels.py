"""A charging session's battery levels are the levels Tandem shows (`Vehicle.batteryLevel`: its
SoC estimate, which takes the charger's own readings and meter), not the car cloud's raw value."""

from __future__ import annotations

from datetime import timedelta

from app.db.models import ChargingSession
from app.settings import Settings
from app.smart import sessions
from app.smart.service import battery_of
from tests.unit.fixtures import household, now


async def test_start_and_end_levels_are_tandems_estimate_not_the_lagging_cloud(database: Settings) -> None:
    t0 = now()
    h = await household(1, 1, plugged_in_at=t0)
    system = h.systems[("v1", "c1")]
    system.status = "ACTIVE"
    await system.save()
    vehicle, charger = h.vehicles["v1"], h.chargers["c1"]
    # the cloud last said 45 %; an OCPP reading put the car at 70 % with the session meter at 0 kWh
    vehicle.battery_level, vehicle.battery_capacity, vehicle.data_age = 45.0, 60.0, t0 - timedelta(minutes=30)
    vehicle.est_level, vehicle.est_at, vehicle.est_energy = 70.0, t0, 0.0
    await vehicle.save()
    charger.session_energy = 0.0
    await charger.save()

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
