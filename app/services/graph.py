"""A user's whole asset graph, loaded in a fixed number of queries.

GraphQL resolvers read vehicles, chargers, EV systems and locations from one `UserGraph` per
user per request (a DataLoader batches users), so the query count never grows with assets.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tortoise.models import Model

from app.db.models import Charger, EvSystem, Location, Vehicle

T = TypeVar("T")
M = TypeVar("M", bound=Model)


@dataclass
class UserGraph:
    """Everything one user owns, as loaded at one moment."""

    user_id: str
    vehicles: dict[str, Vehicle] = field(default_factory=dict)
    chargers: dict[str, Charger] = field(default_factory=dict)
    systems: list[EvSystem] = field(default_factory=list)
    locations: dict[str, Location] = field(default_factory=dict)
    #: Objects derived from this graph (GraphQL views), built once per graph.
    derived: dict[tuple[str, str], Any] = field(default_factory=dict, repr=False)

    def derive(self, kind: str, key: str, build: Callable[[], T]) -> T:
        """`build()` once per (kind, key) for this graph; later calls return the same object."""
        if (kind, key) not in self.derived:
            self.derived[(kind, key)] = build()
        return self.derived[(kind, key)]  # type: ignore[no-any-return]

    def systems_of_vehicle(self, vehicle_id: str) -> list[EvSystem]:
        """EV systems the vehicle is part of."""
        return [s for s in self.systems if s.vehicle_id == vehicle_id]

    def systems_of_charger(self, charger_id: str) -> list[EvSystem]:
        """EV systems the charger is part of."""
        return [s for s in self.systems if s.charger_id == charger_id]

    def active_for_vehicle(self, vehicle_id: str) -> EvSystem | None:
        """The vehicle's ACTIVE system, if any."""
        return next((s for s in self.systems_of_vehicle(vehicle_id) if s.status == "ACTIVE"), None)

    def active_for_charger(self, charger_id: str) -> EvSystem | None:
        """The charger's ACTIVE system, if any."""
        return next((s for s in self.systems_of_charger(charger_id) if s.status == "ACTIVE"), None)

    def charger_location(self, charger: Charger) -> Location | None:
        """The charger's Location, if set."""
        loc_id = charger.location_id  # type: ignore[attr-defined]
        return self.locations.get(loc_id) if loc_id else None


#: SQL of `_owned_by` per (model, number of users, connection): building it costs more than running it.
_SQL: dict[tuple[type[Model], int, int], str] = {}


async def _owned_by(model: type[M], ids: list[str]) -> list[M]:
    """`model.filter(user_id__in=ids).order_by("created_at", "id")`, its SQL built once per shape."""
    db = model._meta.db
    key = (model, len(ids), id(db))
    sql = _SQL.get(key)
    if sql is None:
        query = model.filter(user_id__in=ids).order_by("created_at", "id")
        query._choose_db_if_not_chosen()
        query._make_query()
        sql, params = query.query.get_parameterized_sql()
        if list(params) != ids:  # not the shape expected: let the ORM run it
            return list(await query)
        if len(_SQL) < 1024:
            _SQL[key] = sql
    _, rows = await db.execute_query(sql, ids)
    return [model._init_from_db(**dict(row)) for row in rows]


async def load_graphs(user_ids: Sequence[str]) -> list[UserGraph]:
    """Load the graphs of several users in four queries, in key order."""
    ids = list(dict.fromkeys(user_ids))
    graphs = {uid: UserGraph(uid) for uid in ids}
    for v in await _owned_by(Vehicle, ids):
        graphs[v.user_id].vehicles[v.id] = v
    for c in await _owned_by(Charger, ids):
        graphs[c.user_id].chargers[c.id] = c
    for s in await _owned_by(EvSystem, ids):
        graphs[s.user_id].systems.append(s)
    for loc in await _owned_by(Location, ids):
        graphs[loc.user_id].locations[loc.id] = loc  # type: ignore[attr-defined]
    return [graphs[uid] for uid in user_ids]


async def load_graph(user_id: str) -> UserGraph:
    """One user's graph."""
    return (await load_graphs([user_id]))[0]
