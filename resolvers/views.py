"""Build GraphQL objects from rows and the caller's graph (no queries here)."""

from __future__ import annotations

import strawberry

from app.db import models
from app.services import idtags, state
from app.services.graph import UserGraph
from schema.enums import (
    ActionKind,
    ActionState,
    ActionTargetType,
    AttemptVia,
    CapabilitySource,
    FailureType,
    PowerDeliveryState,
)
from schema.types import (
    ActionAttempt,
    Capability,
    ChargeAction,
    Charger,
    ChargerCapabilities,
    ChargerChargeState,
    ChargerInformation,
    FailureReason,
    Intervention,
    Vehicle,
    VehicleCapabilities,
    VehicleChargeState,
    VehicleInformation,
    VehicleLocation,
)


def _cap(resolved: state.CapabilityView) -> Capability:
    return Capability(
        is_capable=resolved.is_capable,
        source=CapabilitySource(resolved.source),
        interventions=[Intervention(id=i.id, title=i.title, description=i.description) for i in resolved.interventions],
    )


def _id(value: str | None) -> strawberry.ID | None:
    return strawberry.ID(value) if value else None


def vehicle_view(row: models.Vehicle, graph: UserGraph) -> Vehicle:
    """The GraphQL Vehicle: own data merged with its ACTIVE charger's, capabilities resolved."""
    return graph.derive("vehicle", row.id, lambda: _vehicle_view(row, graph))


def _vehicle_view(row: models.Vehicle, graph: UserGraph) -> Vehicle:
    learnt = [t.id_tag for t in idtags.learnt_of(row)] if idtags.learning() else []
    caps = state.vehicle_capabilities(graph, row)
    cs = state.vehicle_charge_state(graph, row)
    loc = state.vehicle_location(graph, row)
    return Vehicle(
        id=strawberry.ID(row.id),
        vendor=row.vendor,
        is_reachable=row.is_reachable,
        last_seen=row.last_seen,
        id_tags=[*(row.id_tags or []), *(t for t in learnt if t not in (row.id_tags or []))],
        learnt_id_tags=learnt,
        information=VehicleInformation(
            brand=row.brand, model=row.model, year=row.year, vin=row.vin,
            display_name=" ".join(p for p in (row.brand, row.model) if p) or None,
        ),
        charge_state=VehicleChargeState(
            battery_level=cs.battery_level, range=cs.range, is_plugged_in=cs.is_plugged_in,
            is_charging=cs.is_charging, is_fully_charged=cs.is_fully_charged,
            battery_capacity=cs.battery_capacity, charge_limit=cs.charge_limit, charge_rate=cs.charge_rate,
            charge_time_remaining=cs.charge_time_remaining, max_current=cs.max_current,
            power_delivery_state=PowerDeliveryState(cs.power_delivery_state),
            plugged_in_charger_id=_id(cs.plugged_in_charger_id), last_updated=cs.last_updated,
        ),
        location=VehicleLocation(
            latitude=loc.latitude, longitude=loc.longitude, location_id=_id(loc.location_id),
            last_updated=loc.last_updated,
        ),
        capabilities=VehicleCapabilities(
            information=_cap(caps["information"]), charge_state=_cap(caps["chargeState"]),
            location=_cap(caps["location"]), start_charging=_cap(caps["startCharging"]),
            stop_charging=_cap(caps["stopCharging"]), set_max_current=_cap(caps["setMaxCurrent"]),
        ),
        row=row,
        graph=graph,
    )


def charger_view(row: models.Charger, graph: UserGraph) -> Charger:
    """The GraphQL Charger."""
    return graph.derive("charger", row.id, lambda: _charger_view(row, graph))


def _charger_view(row: models.Charger, graph: UserGraph) -> Charger:
    caps = state.charger_capabilities(graph, row)
    active = graph.active_for_charger(row.id)
    return Charger(
        id=strawberry.ID(row.id),
        vendor=row.vendor,
        is_reachable=row.is_reachable,
        last_seen=row.last_seen,
        location_id=_id(row.location_id),  # type: ignore[attr-defined]
        information=ChargerInformation(brand=row.brand, model=row.model, serial_number=row.serial_number),
        charge_state=ChargerChargeState(
            is_plugged_in=row.is_plugged_in, is_charging=row.is_charging, charge_rate=row.charge_rate,
            max_current=row.max_current, power_delivery_state=PowerDeliveryState(row.power_state),
            plugged_in_vehicle_id=_id(active.vehicle_id if active else None),
            last_updated=row.state_updated_at,
        ),
        capabilities=ChargerCapabilities(
            information=_cap(caps["information"]), charge_state=_cap(caps["chargeState"]),
            start_charging=_cap(caps["startCharging"]), stop_charging=_cap(caps["stopCharging"]),
            set_max_current=_cap(caps["setMaxCurrent"]),
        ),
        row=row,
        graph=graph,
    )


def action_view(row: models.ChargeAction) -> ChargeAction:
    """The GraphQL ChargeAction (attempts must be prefetched)."""
    return ChargeAction(
        id=strawberry.ID(row.id),
        target_id=strawberry.ID(row.target_id),
        target_type=ActionTargetType(row.target_type),
        kind=ActionKind(row.kind),
        state=ActionState(row.state),
        max_current=row.max_current,
        failure_reason=(
            FailureReason(type=FailureType(row.failure_type), detail=row.failure_detail or "")
            if row.failure_type else None
        ),
        created_at=row.created_at,
        updated_at=row.updated_at,
        completed_at=row.completed_at,
        attempts=[
            ActionAttempt(via=AttemptVia(a.via), command=a.command, outcome=a.outcome, at=a.at, detail=a.detail)
            for a in sorted(row.attempts, key=lambda a: (a.at, a.id))  # type: ignore[attr-defined]
        ],
    )
