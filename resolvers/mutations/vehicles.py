"""setVehicleIdTags."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from app.services import vehicles
from resolvers.context import Context
from resolvers.views import vehicle_view
from schema.types import Vehicle


@strawberry.type
class VehicleMutations:
    @strawberry.mutation(description="Set the idTags (RFID cards, ISO 15118 ids) that name this vehicle at OCPP "
                                     "chargers; they let pairing single it out. Learnt idTags left out of "
                                     "the list are forgotten for this vehicle; those kept become user-set.")
    async def set_vehicle_id_tags(
        self, info: Info[Context, None], vehicle_id: strawberry.ID, id_tags: list[str]
    ) -> Vehicle:
        user_id = info.context.require_user()
        from app.runtime import current

        await vehicles.set_id_tags(current(), user_id, str(vehicle_id), id_tags)
        await current().publish("vehicle", user_id, str(vehicle_id))
        graph = await info.context.fresh().graph()
        return vehicle_view(graph.vehicles[str(vehicle_id)], graph)
