"""VendorHttp: connections lent one request at a time, given back on every outcome."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from adapters import http as vh
from adapters.budget import Budget
from adapters.errors import Unreachable


class SlowCloud:
    """A MockTransport handler that answers after a pause and counts requests in flight."""

    def __init__(self, fail: int = 0) -> None:
        self.in_flight = 0
        self.peak = 0
        self.fail = fail  # the first `fail` requests get a connection error

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.fail > 0:
            self.fail -= 1
            raise httpx.ConnectError("refused", request=request)
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        await asyncio.sleep(0.01)
        self.in_flight -= 1
        return httpx.Response(200, json={"ok": True})


def client(cloud: SlowCloud) -> vh.VendorHttp:
    return vh.VendorHttp("https://vendor.test", lambda _r: None, transport=httpx.MockTransport(cloud),
                         budget=Budget(1000, 1000.0))


async def test_at_most_connections_requests_are_in_flight(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vh, "CONNECTIONS", 3)
    cloud = SlowCloud()
    http = client(cloud)
    answers = await asyncio.gather(*(http.request("GET", "/x") for _ in range(12)))
    assert [a.json() for a in answers] == [{"ok": True}] * 12
    assert cloud.peak == 3
    await http.aclose()


async def test_a_failed_request_gives_its_connection_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vh, "CONNECTIONS", 1)
    cloud = SlowCloud(fail=1)
    http = client(cloud)
    with pytest.raises(Unreachable):
        await http.request("GET", "/x")
    # With one connection, a leaked one would leave this waiting forever.
    answer = await asyncio.wait_for(http.request("GET", "/x"), 5)
    assert answer.json() == {"ok": True}
    await http.aclose()


async def test_a_cancelled_request_gives_its_connection_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vh, "CONNECTIONS", 1)
    cloud = SlowCloud()
    http = client(cloud)
    task = asyncio.create_task(http.request("GET", "/x"))
    await asyncio.sleep(0.001)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    answer = await asyncio.wait_for(http.request("GET", "/x"), 5)
    assert answer.json() == {"ok": True}
    await http.aclose()
