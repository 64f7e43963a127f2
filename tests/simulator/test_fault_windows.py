"""Field-like faults in time windows: out of coverage, per-device 429 with a long Retry-After, late replies."""

from __future__ import annotations

import time

import httpx

from tests.simulator.conftest import SPEED
from tests.simulator.test_http import EA, SC, advance, box_state_response, ea_command, faults, make_pair, plug, sc_error


async def test_a_car_is_out_of_coverage_only_inside_its_window(client: httpx.AsyncClient) -> None:
    p = await make_pair(client)
    await faults(client, {"vendor": "smartcar", "offline_windows": {p.vin: [[60, 600]]}})
    assert (await client.get(f"{SC}/vehicles/{p.car}/battery", headers=p.sc)).status_code == 200
    await advance(client, 61)
    sc_error(await client.get(f"{SC}/vehicles/{p.car}/battery", headers=p.sc), 409, "VEHICLE_STATE",
             "UNREACHABLE", "RETRY_LATER")
    await advance(client, 600)
    assert (await client.get(f"{SC}/vehicles/{p.car}/battery", headers=p.sc)).status_code == 200


async def test_a_charger_offline_window_answers_offline_and_refuses_commands(client: httpx.AsyncClient) -> None:
    p = await make_pair(client)
    await plug(client, p)
    await faults(client, {"vendor": "easee", "offline_windows": {p.serial: [[0, 100]]}})
    assert (await box_state_response(client, p)).json()["isOnline"] is False
    r = await ea_command(client, p, "pause_charging")
    assert r.status_code == 400 and r.json()["errorCodeName"] == "ChargerNotOnline"
    await advance(client, 101)
    assert (await box_state_response(client, p)).json()["isOnline"] is True


async def test_a_device_rate_limit_window_answers_429_with_its_long_retry_after(client: httpx.AsyncClient) -> None:
    p = await make_pair(client)
    await faults(client, {"vendor": "smartcar", "rate_limit_windows": {p.vin: [[0, 300, 37800]]}})
    r = await client.get(f"{SC}/vehicles/{p.car}/battery", headers=p.sc)
    sc_error(r, 429, "RATE_LIMIT", "VEHICLE", "RETRY_LATER")
    assert int(r.headers["retry-after"]) == round(37800 / SPEED)  # real seconds at the simulator's speed
    r = await client.post(f"{SC}/vehicles/{p.car}/charge", headers=p.sc, json={"action": "STOP"})
    assert r.status_code == 429
    assert (await client.get(f"{EA}/chargers/{p.serial}/state", headers=p.ea)).status_code == 200  # other devices
    await advance(client, 301)
    assert (await client.get(f"{SC}/vehicles/{p.car}/battery", headers=p.sc)).status_code == 200


async def test_a_late_reply_comes_after_the_command_was_carried_out(client: httpx.AsyncClient) -> None:
    p = await make_pair(client)
    await plug(client, p)
    await faults(client, {"vendor": "easee", "reply_latency_ms": [200, 200]})
    t = time.perf_counter()
    assert (await ea_command(client, p, "pause_charging")).status_code == 202
    assert time.perf_counter() - t >= 0.2
    log = (await client.get("/sim/commands")).json()["commands"]
    assert [c["command"] for c in log if c["device"] == p.serial] == ["pause_charging"]


async def test_bad_windows_are_refused_naming_the_shape(client: httpx.AsyncClient) -> None:
    for body in ({"offline_windows": {"X": [[10, 5]]}}, {"offline_windows": {"X": [5]}},
                 {"rate_limit_windows": {"X": [[0, 10]]}}, {"offline_windows": []}):
        r = await client.post("/sim/faults", json={"vendor": "smartcar", **body})
        assert r.status_code == 400 and "windows must be" in r.json()["error"]["message"], body
