"""Vehicle cloud adapter in the shape of Smartcar's REST API v2.0."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from adapters import errors as e
from adapters.budget import Budget
from adapters.http import MAX_RETRY_AFTER_S, VendorHttp, field, json_of
from adapters.smartcar.errors import from_body, map_response
from adapters.types import Cap, Session, VehicleInfo, VehicleSnapshot

PERMISSIONS: dict[str, Cap] = {
    "read_battery": Cap.CHARGE_STATE,
    "read_charge": Cap.CHARGE_STATE,
    "read_location": Cap.LOCATION,
    "control_charge_start": Cap.START_CHARGING,
    "control_charge": Cap.STOP_CHARGING,
    "control_charge_amperage": Cap.SET_MAX_CURRENT,
    "wake": Cap.WAKE_UP,
}
POLL_PATHS = ["/battery", "/charge", "/charge/limit", "/location"]


def _when(raw: Any) -> datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None


ESSENTIAL_PATHS = ("/battery", "/charge")
Parts = dict[str, tuple[int, Any, dict[str, str]]]  # batch path -> (status, body, headers)


def _body(parts: Parts, path: str) -> Any:
    """A batch sub-answer's body when it succeeded, else None."""
    code, sub, _ = parts.get(path, (0, None, {}))
    return sub if 200 <= code < 300 else None


def _location(parts: Parts) -> dict[str, float | None]:
    """latitude and longitude from the batch's /location answer (None when it has none)."""
    loc = _body(parts, "/location")
    if loc is None:
        return {"latitude": None, "longitude": None}
    return {k: field(loc, k, (int, float), optional=True) for k in ("latitude", "longitude")}


def _without_charge_state(parts: Parts, errors: dict[str, e.VendorError]) -> VehicleSnapshot:
    """A make that reports no battery or charge data: only its location, if any."""
    if "/location" in errors and not isinstance(errors["/location"], e.NotCapable):
        raise errors["/location"]  # asleep, offline, ...: the car did not answer
    located = _body(parts, "/location") is not None
    return VehicleSnapshot(
        battery_level=None, range_km=None, is_plugged_in=None, is_charging=None, is_fully_charged=None,
        charge_limit=None, charge_rate_kw=None, battery_capacity_kwh=None, max_current=None, **_location(parts),
        data_age=_when(parts["/location"][2].get("sc-data-age")) if located else None,
    )


