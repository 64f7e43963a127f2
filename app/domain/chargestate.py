"""The vehicle's charge state: its own, or synchronized with the charger it is plugged into.

With an ACTIVE EV system the charger is authoritative for the cable and power delivery (the
vehicle follows it at once), the car for SoC and range; between car polls SoC is estimated from
the energy the charger delivered (`app.domain.soc`). After the pair ends because the charger saw
the cable out, a car reading older than that keeps showing the cable out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from adapters.types import PowerState
from app.domain.soc import Estimate, Meter, shown_level


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
    #: Tandem's SoC estimate (empty until the first reading since it was introduced).
    estimate: Estimate = field(default_factory=Estimate)
    #: When a charger this car was ACTIVE with last saw its cable out.
    cable_out_at: datetime | None = None

    @property
    def reading_at(self) -> datetime | None:
        """When the car's own data was taken (its data age, else when it last changed)."""
        return self.data_age or self.updated

    def soc_estimate(self) -> Estimate:
        """The stored estimate, or one from the car's own last reading."""
        if self.estimate.level is not None or self.battery_level is None:
            return self.estimate
        return Estimate(self.battery_level, self.reading_at)


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
    session_energy: float | None = None
    session_start: datetime | None = None
    changed_at: datetime | None = None

    def meter(self) -> Meter:
        """What this charger says about the energy it delivers."""
        return Meter(self.is_charging, self.charge_rate, self.changed_at or self.charging_since,
                     self.session_energy, self.session_start)


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
        return _own_state(car, limit, now)
    soc = shown_level(car.soc_estimate(), charger.meter(), car.battery_capacity, car.charge_limit, now)
    rng = scaled_range(car, soc)
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
        state, charger.charger_id if charger.is_plugged_in is not False else None, updated,
    )


def _own_state(car: CarData, limit: float, now: datetime) -> ChargeView:
    """The car's own data, with Tandem's SoC estimate, and the cable out when a charger saw it out
    after the car's data was taken."""
    soc = shown_level(car.soc_estimate(), None, car.battery_capacity, car.charge_limit, now)
    rng = scaled_range(car, soc)
    out_at, reading_at = car.cable_out_at, car.reading_at
    if out_at is not None and (reading_at is None or reading_at < out_at):
        updated = max(out_at, car.updated) if car.updated else out_at
        return ChargeView(soc, rng, False, False, False, car.battery_capacity, car.charge_limit, 0.0, None,
                          car.max_current, PowerState.UNPLUGGED, None, updated)
    return ChargeView(
        soc, rng, car.is_plugged_in, car.is_charging, car.is_fully_charged,
        car.battery_capacity, car.charge_limit, car.charge_rate,
        time_remaining(car.battery_capacity, soc, limit, car.charge_rate, car.is_charging),
        car.max_current, own_power_state(car), None, car.updated,
    )


def scaled_range(car: CarData, soc: float | None) -> float | None:
    """The car's range scaled to the shown SoC (its own km per percent)."""
    if soc is None or car.range_km is None or not car.battery_level or soc == car.battery_level:
        return car.range_km
    return round(car.range_km * soc / car.battery_level, 1)


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
