"""Simulator faults pairing must survive: a vendor clock that runs ahead or behind, a cloud that
goes stale, a car that drives away."""

from __future__ import annotations

from datetime import datetime

import httpx
import pytest

from adapters.simulator.common import iso
from adapters.simulator.world import Clock, World
from tests.simulator.conftest import RealTime
from tests.simulator.test_http import advance, faults, make_pair, plug, sc_get, sim_world


@pytest.mark.parametrize("skew", [600.0, -300.0])
async def test_a_skewed_vendor_clock_shifts_every_time_it_reports(client: httpx.AsyncClient, world: World,
                                                                 skew: float) -> None:
    p = await make_pair(client, car={"pushes_on_change": True})
    t0 = world.clock.now()
    await faults(client, {"vendor": "smartcar", "clock_skew_s": skew})
    r = await sc_get(client, p, "/charge")
    assert r.headers["sc-data-age"] == iso(t0 + skew)
    await faults(client, {"vendor": "easee", "clock_skew_s": skew})
    st = await client.get(f"/easee/api/chargers/{p.serial}/state", headers=p.ea)
    assert st.json()["latestPulse"] == iso(t0 + skew)


async def test_a_skew_out_of_range_is_a_bad_request(client: httpx.AsyncClient) -> None:
    for bad in (86401, "ahead", None, True):
        r = await client.post("/sim/faults", json={"vendor": "smartcar", "clock_skew_s": bad})
        assert r.status_code == 400, bad
        assert "clock_skew_s" in r.json()["error"]["message"]


async def test_a_stale_cloud_serves_its_last_copy_until_the_fault_is_lifted(client: httpx.AsyncClient,
                                                                            world: World) -> None:
    p = await make_pair(client, car={"pushes_on_change": True, "vehicle_refresh_s": 60})
    first = await sc_get(client, p, "/charge")
    assert first.json()["isPluggedIn"] is False
    await faults(client, {"vendor": "smartcar", "stale": [p.vin]})
    await plug(client, p)
    await advance(client, 600)  # ten refresh periods, and a push-worthy change: nothing
    stale = await sc_get(client, p, "/charge")
    assert stale.json()["isPluggedIn"] is False
    assert stale.headers["sc-data-age"] == first.headers["sc-data-age"]
    await faults(client, {"vendor": "smartcar"})
    fresh = await sc_get(client, p, "/charge")
    assert fresh.json()["isPluggedIn"] is True and fresh.json()["state"] == "CHARGING"


@pytest.mark.parametrize("read_before", [False, True])
async def test_a_cloud_goes_stale_with_the_copy_it_has_when_the_fault_is_set(
        client: httpx.AsyncClient, world: World, read_before: bool) -> None:
    """Copies are taken lazily, at reads: a cloud never read (or not read since its last refresh)
    when it goes stale keeps the copy of that moment, not one taken at its next read from the car
    as it is then (plugged in)."""
    p = await make_pair(client, car={"vehicle_refresh_s": 60})
    if read_before:
        await sc_get(client, p, "/charge")
        await advance(client, 130)  # two refresh boundaries pass unread
    t_fault = world.clock.now()
    await faults(client, {"vendor": "smartcar", "stale": [p.vin]})
    await plug(client, p)
    await advance(client, 600)
    r = await sc_get(client, p, "/charge")
    assert r.json()["isPluggedIn"] is False
    taken = datetime.fromisoformat(r.headers["sc-data-age"].replace("Z", "+00:00")).timestamp()
    assert t_fault - 60 < taken <= t_fault
    await faults(client, {"vendor": "smartcar", "stale": [p.vin]})  # set again: still the same copy
    assert (await sc_get(client, p, "/charge")).headers["sc-data-age"] == r.headers["sc-data-age"]


async def test_a_car_that_drives_away_is_unplugged_and_reports_where_it_went(client: httpx.AsyncClient) -> None:
    p = await make_pair(client, car={"pushes_on_change": True, "latitude": 59.91, "longitude": 10.75})
    await plug(client, p)
    r = await client.post("/sim/move", json={"vin": p.vin, "latitude": 60.39, "longitude": 5.32})
    assert r.status_code == 200, r.text
    w = await sim_world(client)
    car = next(v for v in w["vehicles"] if v["vin"] == p.vin)
    assert car["plugged_into"] is None and (car["latitude"], car["longitude"]) == (60.39, 5.32)
    loc = (await sc_get(client, p, "/location")).json()
    assert loc == {"latitude": 60.39, "longitude": 5.32}
    assert (await sc_get(client, p, "/charge")).json()["isPluggedIn"] is False
    for bad in ({"vin": p.vin, "latitude": 91, "longitude": 0}, {"vin": p.vin, "latitude": "x", "longitude": 0},
                {"vin": "NOPE", "latitude": 1, "longitude": 1}, {"vin": 5}):
        assert (await client.post("/sim/move", json=bad)).status_code in (400, 404), bad


def test_real_stamps_write_wall_clock_time_at_any_speed() -> None:
    real = RealTime()
    clock = Clock(speed=10, real=real, real_stamps=True)
    start = clock.start
    real.sleep(30)
    assert clock.now() == pytest.approx(start + 300)
    assert clock.stamp(clock.now()) == pytest.approx(start + 30)
    assert Clock(speed=10, real=real).stamp(123.0) == 123.0


async def test_a_cars_own_clock_skew_adds_to_the_vendors(client: httpx.AsyncClient, world: World) -> None:
    p = await make_pair(client, car={"pushes_on_change": True, "clock_skew_s": -90})
    t0 = world.clock.now()
    assert (await sc_get(client, p, "/charge")).headers["sc-data-age"] == iso(t0 - 90)
    await faults(client, {"vendor": "smartcar", "clock_skew_s": 30})
    assert (await sc_get(client, p, "/charge")).headers["sc-data-age"] == iso(t0 - 60)
    r = await client.post("/sim/accounts", json={"vendor": "smartcar", "devices": [
        {"kind": "vehicle", "clock_skew_s": 10 ** 6}]})
    assert r.status_code == 400 and "clock_skew_s" in r.text


async def test_a_frozen_cloud_restamps_its_last_copy(client: httpx.AsyncClient, world: World) -> None:
    p = await make_pair(client, car={"pushes_on_change": True, "vehicle_refresh_s": 60})
    assert (await sc_get(client, p, "/charge")).json()["isPluggedIn"] is False
    await faults(client, {"vendor": "smartcar", "frozen": [p.vin]})
    await plug(client, p)
    await advance(client, 30)
    r = await sc_get(client, p, "/charge")
    assert r.json()["isPluggedIn"] is False and r.headers["sc-data-age"] == iso(world.clock.now())


async def test_a_pushing_car_streams_while_it_charges(client: httpx.AsyncClient, world: World) -> None:
    p = await make_pair(client, car={"pushes_on_change": True, "vehicle_refresh_s": 600})
    await plug(client, p)
    first = await sc_get(client, p, "/charge")
    await advance(client, 30)
    again = await sc_get(client, p, "/charge")
    assert again.json()["state"] == "CHARGING"
    assert again.headers["sc-data-age"] == iso(world.clock.now()) != first.headers["sc-data-age"]