class SmartcarAdapter:
    """Reads and commands vehicles through a Smartcar-shaped cloud."""

    vendor = "smartcar"

    def __init__(self, base_url: str, *, client: httpx.AsyncClient | None = None,
                 transport: httpx.AsyncBaseTransport | None = None, timeout_s: float = 10.0,
                 budget: Budget | None = None, max_retry_after_s: float = MAX_RETRY_AFTER_S) -> None:
        self.http = VendorHttp(base_url, map_response, client=client, transport=transport,
                               timeout_s=timeout_s, budget=budget, max_retry_after_s=max_retry_after_s)

    async def aclose(self) -> None:
        """Close connections."""
        await self.http.aclose()

    async def login(self, credentials: dict[str, object]) -> Session:
        """Exchange username/password for an access token."""
        user, pw = credentials.get("username"), credentials.get("password")
        if not isinstance(user, str) or not isinstance(pw, str):
            raise e.BadCredentials("credentials need string fields username and password")
        try:
            resp = await self.http.request("POST", "/oauth/token", json={"username": user, "password": pw},
                                           account=f"login:{user}", read=True)
        except e.AuthRevoked:
            raise e.BadCredentials("vendor rejected the credentials") from None
        return Session(vendor=self.vendor, access_token=field(json_of(resp), "access_token", str))

    async def _get(self, session: Session, path: str, device: str | None = None) -> Any:
        return json_of(await self.http.request("GET", f"/v2.0{path}", token=session.access_token, device=device,
                                               read=True))

    async def list_vehicles(self, session: Session) -> list[VehicleInfo]:
        """Every vehicle of the account, with what each reports it can do."""
        ids = field(await self._get(session, "/vehicles"), "vehicles", list)
        out = []
        for vid in ids:
            if not isinstance(vid, str):
                raise e.BadResponse("vehicle id is not a string")
            info = await self._get(session, f"/vehicles/{vid}", vid)
            vin = field(await self._get(session, f"/vehicles/{vid}/vin", vid), "vin", str)
            caps = {Cap.INFORMATION}
            for item in field(await self._get(session, f"/vehicles/{vid}/capabilities", vid), "capabilities", list):
                perm = field(item, "permission", str)
                if field(item, "capable", bool) and perm in PERMISSIONS:
                    caps.add(PERMISSIONS[perm])
            try:
                cap_body = await self._get(session, f"/vehicles/{vid}/battery/capacity", vid)
                capacity = field(cap_body, "capacity", (int, float))
            except e.NotCapable:
                capacity = None
            out.append(VehicleInfo(
                vendor_id=vid, vin=vin, brand=field(info, "make", str, optional=True),
                model=field(info, "model", str, optional=True), year=field(info, "year", int, optional=True),
                battery_capacity_kwh=float(capacity) if capacity is not None else None, capabilities=frozenset(caps),
            ))
        return out

    async def read_vehicle(self, session: Session, vendor_id: str) -> VehicleSnapshot:
        """One batch call for battery, charge, limit and location."""
        body = json_of(await self.http.request(
            "POST", f"/v2.0/vehicles/{vendor_id}/batch", token=session.access_token,
            json={"requests": [{"path": p} for p in POLL_PATHS]}, device=vendor_id, read=True,
        ))
        parts: Parts = {}
        for item in field(body, "responses", list):
            path = field(item, "path", str)
            headers = item.get("headers") if isinstance(item.get("headers"), dict) else {}
            parts[path] = (field(item, "code", int), item.get("body"), headers)
        missing = [p for p in ESSENTIAL_PATHS if p not in parts]
        if missing:
            raise e.BadResponse(f"batch answer lacks {missing[0]}")
        errors = {p: self.http.note(from_body(code, sub, headers), token=session.access_token, device=vendor_id)
                  for p, (code, sub, headers) in parts.items() if code >= 300}
        if all(isinstance(errors.get(p), e.NotCapable) for p in ESSENTIAL_PATHS):
            return _without_charge_state(parts, errors)
        failed = [errors[p] for p in ESSENTIAL_PATHS if p in errors]
        if failed:
            raise failed[0]
        battery, charge = _body(parts, "/battery"), _body(parts, "/charge")
        state = field(charge, "state", str)
        if state not in ("CHARGING", "FULLY_CHARGED", "NOT_CHARGING"):
            raise e.BadResponse("unknown charge state")
        limit = _body(parts, "/charge/limit")
        pct = field(battery, "percentRemaining", (int, float))
        lim = field(limit, "limit", (int, float), optional=True) if limit is not None else None
        rate = field(charge, "chargeRate", (int, float), optional=True)
        return VehicleSnapshot(
            battery_level=round(float(pct) * 100, 1),
            range_km=field(battery, "range", (int, float), optional=True),
            is_plugged_in=field(charge, "isPluggedIn", bool),
            is_charging=state == "CHARGING",
            is_fully_charged=state == "FULLY_CHARGED",
            charge_limit=round(float(lim) * 100, 1) if lim is not None else None,
            charge_rate_kw=float(rate) if rate is not None else None,
            battery_capacity_kwh=None,
            max_current=None,
            **_location(parts),
            data_age=_when(parts["/charge"][2].get("sc-data-age")),
        )

    async def _command(self, session: Session, vendor_id: str, path: str, body: dict[str, Any]) -> None:
        await self.http.request("POST", f"/v2.0/vehicles/{vendor_id}{path}", token=session.access_token, json=body,
                                device=vendor_id)

    async def start_charging(self, session: Session, vendor_id: str) -> None:
        """POST /charge START."""
        await self._command(session, vendor_id, "/charge", {"action": "START"})

    async def stop_charging(self, session: Session, vendor_id: str) -> None:
        """POST /charge STOP."""
        await self._command(session, vendor_id, "/charge", {"action": "STOP"})

    async def set_max_current(self, session: Session, vendor_id: str, amps: float) -> None:
        """POST /charge/ampere."""
        await self._command(session, vendor_id, "/charge/ampere", {"amperage": int(amps)})

    async def wake_up(self, session: Session, vendor_id: str) -> None:
        """POST /wake."""
        await self._command(session, vendor_id, "/wake", {})
