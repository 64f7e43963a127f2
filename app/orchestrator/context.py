"""Everything one decision about an action needs, loaded fresh: the target, its EV systems, and
the effective (charger-authoritative when ACTIVE) plug and charge state."""

from __future__ import annotations

from dataclasses import dataclass

from adapters.types import Cap
from app.db.models import ChargeAction, Charger, Vehicle
from app.domain import capabilities as caps
from app.errors import NotFoundError
from app.orchestrator.preconditions import Facts, current_range
from app.services import state
from app.services.graph import UserGraph, load_graph

KIND_CAP = {"START": Cap.START_CHARGING, "STOP": Cap.STOP_CHARGING, "SET_MAX_CURRENT": Cap.SET_MAX_CURRENT}


@dataclass
class Target:
    """An action's target with what surrounds it."""

    graph: UserGraph
    vehicle: Vehicle | None
    charger: Charger | None  # the target charger, or the vehicle's ACTIVE charger

    @property
    def plugged(self) -> bool | None:
        """Effective plug state (the charger is authoritative for the cable)."""
        if self.charger is not None:
            return self.charger.is_plugged_in
        return self.vehicle.is_plugged_in if self.vehicle else None

    @property
    def charging(self) -> bool | None:
        """Effective charging state."""
        if self.charger is not None:
            return self.charger.is_charging
        return self.vehicle.is_charging if self.vehicle else None

    def max_current(self) -> float | None:
        """Effective max current."""
        if self.charger is not None:
            return self.charger.max_current
        return self.vehicle.max_current if self.vehicle else None

    def full(self) -> bool | None:
        """Whether the battery is at its charge limit: the charger reporting COMPLETE, else the
        vehicle's (charger-synchronized) view."""
        if self.vehicle is None:
            assert self.charger is not None
            return True if self.charger.power_state == "PLUGGED_IN_COMPLETE" else None
        return state.vehicle_charge_state(self.graph, self.vehicle).is_fully_charged

    def facts(self, kind: str) -> Facts:
        """What the up-front checks need (app.orchestrator.preconditions)."""
        has_path = bool(self.paths(kind))
        later = False
        if not has_path and self.vehicle is not None:
            chargers = {c.id: state.charger_facts(c) for c in self.graph.chargers.values()}
            later = caps.resolve_one(state.vehicle_facts(self.vehicle), KIND_CAP[kind],
                                     state.system_facts(self.graph), chargers).is_capable
        return Facts(kind=kind, has_path=has_path, capable_when_plugged=later, plugged=self.plugged,
                     charging=self.charging, full=self.full() if kind == "START" else None,
                     charge_limit=self.vehicle.charge_limit if self.vehicle else None,
                     max_current=self.max_current(), charger_target=self.vehicle is None)

    def current_range(self) -> tuple[tuple[float, float], str]:
        """The currents this target takes (A) and what sets the range, in words."""
        if self.charger is not None:
            name = self.charger.serial_number or self.charger.model or "the charger"
            return current_range(self.charger.hw_max_current), f"charger {name}"
        return current_range(None), "this vehicle"

    def paths(self, kind: str) -> list[caps.Path]:
        """Candidate paths for this kind of action."""
        cap = KIND_CAP[kind]
        if self.vehicle is None:
            assert self.charger is not None
            return [caps.Path("CHARGER", self.charger.id)] if cap.value in self.charger.capabilities else []
        chargers = {c.id: state.charger_facts(c) for c in self.graph.chargers.values()}
        return caps.route_for(state.vehicle_facts(self.vehicle), state.system_facts(self.graph), chargers, cap)


async def load_target(user_id: str, target_type: str, target_id: str) -> Target:
    """The target of an action (NotFoundError when it is not the user's)."""
    graph = await load_graph(user_id)
    if target_type == "VEHICLE":
        vehicle = graph.vehicles.get(target_id)
        if vehicle is None:
            raise NotFoundError("No such vehicle.")
        active = graph.active_for_vehicle(target_id)
        charger = graph.chargers.get(active.charger_id) if active else None
        return Target(graph, vehicle, charger)
    charger = graph.chargers.get(target_id)
    if charger is None:
        raise NotFoundError("No such charger.")
    return Target(graph, None, charger)


async def target_of(action: ChargeAction) -> Target:
    """Reload an action's target."""
    return await load_target(action.user_id, action.target_type, action.target_id)  # type: ignore[attr-defined]


def achieved(action: ChargeAction, target: Target) -> bool:
    """Whether device data shows the requested state. The charger is authoritative; while it
    cannot tell (offline), the vehicle's own data counts once it is from after the request."""
    if action.kind in ("START", "STOP"):
        charging = target.charging
        car = target.vehicle
        if charging is None and target.charger is not None and car is not None and car.data_age is not None \
                and car.data_age >= action.created_at:
            charging = car.is_charging
        return charging is (action.kind == "START")
    current = target.max_current()
    return current is not None and action.max_current is not None and abs(current - action.max_current) < 0.5


def not_capable_detail(target: Target, kind: str, when_plugged: bool = True) -> str:
    """What would unlock an action with no capable path (`when_plugged`: a linked charger
    would carry it once plugged together)."""
    verb = {"START": "start charging", "STOP": "stop charging", "SET_MAX_CURRENT": "set its charging current"}[kind]
    if target.vehicle is None:
        return f"This charger cannot {verb}."
    if not target.graph.chargers:
        return f"This vehicle cannot {verb} itself. Link a charger to unlock it."
    if target.charger is None and not when_plugged:
        return f"Neither this vehicle nor your linked chargers can {verb}."
    if target.charger is None:
        return (f"This vehicle cannot {verb} itself. Plug it into your linked charger: commands go through the "
                "charger once Tandem confirms the two are plugged together.")
    return f"Neither this vehicle nor its charger can {verb}."
