"""EV systems: established for every (vehicle, charger) pair of a user, kept in step with links."""

from __future__ import annotations

from app.db import column
from app.db.models import Charger, EvSystem, Vehicle
from app.runtime import Runtime


async def establish(rt: Runtime, user_id: str) -> list[EvSystem]:
    """Create the missing EV systems of a user (one per vehicle × charger); publish new ones."""
    vehicle_ids = await column(Vehicle.filter(user_id=user_id), "id")
    charger_ids = await column(Charger.filter(user_id=user_id), "id")
    existing = {
        (s.vehicle_id, s.charger_id)
        for s in await EvSystem.filter(user_id=user_id)
    }
    created: list[EvSystem] = []
    for vid in vehicle_ids:
        for cid in charger_ids:
            if (vid, cid) not in existing:
                system = await EvSystem.create(
                    user_id=user_id, vehicle_id=vid, charger_id=cid, status="ESTABLISHED",
                    evidence=["established: vehicle and charger belong to the same user"],
                )
                created.append(system)
    for system in created:
        await rt.publish("evSystem", user_id, system.id)
    if created:  # the vehicles' capabilities changed
        for vid in vehicle_ids:
            await rt.publish("vehicle", user_id, str(vid))
    return created
