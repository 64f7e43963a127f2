"""Device data end to end: while paired the charger is authoritative for the cable and power delivery
and the vehicle follows it at once; an older car reading never overwrites a newer estimate; the
shown SoC never drops on stale cloud readings (the issue's 31.2 → 30.2 and 46.7 → 45.4).

The car's cloud is made to lag with the simulator's `stale` fault: it lost touch with the car and
keeps answering its last copy (plugged in, charging, the SoC of the plug-in) with its old data age.
Energy is delivered by advancing the simulated clock, so the numbers are exact.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from tests.conftest import settings_for
from tests.e2e.conftest import FAST
from tests.e2e.flows import action, box, car, link, settled, wait_for
from tests.e2e.harness import Stack, make_user, stack

STATE = """id chargeState { batteryLevel isPluggedIn isCharging chargeRate powerDeliveryState pluggedInChargerId }"""


@pytest.fixture
async def st(tmp_path: Path) -> AsyncIterator[Stack]:
    """FAST, with vehicles polled every 2 s, so a stale cloud is read again and again."""
    settings = settings_for(tmp_path, **{**FAST, "vehicle_poll_s": 2.0, "vehicle_poll_charging_s": 2.0})
    async with stack(settings) as running:
        yield running


class VehicleEvents:
    """Every vehicleUpdated event of one vehicle, read from a websocket in the background."""

    def __init__(self, st: Stack, token: str, vid: str) -> None:
        self.ws, self.vid, self.states = st.ws(token), vid, []  # type: ignore[var-annotated]
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> VehicleEvents:
        await self.ws.__aenter__()
        assert (await self.ws.ack())["type"] == "connection_ack"
        await self.ws.subscribe(f'subscription($i: ID) {{ vehicleUpdated(id: $i) {{ {STATE} }} }}', {"i": self.vid})
        self.task = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        while True:
            msg = await self.ws.next(timeout=3600)
            assert msg.get("type") == "next", msg
            self.states.append(msg["payload"]["data"]["vehicleUpdated"]["chargeState"])

    async def __aexit__(self, *exc: object) -> None:
        assert self.task is not None
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        await self.ws.__aexit__(*exc)

    async def until(self, predicate: Any, after: int = 0, timeout: float = 20) -> tuple[int, dict[str, Any]]:
        """The first event from index `after` on (received or coming) whose chargeState satisfies
        `predicate`, and its index."""
        async def seen() -> tuple[int, dict[str, Any]] | None:
            assert self.task is not None and not self.task.done(), self.task
            return next(((i, s) for i, s in enumerate(self.states) if i >= after and predicate(s)), None)
        return await wait_for(seen, timeout, every=0.05)  # type: ignore[no-any-return]

    def levels(self) -> list[float]:
        return [s["batteryLevel"] for s in self.states if s["batteryLevel"] is not None]


async def charge_state(st: Stack, token: str, vid: str) -> dict[str, Any]:
    data = await st.data(f'query($i: ID!) {{ vehicle(id: $i) {{ {STATE} }} }}', {"i": vid}, token=token)
    return dict(data["vehicle"]["chargeState"])


def vehicle_polls() -> float:
    return REGISTRY.get_sample_value("tandem_polls_total", {"kind": "vehicle", "vendor": "smartcar",
                                                            "outcome": "ok"}) or 0.0


async def after_vehicle_polls(n: int) -> None:
    """Wait until the vehicle cloud has been read `n` more times."""
    start = vehicle_polls()

    async def done() -> bool:
        return vehicle_polls() >= start + n
    await wait_for(done, timeout=30, every=0.1)


async def active_pair(st: Stack, token: str, vin: str, serial: str, soc: float) -> tuple[str, str]:
    """A slow-charging car (3.7 kW, 100 kWh: 0.001 %/s in real time) ACTIVE with its charger, and its
    SoC reading in; then its cloud goes stale. Returns (vehicle id, charger id)."""
    v = (await link(st, token, "smartcar", [car(vin, soc=soc, capacity_kwh=100, max_charge_kw=3.7, can_start=False,
                                                 can_stop=False, charge_limit=0.9, pushes_on_change=True)]))
    vid = v["vehicles"][0]["id"]
    cid = (await link(st, token, "easee", [box(serial)]))["chargers"][0]["id"]
    await st.sim("/sim/plug", {"vin": vin, "serialNumber": serial})

    async def paired_and_read() -> bool:
        cs = await charge_state(st, token, vid)
        return bool(cs["pluggedInChargerId"] == cid and cs["isCharging"])
    await wait_for(paired_and_read, timeout=30)
    await st.sim("/sim/faults", {"vendor": "smartcar", "stale": [vin]})
    return vid, cid


async def deliver(st: Stack, token: str, vid: str, kwh: float, expect: float) -> None:
    """Let the charger deliver `kwh` at 3.7 kW (simulated time) and wait until the estimate shows it."""
    await st.sim("/sim/time", {"advance_s": kwh / 3.7 * 3600})

    async def shown() -> bool:
        return bool((await charge_state(st, token, vid))["batteryLevel"] == expect)
    await wait_for(shown, timeout=20)


def never_dropped(levels: list[float]) -> None:
    assert levels == sorted(levels), levels


async def test_unplugging_an_active_pair_shows_the_vehicle_unplugged_at_once_and_keeps_31_2(st: Stack) -> None:
    """30.2 % at the plug-in, 1.0 % delivered, unplugged: the vehicle is unplugged and not charging
    with the charger's next poll although its cloud still says plugged in and charging at 30.2 %; the
    shown SoC stays 31.2 over further polls of that cloud, and when it catches up."""
    _, token = await make_user(st)
    vid, _ = await active_pair(st, token, "STALE0000000001", "EH710001", soc=0.302)
    async with VehicleEvents(st, token, vid) as events:
        await deliver(st, token, vid, 1.0, expect=31.2)
        await events.until(lambda s: s["batteryLevel"] == 31.2)  # the meter's energy fired vehicleUpdated
        await st.sim("/sim/unplug", {"vin": "STALE0000000001"})
        i, out = await events.until(lambda s: s["isPluggedIn"] is False)
        assert out == {"batteryLevel": 31.2, "isPluggedIn": False, "isCharging": False, "chargeRate": 0.0,
                       "powerDeliveryState": "UNPLUGGED", "pluggedInChargerId": None}
        await after_vehicle_polls(3)  # the stale cloud: plugged in, charging, 30.2 %, data from before
        assert await charge_state(st, token, vid) == out
        await st.sim("/sim/faults", {"vendor": "smartcar"})  # the cloud catches up (data age ahead: clamped)

        async def own() -> dict[str, Any] | None:
            cs = await charge_state(st, token, vid)
            return cs if cs["powerDeliveryState"] == "UNPLUGGED" and cs["isCharging"] is False else None
        await after_vehicle_polls(2)
        assert await own() == out
        never_dropped(events.levels())
        assert all(s["isPluggedIn"] is False for s in events.states[i:])


async def test_a_confirmed_stop_keeps_46_7_against_the_stale_45_4_and_a_start_follows_at_once(st: Stack) -> None:
    """45.4 % at the plug-in, 1.3 % delivered, stopCharging through the charger: CONFIRMED, the vehicle
    shows not charging at once and 46.7 %, also after more reads of its stale cloud (45.4 %);
    startCharging: charging again at once."""
    _, token = await make_user(st)
    vid, cid = await active_pair(st, token, "STALE0000000002", "EH710002", soc=0.454)
    async with VehicleEvents(st, token, vid) as events:
        await deliver(st, token, vid, 1.3, expect=46.7)
        await events.until(lambda s: s["batteryLevel"] == 46.7)  # the meter's energy fired vehicleUpdated
        stop = await action(st, token, "stopCharging", vehicleId=vid)
        assert (await settled(st, token, stop["id"]))["state"] == "CONFIRMED"
        i, stopped = await events.until(lambda s: s["isCharging"] is False)
        assert stopped == {"batteryLevel": 46.7, "isPluggedIn": True, "isCharging": False, "chargeRate": 0.0,
                           "powerDeliveryState": "PLUGGED_IN_STOPPED", "pluggedInChargerId": cid}
        await after_vehicle_polls(3)
        assert (await charge_state(st, token, vid))["batteryLevel"] == 46.7
        start = await action(st, token, "startCharging", vehicleId=vid)
        assert (await settled(st, token, start["id"]))["state"] == "CONFIRMED"
        _, again = await events.until(lambda s: s["isCharging"] is True, after=i)
        assert again["powerDeliveryState"] == "PLUGGED_IN_CHARGING" and again["chargeRate"] > 0
        assert again["batteryLevel"] >= 46.7
        never_dropped(events.levels())
