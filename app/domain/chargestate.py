"""The vehicle's charge state: its own, or synchronized with the charger it is plugged into.

With an ACTIVE EV system the charger is authoritative for the cable and power delivery, the
car for SoC and range; between car polls SoC is estimated from the energy the charger
delivered since the car's data was taken.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from adapters.types import PowerState


@dataclass(frozen=True)
class CarData:
    """A vehicle's last known data."""

    battery_level: float | None
    range_km: float | None
    is_plugged_in: bool | None
    is_charging: bool | None
    is_fully_charged: bool | None
    battery_capacity: float | None
    charge_limit: float | None
    charge_rate: float | None
    max_current: float | None
    data_age: datetime | None
    updated: datetime | None


@dataclass(frozen=True)
class ChargerData:
    """The charger's last known data (for an ACTIVE system)."""

    charger_id: str
    is_plugged_in: bool | None
    is_charging: bool | None
    power_state: PowerState
    charge_rate: float | None
    max_current: float | None
    charging_since: datetime | None
    updated: datetime | None


@dataclass(frozen=True)
class ChargeView:
    """The contract's Vehicle.chargeState."""

    battery_level: float | None
    range: float | None
    is_plugged_in: bool | None
    is_charging: bool | None
    is_fully_charged: bool | None
    battery_capacity: float | None
    charge_limit: float | None
    charge_rate: float | None
    charge_time_remaining: float | None
    max_current: float | None
    power_delivery_state: PowerState
    plugged_in_charger_id: str | None
    last_updated: datetime | None


def own_power_state(car: CarData) -> PowerState:
    """powerDeliveryState from the car's own data."""
    if car.is_plugged_in is None:
        return PowerState.UNKNOWN
    if not car.is_plugged_in:
        return PowerState.UNPLUGGED
    if car.is_charging:
        return PowerState.PLUGGED_IN_CHARGING
    if car.is_fully_charged:
        return PowerState.PLUGGED_IN_COMPLETE
    return PowerState.PLUGGED_IN_STOPPED


def time_remaining(capacity: float | None, soc: float | None, limit: float, rate: float | None,
                   charging: bool | None) -> float | None:
    """Minutes to the charge limit at the current rate."""
    if not charging or not capacity or soc is None or not rate or rate <= 0:
        return None
    return round(max(0.0, capacity * (limit - soc) / 100 / rate * 60), 1)


def vehicle_state(car: CarData, charger: ChargerData | None, now: datetime) -> ChargeView:
    """The vehicle's charge state (standalone when `charger` is None)."""
    limit = car.charge_limit if car.charge_limit is not None else 100.0
    if charger is None:
        return ChargeView(
            car.battery_level, car.range_km, car.is_plugged_in, car.is_charging, car.is_fully_charged,
            car.battery_capacity, car.charge_limit, car.charge_rate,
            time_remaining(car.battery_capacity, car.battery_level, limit, car.charge_rate, car.is_charging),
            car.max_current, own_power_state(car), None, car.updated,
        )
    soc, rng = estimate_soc(car, charger, now, limit)
    charging = charger.is_charging
    rate = charger.charge_rate if charging else 0.0
    if car.charge_rate is not None and charging and charger.charge_rate is None:
        rate = car.charge_rate
    full = is_full(car, charger, soc, limit)
    state = charger.power_state
    if full and not charging and charger.is_plugged_in:
        state = PowerState.PLUGGED_IN_COMPLETE
    updated = max((t for t in (car.updated, charger.updated) if t is not None), default=None)
    return ChargeView(
        soc, rng, charger.is_plugged_in, charging, full, car.battery_capacity, car.charge_limit, rate,
        time_remaining(car.battery_capacity, soc, limit, rate, charging),
        charger.max_current if charger.max_current is not None else car.max_current,
        state, charger.charger_id, updated,
    )


def is_full(car: CarData, charger: ChargerData, soc: float | None, limit: float) -> bool | None:
    """Whether the battery is at its charge limit: from the (estimated) SoC when known, else from
    what the devices say (charger COMPLETE, or the car's own flag while nothing is charging)."""
    if soc is not None:
        return soc >= limit - 0.5
    if charger.is_charging:
        return False
    if charger.power_state == PowerState.PLUGGED_IN_COMPLETE:
        return True
    return car.is_fully_charged


def estimate_soc(car: CarData, charger: ChargerData, now: datetime, limit: float
                 ) -> tuple[float | None, float | None]:
    """SoC and range now: the car's last values plus energy delivered since its data was taken."""
    if car.battery_level is None:
        return None, car.range_km
    if not charger.is_charging or not charger.charge_rate or not car.battery_capacity or car.data_age is None:
        return car.battery_level, car.range_km
    since = max(car.data_age, charger.charging_since or car.data_age)
    hours = max(0.0, (now - since).total_seconds() / 3600)
    gained = charger.charge_rate * hours / car.battery_capacity * 100
    soc = min(max(limit, car.battery_level), car.battery_level + gained)
    soc = round(soc, 1)
    rng = car.range_km * soc / car.battery_level if car.range_km and car.battery_level > 0 else car.range_km
    return soc, (round(rng, 1) if rng is not None else None)
