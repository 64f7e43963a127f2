"""GraphQL types of smart charging (names from the contract, after Enode's smart charging)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import strawberry

from app.db import models


@strawberry.enum(description="Where smart charging stands for a vehicle.")
class SmartChargingState(enum.Enum):
    DISABLED = "DISABLED"
    CONSIDERING = "CONSIDERING"
    PLAN_EXECUTING_STOPPED = "PLAN_EXECUTING_STOPPED"
    PLAN_EXECUTING_CHARGING = "PLAN_EXECUTING_CHARGING"
    PLAN_ENDED_FINISHED = "PLAN_ENDED_FINISHED"
    PLAN_ENDED_DEADLINE = "PLAN_ENDED_DEADLINE"
    FULLY_CHARGED = "FULLY_CHARGED"


@strawberry.type(description="When the car must be ready and how full; deadline is local time HH:MM at the "
                             "charging location, limits are percent.")
class SmartChargingPolicy:
    is_enabled: bool
    deadline: str
    minimum_charge_limit: float
    target_charge_limit: float


@strawberry.type(description="A slot of a plan: grid power expected (kW) and the price per kWh.")
class SmartChargingSlot:
    start_at: datetime
    end_at: datetime
    power_kw: float
    price: float


@strawberry.type(description="A point of a charge curve: grid power (kW) at a battery level (%).")
class ChargeCurvePoint:
    battery_level: float
    power_kw: float


@strawberry.type(description="The charge curve a plan assumed: learned from the vehicle's own sessions, or defaults "
                             "(then the plan keeps a wider safety margin). maxPowerKw is the car's plateau (grid "
                             "kW), usableCapacityKwh the battery kWh per 100 %, efficiency the battery kWh per grid "
                             "kWh; points give the power expected on this charger by battery level.")
class SmartChargingCurve:
    is_learned: bool
    learned_sessions: int
    max_power_kw: float
    usable_capacity_kwh: float
    efficiency: float
    points: list[ChargeCurvePoint]

    @staticmethod
    def of(view: dict[str, Any]) -> SmartChargingCurve:
        """Build from a plan row's `curve` (app.smart.learning.curve_view)."""
        return SmartChargingCurve(
            is_learned=bool(view["learned"]), learned_sessions=int(view["sessions"]), max_power_kw=view["maxKw"],
            usable_capacity_kwh=view["capacityKwh"], efficiency=view["efficiency"],
            points=[ChargeCurvePoint(battery_level=soc, power_kw=kw) for soc, kw in view["points"]])


@strawberry.type(description="The current smart charging plan: when it charges, how much energy (kWh, from the "
                             "grid), what that costs against charging at once, and why it is waiting or ended.")
class SmartChargingPlan:
    id: strawberry.ID
    state: SmartChargingState
    start_at: datetime | None
    stop_at: datetime | None
    estimated_finish_at: datetime | None
    energy_kwh: float | None
    smart_cost: float | None
    non_smart_cost: float | None
    currency: str | None
    slots: list[SmartChargingSlot]
    reason: str | None
    charge_curve: SmartChargingCurve | None = strawberry.field(
        default=None, description="The charge curve this plan assumed; null when there is no plan.")

    @staticmethod
    def of(row: models.SmartChargingPlan) -> SmartChargingPlan:
        """Build from a row."""
        return SmartChargingPlan(
            id=strawberry.ID(row.plan_id), state=SmartChargingState(row.state), start_at=row.start_at,
            stop_at=row.stop_at, estimated_finish_at=row.estimated_finish_at, energy_kwh=row.energy_kwh,
            smart_cost=row.smart_cost, non_smart_cost=row.non_smart_cost, currency=row.currency,
            slots=[SmartChargingSlot(start_at=datetime.fromisoformat(s["startAt"]),
                                     end_at=datetime.fromisoformat(s["endAt"]), power_kw=s["powerKw"],
                                     price=s["price"]) for s in row.slots],
            reason=row.reason, charge_curve=SmartChargingCurve.of(row.curve) if row.curve else None)


@strawberry.type(description="One plug-in: energy (kWh) from the charger's meter, SoC (%) at start and end, its "
                             "cost at the location's tariff and the cost it would have had charging at once.")
class ChargingSession:
    id: strawberry.ID
    vehicle_id: strawberry.ID | None
    charger_id: strawberry.ID
    started_at: datetime
    ended_at: datetime | None
    energy_kwh: float
    start_battery_level: float | None = strawberry.field(
        description="SoC (%) at the plug-in: Tandem's estimate (as Vehicle.chargeState.batteryLevel) less the "
                    "session's energy so far. From a reading older than the session (a lagging cloud's), it is "
                    "taken again from the first newer one (an OCPP charger's SoC, the cloud catching up).")
    end_battery_level: float | None
    cost: float | None
    non_smart_cost: float | None
    currency: str | None
    is_smart: bool

    @staticmethod
    def of(row: models.ChargingSession) -> ChargingSession:
        """Build from a row."""
        return ChargingSession(
            id=strawberry.ID(row.id), vehicle_id=strawberry.ID(row.vehicle_id) if row.vehicle_id else None,
            charger_id=strawberry.ID(row.charger_id), started_at=row.started_at, ended_at=row.ended_at,
            energy_kwh=row.energy_kwh, start_battery_level=row.start_battery_level,
            end_battery_level=row.end_battery_level, cost=row.cost, non_smart_cost=row.non_smart_cost,
            currency=row.currency, is_smart=row.is_smart)


@strawberry.type(description="A price per kWh over [startAt, endAt).")
class TariffRate:
    start_at: datetime
    end_at: datetime
    price: float


@strawberry.type(description="Energy prices at a location: a day-ahead series, or with repeatDaily a daily "
                             "time-of-use pattern (only the times of day count).")
class Tariff:
    currency: str
    rates: list[TariffRate]
    repeat_daily: bool

    @staticmethod
    def of(row: models.Tariff) -> Tariff:
        """Build from a row."""
        return Tariff(currency=row.currency, repeat_daily=row.repeat_daily, rates=[
            TariffRate(start_at=datetime.fromisoformat(r["startAt"]), end_at=datetime.fromisoformat(r["endAt"]),
                       price=r["price"]) for r in row.rates])


@strawberry.input(description="A price per kWh over [startAt, endAt).")
class TariffRateInput:
    start_at: datetime
    end_at: datetime
    price: float
