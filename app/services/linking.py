"""Linking vendor accounts: log in, discover devices, create or refresh assets."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from adapters import registry
from adapters.errors import BadCredentials, UnknownVendor, VendorError
from adapters.types import ChargerInfo, Session, VehicleInfo
from app.db.models import ChargeAction, Charger, EvSystem, Observation, Vehicle, VendorLink
from app.errors import BadInput, NotFoundError, TandemError
from app.orchestrator import routing
from app.runtime import Runtime
from app.services import evsystems

log = logging.getLogger("tandem.linking")


def shard_of(user_id: str, shards: int) -> int:
    """The worker shard of a user's assets (stable). Every asset of a user shares it, so one
    worker process polls them all and pairing decisions for a user are made in one place."""
    return int(hashlib.sha256(user_id.encode()).hexdigest()[:8], 16) % shards


def _account_key(vendor: str, credentials: dict[str, Any]) -> str:
    identity = str(credentials.get("username") or credentials.get("userName") or "")
    return hashlib.sha256(f"{vendor}:{identity}".encode()).hexdigest()


async def link_vendor(
    rt: Runtime, user_id: str, vendor: str, credentials: Any
) -> tuple[list[Vehicle], list[Charger]]:
    """Link (or re-link) a vendor account; returns the assets it holds. Creates nothing on failure."""
    if not isinstance(credentials, dict):
        raise BadInput("credentials must be a JSON object.")
    try:
        spec = registry.get(vendor)
    except UnknownVendor:
        raise TandemError(f"Unknown vendor: {vendor[:50]!r}.", "UNKNOWN_VENDOR") from None
    adapter = rt.adapter(vendor)
    try:
        session: Session = await adapter.login(credentials)
        infos: list[Any] = await (
            adapter.list_vehicles(session) if spec.serves == "vehicles" else adapter.list_chargers(session)
        )
    except BadCredentials:
        raise TandemError("The vendor did not accept these credentials.", "BAD_CREDENTIALS") from None
    except VendorError as exc:
        log.warning("linking %s failed: %s", vendor, exc.code)
        raise TandemError(f"The vendor could not be reached ({exc.code}); try again.", "VENDOR_UNAVAILABLE") from None

    link, _ = await VendorLink.get_or_create(
        user_id=user_id, vendor=vendor, account_key=_account_key(vendor, credentials)
    )
    link.credentials = credentials
    link.access_token = session.access_token
    link.status = "OK"
    await link.save()

    vehicles: list[Vehicle] = []
    chargers: list[Charger] = []
    for info in infos:
        if isinstance(info, VehicleInfo):
            vehicles.append(await _upsert_vehicle(rt, user_id, link, vendor, info))
        elif isinstance(info, ChargerInfo):
            chargers.append(await _upsert_charger(rt, user_id, link, vendor, info))
    await evsystems.establish(rt, user_id)
    for v in vehicles:
        await rt.publish("vehicle", user_id, v.id)
    for c in chargers:
        await rt.publish("charger", user_id, c.id)
    return vehicles, chargers


async def _upsert_vehicle(rt: Runtime, user_id: str, link: VendorLink, vendor: str, info: VehicleInfo) -> Vehicle:
    row = await Vehicle.filter(user_id=user_id, vendor=vendor, vendor_id=info.vendor_id).first()
    fields = dict(
        link=link, vin=info.vin, brand=info.brand, model=info.model, year=info.year,
        battery_capacity=info.battery_capacity_kwh, capabilities=sorted(c.value for c in info.capabilities),
        poll_error=None,
    )
    if row is None:
        row = Vehicle(user_id=user_id, vendor=vendor, vendor_id=info.vendor_id, **fields)
        row.shard = shard_of(user_id, rt.settings.shards)
        await row.save()
    else:
        await row.update_from_dict(fields).save()
    return row


async def _upsert_charger(rt: Runtime, user_id: str, link: VendorLink, vendor: str, info: ChargerInfo) -> Charger:
    row = await Charger.filter(user_id=user_id, vendor=vendor, vendor_id=info.vendor_id).first()
    fields = dict(
        link=link, serial_number=info.serial_number, brand=info.brand, model=info.model,
        hw_max_current=info.max_current, capabilities=sorted(c.value for c in info.capabilities),
        poll_error=None,
    )
    if row is None:
        row = Charger(user_id=user_id, vendor=vendor, vendor_id=info.vendor_id, **fields)
        row.shard = shard_of(user_id, rt.settings.shards)
        await row.save()
    else:
        await row.update_from_dict(fields).save()
    return row


async def unlink_asset(rt: Runtime, user_id: str, kind: str, asset_id: str) -> None:
    """Remove a vehicle or charger and everything hanging off it (systems, actions, evidence)."""
    model = Vehicle if kind == "vehicle" else Charger
    row = await model.filter(id=asset_id, user_id=user_id).first()
    if row is None:
        raise NotFoundError(f"No such {kind}.")
    others = {
        (s.vehicle_id if kind == "charger" else s.charger_id)
        for s in await EvSystem.filter(**{f"{kind}_id": asset_id})
    }
    await ChargeAction.filter(user_id=user_id, target_id=asset_id, state="PENDING").update(
        state="CANCELLED", failure_type="NOT_FOUND", failure_detail=f"The {kind} was unlinked."
    )
    await Observation.filter(asset_id=asset_id).delete()
    await routing.forget(asset_id)
    await row.delete()
    await rt.publish(kind, user_id, asset_id)
    for other in others:
        await rt.publish("charger" if kind == "vehicle" else "vehicle", user_id, other)
