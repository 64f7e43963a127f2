"""createLocation and setChargerLocation."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from app.services import locations
from resolvers.context import Context
from resolvers.views import charger_view
from schema.types import Charger, Location


@strawberry.type
class LocationMutations:
    @strawberry.mutation(description="Create a location (e.g. home) for the caller.")
    async def create_location(
        self, info: Info[Context, None], name: str, latitude: float, longitude: float, timezone: str = "UTC"
    ) -> Location:
        user_id = info.context.require_user()
        row = await locations.create_location(user_id, name, latitude, longitude, timezone)
        return Location.of(row)

    @strawberry.mutation(description="Say where a charger stands (null or omitted clears it).")
    async def set_charger_location(
        self, info: Info[Context, None], charger_id: strawberry.ID, location_id: strawberry.ID | None = None
    ) -> Charger:
        user_id = info.context.require_user()
        await locations.set_charger_location(user_id, str(charger_id), str(location_id) if location_id else None)
        from app.runtime import current

        await current().publish("charger", user_id, str(charger_id))
        graph = await info.context.fresh().graph()
        return charger_view(graph.chargers[str(charger_id)], graph)
