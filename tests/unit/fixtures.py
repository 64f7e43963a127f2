"""Rows for database-backed unit tests: a user with vehicles, chargers and their EV systems."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from app.db.models import Charger, Client, EvSystem, User, Vehicle, VendorLink, new_id
from app.events import EventBus
from app.runtime import Runtime
from app.settings import Settings


@dataclass
class Household:
    """One user's assets, by short name (`v1`, `c1`, ...), and their systems by (vehicle, charger)."""

    user: User
    vehicles: dict[str, Vehicle] = field(default_factory=dict)
    chargers: dict[str, Charger] = field(default_factory=dict)
    systems: dict[tuple[str, str], EvSystem] = field(default_factory=dict)


async def household(vehicles: int, chargers: int, *, plugged_in_at: datetime | None = None,
                    capabilities: list[str] | None = None) -> Household:
    """A user owning `vehicles` cars and `chargers` chargers (plugged in at `plugged_in_at` and
    charging, when given), with one EV system per pair."""
    client = await Client.create(name="test", secret_hash=new_id())
    user = await User.create(client=client, external_id=new_id())
    link = await VendorLink.create(user=user, vendor="sim", account_key=new_id())
    h = Household(user)
    caps = capabilities if capabilities is not None else ["chargeState", "startCharging", "stopCharging"]
    for i in range(1, vehicles + 1):
        h.vehicles[f"v{i}"] = await Vehicle.create(user=user, link=link, vendor="smartcar", vendor_id=f"V{i}",
                                                   capabilities=caps, is_reachable=True)
    for i in range(1, chargers + 1):
        plugged = plugged_in_at is not None
        h.chargers[f"c{i}"] = await Charger.create(
            user=user, link=link, vendor="easee", vendor_id=f"C{i}", capabilities=caps, is_reachable=True,
            is_plugged_in=plugged, is_charging=plugged, plugged_in_at=plugged_in_at, charge_rate=7.0 if plugged else 0,
            power_state="PLUGGED_IN_CHARGING" if plugged else "UNPLUGGED")
    for vname, v in h.vehicles.items():
        for cname, c in h.chargers.items():
            h.systems[(vname, cname)] = await EvSystem.create(user=user, vehicle=v, charger=c)
    return h


async def runtime(settings: Settings) -> Runtime:
    """A process runtime on the test settings with a connected in-memory bus."""
    bus = EventBus("memory://")
    await bus.connect()
    return Runtime(settings=settings, bus=bus)


def now() -> datetime:
    """Now, timezone-aware."""
    return datetime.now(UTC)
