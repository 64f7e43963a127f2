"""Subscriptions: the caller's own objects, each event carrying the whole object as it now is.

Events on the bus only say *which* object changed; each is read fresh from the database with
new loaders. A `Resync` (slow client, broadcast reconnect) re-sends every object the
subscription covers, so a client never stays stale.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from typing import TypeVar

import strawberry
from strawberry.types import Info

from app.db.models import ChargeAction as ActionRow
from app.errors import NotFoundError
from app.events import Event
from app.runtime import current
from app.services.graph import UserGraph
from resolvers.context import Context
from resolvers.views import action_view, charger_view, vehicle_view
from schema.types import ChargeAction, Charger, EvSystem, Vehicle

T = TypeVar("T")


async def _objects(
    info: Info[Context, None],
    topic: str,
    only_id: str | None,
    ids_of: Callable[[UserGraph], list[str]],
    build: Callable[[UserGraph, str], T | None],
) -> AsyncGenerator[T, None]:
    """Yield objects of one topic for the caller, re-read on each event."""
    ctx = info.context
    user_id = ctx.require_user()
    graph = await ctx.fresh().graph()
    if only_id is not None and only_id not in ids_of(graph):
        raise NotFoundError(f"No such {topic}.")
    async with current().bus.subscribe(user_id) as sub:
        async for item in sub:
            if isinstance(item, Event):
                if item.topic != topic or (only_id is not None and item.object_id != only_id):
                    continue
                wanted: list[str] | None = [item.object_id]
            else:  # Resync: send everything this subscription covers
                wanted = [only_id] if only_id else None
            graph = await ctx.fresh().graph()
            for oid in wanted if wanted is not None else ids_of(graph):
                obj = build(graph, oid)
                if obj is not None:
                    yield obj


def _vehicle(graph: UserGraph, oid: str) -> Vehicle | None:
    row = graph.vehicles.get(oid)
    return vehicle_view(row, graph) if row else None


def _charger(graph: UserGraph, oid: str) -> Charger | None:
    row = graph.chargers.get(oid)
    return charger_view(row, graph) if row else None


def _system(graph: UserGraph, oid: str) -> EvSystem | None:
    row = next((s for s in graph.systems if s.id == oid), None)
    return EvSystem.of(row, graph) if row else None


@strawberry.type
class Subscription:
    @strawberry.subscription(description="A vehicle of the caller changed (id narrows to one).")
    async def vehicle_updated(
        self, info: Info[Context, None], id: strawberry.ID | None = None
    ) -> AsyncGenerator[Vehicle, None]:
        async for v in _objects(info, "vehicle", id and str(id), lambda g: list(g.vehicles), _vehicle):
            yield v

    @strawberry.subscription(description="A charger of the caller changed (id narrows to one).")
    async def charger_updated(
        self, info: Info[Context, None], id: strawberry.ID | None = None
    ) -> AsyncGenerator[Charger, None]:
        async for c in _objects(info, "charger", id and str(id), lambda g: list(g.chargers), _charger):
            yield c

    @strawberry.subscription(description="An EV system of the caller changed (id narrows to one).")
    async def ev_system_updated(
        self, info: Info[Context, None], id: strawberry.ID | None = None
    ) -> AsyncGenerator[EvSystem, None]:
        ids = lambda g: [s.id for s in g.systems]  # noqa: E731
        async for s in _objects(info, "evSystem", id and str(id), ids, _system):
            yield s

    @strawberry.subscription(description="A charge action of the caller changed (id narrows to one).")
    async def action_updated(
        self, info: Info[Context, None], id: strawberry.ID | None = None
    ) -> AsyncGenerator[ChargeAction, None]:
        ctx = info.context
        user_id = ctx.require_user()
        only = str(id) if id else None
        if only and not await ActionRow.filter(id=only, user_id=user_id, origin="USER").exists():
            raise NotFoundError("No such action.")
        async with current().bus.subscribe(user_id) as sub:
            async for item in sub:
                if isinstance(item, Event):
                    if item.topic != "action" or (only and item.object_id != only):
                        continue
                    ids = [item.object_id]
                else:
                    ids = [only] if only else [
                        a.id for a in await ActionRow.filter(user_id=user_id, state="PENDING", origin="USER")
                    ]
                for aid in ids:
                    # Tandem's own actions (a probe's pause and resume) are internal
                    row = await ActionRow.filter(id=aid, user_id=user_id, origin="USER").prefetch_related(
                        "attempts").first()
                    if row is not None:
                        yield action_view(row)
