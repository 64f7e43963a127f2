"""Learning idTags in the database (the rule is `app.domain.idtags`).

Sightings are rows of `IdTagSighting`; what they teach is recomputed from all of a user's
sightings and stored on each vehicle (`Vehicle.learnt_id_tags`) whenever one is added, under the
user's pairing lock, so that pairing and the API read the same thing in every process.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from tortoise.exceptions import IntegrityError

from app.db.models import Charger, IdTagSighting, Vehicle
from app.domain import idtags as di
from app.runtime import Runtime


def learning() -> bool:
    """Whether this process learns and uses idTags (TANDEM_OCPP_LEARN_ID_TAGS)."""
    from app.runtime import current

    return current().settings.ocpp_learn_id_tags


def learnt_of(row: Vehicle) -> tuple[di.LearntTag, ...]:
    """The tags stored as learnt for a vehicle."""
    out = []
    for item in row.learnt_id_tags or []:
        at = item.get("sessionAt")
        out.append(di.LearntTag(str(item["idTag"]), row.id, item.get("chargerId"),
                                datetime.fromisoformat(at) if at else None))
    return tuple(out)


def _stored(tags: Iterable[di.LearntTag]) -> list[dict[str, str | None]]:
    return [{"idTag": t.id_tag, "chargerId": t.charger_id,
             "sessionAt": t.session_at.isoformat() if t.session_at else None} for t in tags]


def own_tags(rt: Runtime, charger: Charger | None = None) -> list[str | None]:
    """Tags a charger may send whatever the car: Tandem's remote-start tag, the charge point's id
    and serial."""
    mine: list[str | None] = [rt.settings.ocpp_id_tag]
    if charger is not None:
        mine += [charger.vendor_id, charger.serial_number]
    return mine


async def _sightings(vehicle_ids: list[str]) -> list[di.Sighting]:
    rows = await IdTagSighting.filter(vehicle_id__in=vehicle_ids).order_by("id")
    return [di.Sighting(r.id_tag, r.vehicle_id, r.confirmed, r.charger_id, r.session_at) for r in rows]


async def add(vehicle_id: str, tag: str, confirmed: bool, charger_id: str | None = None,
              session_at: datetime | None = None) -> None:
    """Record one sighting (once: the same session's again changes nothing)."""
    if await IdTagSighting.filter(vehicle_id=vehicle_id, id_tag=tag, confirmed=confirmed,
                                  session_at=session_at).exists():
        return
    try:
        await IdTagSighting.create(vehicle_id=vehicle_id, id_tag=tag, confirmed=confirmed, charger_id=charger_id,
                                   session_at=session_at)
    except IntegrityError:
        pass  # recorded meanwhile


async def recompute(rt: Runtime, user_id: str) -> tuple[dict[str, tuple[di.LearntTag, ...]], list[di.Sighting]]:
    """Derive every vehicle's learnt tags from the user's sightings and store the changed ones;
    returns them with the sightings they came from."""
    vehicles = await Vehicle.filter(user_id=user_id)
    sightings = await _sightings([v.id for v in vehicles])
    found = di.learnt(sightings, {v.id: v.id_tags or [] for v in vehicles}, own_tags(rt))
    for v in vehicles:
        stored = _stored(found.get(v.id, ()))
        if stored != (v.learnt_id_tags or []):
            v.learnt_id_tags = stored
            await v.save(update_fields=["learnt_id_tags"])
    return found, sightings


async def confirmed(rt: Runtime, user_id: str, vehicle: Vehicle, charger: Charger, tag: str,
                    session_at: datetime | None, name: str) -> str | None:
    """The session on `charger` started with `tag` was confirmed for `vehicle` by other evidence:
    record it and say what that taught (None when nothing worth saying)."""
    if tag in (vehicle.id_tags or []):
        return None  # the user's word already
    if di.generic(tag, own_tags(rt, charger)):
        return f"idTag {tag} not learnt: chargers send it whatever the car"
    if any(tag in (v.id_tags or []) for v in await Vehicle.filter(user_id=user_id).exclude(id=vehicle.id)):
        return f"idTag {tag} not learnt: the user set it on another vehicle"
    before = learnt_of(vehicle)
    await add(vehicle.id, tag, True, charger.id, session_at)
    after, sightings = await recompute(rt, user_id)
    if any(t.id_tag == tag for t in after.get(vehicle.id, ())):
        if any(t.id_tag == tag for t in before):
            return None  # known already
        return f"idTag {tag} learnt for {name}: it names this vehicle in later sessions"
    others = di.shared_with(tag, vehicle.id, sightings)
    if others:
        return (f"idTag {tag} was seen with {len(others)} other vehicle(s) too: a shared card, evidence for "
                "none of them")
    return f"idTag {tag} not learnt: seen before where {name} was not"


async def refuted(rt: Runtime, user_id: str, vehicle_id: str, charger_id: str, tag: str,
                  session_at: datetime | None) -> None:
    """`tag`, learnt for the vehicle, was presented at a charger where the vehicle is not: forget it."""
    await add(vehicle_id, tag, False, charger_id, session_at)
    await recompute(rt, user_id)


async def dismiss(rt: Runtime, user_id: str, vehicle: Vehicle, keep: Iterable[str]) -> None:
    """After the user set the vehicle's idTags (`keep`): learnt ones left out are never learnt for
    it again (a tag kept is user-set now, and no longer learnt for any vehicle)."""
    keep = set(keep)
    if rt.settings.ocpp_learn_id_tags:  # off, the API shows none: leaving them out says nothing
        for t in learnt_of(vehicle):
            if t.id_tag not in keep:
                await add(vehicle.id, t.id_tag, False)
    await recompute(rt, user_id)
