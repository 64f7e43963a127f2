"""updateSmartChargingPolicy, setLocationTariff, boostCharging."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from app.db.models import Charger, EvSystem
from app.runtime import current
from app.smart import service, tariffs
from resolvers.context import Context
from resolvers.views import vehicle_view
from schema.smart import TariffRateInput
from schema.types import Location, Vehicle


async def _vehicle(info: Info[Context, None], vehicle_id: str) -> Vehicle:
    graph = await info.context.fresh().graph()
    return vehicle_view(graph.vehicles[vehicle_id], graph)


@strawberry.type
class SmartMutations:
    @strawberry.mutation(description="Change a vehicle's smart charging policy (omitted arguments keep their "
                                     "value). Bad input (deadline not HH:MM, limits outside 0-100, minimum above "
                                     "target) is BAD_USER_INPUT and changes nothing.")
    async def update_smart_charging_policy(
        self, info: Info[Context, None], vehicle_id: strawberry.ID, is_enabled: bool | None = None,
        deadline: str | None = None, minimum_charge_limit: float | None = None,
        target_charge_limit: float | None = None,
    ) -> Vehicle:
        user_id = info.context.require_user()
        await service.update_policy(user_id, str(vehicle_id), is_enabled=is_enabled, deadline=deadline,
                                    minimum_charge_limit=minimum_charge_limit,
                                    target_charge_limit=target_charge_limit)
        rt = current()
        await service.tick(rt, str(vehicle_id))
        await rt.publish("vehicle", user_id, str(vehicle_id))
        return await _vehicle(info, str(vehicle_id))

    @strawberry.mutation(description="Set a location's energy prices (per kWh): a day-ahead series of rates, or "
                                     "with repeatDaily a daily time-of-use pattern. Plans there are re-made.")
    async def set_location_tariff(
        self, info: Info[Context, None], location_id: strawberry.ID, currency: str, rates: list[TariffRateInput],
        repeat_daily: bool = False,
    ) -> Location:
        user_id = info.context.require_user()
        row = await service.set_tariff(user_id, str(location_id), currency,
                                       [tariffs.Rate(r.start_at, r.end_at, r.price) for r in rates], repeat_daily)
        rt = current()
        chargers = [c.id for c in await Charger.filter(user_id=user_id, location_id=str(location_id))]
        for system in await EvSystem.filter(charger_id__in=chargers, status="ACTIVE"):
            await service.tick(rt, system.vehicle_id)
        graph = await info.context.fresh().graph()
        return Location.of(graph.locations.get(row.location_id) or await row.location)

    @strawberry.mutation(description="Charge now until the target, ignoring prices, for the current plug-in session.")
    async def boost_charging(self, info: Info[Context, None], vehicle_id: strawberry.ID) -> Vehicle:
        user_id = info.context.require_user()
        await service.boost(current(), user_id, str(vehicle_id))
        return await _vehicle(info, str(vehicle_id))
