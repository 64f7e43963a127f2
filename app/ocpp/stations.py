"""Registering charge points when a user links them (`linkVendor("ocpp", ...)`)."""

from __future__ import annotations

from typing import Any

from adapters.ocpp.adapter import check_credentials
from app.db.models import Charger, OcppStation
from app.ocpp.passwords import hashed


def stored_credentials(credentials: dict[str, Any]) -> dict[str, Any]:
    """What the vendor link keeps: the id only (the password lives as a hash on the station)."""
    return {"chargePointId": credentials.get("chargePointId")}


async def register(charger: Charger, credentials: dict[str, Any]) -> None:
    """Create or update the station for `charger` with the password's hash."""
    cp_id, password = check_credentials(credentials)
    digest = await hashed(password)
    row = await OcppStation.filter(charge_point_id=cp_id).first()
    if row is None:
        await OcppStation.create(charge_point_id=cp_id, charger=charger, password_hash=digest)
    else:
        row.charger_id = charger.id
        row.password_hash = digest
        await row.save(update_fields=["charger_id", "password_hash"])
