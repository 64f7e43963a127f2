"""Idempotent reads survive a pooled connection the vendor had just closed; commands are never
sent twice. The vendor here is a real TCP server that answers one request per connection and
closes the connection when the next request arrives on it, as a server does whose keep-alive
timer fires just as the client reuses the connection."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from adapters import errors as ve
from adapters import http as vh
from adapters.budget import Budget
from adapters.types import Session
from tests.adapters.helpers import HOST, FakeClock, FakeCloud, build, ok
from tests.adapters.test_easee import state

BODY = b'{"ok": true}'


class ClosingServer:
    """Serves one request per connection, then closes it unanswered on the next request."""

    def __init__(self) -> None:
        self.connections = 0
        self.requests: list[tuple[int, str]] = []  # (connection number, "METHOD /path")
        self.server: asyncio.Server | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        conn, served = self.connections, 0
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode()
                length = next((int(line.split(":", 1)[1]) for line in head.split("\r\n")
                               if line.lower().startswith("content-length:")), 0)
                await reader.readexactly(length)
                self.requests.append((conn, " ".join(head.split(" ", 2)[:2])))
                if served:
                    break  # the keep-alive ran out: close without answering
                served += 1
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: keep-alive\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(BODY), BODY))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"


@pytest.fixture
async def vendor(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[ClosingServer, vh.VendorHttp]]:
    monkeypatch.setattr(vh, "CONNECTIONS", 1)  # one pooled connection, reused by every request
    server = ClosingServer()
    server.server = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    http = vh.VendorHttp(server.url, lambda _r: None, timeout_s=5.0, budget=Budget(1000, 1000.0))
    yield server, http
    await http.aclose()
    server.server.close()
    await server.server.wait_closed()


async def test_a_read_on_a_connection_the_vendor_closed_is_sent_once_more_on_a_new_one(
        vendor: tuple[ClosingServer, vh.VendorHttp]) -> None:
    server, http = vendor
    for _ in range(3):
        assert (await http.request("GET", "/state", read=True)).json() == {"ok": True}
    # Each reuse found the connection closed; the read went out again on a new connection.
    assert server.requests == [(1, "GET /state"), (1, "GET /state"), (2, "GET /state"), (2, "GET /state"),
                               (3, "GET /state")]


async def test_a_command_on_a_connection_the_vendor_closed_is_not_sent_again(
        vendor: tuple[ClosingServer, vh.VendorHttp]) -> None:
    server, http = vendor
    await http.request("POST", "/command", json={"a": 1})
    with pytest.raises(ve.Unreachable):
        await http.request("POST", "/command", json={"a": 1})
    assert server.requests == [(1, "POST /command"), (1, "POST /command")]  # no second connection, no resend
    assert server.connections == 1


async def test_a_read_is_retried_once_only(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[str] = []

    def closed(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path)
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)

    http = vh.VendorHttp(HOST, lambda _r: None, transport=httpx.MockTransport(closed), budget=Budget(1000, 1000.0))
    with pytest.raises(ve.Unreachable):
        await http.request("GET", "/x", read=True)
    assert sent == ["/x", "/x"]
    await http.aclose()


@pytest.mark.parametrize("exc", [httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError])
async def test_adapters_retry_their_reads_but_not_their_commands(exc: type[httpx.TransportError]) -> None:
    """Through the Easee adapter: state reads are retried once, commands and settings never."""
    first = {"done": False}

    def once(answer: httpx.Response) -> object:
        def handler(request: httpx.Request) -> httpx.Response:
            if not first["done"]:
                first["done"] = True
                raise exc("peer closed", request=request)
            return answer
        return handler

    cloud = FakeCloud("/easee", {("GET", "/api/chargers/EH1/state"): once(ok(state()))})
    snap = await build("easee", cloud).read_charger(Session(vendor="easee", access_token="t"), "EH1")
    assert snap.is_online and len(cloud.requests) == 2
    first["done"] = False
    cloud = FakeCloud("/easee", {("POST", "/api/chargers/EH1/commands/pause_charging"): once(ok({}, 202))})
    with pytest.raises(ve.Unreachable):
        await build("easee", cloud).stop_charging(Session(vendor="easee", access_token="t"), "EH1")
    assert len(cloud.requests) == 1


def test_budget_waits_briefly_for_a_token_and_refuses_a_long_wait() -> None:
    clock = FakeClock()
    budget = Budget(2, 10.0, clock=clock, max_wait_s=0.25)
    assert budget.reserve() == 0.0 and budget.reserve() == 0.0
    assert budget.reserve() == pytest.approx(0.1)  # reserved: the next token, 0.1 s from now
    assert budget.reserve() == pytest.approx(0.2)
    with pytest.raises(ve.RateLimited) as info:  # 0.3 s > max_wait_s: refused, not queued
        budget.reserve()
    assert info.value.scope == ve.LOCAL and info.value.retry_after == pytest.approx(0.3)
    clock.now += 0.3
    assert budget.reserve() == pytest.approx(0.0, abs=1e-9)


def test_holds_are_per_scope_and_expire() -> None:
    clock = FakeClock()
    budget = Budget(10, 10.0, clock=clock)
    budget.hold((ve.DEVICE, "car-1"), 30)
    budget.hold((ve.ACCOUNT, "token-a"), 10)
    assert budget.held([(ve.APP, ""), (ve.ACCOUNT, "token-b"), (ve.DEVICE, "car-2")]) is None
    assert budget.held([(ve.APP, ""), (ve.ACCOUNT, "token-b"), (ve.DEVICE, "car-1")]) == (ve.DEVICE, 30)
    assert budget.held([(ve.ACCOUNT, "token-a"), (ve.DEVICE, "car-1")]) == (ve.ACCOUNT, 10)
    clock.now += 10
    assert budget.held([(ve.ACCOUNT, "token-a")]) is None
    budget.hold((ve.APP, ""), 5)
    assert budget.held([(ve.APP, ""), (ve.DEVICE, "car-9")]) == (ve.APP, 5)
