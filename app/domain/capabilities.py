"""Capability resolution: which asset carries out each vehicle capability.

The whole policy is the table `UNLOCK`: for each capability a vehicle lacks, whether a charger
of one of its EV systems can provide it, and from what moment (ESTABLISHED or ACTIVE).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from adapters.types import Cap

Source = Literal["VEHICLE", "CHARGER", "NONE"]
Via = Literal["VEHICLE", "CHARGER"]


@dataclass(frozen=True)
class Intervention:
    """Something the user can do to unlock a capability."""

    id: str
    title: str
    description: str


LINK_CHARGER = Intervention("LINK_CHARGER", "Link your home charger",
                            "This vehicle cannot do this itself; linking your charger unlocks it.")
PLUG_IN = Intervention("PLUG_INTO_PAIRED_CHARGER", "Plug into your linked charger",
                       "Available while the vehicle is plugged into your linked charger.")
SET_LOCATION = Intervention("SET_CHARGER_LOCATION", "Set your charger's location",
                            "Give your charger a location so the vehicle's location can be known.")
RELINK = Intervention("RELINK_VENDOR", "Link the vehicle again",
                      "The vehicle's vendor no longer accepts Tandem's access; link the account again.")
RELINK_CHARGER = Intervention("RELINK_VENDOR", "Link the charger again",
                              "The charger's vendor no longer accepts Tandem's access; link the account again.")
NOT_SUPPORTED = Intervention("NOT_SUPPORTED", "Not supported",
                             "Neither this vehicle nor a linked charger supports this.")


@dataclass(frozen=True)
class VehicleFacts:
    """What capability resolution needs to know of a vehicle."""

    id: str
    capabilities: frozenset[Cap]
    needs_relink: bool = False


@dataclass(frozen=True)
class ChargerFacts:
    """What capability resolution needs to know of a charger."""

    id: str
    capabilities: frozenset[Cap]
    location_id: str | None = None
    needs_relink: bool = False


@dataclass(frozen=True)
class SystemFacts:
    """An EV system: a vehicle and a charger of one user; `active` when plugged together."""

    vehicle_id: str
    charger_id: str
    active: bool


@dataclass(frozen=True)
class Resolved:
    """A resolved capability."""

    is_capable: bool
    source: Source
    charger_id: str | None
    interventions: tuple[Intervention, ...]


@dataclass(frozen=True)
class Rule:
    """How a charger can provide a capability the vehicle lacks."""

    charger_cap: Cap | None  # None: never from a charger
    needs_active: bool  # only while plugged together
    needs_location: bool = False


#: The precedence policy, in one place. The vehicle itself always comes first.
UNLOCK: dict[Cap, Rule] = {
    Cap.INFORMATION: Rule(None, False),
    Cap.CHARGE_STATE: Rule(None, False),
    Cap.LOCATION: Rule(Cap.INFORMATION, needs_active=True, needs_location=True),
    Cap.START_CHARGING: Rule(Cap.START_CHARGING, needs_active=False),
    Cap.STOP_CHARGING: Rule(Cap.STOP_CHARGING, needs_active=False),
    Cap.SET_MAX_CURRENT: Rule(Cap.SET_MAX_CURRENT, needs_active=False),
}
VEHICLE_CAPS = tuple(UNLOCK)
CHARGER_CAPS = (Cap.INFORMATION, Cap.CHARGE_STATE, Cap.START_CHARGING, Cap.STOP_CHARGING, Cap.SET_MAX_CURRENT)


def _candidates(vehicle_id: str, systems: Iterable[SystemFacts], chargers: dict[str, ChargerFacts]
                ) -> list[tuple[SystemFacts, ChargerFacts]]:
    """The vehicle's systems with their chargers, ACTIVE first."""
    mine = [(s, chargers[s.charger_id]) for s in systems if s.vehicle_id == vehicle_id and s.charger_id in chargers]
    return sorted(mine, key=lambda sc: not sc[0].active)


