"""Charger cloud adapter in the shape of Easee's REST API.

Start is `start_charging` (the cloud resumes a paused session too) and stop is
`pause_charging`, which keeps the session so it can be resumed: Enode's STOPPED on a charger.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx

from adapters import errors as e
from adapters.budget import Budget
from adapters.easee import stream
from adapters.http import MAX_RETRY_AFTER_S, VendorHttp, field, json_of
from adapters.types import Cap, ChargerInfo, ChargerSnapshot, PowerState, Session

OP_MODES: dict[int, PowerState] = {
    0: PowerState.UNKNOWN,
    1: PowerState.UNPLUGGED,
    2: PowerState.PLUGGED_IN_STOPPED,
    3: PowerState.PLUGGED_IN_CHARGING,
    4: PowerState.PLUGGED_IN_STOPPED,
    5: PowerState.PLUGGED_IN_FAULT,
    6: PowerState.PLUGGED_IN_STOPPED,
    7: PowerState.PLUGGED_IN_INITIALIZING,
}
BLOCKING_REASONS = {1, 4}  # waiting in schedule, charger disabled
CAPS = frozenset({Cap.INFORMATION, Cap.CHARGE_STATE, Cap.START_CHARGING, Cap.STOP_CHARGING,
                  Cap.SET_MAX_CURRENT, Cap.OVERRIDE_SCHEDULE})


def map_response(resp: httpx.Response) -> e.VendorError | None:
    """Map an Easee error response to a typed error."""
    try:
        body = resp.json()
    except ValueError:
        body = {}
    name = body.get("errorCodeName") if isinstance(body, dict) else None
    if resp.status_code in (401, 403):
        return e.AuthRevoked("vendor rejected the access token")
    if resp.status_code == 404:
        return e.NotFound("charger not found at the vendor")
    if name == "ChargerNotOnline":
        return e.Unreachable("charger offline")
    if resp.status_code == 400:  # a refused command (e.g. current out of range): retrying will not help
        return e.PreconditionFailed(f"charger refused the command ({str(name or 'BadRequest')[:40]})")
    return None


def _when(raw: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")) if isinstance(raw, str) else None
    except ValueError:
        return None


class EaseeAdapter:
    """Reads and commands chargers through an Easee-shaped cloud."""

    vendor = "easee"

    def __init__(self, base_url: str, *, client: httpx.AsyncClient | None = None,
                 transport: httpx.AsyncBaseTransport | None = None, timeout_s: float = 10.0,
                 budget: Budget | None = None, max_retry_after_s: float = MAX_RETRY_AFTER_S) -> None:
        self.http = VendorHttp(base_url, map_response, client=client, transport=transport,
                               timeout_s=timeout_s, budget=budget, max_retry_after_s=max_retry_after_s)
        self.base_url, self.timeout_s = base_url, timeout_s

    async def aclose(self) -> None:
        """Close connections."""
        await self.http.aclose()

    async def login(self, credentials: dict[str, object]) -> Session:
        """Exchange username/password for an access token."""
        user, pw = credentials.get("username"), credentials.get("password")
        if not isinstance(user, str) or not isinstance(pw, str):
            raise e.BadCredentials("credentials need string fields username and password")
        try:
            resp = await self.http.request("POST", "/api/accounts/login", json={"userName": user, "password": pw},
                                           account=f"login:{user}", read=True)
        except e.AuthRevoked:
            raise e.BadCredentials("vendor rejected the credentials") from None
        return Session(vendor=self.vendor, access_token=field(json_of(resp), "accessToken", str))

    async def _get(self, session: Session, path: str, device: str | None = None) -> Any:
        return json_of(await self.http.request("GET", f"/api{path}", token=session.access_token, device=device,
                                               read=True))

    async def list_chargers(self, session: Session) -> list[ChargerInfo]:
        """Every charger of the account."""
        listing = await self._get(session, "/chargers")
        if not isinstance(listing, list):
            raise e.BadResponse("charger list is not a list")
        out = []
        for item in listing:
            cid = field(item, "id", str)
            details = await self._get(session, f"/chargers/{cid}/details", cid)
            config = await self._get(session, f"/chargers/{cid}/config", cid)
            current = field(config, "maxChargerCurrent", (int, float), optional=True)
            out.append(ChargerInfo(
                vendor_id=cid, serial_number=field(details, "serialNumber", str, optional=True) or cid,
                brand=field(details, "manufacturer", str, optional=True) or "Easee",
                model=field(details, "product", str, optional=True),
                max_current=float(current) if current is not None else None, capabilities=CAPS,
            ))
        return out

    def watch(self, session: Session) -> AsyncIterator[str]:
        """Charger ids as the cloud's streaming API reports them changing (adapters/easee/stream.py)."""
        return stream.watch(self.base_url, session.access_token, self.timeout_s)

    async def read_charger(self, session: Session, vendor_id: str) -> ChargerSnapshot:
        """The charger's state."""
        st = await self._get(session, f"/chargers/{vendor_id}/state", vendor_id)
        mode = field(st, "chargerOpMode", int)
        if mode not in OP_MODES:
            raise e.BadResponse(f"unknown charger op mode {mode}")
        online = field(st, "isOnline", bool) and mode != 0
        reason = field(st, "reasonForNoCurrent", int, optional=True)
        power = field(st, "totalPower", (int, float), optional=True)
        current = field(st, "dynamicChargerCurrent", (int, float), optional=True)
        energy = field(st, "sessionEnergy", (int, float), optional=True)
        return ChargerSnapshot(
            is_online=online,
            is_plugged_in=None if not online else mode >= 2,
            is_charging=None if not online else mode == 3,
            power_state=OP_MODES[mode] if online else PowerState.UNKNOWN,
            charge_rate_kw=float(power) if power is not None else None,
            max_current=float(current) if current is not None else None,
            session_energy_kwh=float(energy) if energy is not None else None,
            schedule_blocking=mode == 2 and reason in BLOCKING_REASONS,
            data_age=_when(st.get("latestPulse")),
        )

    async def _command(self, session: Session, vendor_id: str, command: str) -> None:
        await self.http.request("POST", f"/api/chargers/{vendor_id}/commands/{command}", token=session.access_token,
                                device=vendor_id)

    async def start_charging(self, session: Session, vendor_id: str) -> None:
        """start_charging (accepted before it takes effect)."""
        await self._command(session, vendor_id, "start_charging")

    async def stop_charging(self, session: Session, vendor_id: str) -> None:
        """pause_charging: stops delivery, keeps the session resumable."""
        await self._command(session, vendor_id, "pause_charging")

    async def override_schedule(self, session: Session, vendor_id: str) -> None:
        """Charge now despite the charger's schedule."""
        await self._command(session, vendor_id, "override_schedule")

    async def set_max_current(self, session: Session, vendor_id: str, amps: float) -> None:
        """Set the dynamic charger current."""
        await self.http.request("POST", f"/api/chargers/{vendor_id}/settings", token=session.access_token,
                                json={"dynamicChargerCurrent": amps}, device=vendor_id)
