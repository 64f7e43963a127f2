"""Smart charging fields of Vehicle, Location and User, batched per request (DataLoaders)."""

from __future__ import annotations

from collections.abc import Sequence

from strawberry.types import Info

from app.db import models
from app.smart.service import target_of
from resolvers.context import Context
from schema.smart import ChargingSession, SmartChargingPlan, SmartChargingPolicy, Tariff

MAX_SESSIONS = 200


async def _policies(ids: Sequence[str]) -> list[models.SmartChargingPolicy | None]:
    rows = {p.vehicle_id: p for p in await models.SmartChargingPolicy.filter(vehicle_id__in=list(ids))}
    return [rows.get(i) for i in ids]


async def _plans(ids: Sequence[str]) -> list[models.SmartChargingPlan | None]:
    rows = {p.vehicle_id: p for p in await models.SmartChargingPlan.filter(vehicle_id__in=list(ids))}
    return [rows.get(i) for i in ids]


async def _tariffs(ids: Sequence[str]) -> list[models.Tariff | None]:
    rows = {t.location_id: t for t in await models.Tariff.filter(location_id__in=list(ids))}
    return [rows.get(i) for i in ids]


async def policy(info: Info[Context, None], vehicle: models.Vehicle) -> SmartChargingPolicy:
    """The vehicle's policy (defaults when never set: off, 07:00, no minimum)."""
    row = await info.context.loader("smart-policy", _policies).load(vehicle.id)
    return SmartChargingPolicy(
        is_enabled=bool(row and row.is_enabled), deadline=row.deadline if row else "07:00",
        minimum_charge_limit=row.minimum_charge_limit if row else 0.0, target_charge_limit=target_of(row, vehicle))


async def plan(info: Info[Context, None], vehicle_id: str) -> SmartChargingPlan | None:
    """The vehicle's current plan, or None when smart charging never looked at it."""
    row = await info.context.loader("smart-plan", _plans).load(vehicle_id)
    return SmartChargingPlan.of(row) if row is not None else None


async def tariff(info: Info[Context, None], location_id: str) -> Tariff | None:
    """The location's tariff."""
    row = await info.context.loader("tariff", _tariffs).load(location_id)
    return Tariff.of(row) if row is not None else None


async def sessions(user_id: str, first: int, vehicle_id: str | None = None) -> list[ChargingSession]:
    """Sessions newest first (at most MAX_SESSIONS)."""
    query = models.ChargingSession.filter(user_id=user_id)
    if vehicle_id is not None:
        query = query.filter(vehicle_id=vehicle_id)
    rows = await query.order_by("-started_at").limit(max(0, min(first, MAX_SESSIONS)))
    return [ChargingSession.of(r) for r in rows]
