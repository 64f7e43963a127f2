"""Charger push end to end: with the charger polled only every minute, Easee's stream makes a
plug-in show (and pair) within seconds; with push off, the same plug-in waits for the poll."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from app.workers.poller import REFRESH_S
from tests.conftest import settings_for
from tests.e2e.conftest import FAST
from tests.e2e.flows import box, car, link, wait_for
from tests.e2e.harness import Stack, make_user, stack

SUB = "subscription { evSystemUpdated { status vehicle { id } charger { id } } }"
SLOW_CHARGER_POLL = {**FAST, "charger_poll_s": 60.0}


async def linked_pair(st: Stack, token: str) -> tuple[str, str]:
    """Link a car and a charger, and let the poller pick both up and poll them once (it looks
    for new assets every REFRESH_S); the next regular polls are then far away."""
    v = (await link(st, token, "smartcar", [car("PUSH0000000001", pushes_on_change=True)]))["vehicles"][0]
    c = (await link(st, token, "easee", [box("EH900001")]))["chargers"][0]
    await asyncio.sleep(REFRESH_S + 1)
    return v["id"], c["id"]


async def streams(st: Stack) -> dict[str, Any]:
    return dict((await st.http.get(f"{st.sim_url}/sim/world")).json()["streams"])


async def plug_to_active(st: Stack, token: str, pair: tuple[str, str], timeout: float) -> float:
    """Seconds from /sim/plug to the subscriber hearing ACTIVE for `pair`."""
    async with st.ws(token) as ws:
        await ws.ack()
        await ws.subscribe(SUB)
        await st.sim("/sim/plug", {"vin": "PUSH0000000001", "serialNumber": "EH900001"})
        plugged = time.monotonic()
        await ws.until(lambda d: d["evSystemUpdated"]["status"] == "ACTIVE"
                       and (d["evSystemUpdated"]["vehicle"]["id"], d["evSystemUpdated"]["charger"]["id"]) == pair,
                       timeout=timeout)
        return time.monotonic() - plugged


async def test_a_pushed_plug_in_pairs_long_before_the_next_charger_poll(tmp_path: Path) -> None:
    async with stack(settings_for(tmp_path, **SLOW_CHARGER_POLL)) as st:
        _, token = await make_user(st)
        pair = await linked_pair(st, token)
        await wait_for(lambda: streams(st), timeout=10)  # Tandem follows the account's stream
        # The charger's next regular poll is a minute away, the car's half a minute.
        assert await plug_to_active(st, token, pair, timeout=15) < 15


async def test_without_push_the_plug_in_waits_for_the_charger_poll(tmp_path: Path) -> None:
    async with stack(settings_for(tmp_path, **SLOW_CHARGER_POLL, charger_push=False)) as st:
        _, token = await make_user(st)
        pair = await linked_pair(st, token)
        with pytest.raises(TimeoutError):  # else this test would not show push at work
            await plug_to_active(st, token, pair, timeout=8)
        assert await streams(st) == {}
