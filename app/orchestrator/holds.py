"""Tandem's own actions hold the user's actions on the same devices.

An internal action (origin PROBE: a probe's pause or its resume) names the assets it holds in
`plan["holds"]` (the charger it targets is always held). While one is PENDING, a user's action
on a held asset is neither refused as unnecessary nor judged: the charger is stopped because
Tandem paused it, which says nothing about the user's STOP. Once the internal action has ended,
a user's action that is judged from the vehicle's own data waits (at most `verify_vehicle_s`)
for vehicle data newer than that end: data from the pause would otherwise "confirm" a STOP.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.expressions import Q

from app.db.models import ChargeAction
from app.orchestrator.context import Target

INTERNAL = "PROBE"


@dataclass(frozen=True)
class Hold:
    """Why and until when a user's action waits. `refresh`: poll the target meanwhile (it waits
    for fresh data, not for an internal action)."""

    until: datetime
    refresh: bool
    reason: str


def held_assets(action: ChargeAction) -> set[str]:
    """The assets an internal action holds."""
    return {action.target_id, *action.plan.get("holds", [])}


def _assets(target: Target) -> set[str]:
    return {row.id for row in (target.vehicle, target.charger) if row is not None}


def _fresh_after(target: Target, ended: datetime) -> bool:
    """Whether the data the action will be judged on was taken after `ended`."""
    if target.charger is not None:  # the charger is authoritative, and the resume was confirmed from its data
        return True
    v = target.vehicle
    taken = (v.data_age or v.polled_at) if v is not None else None
    return taken is not None and taken > ended


async def hold(user_id: str, target: Target, now: datetime, check_s: float, settle_s: float) -> Hold | None:
    """Whether a user's action on `target` must wait for Tandem's own actions, and until when
    (the next check, `check_s` away). `settle_s`: how long after an internal action ended its
    vehicle data may still describe it."""
    assets = _assets(target)
    if not assets:
        return None
    since = now - timedelta(seconds=settle_s)
    internal = await ChargeAction.filter(Q(user_id=user_id) & Q(origin=INTERNAL)
                                         & (Q(state="PENDING") | Q(completed_at__gte=since)))
    mine = [a for a in internal if held_assets(a) & assets]
    step = now + timedelta(seconds=check_s)
    if any(a.state == "PENDING" for a in mine):
        return Hold(step, refresh=False, reason="Tandem's probe holds this charger")
    ended = max((a.completed_at for a in mine if a.completed_at), default=None)
    if ended is not None and not _fresh_after(target, ended):
        return Hold(min(step, ended + timedelta(seconds=settle_s)), refresh=True,
                    reason="waiting for vehicle data from after Tandem's probe")
    return None
