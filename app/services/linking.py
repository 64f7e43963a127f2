"""Linking vendor accounts: log in, discover devices, create or refresh assets."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from adapters import registry
from adapters.errors import BadCredentials, RateLimited, UnknownVendor, VendorError
from adapters.types import ChargerInfo, Session, VehicleInfo
from app.db import column
from app.db.models import ChargeAction, Charger, EvSystem, Observation, Vehicle, VendorLink
from app.errors import AlreadyLinked, BadInput, NotFoundError, TandemError
from app.ocpp import stations as ocpp_stations
from app.orchestrator import routing
from app.runtime import Runtime
from app.services import evsystems

log = logging.getLogger("tandem.linking")


def shard_of(user_id: str, shards: int) -> int:
    """The worker shard of a user's assets (stable). Every asset of a user shares it, so one
    worker process polls them all and pairing decisions for a user are made in one place."""
    return int(hashlib.sha256(user_id.encode()).hexdigest()[:8], 16) % shards


def _account_key(vendor: str, credentials: dict[str, Any]) -> str:
    identity = str(credentials.get("username") or credentials.get("userName") or credentials.get("chargePointId") or "")
    return hashlib.sha256(f"{vendor}:{identity}".encode()).hexdigest()


async def _refuse_if_linked_elsewhere(user_id: str, vendor: str, account_key: str, infos: list[Any]) -> None:
    """AlreadyLinked when another user links this vendor account or any of these devices (same
    vendor id, VIN or serial number). Another user's link of the account that holds no asset any
    more is a leftover: it is deleted, with its credentials."""
    others = VendorLink.filter(vendor=vendor, account_key=account_key).exclude(user_id=user_id)
    for link_id in await column(others, "id"):
        if await Vehicle.filter(link_id=link_id).exists() or await Charger.filter(link_id=link_id).exists():
            raise AlreadyLinked("This vendor account is already linked by another user.")
        await VendorLink.filter(id=link_id).delete()
    vehicles = [(i.vendor_id, i.vin) for i in infos if isinstance(i, VehicleInfo)]
    chargers = [(i.vendor_id, i.serial_number) for i in infos if isinstance(i, ChargerInfo)]
    if await _taken(Vehicle, user_id, vendor, vehicles, "vin"):
        raise AlreadyLinked("A vehicle of this account is already linked by another user.")
    if await _taken(Charger, user_id, vendor, chargers, "serial_number"):
        raise AlreadyLinked("A charger of this account is already linked by another user.")


async def _taken(model: type[Vehicle] | type[Charger], user_id: str, vendor: str,
                 devices: list[tuple[str, str | None]], identity: str) -> bool:
    """Whether another user holds one of `devices` (vendor id, VIN or serial number), by vendor
    id or by the identity (`vin` / `serial_number`) that names the device across vendor accounts."""
    if not devices:
        return False
    same = Q(vendor=vendor, vendor_id__in=[vendor_id for vendor_id, _ in devices])
    names: dict[str, Any] = {f"{identity}__in": [name for _, name in devices if name]}
    if names[f"{identity}__in"]:
        same |= Q(**names)
    return bool(await model.filter(same).exclude(user_id=user_id).exists())


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
    except RateLimited as exc:  # this account's (or the app's) limit at the vendor: fail now, never wait it out
        log.warning("linking %s: rate limited (%s) for %.0f s", vendor, exc.scope, exc.retry_after)
        raise TandemError(f"Requests to this vendor are rate-limited; try again in {exc.retry_after:.0f} s.",
                          "RATE_LIMITED") from None
    except VendorError as exc:
        log.warning("linking %s failed: %s", vendor, exc.code)
        raise TandemError(f"The vendor could not be reached ({exc.code}); try again.", "VENDOR_UNAVAILABLE") from None

    account_key = _account_key(vendor, credentials)
    await _refuse_if_linked_elsewhere(user_id, vendor, account_key, infos)
    try:
        link, _ = await VendorLink.get_or_create(user_id=user_id, vendor=vendor, account_key=account_key)
    except IntegrityError:  # another user linked the same account a moment ago
        raise AlreadyLinked("This vendor account is already linked by another user.") from None
    link.credentials = ocpp_stations.stored_credentials(credentials) if vendor == "ocpp" else credentials
    link.access_token = session.access_token
    link.status = "OK"
    await link.save()

    vehicles: list[Vehicle] = []
    chargers: list[Charger] = []
    # An OCPP charger is written with its station in one transaction (the password hashed
    # before): a poller seeing the charger alone would stop polling it as not registered.
    digest = await ocpp_stations.password_digest(credentials) if vendor == "ocpp" else None
    for info in infos:
        if isinstance(info, VehicleInfo):
            vehicles.append(await _upsert_vehicle(rt, user_id, link, vendor, info))
        elif isinstance(info, ChargerInfo) and digest is not None:
            async with in_transaction():
                chargers.append(await _upsert_charger(rt, user_id, link, vendor, info))
                await ocpp_stations.register(chargers[-1], credentials, digest)
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
    link_id = row.link_id
    if not await Vehicle.filter(link_id=link_id).exists() and not await Charger.filter(link_id=link_id).exists():
        await VendorLink.filter(id=link_id).delete()  # the account's last asset: forget its credentials
    await rt.publish(kind, user_id, asset_id)
    for other in others:
        await rt.publish("charger" if kind == "vehicle" else "vehicle", user_id, other)
