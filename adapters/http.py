"""Shared HTTP plumbing for adapters: one client, a budget, transport errors mapped once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx

from adapters.budget import Budget
from adapters.errors import BadResponse, RateLimited, Unreachable, VendorError

#: Connections per adapter, each in its own one-connection client (CONNECTIONS requests in flight at most).
CONNECTIONS = 100
#: Maps an error response to a typed error (or None to fall back to status-based mapping).
ErrorMapper = Callable[[httpx.Response], VendorError | None]


class VendorHttp:
    """An httpx client bound to a base URL, a request budget and an error mapper."""

    def __init__(self, base_url: str, map_error: ErrorMapper, *, client: httpx.AsyncClient | None = None,
                 transport: httpx.AsyncBaseTransport | None = None, timeout_s: float = 10.0,
                 budget: Budget | None = None) -> None:
        self.map_error = map_error
        self.budget = budget or Budget(100, 50.0)
        # One client per connection, lent to one request at a time: httpcore scans every pooled
        # connection (a syscall and an anyio attribute lookup each) on every request and every
        # response, which made one big pool the poller's main CPU cost. A lone connection is
        # scanned once. `client` (tests) is shared by every request instead.
        tls = httpx.create_ssl_context()  # one for all: loading the CA bundle takes milliseconds
        self.clients = [client] if client is not None else [
            httpx.AsyncClient(base_url=base_url.rstrip("/"), transport=transport, timeout=timeout_s, verify=tls,
                              limits=httpx.Limits(max_connections=1, max_keepalive_connections=1))
            for _ in range(CONNECTIONS)
        ]
        self._free: asyncio.LifoQueue[httpx.AsyncClient] = asyncio.LifoQueue()
        for c in self.clients:
            self._free.put_nowait(c)
        self._shared = client is not None

    async def request(self, method: str, path: str, *, token: str | None = None,
                      json: Any = None) -> httpx.Response:
        """Send a request; returns a 2xx response or raises a typed VendorError."""
        await self.budget.acquire()
        headers = {"Authorization": f"Bearer {token}"} if token else None
        http = self.clients[0] if self._shared else await self._free.get()
        try:
            resp = await http.request(method, path, json=json, headers=headers)
        except httpx.TimeoutException:
            raise Unreachable("vendor timed out") from None
        except httpx.HTTPError as exc:
            raise Unreachable(f"vendor connection failed ({type(exc).__name__})") from None
        finally:
            if not self._shared:
                self._free.put_nowait(http)
        if resp.is_success:
            return resp
        error = self.map_error(resp) or status_error(resp)
        if isinstance(error, RateLimited):
            self.budget.hold(error.retry_after)
        raise error

    async def aclose(self) -> None:
        """Close the clients."""
        for client in self.clients:
            await client.aclose()


def retry_after(headers: httpx.Headers | dict[str, str] | None, default: float = 60.0) -> float:
    """Seconds from a Retry-After header (never negative; `default` when absent or unreadable)."""
    try:
        return max(0.0, float((headers or {}).get("retry-after", default)))
    except ValueError:
        return default


def status_error(resp: httpx.Response) -> VendorError:
    """A typed error from the status code alone."""
    if resp.status_code == 429:
        return RateLimited("rate limited", retry_after(resp.headers))
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
    if isinstance(value, bool) and kind is not bool:  # bool is an int subclass: `true` is not a number
        raise BadResponse(f"vendor field {key!r} has the wrong type")
    if not isinstance(value, kind):
        raise BadResponse(f"vendor field {key!r} missing or of the wrong type")
    return value
