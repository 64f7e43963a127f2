"""Shared HTTP plumbing for adapters: one client, a budget, transport errors mapped once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from adapters.budget import Budget
from adapters.errors import BadResponse, RateLimited, Unreachable, VendorError

#: Maps an error response to a typed error (or None to fall back to status-based mapping).
ErrorMapper = Callable[[httpx.Response], VendorError | None]


class VendorHttp:
    """An httpx client bound to a base URL, a request budget and an error mapper."""

    def __init__(self, base_url: str, map_error: ErrorMapper, *, client: httpx.AsyncClient | None = None,
                 transport: httpx.AsyncBaseTransport | None = None, timeout_s: float = 10.0,
                 budget: Budget | None = None) -> None:
        self.map_error = map_error
        self.budget = budget or Budget(100, 50.0)
        self.client = client or httpx.AsyncClient(
            base_url=base_url.rstrip("/"), transport=transport, timeout=timeout_s,
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=100),
        )

    async def request(self, method: str, path: str, *, token: str | None = None,
                      json: Any = None) -> httpx.Response:
        """Send a request; returns a 2xx response or raises a typed VendorError."""
        await self.budget.acquire()
        headers = {"Authorization": f"Bearer {token}"} if token else None
        try:
            resp = await self.client.request(method, path, json=json, headers=headers)
        except httpx.TimeoutException:
            raise Unreachable("vendor timed out") from None
        except httpx.HTTPError as exc:
            raise Unreachable(f"vendor connection failed ({type(exc).__name__})") from None
        if resp.is_success:
            return resp
        error = self.map_error(resp) or status_error(resp)
        if isinstance(error, RateLimited):
            self.budget.hold(error.retry_after)
        raise error

    async def aclose(self) -> None:
        """Close the client."""
        await self.client.aclose()


def retry_after(resp: httpx.Response, default: float = 60.0) -> float:
    """Seconds from a Retry-After header."""
    try:
        return max(0.0, float(resp.headers.get("retry-after", default)))
    except ValueError:
        return default


def status_error(resp: httpx.Response) -> VendorError:
    """A typed error from the status code alone."""
    if resp.status_code == 429:
        return RateLimited("rate limited", retry_after(resp))
    if resp.status_code >= 500:
        return Unreachable(f"vendor error {resp.status_code}")
    return BadResponse(f"unexpected status {resp.status_code}")


def json_of(resp: httpx.Response) -> Any:
    """The JSON body, or BadResponse."""
    try:
        return resp.json()
    except ValueError:
        raise BadResponse("vendor answered non-JSON") from None


def field(obj: Any, key: str, kind: type | tuple[type, ...], *, optional: bool = False) -> Any:
    """`obj[key]` checked to be of `kind` (None allowed when optional), or BadResponse."""
    if not isinstance(obj, dict):
        raise BadResponse("vendor answered an unexpected shape")
    value = obj.get(key)
    if value is None and optional:
        return None
    if kind in (float, (int, float)) and isinstance(value, bool):
        raise BadResponse(f"vendor field {key!r} has the wrong type")
    if not isinstance(value, kind):
        raise BadResponse(f"vendor field {key!r} missing or of the wrong type")
    return value
