"""Root queries. Every object is looked up within the caller's own graph."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from app.db.models import ChargeAction as ActionRow
from app.errors import NotFoundError
from resolvers.context import Context
from resolvers.views import action_view, charger_view, vehicle_view
from schema.types import ChargeAction, Charger, EvSystem, User, Vehicle, VendorInfo


@strawberry.type
class Query:
    @strawberry.field(description="The user the token belongs to.")
    async def viewer(self, info: Info[Context, None]) -> User:
        ctx = info.context
        return User(id=strawberry.ID(ctx.require_user()), graph=await ctx.graph())

    @strawberry.field(description="One of the caller's vehicles.")
    async def vehicle(self, info: Info[Context, None], id: strawberry.ID) -> Vehicle:
        graph = await info.context.graph()
        row = graph.vehicles.get(str(id))
        if row is None:
            raise NotFoundError("No such vehicle.")
        return vehicle_view(row, graph)

    @strawberry.field(description="One of the caller's chargers.")
    async def charger(self, info: Info[Context, None], id: strawberry.ID) -> Charger:
        graph = await info.context.graph()
        row = graph.chargers.get(str(id))
        if row is None:
            raise NotFoundError("No such charger.")
        return charger_view(row, graph)

    @strawberry.field(description="One of the caller's EV systems.")
    async def ev_system(self, info: Info[Context, None], id: strawberry.ID) -> EvSystem:
        graph = await info.context.graph()
        row = next((s for s in graph.systems if s.id == str(id)), None)
        if row is None:
            raise NotFoundError("No such EV system.")
        return EvSystem.of(row, graph)

    @strawberry.field(description="One of the caller's charge actions.")
    async def action(self, info: Info[Context, None], id: strawberry.ID) -> ChargeAction:
        user_id = info.context.require_user()
        row = await ActionRow.filter(id=str(id), user_id=user_id, origin="USER").prefetch_related("attempts").first()
        if row is None:
            raise NotFoundError("No such action.")
        return action_view(row)

    @strawberry.field(description="Vendors that can be linked.")
    def vendors(self) -> list[VendorInfo]:
        from adapters import registry

        return [VendorInfo(name=s.name, serves=s.serves) for s in registry.specs()]
