"""Keep a vehicle's merged charge data (app.domain.soc) as its devices report, in the poll's write.

Three moments change it: a vehicle poll with a newer reading (`vehicle_reading`), a visible change
of the charger the vehicle is ACTIVE with (`charger_changed`: the estimate is folded at the
charger's start, stop or unplug, and an unplug marks the cable out), and the pair being activated
or ended (`pair_changed`). Callers hold the user's pairing lock, so a poll's write and these see
one order.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from app.db.models import Charger, EvSystem, Vehicle
from app.domain import soc
from app.domain.chargestate import ChargerData
from app.services.state import car_data, charger_data

#: The vehicle columns this module keeps.
MERGED = ("est_level", "est_at", "est_energy", "est_floor", "cable_out_at")
#: Charger fields whose change alone the vehicle does not show (its meter shows through the level).
QUIET_CHARGER = {"last_seen", "session_energy", "state_updated_at"}


def _fields(est: soc.Estimate) -> dict[str, Any]:
    return {"est_level": est.level, "est_at": est.at, "est_energy": est.energy_kwh, "est_floor": est.floor}


def _diff(row: Vehicle, values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if getattr(row, k) != v}


async def active_charger(vehicle_id: str) -> Charger | None:
    """The charger the vehicle is ACTIVE with, if any."""
    return await Charger.filter(ev_systems__vehicle_id=vehicle_id, ev_systems__status="ACTIVE").first()


async def vehicle_reading(row: Vehicle, changes: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Estimate columns to write with a vehicle poll's `changes` (row: as before the poll)."""
    if not changes:
        return {}

    def value(name: str) -> Any:
        return changes.get(name, getattr(row, name))

    level = value("battery_level")
    if level is None:
        return {}
    at = soc.reading_time(value("data_age"), now)
    await _refresh(row)
    est = car_data(row).soc_estimate()
    if est.at is not None and at <= est.at and est.level is not None:
        return {}  # an older reading never overwrites a newer estimate (and needs no charger)
    lat, lon = value("latitude"), value("longitude")
    reading = soc.Reading(level, at, value("is_plugged_in"), value("charge_rate"),
                          (lat, lon) if lat is not None and lon is not None else None)
    previous = (row.latitude, row.longitude) if row.latitude is not None and row.longitude is not None else None
    charger = await active_charger(row.id)
    meter = charger_data(charger).meter() if charger else None
    new = soc.take_reading(est, reading, previous, meter, value("battery_capacity"), value("charge_limit"), now)
    return _diff(row, _fields(new))


async def _refresh(row: Vehicle) -> None:
    """Re-read the merged columns: a poller keeps its row for long, and charger polls and pairing
    write these columns through rows of their own."""
    fresh = await Vehicle.filter(id=row.id).values(*MERGED)
    for key, value in (fresh[0] if fresh else {}).items():
        setattr(row, key, value)


def _fold_meter(before: ChargerData, after: Charger) -> soc.Meter:
    """The charger as it was until now, with its meter read now when still the same session."""
    meter = before.meter()
    if after.plugged_in_at == before.session_start:
        meter = replace(meter, session_kwh=after.session_energy)
    return meter


def charger_reading(charger: Charger, changes: dict[str, Any], now: datetime) -> soc.Reading | None:
    """The vehicle's battery level as its ACTIVE charger reports it (OCPP MeterValues with SoC), when
    this poll brought a new one: a reading like the car's own, dated when it was received (an OCPP
    charger pushes its MeterValues as it takes them); None otherwise."""
    if "session_soc" not in changes or charger.session_soc is None or not charger.is_plugged_in:
        return None
    return soc.Reading(charger.session_soc, now, True, charger.charge_rate, None)


async def charger_changed(charger: Charger, before: ChargerData, changes: dict[str, Any], transitions: set[str],
                          now: datetime) -> str | None:
    """After a charger poll that changed something: take the charger's own SoC reading (OCPP) into
    the ACTIVE vehicle's estimate, else fold the estimate where the charger started, stopped, was
    unplugged or changed its rate (without a meter), and mark an unplug. Returns the ACTIVE
    vehicle's id when what it shows changed (its chargeState follows the charger; its battery level
    the charger's meter and readings), else None."""
    system = await EvSystem.filter(charger_id=charger.id, status="ACTIVE").first()
    if system is None:
        return None
    vehicle = await Vehicle.filter(id=system.vehicle_id).first()
    if vehicle is None:
        return None
    est = car_data(vehicle).soc_estimate()
    capacity, limit = vehicle.battery_capacity, vehicle.charge_limit
    shown = soc.shown_level(est, before.meter(), capacity, limit, now)
    values: dict[str, Any] = {}
    rate_changed = before.session_energy is None and before.charge_rate != charger.charge_rate
    reading = charger_reading(charger, changes, now)
    if reading is not None:  # re-bases the estimate at the charger's reading, folding what came before
        est = soc.take_reading(est, reading, None, _fold_meter(before, charger), capacity, limit, now)
        values.update(_fields(est))
    elif transitions or rate_changed:
        est = soc.fold(est, _fold_meter(before, charger), capacity, limit, now,
                       charger.session_energy if charger.is_plugged_in else None)
        values.update(_fields(est))
    if "unplugged" in transitions:
        values["cable_out_at"] = now
    await _save(vehicle, _diff(vehicle, values))
    moved = soc.shown_level(est, charger_data(charger).meter(), capacity, limit, now) != shown
    return vehicle.id if moved or set(changes) - QUIET_CHARGER else None


async def pair_changed(system: EvSystem, now: datetime) -> None:
    """An EV system was activated (its charger's meter becomes the estimate's reference) or ended (the
    estimate is folded, so what the charger delivered stays when the vehicle stands alone)."""
    vehicle = await Vehicle.filter(id=system.vehicle_id).first()
    charger = await Charger.filter(id=system.charger_id).first()
    if vehicle is None or charger is None:
        return
    est = car_data(vehicle).soc_estimate()
    meter = charger_data(charger).meter()
    if system.status == "ACTIVE":
        if est.at is not None:
            est = replace(est, energy_kwh=soc.energy_at(meter, est.at, now, replace(est, energy_kwh=None)))
    else:
        est = soc.fold(est, meter, vehicle.battery_capacity, vehicle.charge_limit, now, None)
    await _save(vehicle, _diff(vehicle, _fields(est)))


async def _save(vehicle: Vehicle, values: dict[str, Any]) -> None:
    if not values:
        return
    for key, value in values.items():
        setattr(vehicle, key, value)
    await vehicle.save(update_fields=list(values))

