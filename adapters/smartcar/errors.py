"""Smartcar error bodies → typed errors (once, here)."""

from __future__ import annotations

from typing import Any

import httpx

from adapters import errors as e
from adapters.http import retry_after

#: Smartcar's 429 codes → what they limit: RATE_LIMIT:SMARTCAR_API is the application's quota,
#: RATE_LIMIT:VEHICLE and UPSTREAM:RATE_LIMIT (the car maker's limit) one vehicle.
RATE_LIMIT_SCOPES = {"SMARTCAR_API": e.APP, "VEHICLE": e.DEVICE, "RATE_LIMIT": e.DEVICE}


def from_body(status: int, body: Any, headers: dict[str, str] | httpx.Headers | None = None) -> e.VendorError:
    """Map a Smartcar error (status, JSON body, headers) to a typed error."""
    code = body.get("code") if isinstance(body, dict) else None
    kind = body.get("type") if isinstance(body, dict) else None
    if status in (401, 403):  # 403 PERMISSION: Smartcar's advice is to re-authenticate
        return e.AuthRevoked("vendor rejected the access token")
    if status == 404:
        return e.NotFound("vehicle not found at the vendor")
    if status == 501 or code == "VEHICLE_NOT_CAPABLE":
        return e.NotCapable("vehicle not capable")
    if status == 429:
        return e.RateLimited("rate limited", retry_after(headers), scope=RATE_LIMIT_SCOPES.get(str(code), e.ACCOUNT))
    if status == 409 and kind == "VEHICLE_STATE":
        if code == "ASLEEP":
            return e.Asleep("vehicle asleep")
        if code == "UNREACHABLE":
            return e.Unreachable("vehicle offline")
        return e.PreconditionFailed(f"vehicle refused: {code}")
    if status >= 500:
        return e.Unreachable(f"vendor error {status}")
    return e.BadResponse(f"unexpected vendor answer {status}")


def map_response(resp: httpx.Response) -> e.VendorError:
    """Map an error response."""
    try:
        body = resp.json()
    except ValueError:
        body = None
    return from_body(resp.status_code, body, resp.headers)
