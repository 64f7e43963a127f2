"""One small protocol per capability (after evcc's api.go), and one lookup.

An adapter object implements the protocols for the operations its vendor API offers; whether a
*given device* can do it is in that device's `capabilities` (from what the vendor reports).
`capability(adapter, info, Proto)` answers both questions at once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol, TypeVar, runtime_checkable

from adapters.types import (
    Cap,
    ChargerInfo,
    ChargerSnapshot,
    Session,
    VehicleInfo,
    VehicleSnapshot,
)


@runtime_checkable
class Linker(Protocol):
    """Logs in to a vendor account."""

    async def login(self, credentials: dict[str, object]) -> Session:
        """Exchange user credentials for a session; raises AuthRevoked on bad credentials."""
        ...


@runtime_checkable
class VehicleSource(Protocol):
    """Discovers and reads vehicles."""

    async def list_vehicles(self, session: Session) -> list[VehicleInfo]:
        """Every vehicle of the account."""
        ...

    async def read_vehicle(self, session: Session, vendor_id: str) -> VehicleSnapshot:
        """One fetch of everything the vehicle reports."""
        ...


@runtime_checkable
class ChargerSource(Protocol):
    """Discovers and reads chargers."""

    async def list_chargers(self, session: Session) -> list[ChargerInfo]:
        """Every charger of the account."""
        ...

    async def read_charger(self, session: Session, vendor_id: str) -> ChargerSnapshot:
        """One fetch of the charger's state."""
        ...


@runtime_checkable
class ChargeController(Protocol):
    """Starts and stops charging."""

    async def start_charging(self, session: Session, vendor_id: str) -> None:
        """Ask the device to start charging (accepted is not done: confirm from data)."""
        ...

    async def stop_charging(self, session: Session, vendor_id: str) -> None:
        """Ask the device to stop charging."""
        ...


@runtime_checkable
class CurrentLimiter(Protocol):
    """Sets the maximum charging current."""

    async def set_max_current(self, session: Session, vendor_id: str, amps: float) -> None:
        """Ask the device to limit its charging current to `amps`."""
        ...


@runtime_checkable
class Waker(Protocol):
    """Wakes a sleeping vehicle."""

    async def wake_up(self, session: Session, vendor_id: str) -> None:
        """Ask the vehicle to wake up."""
        ...


@runtime_checkable
class ScheduleOverrider(Protocol):
    """Overrides a charger schedule or mode that holds a car waiting."""

    async def override_schedule(self, session: Session, vendor_id: str) -> None:
        """Let the current session charge now, despite the schedule."""
        ...


@runtime_checkable
class ChangeStream(Protocol):
    """Pushes which devices changed, so they are polled at once; polling stays the one source of state."""

    def watch(self, session: Session) -> AsyncIterator[str]:
        """Vendor ids of devices as the vendor reports them changing, for one account; raises a
        VendorError when the stream breaks (Unreachable, AuthRevoked, BadResponse)."""
        ...


P = TypeVar("P")

#: Which device capability each operation protocol needs.
_NEEDS: dict[type, tuple[Cap, ...]] = {
    ChargeController: (Cap.START_CHARGING, Cap.STOP_CHARGING),
    CurrentLimiter: (Cap.SET_MAX_CURRENT,),
    Waker: (Cap.WAKE_UP,),
    ScheduleOverrider: (Cap.OVERRIDE_SCHEDULE,),
}


def capability(
    adapter: object, info: VehicleInfo | ChargerInfo | None, proto: type[P], cap: Cap | None = None
) -> P | None:
    """Return `adapter` as `proto` when the adapter implements it and the device has the capability.

    `cap` narrows the device check to one capability (e.g. START_CHARGING of ChargeController);
    without it every capability the protocol needs must be present. `info` None skips the device
    check (adapter-level question only).
    """
    if not isinstance(adapter, proto):
        return None
    if info is None:
        return adapter
    needed = (cap,) if cap is not None else _NEEDS.get(proto, ())
    if all(c in info.capabilities for c in needed):
        return adapter
    return None
