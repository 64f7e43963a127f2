"""Typed snapshots adapters return. Nothing vendor-shaped leaves an adapter."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class Cap(enum.StrEnum):
    """Capabilities a device may have. Values match the GraphQL capability field names."""

    INFORMATION = "information"
    CHARGE_STATE = "chargeState"
    LOCATION = "location"
    START_CHARGING = "startCharging"
    STOP_CHARGING = "stopCharging"
    SET_MAX_CURRENT = "setMaxCurrent"
    WAKE_UP = "wakeUp"
    OVERRIDE_SCHEDULE = "overrideSchedule"


class PowerState(enum.StrEnum):
    """Enode-style powerDeliveryState (the GraphQL enum uses the same names)."""

    UNKNOWN = "UNKNOWN"
    UNPLUGGED = "UNPLUGGED"
    PLUGGED_IN_INITIALIZING = "PLUGGED_IN_INITIALIZING"
    PLUGGED_IN_CHARGING = "PLUGGED_IN_CHARGING"
    PLUGGED_IN_STOPPED = "PLUGGED_IN_STOPPED"
    PLUGGED_IN_COMPLETE = "PLUGGED_IN_COMPLETE"
    PLUGGED_IN_NO_POWER = "PLUGGED_IN_NO_POWER"
    PLUGGED_IN_FAULT = "PLUGGED_IN_FAULT"


@dataclass(frozen=True)
class Session:
    """What an adapter needs to act for one vendor account (tokens; never logged)."""

    vendor: str
    access_token: str
    expires_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class VehicleInfo:
    """Static facts about a vehicle, found when linking."""

    vendor_id: str
    vin: str | None
    brand: str | None
    model: str | None
    year: int | None
    battery_capacity_kwh: float | None
    capabilities: frozenset[Cap]


@dataclass(frozen=True)
class ChargerInfo:
    """Static facts about a charger, found when linking."""

    vendor_id: str
    serial_number: str | None
    brand: str | None
    model: str | None
    max_current: float | None
    capabilities: frozenset[Cap]


@dataclass(frozen=True)
class VehicleSnapshot:
    """One poll of a vehicle. None means the vendor could not tell."""

    battery_level: float | None  # percent 0-100
    range_km: float | None
    is_plugged_in: bool | None
    is_charging: bool | None
    is_fully_charged: bool | None
    charge_limit: float | None  # percent 0-100
    charge_rate_kw: float | None
    battery_capacity_kwh: float | None
    max_current: float | None
    latitude: float | None
    longitude: float | None
    data_age: datetime | None  # when the vendor cloud last heard from the car


@dataclass(frozen=True)
class ChargerSnapshot:
    """One poll of a charger."""

    is_online: bool
    is_plugged_in: bool | None
    is_charging: bool | None
    power_state: PowerState
    charge_rate_kw: float | None
    max_current: float | None
    session_energy_kwh: float | None
    schedule_blocking: bool  # a schedule or mode holds the car waiting
    data_age: datetime | None
    #: The idTag (RFID card, ISO 15118 id) the session was started with, where the charger says.
    id_tag: str | None = None
    #: The car's SoC (percent) as the charger reports it (OCPP MeterValues), where it does.
    vehicle_soc: float | None = None
    #: The vendor's own name for the plug session's charging (OCPP: its latest transaction id),
    #: where it has one: a different one after an outage is another session.
    session_key: str | None = None
