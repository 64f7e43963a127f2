"""Subscriptions: the caller's own objects, each event carrying the whole object as it now is.

Events on the bus only say *which* object changed. The bus hands a subscription only the
events of its user, topic and (if narrowed) object; the new state is read once per change and
shared by all of that user's subscribers in this process (`resolvers.live`), and each object's
GraphQL view is built once per read. A `Resync` (slow client, broadcast reconnect, a publisher's
lost event) re-sends every object the subscription covers, so a client never stays stale.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from typing import TypeVar

import strawberry
from strawberry.types import Info

from app.db.models import ChargeAction as ActionRow
from app.errors import NotFoundError
from app.events import Event, last_seq
from app.runtime import current
from app.services.graph import UserGraph
from resolvers.context import Context
from resolvers.live import action_after, graph_after
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
    """Yield objects of one topic for the caller, re-read on each event.

    Between events the generator holds no graph or view (only its bus subscription), so an
    idle subscriber costs the same whatever its user owns.
    """
    user_id = info.context.require_user()
    if only_id is not None and only_id not in ids_of(await graph_after(user_id, last_seq())):
        raise NotFoundError(f"No such {topic}.")
    async with current().bus.subscribe(user_id, (topic,), only_id) as sub:
        async for item in sub:
            # Events are already filtered; a Resync re-sends everything this subscription covers.
            wanted = [item.object_id] if isinstance(item, Event) else [only_id] if only_id else None
            objs = _build_all(await graph_after(user_id, item.seq), wanted, ids_of, build)
            while objs:
                yield objs.pop()


def _build_all(graph: UserGraph, wanted: list[str] | None, ids_of: Callable[[UserGraph], list[str]],
               build: Callable[[UserGraph, str], T | None]) -> list[T]:
    """The views of `wanted` (None: all the topic's objects), in reverse order (for `pop`)."""
    objs = [build(graph, oid) for oid in (wanted if wanted is not None else ids_of(graph))]
    return [o for o in reversed(objs) if o is not None]


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
        async with current().bus.subscribe(user_id, ("action",), only) as sub:
            async for item in sub:
                if isinstance(item, Event):
                    ids = [item.object_id]
                else:
                    ids = [only] if only else [
                        a.id for a in await ActionRow.filter(user_id=user_id, state="PENDING", origin="USER")
                    ]
                views = [action_view(r) for r in [await action_after(user_id, a, item.seq) for a in reversed(ids)]
                         if r is not None]
                while views:
                    yield views.pop()
