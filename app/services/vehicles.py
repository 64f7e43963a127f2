"""What a user says about their vehicles: the idTags (RFID cards, ISO 15118 ids) that name them."""

from __future__ import annotations

import re

from app.db.models import Vehicle
from app.errors import BadInput, NotFoundError
from app.runtime import Runtime
from app.services import idtags

#: An OCPP 1.6 IdToken: at most 20 printable characters.
ID_TAG = re.compile(r"^[\x21-\x7e]{1,20}$")
MAX_ID_TAGS = 20


def clean_id_tags(tags: list[str]) -> list[str]:
    """The tags, checked and without repeats (order kept); BadInput naming the first bad one."""
    if len(tags) > MAX_ID_TAGS:
        raise BadInput(f"At most {MAX_ID_TAGS} idTags per vehicle.")
    for tag in tags:
        if not ID_TAG.match(tag):
            raise BadInput(f"idTag {tag[:24]!r} is not an OCPP idTag (1-20 printable characters, no spaces).")
    return list(dict.fromkeys(tags))


async def set_id_tags(rt: Runtime, user_id: str, vehicle_id: str, tags: list[str]) -> Vehicle:
    """Replace the vehicle's user-set idTags. A tag names one vehicle: one already set on another
    of the user's vehicles is refused (BAD_USER_INPUT), as it could no longer tell the two apart.
    The list stands for everything the user wants the vehicle named by: a learnt tag it keeps
    becomes user-set, a learnt tag it leaves out is never learnt for this vehicle again."""
    vehicle = await Vehicle.filter(id=vehicle_id, user_id=user_id).first()
    if vehicle is None:
        raise NotFoundError("No such vehicle.")
    cleaned = clean_id_tags(tags)
    for other in await Vehicle.filter(user_id=user_id).exclude(id=vehicle_id):
        shared = set(cleaned) & set(other.id_tags or [])
        if shared:
            raise BadInput(f"idTag {sorted(shared)[0]!r} already names another of your vehicles ({other.id}).")
    from app.services.pairing import user_lock

    async with user_lock(user_id):
        vehicle.id_tags = cleaned
        await vehicle.save(update_fields=["id_tags"])
        await idtags.dismiss(rt, user_id, vehicle, cleaned)
    return await Vehicle.get(id=vehicle_id)
