"""Ask for an asset to be polled now, whichever worker process owns it."""

from __future__ import annotations

from app.events import Event
from app.runtime import Runtime
from app.workers.poller import Poller

SYSTEM_USER = "__workers__"
_local: list[Poller] = []


def register(poller: Poller) -> None:
    """Make a local poller reachable for kicks."""
    _local.append(poller)


def unregister(poller: Poller) -> None:
    """Forget a local poller."""
    if poller in _local:
        _local.remove(poller)


def kick_local(asset_id: str) -> bool:
    """Kick the asset in this process; False when no local poller has it."""
    return any(p.kick(asset_id) for p in _local)


async def request_poll(rt: Runtime, kind: str, asset_id: str) -> None:
    """Poll `asset_id` now: locally when owned here, else through the broadcast to its owner."""
    if not kick_local(asset_id):
        await rt.bus.publish(Event(topic="poll", user_id=SYSTEM_USER, object_id=f"{kind}:{asset_id}", payload={}))
