"""app.services.merge against the database: the merged vehicle columns follow polls and pairing,
whichever row instance wrote them last (a poller keeps its rows for long)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adapters.types import PowerState
from app.db.models import Charger, Client, EvSystem, User, Vehicle, VendorLink
from app.services import merge
from app.services.state import car_data, charger_data
from app.settings import Settings

T0 = datetime(2026, 3, 1, 18, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


async def pair() -> tuple[Vehicle, Charger, EvSystem]:
    """A car ACTIVE with a charging charger: 45.4 % read at T0, the meter at 0 kWh then."""
    client = await Client.create(name="t", secret_hash="x" * 64)
    user = await User.create(client=client, external_id="u")
    link = await VendorLink.create(user=user, vendor="smartcar", account_key="k")
    v = await Vehicle.create(user=user, link=link, vendor="smartcar", vendor_id="v1", battery_level=45.4,
                             battery_capacity=100.0, charge_limit=90.0, is_plugged_in=True, is_charging=True,
                             data_age=at(0), latitude=59.91, longitude=10.75,
                             est_level=45.4, est_at=at(0), est_energy=0.0)
    c = await Charger.create(user=user, link=link, vendor="easee", vendor_id="c1", is_plugged_in=True,
                             is_charging=True, power_state=PowerState.PLUGGED_IN_CHARGING.value, charge_rate=3.7,
                             session_energy=1.3, plugged_in_at=at(-5), charging_changed_at=at(-5))
    s = await EvSystem.create(user=user, vehicle=v, charger=c, status="ACTIVE", activated_at=at(2))
    return v, c, s


async def reload(v: Vehicle) -> Vehicle:
    return await Vehicle.get(id=v.id)


async def test_a_stop_folds_the_estimate_and_an_older_reading_through_a_stale_row_cannot_undo_it(
        database: Settings) -> None:
    cached, charger, _ = await pair()  # the poller's copy, loaded before the stop
    before = charger_data(charger)
    charger.is_charging, charger.charge_rate, charger.power_state = False, 0.0, PowerState.PLUGGED_IN_STOPPED.value
    charger.charging_changed_at = at(1300)
    await charger.save()
    follower = await merge.charger_changed(charger, before, {"is_charging": False}, {"charging_stopped"}, at(1300))
    assert follower == cached.id
    folded = await reload(cached)
    assert (round(folded.est_level or 0, 1), folded.est_at, folded.est_energy) == (46.7, at(1300), 1.3)
    older = {"battery_level": 46.2, "data_age": at(1200), "is_charging": True}  # before the stop
    assert await merge.vehicle_reading(cached, older, at(1310)) == {}
    newer_lower = {"battery_level": 46.5, "data_age": at(1305), "is_charging": False}
    values = await merge.vehicle_reading(cached, newer_lower, at(1310))
    assert values["est_level"] == 46.5 and round(values["est_floor"], 1) == 46.7


async def test_an_unplug_marks_the_cable_out_and_the_end_of_the_pair_keeps_the_energy(database: Settings) -> None:
    vehicle, charger, system = await pair()
    before = charger_data(charger)
    charger.is_plugged_in, charger.is_charging, charger.charge_rate = False, False, 0.0
    charger.power_state = PowerState.UNPLUGGED.value
    await charger.save()
    await merge.charger_changed(charger, before, {"is_plugged_in": False}, {"unplugged", "charging_stopped"}, at(900))
    system.status = "ESTABLISHED"
    await system.save()
    await merge.pair_changed(system, at(905))
    v = await reload(vehicle)
    assert v.cable_out_at == at(900) and round(v.est_level or 0, 1) == 46.7 and v.est_energy is None
    view = car_data(v)
    assert view.soc_estimate().level == v.est_level


async def test_activation_references_the_chargers_meter_at_the_cars_reading(database: Settings) -> None:
    """Read at T0, plugged in before, charging from T0 + 5 s: 1.3 kWh at 3.7 kW later the pair is
    activated; the meter stood at 0 kWh when the car was read."""
    vehicle, charger, system = await pair()
    await Charger.filter(id=charger.id).update(charging_changed_at=at(5))
    await Vehicle.filter(id=vehicle.id).update(est_energy=None)
    await merge.pair_changed(system, at(5 + 1.3 / 3.7 * 3600))
    assert (await reload(vehicle)).est_energy == pytest.approx(0.0, abs=1e-6)


async def test_the_chargers_own_soc_reading_rebases_the_estimate(database: Settings) -> None:
    """An OCPP charger's MeterValues SoC is a reading like the car's: newer than the car's last
    (45.4 % at T0), it re-bases the estimate at its receipt with the meter there; a lower one later
    raises a floor (the car did not drive while plugged in), and the car's own older reading cannot
    undo it."""
    vehicle, charger, _ = await pair()
    before = charger_data(charger)
    charger.session_soc, charger.session_energy = 52.0, 2.0
    await charger.save()
    follower = await merge.charger_changed(charger, before, {"session_soc": 52.0, "session_energy": 2.0}, set(),
                                           at(600))
    v = await reload(vehicle)
    assert follower == vehicle.id
    assert (v.est_level, v.est_at, v.est_energy, v.est_floor) == (52.0, at(600), 2.0, None)
    assert await merge.vehicle_reading(v, {"battery_level": 47.0, "data_age": at(300)}, at(700)) == {}
    before = charger_data(charger)
    charger.session_soc = 50.0
    await charger.save()
    await merge.charger_changed(charger, before, {"session_soc": 50.0}, set(), at(660))
    v = await reload(vehicle)
    assert v.est_level == 50.0 and v.est_floor is not None and v.est_floor >= 52.0


async def test_a_charger_soc_unchanged_or_unplugged_is_no_reading(database: Settings) -> None:
    _, charger, _ = await pair()
    charger.session_soc = 60.0
    assert merge.charger_reading(charger, {"session_energy": 2.0}, at(60)) is None
    charger.is_plugged_in = False
    assert merge.charger_reading(charger, {"session_soc": 60.0}, at(60)) is None
    charger.is_plugged_in = True
    reading = merge.charger_reading(charger, {"session_soc": 60.0}, at(60))
    assert reading is not None and (reading.level, reading.at, reading.is_plugged_in) == (60.0, at(60), True)
