"""Chargers that speak OCPP 1.6J to Tandem's own central system (no vendor cloud).

Reads come from what the charge point last reported (`StationHub.state`); commands are OCPP
Calls sent through the hub to whichever web process holds the charge point's websocket:

- start: `ClearChargingProfile` of Tandem's pause when a transaction runs, else
  `RemoteStartTransaction` on connector 1 with the idTag connector 1 last started with (a
  charger that only starts for cards it knows accepts that one), else Tandem's own idTag;
- stop: a `TxProfile` limiting the running transaction to 0 (the session stays resumable) when the
  charge point has the SmartCharging profile, else `RemoteStopTransaction`;
- max current: a `TxDefaultProfile` on connector 1 in A or W, as the charge point takes, then
  `GetCompositeSchedule` so the charger's own report shows the limit.

Tandem tracks connector 1 only (`app.ocpp.connectors`): every command targets it, so a second
connector's car (a twin-socket wallbox) is neither started, stopped nor limited by Tandem.

An Accepted reply is not done: the orchestrator confirms from the reports that follow.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from adapters import errors as e
from adapters.ocpp import mapping
from adapters.ocpp.hub import StationHub, StationState
from adapters.types import ChargerInfo, ChargerSnapshot, Session

CHARGE_POINT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,47}$")
PASSWORD = re.compile(r"^[\x21-\x7e]{8,64}$")
#: Profile ids Tandem owns on every charge point.
LIMIT_PROFILE_ID = 7301
PAUSE_PROFILE_ID = 7302
DEFAULT_ID_TAG = "TANDEM"


def check_credentials(credentials: dict[str, object]) -> tuple[str, str]:
    """`(chargePointId, password)` from linking credentials; BadCredentials naming what is wrong."""
    cp_id, password = credentials.get("chargePointId"), credentials.get("password")
    if not isinstance(cp_id, str) or not CHARGE_POINT_ID.match(cp_id):
        raise e.BadCredentials("chargePointId must be 1-48 letters, digits or . _ : -")
    if not isinstance(password, str) or not PASSWORD.match(password):
        raise e.BadCredentials("password must be 8-64 printable ASCII characters")
    if set(credentials) - {"chargePointId", "password"}:
        raise e.BadCredentials("credentials take only chargePointId and password")
    return cp_id, password


def _profile(profile_id: int, purpose: str, limit: float, unit: str, transaction_id: int | None = None,
             stack_level: int = 0) -> dict[str, Any]:
    profile: dict[str, Any] = {
        "chargingProfileId": profile_id, "stackLevel": stack_level, "chargingProfilePurpose": purpose,
        "chargingProfileKind": "Relative",
        "chargingSchedule": {"chargingRateUnit": unit, "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit}]},
    }
    if transaction_id is not None:
        profile["transactionId"] = transaction_id
    return profile


class OcppAdapter:
    """Reads and commands OCPP charge points through Tandem's central system."""

    vendor = "ocpp"
    #: Reads are database reads of what the charge point pushed: a pushed change may be read at once.
    kick_every_s = 0.2
    #: Every report is pushed (and polled at once): regular polls only notice a charge point gone
    #: silent (`isReachable`, two missed heartbeats), so one a minute is enough.
    poll_every_s = 60.0
    #: A charge point pushes its cable to Tandem itself: a read shows a cable that went in more than
    #: this long ago (its StatusNotification's way over the network); vendor clouds take seconds.
    report_lag_s = 0.5

    def __init__(self, base_url: str = "", *, hub: StationHub | None = None, id_tag: str = DEFAULT_ID_TAG,
                 **_: Any) -> None:
        self._hub = hub
        self.id_tag = id_tag

    @property
    def hub(self) -> StationHub:
        """The central system (raises Unreachable in a process that has none)."""
        if self._hub is None:
            raise e.Unreachable("no OCPP central system in this process")
        return self._hub

    async def aclose(self) -> None:
        """Nothing to close: the central system owns the sockets."""

    async def login(self, credentials: dict[str, object]) -> Session:
        """Check the charge point's credentials' shape; the central system checks them at connect."""
        cp_id, _ = check_credentials(credentials)
        return Session(vendor=self.vendor, access_token=cp_id)

    async def _state(self, cp_id: str) -> StationState:
        state = await self.hub.state(cp_id)
        if state is None:
            raise e.NotFound("charge point not registered")
        return state

    async def list_chargers(self, session: Session) -> list[ChargerInfo]:
        """The one charger a charge point id names."""
        cp_id = session.access_token
        state = await self.hub.state(cp_id)
        return [ChargerInfo(
            vendor_id=cp_id, serial_number=(state.serial if state and state.serial else cp_id),
            brand=state.vendor_name if state else None, model=state.model_name if state else None,
            max_current=None, capabilities=mapping.capabilities(state.features if state else None),
        )]

    async def read_charger(self, session: Session, vendor_id: str) -> ChargerSnapshot:
        """The charger as its charge point last reported it."""
        return mapping.snapshot(await self._state(vendor_id), datetime.now(UTC))

    async def _call(self, cp_id: str, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        reply = await self.hub.call(cp_id, action, payload)
        status = reply.get("status")
        if status not in ("Accepted", None):
            raise e.PreconditionFailed(f"charge point answered {action} with {str(status)[:20]}")
        return reply

    async def start_charging(self, session: Session, vendor_id: str) -> None:
        """Resume a paused transaction, or start one remotely."""
        st = await self._state(vendor_id)
        if st.transaction_id is not None:
            await self._call(vendor_id, "ClearChargingProfile", {"id": PAUSE_PROFILE_ID})
            await self.hub.note(vendor_id, paused=False)
            return
        if st.status in ("Available", "Reserved"):
            raise e.PreconditionFailed("no car is plugged into the charger")
        tags = [t for t in (st.last_id_tag, self.id_tag) if t]
        last: e.VendorError | None = None
        for tag in dict.fromkeys(tags):  # the charge point's own card first, then Tandem's tag
            # noted first (its StartTransaction may come before the answer): a transaction started
            # with a tag Tandem chose names no car
            await self.hub.note(vendor_id, remote_id_tag=tag)
            try:
                await self._call(vendor_id, "RemoteStartTransaction", {"connectorId": 1, "idTag": tag})
                await self.hub.note(vendor_id, paused=False)
                return
            except e.PreconditionFailed as exc:
                last = exc
        raise last or e.PreconditionFailed("charge point refused the remote start")

    async def stop_charging(self, session: Session, vendor_id: str) -> None:
        """Pause the running transaction (SmartCharging) or stop it."""
        st = await self._state(vendor_id)
        if st.transaction_id is None:
            raise e.PreconditionFailed("no transaction is running on the charger")
        if "SmartCharging" in st.features:
            profile = _profile(PAUSE_PROFILE_ID, "TxProfile", 0, st.rate_unit or "A", st.transaction_id, stack_level=9)
            await self._call(vendor_id, "SetChargingProfile", {"connectorId": 1, "csChargingProfiles": profile})
            await self.hub.note(vendor_id, paused=True)
            return
        await self._call(vendor_id, "RemoteStopTransaction", {"transactionId": st.transaction_id})

    async def set_max_current(self, session: Session, vendor_id: str, amps: float) -> None:
        """Limit connector 1's sessions with a TxDefaultProfile (on connector 1: one on connector 0
        would limit every connector's), then read back the effective schedule."""
        st = await self._state(vendor_id)
        if st.features and "SmartCharging" not in st.features:
            raise e.NotCapable("the charge point does not support smart charging profiles")
        unit = st.rate_unit or "A"
        profile = _profile(LIMIT_PROFILE_ID, "TxDefaultProfile", mapping.amps_to_rate(amps, unit), unit)
        await self._call(vendor_id, "SetChargingProfile", {"connectorId": 1, "csChargingProfiles": profile})
        await self.hub.note(vendor_id, limit_a=float(amps))
        try:
            reply = await self._call(vendor_id, "GetCompositeSchedule",
                                     {"connectorId": 1, "duration": 60, "chargingRateUnit": unit})
        except e.VendorError:
            return  # the limit stands; the report is a bonus
        periods = ((reply.get("chargingSchedule") or {}).get("chargingSchedulePeriod") or [])
        if periods and isinstance(periods[0], dict) and isinstance(periods[0].get("limit"), int | float):
            reported = mapping.rate_to_amps(float(periods[0]["limit"]), unit)
            if reported > 0:
                await self.hub.note(vendor_id, reported_limit_a=reported)
