"""Registering charge points when a user links them (`linkVendor("ocpp", ...)`)."""

from __future__ import annotations

from typing import Any

from adapters.ocpp.adapter import check_credentials
from app.db.models import Charger, OcppStation
from app.ocpp.passwords import hashed


def stored_credentials(credentials: dict[str, Any]) -> dict[str, Any]:
    """What the vendor link keeps: the id only (the password lives as a hash on the station)."""
    return {"chargePointId": credentials.get("chargePointId")}


async def password_digest(credentials: dict[str, Any]) -> str:
    """The stored form of the credentials' password (scrypt, in a thread: tens of ms);
    BadCredentials when their shape is wrong."""
    _, password = check_credentials(credentials)
    return await hashed(password)


async def register(charger: Charger, credentials: dict[str, Any], digest: str) -> None:
    """Create or update the station for `charger` with the password's hash (`password_digest`)."""
    cp_id, _ = check_credentials(credentials)
    row = await OcppStation.filter(charge_point_id=cp_id).first()
    if row is None:
        await OcppStation.create(charge_point_id=cp_id, charger=charger, password_hash=digest)
    else:
        row.charger_id = charger.id
        row.password_hash = digest
        await row.save(update_fields=["charger_id", "password_hash"])
