"""Rows → domain facts → what the API shows: resolved capabilities, synchronized charge state,
and location. Pure over an already loaded `UserGraph` (no queries)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from adapters.types import Cap, PowerState
from app.db.models import Charger, Vehicle
from app.domain import capabilities as caps
from app.domain.chargestate import CarData, ChargerData, ChargeView, vehicle_state
from app.domain.soc import Estimate
from app.services.graph import UserGraph

CapabilityView = caps.Resolved


@dataclass(frozen=True)
class LocationView:
    """A vehicle's location: its own GPS, else its ACTIVE charger's Location."""

    latitude: float | None
    longitude: float | None
    location_id: str | None
    last_updated: datetime | None


def vehicle_facts(v: Vehicle) -> caps.VehicleFacts:
    """Capability facts of a vehicle row."""
    return caps.VehicleFacts(v.id, frozenset(Cap(c) for c in v.capabilities if c in Cap._value2member_map_),
                             needs_relink=v.poll_error == "AUTH_REVOKED")


def charger_facts(c: Charger) -> caps.ChargerFacts:
    """Capability facts of a charger row."""
    return caps.ChargerFacts(c.id, frozenset(Cap(x) for x in c.capabilities if x in Cap._value2member_map_),
                             location_id=c.location_id,  # type: ignore[attr-defined]
                             needs_relink=c.poll_error == "AUTH_REVOKED")


def system_facts(graph: UserGraph) -> list[caps.SystemFacts]:
    """Every EV system of the graph as facts."""
    return [caps.SystemFacts(s.vehicle_id, s.charger_id, s.status == "ACTIVE")
            for s in graph.systems]


def vehicle_capabilities(graph: UserGraph, v: Vehicle) -> dict[str, caps.Resolved]:
    """Resolved capabilities keyed by their GraphQL names."""
    chargers = {c.id: charger_facts(c) for c in graph.chargers.values()}
    resolved = caps.resolve_vehicle(vehicle_facts(v), system_facts(graph), chargers)
    return {cap.value: r for cap, r in resolved.items()}


def charger_capabilities(graph: UserGraph, c: Charger) -> dict[str, caps.Resolved]:
    """A charger's own capabilities keyed by GraphQL names."""
    return {cap.value: r for cap, r in caps.resolve_charger(charger_facts(c)).items()}


def estimate_of(v: Vehicle) -> Estimate:
    """The vehicle row's stored SoC estimate."""
    return Estimate(v.est_level, v.est_at, v.est_energy, v.est_floor)


def car_data(v: Vehicle) -> CarData:
    """The vehicle row's charge data."""
    return CarData(v.battery_level, v.range_km, v.is_plugged_in, v.is_charging, v.is_fully_charged,
                   v.battery_capacity, v.charge_limit, v.charge_rate, v.max_current, v.data_age, v.state_updated_at,
                   estimate_of(v), v.cable_out_at)


def charger_data(c: Charger) -> ChargerData:
    """The charger row's charge data."""
    return ChargerData(c.id, c.is_plugged_in, c.is_charging, PowerState(c.power_state), c.charge_rate,
                       c.max_current, c.charging_changed_at if c.is_charging else None, c.state_updated_at,
                       c.session_energy, c.plugged_in_at, c.charging_changed_at)


def vehicle_charge_state(graph: UserGraph, v: Vehicle, now: datetime | None = None) -> ChargeView:
    """The vehicle's charge state, synchronized with its ACTIVE charger."""
    active = graph.active_for_vehicle(v.id)
    charger = graph.chargers.get(active.charger_id) if active else None
    return vehicle_state(car_data(v), charger_data(charger) if charger else None, now or datetime.now(UTC))


def vehicle_location(graph: UserGraph, v: Vehicle) -> LocationView:
    """GPS when the car reports it; else, while plugged into a located charger, that Location."""
    active = graph.active_for_vehicle(v.id)
    charger = graph.chargers.get(active.charger_id) if active else None
    loc = graph.charger_location(charger) if charger else None
    if v.latitude is not None and v.longitude is not None:
        return LocationView(v.latitude, v.longitude, loc.id if loc else None, v.location_updated)
    if loc is not None and active is not None:
        return LocationView(loc.latitude, loc.longitude, loc.id, active.activated_at)
    return LocationView(None, None, None, None)