def resolve_one(vehicle: VehicleFacts, cap: Cap, systems: Iterable[SystemFacts],
                chargers: dict[str, ChargerFacts]) -> Resolved:
    """Resolve one vehicle capability."""
    if cap in vehicle.capabilities and not vehicle.needs_relink:
        return Resolved(True, "VEHICLE", None, ())
    rule = UNLOCK[cap]
    pairs = _candidates(vehicle.id, systems, chargers)
    if rule.charger_cap is not None:
        for system, charger in pairs:
            if charger.needs_relink or rule.charger_cap not in charger.capabilities:
                continue
            if rule.needs_active and not system.active:
                continue
            if rule.needs_location and charger.location_id is None:
                continue
            return Resolved(True, "CHARGER", charger.id, ())
    return Resolved(False, "NONE", None, _why_not(vehicle, cap, rule, pairs))


def _why_not(vehicle: VehicleFacts, cap: Cap, rule: Rule,
             pairs: list[tuple[SystemFacts, ChargerFacts]]) -> tuple[Intervention, ...]:
    """What the user can do to unlock `cap`: every step of the cheapest way through one of the
    vehicle's chargers (ACTIVE systems first on a tie), or why nothing can."""
    if cap in vehicle.capabilities and vehicle.needs_relink:
        return (RELINK,)
    if rule.charger_cap is None:
        return (NOT_SUPPORTED,)
    if not pairs:
        return (LINK_CHARGER,)
    ways = [steps for system, charger in pairs if (steps := _steps(rule, system, charger)) is not None]
    return min(ways, key=len) if ways else (NOT_SUPPORTED,)


def _steps(rule: Rule, system: SystemFacts, charger: ChargerFacts) -> tuple[Intervention, ...] | None:
    """The interventions that would let this charger provide the capability; None if none can."""
    if rule.charger_cap not in charger.capabilities:
        return None
    steps: list[Intervention] = []
    if charger.needs_relink:
        steps.append(RELINK_CHARGER)
    if rule.needs_location and charger.location_id is None:
        steps.append(SET_LOCATION)
    if rule.needs_active and not system.active:
        steps.append(PLUG_IN)
    return tuple(steps)


def resolve_vehicle(vehicle: VehicleFacts, systems: Iterable[SystemFacts],
                    chargers: dict[str, ChargerFacts]) -> dict[Cap, Resolved]:
    """Resolve every vehicle capability."""
    systems = list(systems)
    return {cap: resolve_one(vehicle, cap, systems, chargers) for cap in VEHICLE_CAPS}


def resolve_charger(charger: ChargerFacts) -> dict[Cap, Resolved]:
    """A charger's own capabilities (always its own)."""
    out: dict[Cap, Resolved] = {}
    for cap in CHARGER_CAPS:
        if cap in charger.capabilities and not charger.needs_relink:
            out[cap] = Resolved(True, "CHARGER", charger.id, ())
        else:
            out[cap] = Resolved(False, "NONE", None, (RELINK_CHARGER,) if charger.needs_relink else (NOT_SUPPORTED,))
    return out


@dataclass(frozen=True)
class Path:
    """One way to carry out an action."""

    via: Via
    charger_id: str | None = None


def route_for(vehicle: VehicleFacts, systems: Iterable[SystemFacts], chargers: dict[str, ChargerFacts],
              cap: Cap) -> list[Path]:
    """Candidate paths for a vehicle action, vehicle first. A charger path only for an ACTIVE
    system: commands never go to a charger not confirmed plugged into this vehicle."""
    paths: list[Path] = []
    if cap in vehicle.capabilities and not vehicle.needs_relink:
        paths.append(Path("VEHICLE"))
    for system, charger in _candidates(vehicle.id, systems, chargers):
        if system.active and cap in charger.capabilities and not charger.needs_relink:
            paths.append(Path("CHARGER", charger.id))
    return paths
