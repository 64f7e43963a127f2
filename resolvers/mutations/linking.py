"""linkVendor, unlinkVehicle, unlinkCharger."""

from __future__ import annotations

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from app.runtime import current
from app.services import linking
from resolvers.context import Context
from resolvers.views import charger_view, vehicle_view
from schema.types import LinkResult


@strawberry.type
class LinkMutations:
    @strawberry.mutation(description="Link a vendor account; returns the assets it discovered.")
    async def link_vendor(self, info: Info[Context, None], vendor: str, credentials: JSON) -> LinkResult:
        user_id = info.context.require_user()
        vehicles, chargers = await linking.link_vendor(current(), user_id, vendor, credentials)
        graph = await info.context.fresh().graph()
        return LinkResult(
            vendor=vendor,
            vehicles=[vehicle_view(graph.vehicles[v.id], graph) for v in vehicles],
            chargers=[charger_view(graph.chargers[c.id], graph) for c in chargers],
        )

    @strawberry.mutation(description="Remove a vehicle and its EV systems.")
    async def unlink_vehicle(self, info: Info[Context, None], id: strawberry.ID) -> strawberry.ID:
        await linking.unlink_asset(current(), info.context.require_user(), "vehicle", str(id))
        return id

    @strawberry.mutation(description="Remove a charger and its EV systems.")
    async def unlink_charger(self, info: Info[Context, None], id: strawberry.ID) -> strawberry.ID:
        await linking.unlink_asset(current(), info.context.require_user(), "charger", str(id))
        return id
