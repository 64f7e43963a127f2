"""Easee's push channel: the adapter's `watch` against the simulator's streaming API on a real
uvicorn, and the message parsing on its own."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from adapters import errors as e
from adapters.easee import stream
from adapters.easee.adapter import EaseeAdapter
from adapters.simulator.app import create_app
from adapters.types import Session
from tests.e2e.harness import free_port, serve


@pytest.fixture
async def sim() -> AsyncIterator[str]:
    async with serve(create_app(seed=1), lifespan="off") as url:
        yield url


async def account(http: httpx.AsyncClient, vendor: str, device: dict[str, Any]) -> dict[str, Any]:
    r = await http.post("/sim/accounts", json={"vendor": vendor, "devices": [device]})
    assert r.status_code == 200, r.text
    return dict(r.json())


async def next_change(changes: AsyncIterator[str], timeout: float = 5) -> str:
    return await asyncio.wait_for(anext(changes), timeout)


async def opened(http: httpx.AsyncClient, username: str) -> None:
    """Wait until the simulator has the account's stream open."""
    for _ in range(100):
        if username in (await http.get("/sim/world")).json()["streams"]:
            return
        await asyncio.sleep(0.05)
    raise TimeoutError("stream not opened")


async def test_a_plug_in_and_an_unplug_are_pushed(sim: str) -> None:
    async with httpx.AsyncClient(base_url=sim) as http:
        box = await account(http, "easee", {"kind": "charger", "serialNumber": "EH000001"})
        await account(http, "smartcar", {"kind": "vehicle", "vin": "VIN0001"})
        await account(http, "easee", {"kind": "charger", "serialNumber": "EH000002"})
        await account(http, "smartcar", {"kind": "vehicle", "vin": "VIN0002"})
        adapter = EaseeAdapter(f"{sim}/easee")
        changes = adapter.watch(await adapter.login(box["credentials"]))
        first = asyncio.ensure_future(next_change(changes))
        await opened(http, box["credentials"]["username"])
        # Another account's charger changes first: not this account's news.
        assert (await http.post("/sim/plug", json={"vin": "VIN0002", "serialNumber": "EH000002"})).status_code == 200
        assert (await http.post("/sim/plug", json={"vin": "VIN0001", "serialNumber": "EH000001"})).status_code == 200
        assert await first == "EH000001"
        assert (await http.post("/sim/unplug", json={"vin": "VIN0001"})).status_code == 200
        assert await next_change(changes) == "EH000001"
        await changes.aclose()  # type: ignore[attr-defined]
        await adapter.aclose()


async def test_a_revoked_token_is_refused_and_a_revocation_closes_the_stream(sim: str) -> None:
    async with httpx.AsyncClient(base_url=sim) as http:
        box = await account(http, "easee", {"kind": "charger"})
        adapter = EaseeAdapter(f"{sim}/easee")
        session = await adapter.login(box["credentials"])
        changes = adapter.watch(session)
        pending = asyncio.ensure_future(next_change(changes))
        await opened(http, box["credentials"]["username"])
        r = await http.post("/sim/faults", json={"vendor": "easee", "revoked": [box["credentials"]["username"]]})
        assert r.status_code == 200, r.text
        with pytest.raises(e.AuthRevoked):
            await pending
        with pytest.raises(e.AuthRevoked):
            await next_change(adapter.watch(session))
        await adapter.aclose()


async def test_an_unreachable_cloud_is_unreachable() -> None:
    adapter = EaseeAdapter(f"http://127.0.0.1:{free_port()}/easee", timeout_s=2)
    with pytest.raises(e.Unreachable):
        await next_change(adapter.watch(Session(vendor="easee", access_token="t")))
    await adapter.aclose()


@pytest.mark.parametrize(("raw", "expected"), [
    ('{"mid": "EH1", "dataType": 4, "id": 109, "value": "3"}', "EH1"),
    ('{"mid": "EH1", "dataType": 2, "id": 120, "value": "1.5"}', None),  # another observation
])
def test_only_operating_mode_changes_count(raw: str, expected: str | None) -> None:
    assert stream.changed_charger(raw) == expected


@pytest.mark.parametrize("raw", ["not json", "[1, 2]", '{"id": 109}', '{"mid": 5, "id": 109}'])
def test_a_malformed_message_is_a_bad_response(raw: str) -> None:
    with pytest.raises(e.BadResponse):
        stream.changed_charger(raw)


@pytest.mark.parametrize(("base", "url"), [
    ("https://api.easee.com/", "wss://api.easee.com/streaming"),
    ("http://127.0.0.1:8001/easee", "ws://127.0.0.1:8001/easee/streaming"),
])
def test_the_stream_lives_beside_the_rest_api(base: str, url: str) -> None:
    assert stream.stream_url(base) == url
