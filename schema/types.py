"""GraphQL object types (names from the public contract).

Asset types hold the row and the caller's `UserGraph` privately; nested fields resolve from
that graph, so a whole `viewer` tree costs a fixed number of queries.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.scalars import JSON

from app.db import models
from app.services.graph import UserGraph

if TYPE_CHECKING:
    from schema.smart import ChargingSession, SmartChargingPlan, SmartChargingPolicy, Tariff
from schema.enums import (
    ActionKind,
    ActionState,
    ActionTargetType,
    AttemptVia,
    CapabilitySource,
    EvSystemStatus,
    FailureType,
    PowerDeliveryState,
)


@strawberry.type(description="Something the user must do to unlock a capability.")
class Intervention:
    id: str
    title: str
    description: str


@strawberry.type(description="Whether an asset can do something, and which asset carries it out.")
class Capability:
    is_capable: bool
    source: CapabilitySource
    interventions: list[Intervention]


@strawberry.type
class VehicleCapabilities:
    information: Capability
    charge_state: Capability
    location: Capability
    start_charging: Capability
    stop_charging: Capability
    set_max_current: Capability


@strawberry.type
class ChargerCapabilities:
    information: Capability
    charge_state: Capability
    start_charging: Capability
    stop_charging: Capability
    set_max_current: Capability


@strawberry.type
class VehicleInformation:
    brand: str | None
    model: str | None
    year: int | None
    vin: str | None
    display_name: str | None


@strawberry.type
class ChargerInformation:
    brand: str | None
    model: str | None
    serial_number: str | None


@strawberry.type(description="Null means the value cannot be determined.")
class VehicleChargeState:
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
    power_delivery_state: PowerDeliveryState
    plugged_in_charger_id: strawberry.ID | None
    last_updated: datetime | None


@strawberry.type
class ChargerChargeState:
    is_plugged_in: bool | None
    is_charging: bool | None
    charge_rate: float | None
    max_current: float | None
    power_delivery_state: PowerDeliveryState
    plugged_in_vehicle_id: strawberry.ID | None
    last_updated: datetime | None


@strawberry.type
class VehicleLocation:
    latitude: float | None
    longitude: float | None
    location_id: strawberry.ID | None
    last_updated: datetime | None


@strawberry.type
class Location:
    id: strawberry.ID
    name: str
    latitude: float
    longitude: float
    timezone: str

    @staticmethod
    def of(row: models.Location) -> Location:
        """Build from a row."""
        return Location(
            id=strawberry.ID(row.id), name=row.name, latitude=row.latitude,
            longitude=row.longitude, timezone=row.timezone,
        )

    @strawberry.field(description="Energy prices here (setLocationTariff); null when none was given.")
    async def tariff(self, info: strawberry.Info) -> Annotated[Tariff, strawberry.lazy("schema.smart")] | None:
        from resolvers import smart

        return await smart.tariff(info, str(self.id))


def _future(when: datetime | None) -> datetime | None:
    """`when` if it is still ahead, else None."""
    return when if when is not None and when > datetime.now(UTC) else None


@strawberry.type
class Vehicle:
    id: strawberry.ID
    vendor: str
    is_reachable: bool
    last_seen: datetime | None
    information: VehicleInformation
    charge_state: VehicleChargeState
    location: VehicleLocation
    capabilities: VehicleCapabilities
    id_tags: list[str] = strawberry.field(description="RFID cards or ISO 15118 ids that name this vehicle at "
                                                      "OCPP chargers: those set with setVehicleIdTags, then those "
                                                      "learnt (learntIdTags).")
    learnt_id_tags: list[str] = strawberry.field(
        description="The idTags among idTags that Tandem learnt from plug sessions confirmed by other evidence "
                    "(not set by the user; none while TANDEM_OCPP_LEARN_ID_TAGS is off).")
    row: strawberry.Private[models.Vehicle]
    graph: strawberry.Private[UserGraph]

    @strawberry.field
    def ev_systems(self) -> list[Annotated[EvSystem, strawberry.lazy("schema.types")]]:
        """The EV systems this vehicle is part of."""
        return [EvSystem.of(s, self.graph) for s in self.graph.systems_of_vehicle(self.row.id)]

    @strawberry.field(description="Until when the vendor rate-limits this vehicle's data (its Retry-After, "
                                  "capped by TANDEM_VENDOR_RETRY_AFTER_MAX_S); null when it is not limited.")
    def rate_limited_until(self) -> datetime | None:
        return _future(self.row.rate_limited_until)

    @strawberry.field(description="When the car must be ready and how full (updateSmartChargingPolicy).")
    async def smart_charging_policy(
        self, info: strawberry.Info
    ) -> Annotated[SmartChargingPolicy, strawberry.lazy("schema.smart")]:
        from resolvers import smart

        return await smart.policy(info, self.row)

    @strawberry.field(description="The current smart charging plan; null when smart charging never planned.")
    async def smart_charging_plan(
        self, info: strawberry.Info
    ) -> Annotated[SmartChargingPlan, strawberry.lazy("schema.smart")] | None:
        from resolvers import smart

        return await smart.plan(info, self.row.id)

    @strawberry.field(description="This vehicle's charging sessions, newest first.")
    async def charging_sessions(
        self, first: int = 20
    ) -> list[Annotated[ChargingSession, strawberry.lazy("schema.smart")]]:
        from resolvers import smart

        return await smart.sessions(self.row.user_id, first, self.row.id)


@strawberry.type
class Charger:
    id: strawberry.ID
    vendor: str
    is_reachable: bool
    last_seen: datetime | None
    location_id: strawberry.ID | None
    information: ChargerInformation
    charge_state: ChargerChargeState
    capabilities: ChargerCapabilities
    row: strawberry.Private[models.Charger]
    graph: strawberry.Private[UserGraph]

    @strawberry.field
    def ev_systems(self) -> list[Annotated[EvSystem, strawberry.lazy("schema.types")]]:
        """The EV systems this charger is part of."""
        return [EvSystem.of(s, self.graph) for s in self.graph.systems_of_charger(self.row.id)]

    @strawberry.field(description="Until when the vendor rate-limits this charger's data (its Retry-After, "
                                  "capped by TANDEM_VENDOR_RETRY_AFTER_MAX_S); null when it is not limited.")
    def rate_limited_until(self) -> datetime | None:
        return _future(self.row.rate_limited_until)


@strawberry.type(description="A vehicle and a charger of the same user.")
class EvSystem:
    id: strawberry.ID
    status: EvSystemStatus
    plugged_in_vehicle_id: strawberry.ID | None
    plugged_in_charger_id: strawberry.ID | None
    activated_at: datetime | None
    evidence: list[str]
    row: strawberry.Private[models.EvSystem]
    graph: strawberry.Private[UserGraph]

    @staticmethod
    def of(row: models.EvSystem, graph: UserGraph) -> EvSystem:
        """Build from a row."""
        active = row.status == "ACTIVE"
        return EvSystem(
            id=strawberry.ID(row.id),
            status=EvSystemStatus(row.status),
            plugged_in_vehicle_id=strawberry.ID(row.vehicle_id) if active else None,
            plugged_in_charger_id=strawberry.ID(row.charger_id) if active else None,
            activated_at=row.activated_at,
            evidence=[str(e) for e in row.evidence or []],
            row=row,
            graph=graph,
        )

    @strawberry.field
    def vehicle(self) -> Vehicle:
        """The system's vehicle."""
        from resolvers.views import vehicle_view

        return vehicle_view(self.graph.vehicles[self.row.vehicle_id], self.graph)

    @strawberry.field
    def charger(self) -> Charger:
        """The system's charger."""
        from resolvers.views import charger_view

        return charger_view(self.graph.chargers[self.row.charger_id], self.graph)


