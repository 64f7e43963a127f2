"""The stations table: what each charge point last reported, written by the web process that
holds its socket and read by every process (`OcppStation`)."""

from __future__ import annotations

from typing import Any

from tortoise.expressions import F

from adapters.ocpp import mapping
from adapters.ocpp.hub import StationState
from app.db.models import Charger, OcppStation


def to_state(row: OcppStation) -> StationState:
    """The adapter's view of a row."""
    return StationState(
        charge_point_id=row.charge_point_id, connected=row.connected_node is not None,
        last_message_at=row.last_message_at, heartbeat_s=row.heartbeat_s, status=row.status,
        status_at=row.status_at, error_code=row.error_code, vendor_name=row.vendor_name,
        model_name=row.model_name, serial=row.serial, features=tuple(row.features or ()),
        rate_unit=row.rate_unit, authorize_remote=row.authorize_remote, transaction_id=row.transaction_id,
        tx_id_tag=row.tx_id_tag, last_id_tag=row.last_id_tag, power_w=row.power_w, energy_wh=row.energy_wh,
        tx_meter_start_wh=row.tx_meter_start_wh, session_prior_wh=row.session_prior_wh, soc=row.soc,
        last_tx_id=row.last_tx_id,
        meter_at=row.meter_at, limit_a=row.limit_a,
        paused=row.paused, reported_limit_a=row.reported_limit_a, remote_id_tag=row.remote_id_tag,
    )


async def get(cp_id: str) -> OcppStation | None:
    """The station row, or None when the id is not registered."""
    return await OcppStation.filter(charge_point_id=cp_id).first()


async def update(cp_id: str, **changes: Any) -> bool:
    """Write `changes`; False when the station no longer exists (unlinked)."""
    return bool(await OcppStation.filter(charge_point_id=cp_id).update(**changes))


async def next_transaction_id(cp_id: str) -> int:
    """A transaction id unique for this charge point, kept across restarts of Tandem."""
    await OcppStation.filter(charge_point_id=cp_id).update(next_tx_id=F("next_tx_id") + 1)
    row = await OcppStation.get(charge_point_id=cp_id)
    return int(row.next_tx_id) - 1


async def describe(cp_id: str, brand: str, model: str) -> None:
    """Name the linked charger after what its charge point says it is (BootNotification's
    vendor and model): a charger is linked before it first connects, so linking cannot know them."""
    row = await get(cp_id)
    if row is not None and row.charger_id is not None:
        await Charger.filter(id=row.charger_id).update(brand=brand, model=model)


async def learn_features(cp_id: str, features: list[str]) -> None:
    """Record the charge point's feature profiles (GetConfiguration at connect) and the linked
    charger's capabilities that follow from them (`adapters.ocpp.mapping.capabilities`)."""
    row = await get(cp_id)
    if row is None:
        return
    await update(cp_id, features=features)
    if row.charger_id is not None:
        caps = sorted(c.value for c in mapping.capabilities(features))
        await Charger.filter(id=row.charger_id).update(capabilities=caps)
