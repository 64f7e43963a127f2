"""GraphQL enums (names from the public contract)."""

from __future__ import annotations

import enum

import strawberry


@strawberry.enum(description="Enode-style power delivery state of a vehicle or charger.")
class PowerDeliveryState(enum.Enum):
    UNKNOWN = "UNKNOWN"
    UNPLUGGED = "UNPLUGGED"
    PLUGGED_IN_INITIALIZING = "PLUGGED_IN_INITIALIZING"
    PLUGGED_IN_CHARGING = "PLUGGED_IN_CHARGING"
    PLUGGED_IN_STOPPED = "PLUGGED_IN_STOPPED"
    PLUGGED_IN_COMPLETE = "PLUGGED_IN_COMPLETE"
    PLUGGED_IN_NO_POWER = "PLUGGED_IN_NO_POWER"
    PLUGGED_IN_FAULT = "PLUGGED_IN_FAULT"


@strawberry.enum(description="Which asset carries a capability out.")
class CapabilitySource(enum.Enum):
    VEHICLE = "VEHICLE"
    CHARGER = "CHARGER"
    NONE = "NONE"


@strawberry.enum(description="ESTABLISHED: same user. ACTIVE: plugged into each other.")
class EvSystemStatus(enum.Enum):
    ESTABLISHED = "ESTABLISHED"
    ACTIVE = "ACTIVE"


@strawberry.enum
class ActionKind(enum.Enum):
    START = "START"
    STOP = "STOP"
    SET_MAX_CURRENT = "SET_MAX_CURRENT"


@strawberry.enum
class ActionState(enum.Enum):
    PENDING = "PENDING"
    CONFIRMED = "CONFIRMED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


@strawberry.enum
class ActionTargetType(enum.Enum):
    VEHICLE = "VEHICLE"
    CHARGER = "CHARGER"


@strawberry.enum(description="The asset a command went through.")
class AttemptVia(enum.Enum):
    VEHICLE = "VEHICLE"
    CHARGER = "CHARGER"


@strawberry.enum
class FailureType(enum.Enum):
    NO_RESPONSE = "NO_RESPONSE"
    FAILED_PRECONDITION = "FAILED_PRECONDITION"
    UNNECESSARY = "UNNECESSARY"
    CONFLICT = "CONFLICT"
    REQUESTED_CANCELLATION = "REQUESTED_CANCELLATION"
    NOT_FOUND = "NOT_FOUND"
    NOT_CAPABLE = "NOT_CAPABLE"


@strawberry.enum(description="Vendors Tandem can link.")
class VendorKind(enum.Enum):
    VEHICLES = "VEHICLES"
    CHARGERS = "CHARGERS"
