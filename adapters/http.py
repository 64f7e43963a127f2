"""Shared HTTP plumbing for adapters: one client, a budget, transport errors mapped once.

Rate limits are scoped (`adapters.errors.APP / ACCOUNT / DEVICE`): a 429 holds only the scope
it came from, capped at `max_retry_after_s`, and a request to a held scope fails at once with
`RateLimited` instead of waiting. An idempotent read whose pooled connection the peer had just
closed is sent once more on a new connection; commands are never sent twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx

from adapters.budget import Budget, Scope
from adapters.errors import ACCOUNT, APP, DEVICE, BadResponse, RateLimited, Unreachable, VendorError

#: Connections per adapter, each in its own one-connection client (CONNECTIONS requests in flight at most).
CONNECTIONS = 100
#: Idle connections are dropped after this long: below the 5 s keep-alive of common servers
#: (uvicorn, many load balancers), so most are dropped by us before the server closes them.
KEEPALIVE_S = 4.0
#: The longest Retry-After honoured unless the adapter is told otherwise (setting TANDEM_VENDOR_RETRY_AFTER_MAX_S).
MAX_RETRY_AFTER_S = 900.0
#: What httpx raises when the peer closed a pooled connection as (or just before) we reused it.
PEER_CLOSED = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)
#: Maps an error response to a typed error (or None to fall back to status-based mapping).
ErrorMapper = Callable[[httpx.Response], VendorError | None]


class VendorHttp:
    """An httpx client bound to a base URL, a request budget and an error mapper."""

    def __init__(self, base_url: str, map_error: ErrorMapper, *, client: httpx.AsyncClient | None = None,
                 transport: httpx.AsyncBaseTransport | None = None, timeout_s: float = 10.0,
                 budget: Budget | None = None, max_retry_after_s: float = MAX_RETRY_AFTER_S) -> None:
        self.map_error = map_error
        self.budget = budget or Budget(100, 50.0)
        self.max_retry_after_s = max_retry_after_s
        # One client per connection, lent to one request at a time: httpcore scans every pooled
        # connection (a syscall and an anyio attribute lookup each) on every request and every
        # response, which made one big pool the poller's main CPU cost. A lone connection is
        # scanned once. `client` (tests) is shared by every request instead.
        tls = httpx.create_ssl_context()  # one for all: loading the CA bundle takes milliseconds
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1, keepalive_expiry=KEEPALIVE_S)
        self.clients = [client] if client is not None else [
            httpx.AsyncClient(base_url=base_url.rstrip("/"), transport=transport, timeout=timeout_s, verify=tls,
                              limits=limits)
            for _ in range(CONNECTIONS)
        ]
        self._free: asyncio.LifoQueue[httpx.AsyncClient] = asyncio.LifoQueue()
        for c in self.clients:
            self._free.put_nowait(c)
        self._shared = client is not None

    async def request(self, method: str, path: str, *, token: str | None = None, json: Any = None,
                      device: str | None = None, account: str | None = None, read: bool = False) -> httpx.Response:
        """Send a request; returns a 2xx response or raises a typed VendorError.

        `device` (vendor id) and `account` (defaults to the token) name the scopes a rate limit
        may hold; a held scope raises RateLimited without sending. `read=True` marks an
        idempotent read, sent once more when the peer had closed the pooled connection."""
        scopes = _scopes(token or account, device)
        if (held := self.budget.held(scopes)) is not None:
            raise RateLimited(f"rate limited ({held[0].lower()})", held[1], scope=held[0])
        await self.budget.acquire()
        headers = {"Authorization": f"Bearer {token}"} if token else None
        # One immediate retry of one kind of error, written out: a retry library's per-call set-up
        # (stamina's retry_context: ~37 µs here) would cost ~5 % of a poll's CPU on every request.
        try:
            resp = await self._send(method, path, json, headers)
        except PEER_CLOSED:
            if not read:
                raise Unreachable("vendor closed the connection") from None
            try:  # the closed connection is gone: this goes out on a new one
                resp = await self._send(method, path, json, headers)
            except httpx.HTTPError as exc:
                raise _unreachable(exc) from None
        except httpx.HTTPError as exc:
            raise _unreachable(exc) from None
        if resp.is_success:
            return resp
        raise self.note(self.map_error(resp) or status_error(resp), token=token or account, device=device)

    async def _send(self, method: str, path: str, json: Any, headers: dict[str, str] | None) -> httpx.Response:
        http = self.clients[0] if self._shared else await self._free.get()
        try:
            return await http.request(method, path, json=json, headers=headers)
        finally:
            if not self._shared:
                self._free.put_nowait(http)

    def note(self, error: VendorError, *, token: str | None, device: str | None) -> VendorError:
        """Cap a RateLimited's wait and hold its scope (other errors pass unchanged); returns it."""
        if isinstance(error, RateLimited):
            error.retry_after = min(error.retry_after, self.max_retry_after_s)
            scope = _scope_of(error, token, device)
            error.scope = scope[0]
            self.budget.hold(scope, error.retry_after)
        return error

    async def aclose(self) -> None:
        """Close the clients."""
        for client in self.clients:
            await client.aclose()


def _scopes(account: str | None, device: str | None) -> list[Scope]:
    scopes: list[Scope] = [(APP, "")]
    if account:
        scopes.append((ACCOUNT, account))
    if device:
        scopes.append((DEVICE, device))
    return scopes


def _scope_of(error: RateLimited, account: str | None, device: str | None) -> Scope:
    """The scope a 429 holds: what the vendor said, narrowed to what the request names."""
    if error.scope == DEVICE and device:
        return DEVICE, device
    if error.scope in (DEVICE, ACCOUNT) and account:
        return ACCOUNT, account
    return APP, ""


def _unreachable(exc: httpx.HTTPError) -> Unreachable:
    if isinstance(exc, httpx.TimeoutException):
        return Unreachable("vendor timed out")
    return Unreachable(f"vendor connection failed ({type(exc).__name__})")


def retry_after(headers: httpx.Headers | dict[str, str] | None, default: float = 60.0) -> float:
    """Seconds from a Retry-After header (never negative; `default` when absent or unreadable)."""
    try:
        return max(0.0, float((headers or {}).get("retry-after", default)))
    except ValueError:
        return default


def status_error(resp: httpx.Response) -> VendorError:
    """A typed error from the status code alone."""
    if resp.status_code == 429:  # no word on the scope: the account the request was made for
        return RateLimited("rate limited", retry_after(resp.headers), scope=ACCOUNT)
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
