"""What the coordinator tells smart charging after each saved poll: sessions follow the charger,
SoC readings of a charging vehicle teach its charge curve (`learning`), and a vehicle with smart
charging on is re-planned on a plug-in, a charging change or a new SoC."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.db.models import Charger, EvSystem, SmartChargingPolicy, Vehicle
from app.domain.soc import reading_time
from app.runtime import Runtime
from app.services.merge import active_charger
from app.smart import learning, service, sessions


async def after_poll(rt: Runtime, kind: str, row: Vehicle | Charger, transitions: set[str],
                     changes: dict[str, Any], now: datetime) -> None:
    """Called after a poll's changes were written."""
    if isinstance(row, Charger):
        system = await EvSystem.filter(charger_id=row.id, status="ACTIVE").first()
        session = await sessions.on_charger(row, system, transitions, now)
        if system is not None and "session_soc" in changes:  # the charger's own SoC reading (OCPP)
            await learning.record(system.vehicle_id, row, row.session_soc, now, now)
        if session is not None and session.ended_at is not None and session.vehicle_id:
            await learning.session_ended(session.vehicle_id, now)
        if system is not None and (transitions or {"is_charging", "charge_rate", "max_current"} & set(changes)):
            await _replan(rt, system.vehicle_id)
        return
    if "battery_level" in changes:
        charger = await active_charger(row.id)
        if charger is not None:
            await learning.record(row.id, charger, row.battery_level, reading_time(row.data_age, now), now)
    if "battery_level" in changes or transitions:
        await _replan(rt, row.id)


async def _replan(rt: Runtime, vehicle_id: str) -> None:
    if await SmartChargingPolicy.filter(vehicle_id=vehicle_id, is_enabled=True).exists():
        await service.tick(rt, vehicle_id)