@strawberry.type
class FailureReason:
    type: FailureType
    detail: str


@strawberry.type(description="One command sent for an action.")
class ActionAttempt:
    via: AttemptVia
    command: str
    outcome: str = strawberry.field(description=(
        "ok (the vendor accepted it), SENDING (sent, no answer yet), UNKNOWN (sent, the answer was lost: "
        "verified from device data), TIMEOUT, or the vendor's refusal: RATE_LIMITED, UNREACHABLE, ASLEEP, "
        "FAILED_PRECONDITION, NOT_CAPABLE, AUTH_REVOKED, NOT_FOUND, BAD_RESPONSE."))
    at: datetime
    detail: str = strawberry.field(description="What happened and, when the action waits, why and until when.")


@strawberry.type(description="An asynchronous charging command: PENDING until verified from device data.")
class ChargeAction:
    id: strawberry.ID
    target_id: strawberry.ID
    target_type: ActionTargetType
    kind: ActionKind
    state: ActionState
    max_current: float | None
    failure_reason: FailureReason | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    attempts: list[ActionAttempt]


@strawberry.type
class User:
    id: strawberry.ID
    graph: strawberry.Private[UserGraph]

    @strawberry.field
    async def external_id(self) -> str:
        """The client's own id for this user (read only when asked for)."""
        from app.db.models import User as UserRow

        return (await UserRow.get(id=str(self.id))).external_id

    @strawberry.field
    def vehicles(self) -> list[Vehicle]:
        """The user's vehicles."""
        from resolvers.views import vehicle_view

        return [vehicle_view(v, self.graph) for v in self.graph.vehicles.values()]

    @strawberry.field
    def chargers(self) -> list[Charger]:
        """The user's chargers."""
        from resolvers.views import charger_view

        return [charger_view(c, self.graph) for c in self.graph.chargers.values()]

    @strawberry.field
    def ev_systems(self) -> list[EvSystem]:
        """The user's EV systems."""
        return [EvSystem.of(s, self.graph) for s in self.graph.systems]

    @strawberry.field
    def locations(self) -> list[Location]:
        """The user's locations."""
        return [Location.of(loc) for loc in self.graph.locations.values()]

    @strawberry.field(description="The user's charging sessions, newest first.")
    async def charging_sessions(
        self, first: int = 20
    ) -> list[Annotated[ChargingSession, strawberry.lazy("schema.smart")]]:
        from resolvers import smart

        return await smart.sessions(self.graph.user_id, first)

    @strawberry.field
    async def tokens(self) -> list[UserToken]:
        """The user's tokens, newest first: metadata only, never the token itself."""
        rows = await models.UserToken.filter(user_id=str(self.id)).order_by("-created_at", "id")
        return [UserToken.of(r) for r in rows]


