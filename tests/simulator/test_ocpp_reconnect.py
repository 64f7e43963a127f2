"""Simulated charge points reconnecting: jittered exponential backoff, and a refusal's Retry-After
honoured (against a real websockets server that refuses them)."""

from __future__ import annotations

import asyncio
import itertools
import random
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

import httpx
import pytest
from websockets.asyncio.server import serve

from adapters.simulator.app import create_app
from adapters.simulator.ocpp_station import close_all
from adapters.simulator.reconnect import CAP_S, MAX_RETRY_AFTER_S, Backoff, retry_after_s


def test_waits_grow_with_full_jitter_up_to_the_cap() -> None:
    backoff = Backoff(base_s=0.5, cap_s=60.0, rng=random.Random(3))
    ceilings, waits = [], []
    for _ in range(12):
        ceilings.append(backoff.ceiling())
        waits.append(backoff.next_wait())
    assert ceilings == [0.5, 1, 2, 4, 8, 16, 32, 60, 60, 60, 60, 60]
    assert all(0 <= w <= c for w, c in zip(waits, ceilings, strict=True))
    assert len(set(waits)) == len(waits)  # jittered, not a fixed schedule
    backoff.reset()
    assert backoff.ceiling() == 0.5 and backoff.next_wait() <= 0.5


def test_two_charge_points_refused_together_come_back_apart() -> None:
    a, b = Backoff(rng=random.Random(1)), Backoff(rng=random.Random(2))
    assert [a.next_wait() for _ in range(6)] != [b.next_wait() for _ in range(6)]


def test_retry_after_is_a_floor() -> None:
    backoff = Backoff(rng=random.Random(5))
    assert backoff.next_wait(retry_after=7.0) == 7.0  # the first ceiling is 0.5 s
    assert backoff.failures == 1
    for _ in range(20):
        backoff.next_wait()
    assert backoff.next_wait(retry_after=0.1) <= CAP_S


@pytest.mark.parametrize("header, seconds", [
    ("2", 2.0), (" 5 ", 5.0), ("0", 0.0), ("-3", 0.0), ("1.5", 1.5), ("99999", MAX_RETRY_AFTER_S),
    ("Wed, 01 Jan 2025 00:00:30 GMT", 30.0), (None, None), ("", None), ("soon", None), ("nan", None),
])
def test_retry_after_header(header: str | None, seconds: float | None) -> None:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    assert retry_after_s(header, now) == seconds


async def test_a_refused_charge_point_comes_back_no_sooner_than_retry_after() -> None:
    """A central system answering every handshake with 503 and `Retry-After: 2`: the charge point
    tries again, each time at least 2 s after the previous attempt (its own backoff would have
    tried within 0.5 s, then 1 s)."""
    loop = asyncio.get_running_loop()
    attempts: list[float] = []
    heard = asyncio.Condition()

    async def refuse(connection: Any, request: Any) -> Any:
        async with heard:
            attempts.append(loop.time())
            heard.notify_all()
        response = connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "busy\n")
        response.headers["Retry-After"] = "2"
        return response

    async def never(_: Any) -> None:
        raise AssertionError("no handshake is accepted")

    app = create_app(speed=1.0, seed=1)
    async with serve(never, "127.0.0.1", 0, process_request=refuse) as server:
        port = server.sockets[0].getsockname()[1]
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim") as sim:
            try:
                r = await sim.post("/sim/accounts", json={
                    "vendor": "ocpp", "centralSystemUrl": f"ws://127.0.0.1:{port}/ocpp",
                    "devices": [{"kind": "charger", "serialNumber": "CP-RETRY"}]})
                assert r.status_code == 200, r.text
                async with heard:
                    await asyncio.wait_for(heard.wait_for(lambda: len(attempts) >= 3), 30)
                summary = (await sim.get("/sim/ocpp")).json()
            finally:
                await close_all(app.state.sim.stations)
    gaps = [later - earlier for earlier, later in itertools.pairwise(attempts)]
    assert all(gap >= 2.0 for gap in gaps), gaps
    assert summary["chargePoints"] == 1 and summary["connected"] == 0
    assert summary["attempts"] >= 2 and summary["refused"]["503"] >= 2, summary
