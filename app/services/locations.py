"""User locations (home) and which charger stands where."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from app.db.models import Charger, Location
from app.errors import BadInput, NotFoundError


async def create_location(user_id: str, name: str, latitude: float, longitude: float, timezone: str) -> Location:
    """Create a location after checking its coordinates and time zone."""
    if not -90 <= latitude <= 90 or not -180 <= longitude <= 180:
        raise BadInput("latitude must be within [-90, 90] and longitude within [-180, 180].")
    if not name.strip() or len(name) > 200:
        raise BadInput("name must be 1-200 characters.")
    try:
        ZoneInfo(timezone)
    except Exception:
        raise BadInput(f"Unknown time zone: {timezone[:64]!r}.") from None
    return await Location.create(user_id=user_id, name=name.strip(), latitude=latitude,
                                 longitude=longitude, timezone=timezone)


async def set_charger_location(user_id: str, charger_id: str, location_id: str | None) -> Charger:
    """Place the user's charger at one of the user's locations (None clears it)."""
    charger = await Charger.filter(id=charger_id, user_id=user_id).first()
    if charger is None:
        raise NotFoundError("No such charger.")
    if location_id is not None and not await Location.filter(id=location_id, user_id=user_id).exists():
        raise NotFoundError("No such location.")
    charger.location_id = location_id
    await charger.save(update_fields=["location_id"])
    return charger