@strawberry.type(description="A user token's metadata. The token itself is shown once, at creation.")
class UserToken:
    id: strawberry.ID
    created_at: datetime
    expires_at: datetime | None = strawberry.field(description="Null: never expires.")
    last_used_at: datetime | None = strawberry.field(description="Approximate (to about a minute).")
    revoked_at: datetime | None
    is_active: bool = strawberry.field(description="Neither revoked nor expired.")

    @staticmethod
    def of(row: models.UserToken) -> UserToken:
        """Build from a row."""
        from app.auth import utcnow

        active = row.revoked_at is None and (row.expires_at is None or row.expires_at > utcnow())
        return UserToken(
            id=strawberry.ID(row.id), created_at=row.created_at, expires_at=row.expires_at,
            last_used_at=row.last_used_at, revoked_at=row.revoked_at, is_active=active,
        )


@strawberry.type
class CreatedUser:
    id: strawberry.ID
    external_id: str


@strawberry.type(description="A user token. Shown once: only its hash is stored.")
class CreatedUserToken:
    user_id: strawberry.ID
    token: str
    id: strawberry.ID = strawberry.field(description="The token's id (for `revokeUserToken` and listings).")
    expires_at: datetime | None = strawberry.field(description="Null: never expires.")


@strawberry.type(description="A new client secret. Shown once: only its hash is stored.")
class RotatedClientSecret:
    client_secret: str
    previous_secret_valid_until: datetime | None = strawberry.field(
        description="Until when the replaced secret still works (null: it stopped at once)."
    )


@strawberry.type(description="What linking a vendor account found.")
class LinkResult:
    vendor: str
    vehicles: list[Vehicle]
    chargers: list[Charger]


@strawberry.type
class VendorInfo:
    name: str
    serves: str


__all__ = ["JSON"]
