"""What the `ocpp` adapter needs from Tandem's central system: a station's last reports, and a
way to send it a request wherever its websocket lives.

The adapter sits at the vendor boundary like every other adapter; for OCPP the "vendor cloud" is
Tandem's own central system (`app/ocpp`), which implements `StationHub` and is handed to the
adapter when the runtime builds it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class StationState:
    """What a charge point last reported (connector 1), with Tandem's receipt-clamped times."""

    charge_point_id: str
    connected: bool
    last_message_at: datetime | None
    heartbeat_s: int
    status: str | None  # OCPP ChargePointStatus: Available, Preparing, Charging, ...
    status_at: datetime | None
    error_code: str | None = None
    vendor_name: str | None = None
    model_name: str | None = None
    serial: str | None = None
    features: tuple[str, ...] = ()
    rate_unit: str | None = None  # "A" or "W": ChargingScheduleAllowedChargingRateUnit
    authorize_remote: bool | None = None
    transaction_id: int | None = None
    tx_id_tag: str | None = None
    last_id_tag: str | None = None
    remote_id_tag: str | None = None  # the idTag Tandem sent in a RemoteStartTransaction this plug session
    power_w: float | None = None
    energy_wh: float | None = None
    tx_meter_start_wh: float | None = None
    session_prior_wh: float = 0.0  # what the plug session's earlier transactions delivered (Wh)
    last_tx_id: int | None = None  # the plug session's latest transaction (running or ended)
    soc: float | None = None
    meter_at: datetime | None = None
    limit_a: float | None = None
    paused: bool = False
    reported_limit_a: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class StationHub(Protocol):
    """Tandem's central system, as the adapter sees it."""

    async def state(self, charge_point_id: str) -> StationState | None:
        """The station's last reports; None when no such charge point is registered."""
        ...

    async def call(self, charge_point_id: str, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Send an OCPP Call (`action`, camelCase `payload`) to the charge point and return its
        CallResult payload. Raises `Unreachable` when it is not connected anywhere or does not
        answer in time, `PreconditionFailed` for a CallError it answered."""
        ...

    async def note(self, charge_point_id: str, **changes: Any) -> None:
        """Record what Tandem asked of the station (its limit, a pause), for later commands."""
        ...
