"""The simulator's HTTP surface (Smartcar-, Easee-shaped clouds and /sim control) over an in-process ASGI client."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from adapters.simulator.app import create_app
from adapters.simulator.common import iso
from adapters.simulator.world import World
from tests.simulator.conftest import SPEED, RealTime, make_world

SC = "/smartcar/v2.0"
EA = "/easee/api"
CAR_KW = 11.0  # default car max_charge_kw; the default charger (32 A, 3 x 230 V) allows 22.08 kW


# -- helpers ----------------------------------------------------------------------------------------
async def new_account(client: httpx.AsyncClient, vendor: str, *devices: dict[str, Any]) -> dict[str, Any]:
    r = await client.post("/sim/accounts", json={"vendor": vendor, "devices": list(devices)})
    assert r.status_code == 200, r.text
    return r.json()


async def sc_login(client: httpx.AsyncClient, creds: dict[str, str]) -> dict[str, str]:
    r = await client.post("/smartcar/oauth/token", json=creds)
    assert r.status_code == 200, r.text
    return {"authorization": f"Bearer {r.json()['access_token']}"}


async def ea_login(client: httpx.AsyncClient, creds: dict[str, str]) -> dict[str, str]:
    r = await client.post(f"{EA}/accounts/login", json={"userName": creds["username"], "password": creds["password"]})
    assert r.status_code == 200, r.text
    return {"authorization": f"Bearer {r.json()['accessToken']}"}


@dataclass
class Pair:
    car: str  # smartcar vehicle id
    vin: str
    serial: str
    sc: dict[str, str]  # auth headers
    ea: dict[str, str]
    sc_user: str
    ea_user: str


async def make_pair(client: httpx.AsyncClient, car: dict[str, Any] | None = None,
                    box: dict[str, Any] | None = None, vin: str = "VIN0001", serial: str = "EH000001") -> Pair:
    sc = await new_account(client, "smartcar", {"kind": "vehicle", "vin": vin, **(car or {})})
    ea = await new_account(client, "easee", {"kind": "charger", "serialNumber": serial, **(box or {})})
    assert ea["devices"] == [serial]
    return Pair(sc["devices"][0], vin, serial, await sc_login(client, sc["credentials"]),
                await ea_login(client, ea["credentials"]), sc["credentials"]["username"],
                ea["credentials"]["username"])


async def plug(client: httpx.AsyncClient, p: Pair) -> None:
    r = await client.post("/sim/plug", json={"vin": p.vin, "serialNumber": p.serial})
    assert r.status_code == 200, r.text
    assert r.json()["plugged"] is True


async def unplug(client: httpx.AsyncClient, p: Pair) -> None:
    r = await client.post("/sim/unplug", json={"vin": p.vin})
    assert r.status_code == 200, r.text
    assert r.json()["plugged"] is False


async def advance(client: httpx.AsyncClient, seconds: float) -> None:
    r = await client.post("/sim/time", json={"advance_s": seconds})
    assert r.status_code == 200, r.text


async def faults(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    r = await client.post("/sim/faults", json=body)
    assert r.status_code == 200, r.text


async def box_state(client: httpx.AsyncClient, p: Pair) -> dict[str, Any]:
    r = await client.get(f"{EA}/chargers/{p.serial}/state", headers=p.ea)
    assert r.status_code == 200, r.text
    return r.json()


async def box_state_response(client: httpx.AsyncClient, p: Pair) -> httpx.Response:
    return await client.get(f"{EA}/chargers/{p.serial}/state", headers=p.ea)


async def sc_get(client: httpx.AsyncClient, p: Pair, path: str) -> httpx.Response:
    return await client.get(f"{SC}/vehicles/{p.car}{path}", headers=p.sc)


async def sc_charge(client: httpx.AsyncClient, p: Pair, action: Any) -> httpx.Response:
    return await client.post(f"{SC}/vehicles/{p.car}/charge", headers=p.sc, json={"action": action})


async def ea_command(client: httpx.AsyncClient, p: Pair, command: str) -> httpx.Response:
    return await client.post(f"{EA}/chargers/{p.serial}/commands/{command}", headers=p.ea)


async def sim_world(client: httpx.AsyncClient) -> dict[str, Any]:
    r = await client.get("/sim/world")
    assert r.status_code == 200, r.text
    return r.json()


def sc_error(r: httpx.Response, status: int, kind: str, code: str | None, resolution: str | None) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert (body["type"], body["code"], body["statusCode"], body["resolution"]["type"]) == (
        kind, code, status, resolution)


def ea_error(r: httpx.Response, status: int, name: str) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["status"] == status and body["errorCodeName"] == name


# -- auth -------------------------------------------------------------------------------------------
async def test_smartcar_login_issues_a_working_token(client: httpx.AsyncClient) -> None:
    acct = await new_account(client, "smartcar", {"kind": "vehicle"}, {"kind": "vehicle"})
    r = await client.post("/smartcar/oauth/token", json=acct["credentials"])
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 7200 and body["access_token"]
    r = await client.get(f"{SC}/vehicles", headers={"authorization": f"Bearer {body['access_token']}"})
    assert r.status_code == 200
    assert r.json() == {"vehicles": acct["devices"], "paging": {"count": 2, "offset": 0}}


async def test_smartcar_bad_credentials_and_tokens_are_rejected(client: httpx.AsyncClient) -> None:
    sc = await new_account(client, "smartcar", {"kind": "vehicle"})
    ea = await new_account(client, "easee", {"kind": "charger"})
    user = sc["credentials"]["username"]
    for creds in ({"username": user, "password": "wrong"}, {"username": "nobody", "password": "x"},
                  ea["credentials"], {"username": ["x"], "password": None}):
        r = await client.post("/smartcar/oauth/token", json=creds)
        sc_error(r, 401, "AUTHENTICATION", None, "REAUTHENTICATE")
    for headers in ({}, {"authorization": "Bearer nope"}, await ea_login(client, ea["credentials"])):
        r = await client.get(f"{SC}/vehicles", headers=headers)
        sc_error(r, 401, "AUTHENTICATION", None, "REAUTHENTICATE")
        r = await client.get(f"{SC}/vehicles/{sc['devices'][0]}/battery", headers=headers)
        sc_error(r, 401, "AUTHENTICATION", None, "REAUTHENTICATE")


async def test_easee_login_issues_a_working_token(client: httpx.AsyncClient) -> None:
    acct = await new_account(client, "easee", {"kind": "charger", "serialNumber": "EH123456"})
    creds = acct["credentials"]
    r = await client.post(f"{EA}/accounts/login", json={"userName": creds["username"], "password": creds["password"]})
    assert r.status_code == 200
    body = r.json()
    assert body["tokenType"] == "Bearer" and body["expiresIn"] == 86400 and body["accessToken"] and body["refreshToken"]
    r = await client.get(f"{EA}/chargers", headers={"authorization": f"Bearer {body['accessToken']}"})
    assert r.status_code == 200
    assert [c["id"] for c in r.json()] == ["EH123456"]


async def test_easee_bad_credentials_and_tokens_are_rejected(client: httpx.AsyncClient) -> None:
    ea = await new_account(client, "easee", {"kind": "charger"})
    sc = await new_account(client, "smartcar", {"kind": "vehicle"})
    user = ea["credentials"]["username"]
    for creds in ({"userName": user, "password": "wrong"}, {"userName": "nobody", "password": "x"},
                  {"userName": sc["credentials"]["username"], "password": sc["credentials"]["password"]}):
        r = await client.post(f"{EA}/accounts/login", json=creds)
        assert r.status_code == 401
        assert r.json() == {"errorCode": 100, "errorCodeName": "InvalidUserPassword", "title": "Unauthorized",
                            "status": 401}
    for headers in ({}, {"authorization": "Bearer nope"}, await sc_login(client, sc["credentials"])):
        ea_error(await client.get(f"{EA}/chargers", headers=headers), 401, "Unauthorized")
        ea_error(await client.get(f"{EA}/chargers/{ea['devices'][0]}/state", headers=headers), 401, "Unauthorized")


# -- Smartcar-shaped reads ---------------------------------------------------------------------------
async def test_smartcar_vehicle_info_battery_and_limit(client: httpx.AsyncClient) -> None:
    spec = {"make": "Kia", "model": "EV6", "year": 2022, "capacity_kwh": 60.0, "soc": 0.42, "charge_limit": 0.9,
            "efficiency_km_per_kwh": 5.5}
    p = await make_pair(client, car=spec)
    r = await sc_get(client, p, "")
    assert r.json() == {"id": p.car, "make": "Kia", "model": "EV6", "year": 2022}
    assert (await sc_get(client, p, "/vin")).json() == {"vin": p.vin}
    assert (await sc_get(client, p, "/battery/capacity")).json() == {"capacity": 60.0}
    r = await sc_get(client, p, "/battery")
    assert r.status_code == 200
    assert r.json()["percentRemaining"] == pytest.approx(0.42)
    assert r.json()["range"] == pytest.approx(0.42 * 60 * 5.5, abs=0.05)
    assert r.headers["sc-data-age"].endswith("Z")
    assert (await sc_get(client, p, "/charge/limit")).json() == {"limit": 0.9}
    r = await sc_get(client, p, "/charge")
    assert r.json() == {"isPluggedIn": False, "state": "NOT_CHARGING", "chargeRate": 0.0}


async def test_smartcar_capabilities_follow_the_make(client: httpx.AsyncClient) -> None:
    p = await make_pair(client, car={"can_start": False, "can_stop": True, "can_set_current": True,
                                     "has_location": False, "sleeps": True})
    caps = {c["permission"]: c for c in (await sc_get(client, p, "/capabilities")).json()["capabilities"]}
    expected = {"read_battery": True, "read_charge": True, "read_location": False, "control_charge_start": False,
                "control_charge": True, "control_charge_amperage": True, "wake": True}
    assert {k: v["capable"] for k, v in caps.items()} == expected
    for perm, capable in expected.items():
        assert caps[perm]["reason"] == (None if capable else "VEHICLE_NOT_CAPABLE")


async def test_smartcar_location_and_cars_without_location(client: httpx.AsyncClient) -> None:
    acct = await new_account(client, "smartcar", {"kind": "vehicle", "latitude": 60.39, "longitude": 5.32},
                             {"kind": "vehicle", "has_location": False})
    headers = await sc_login(client, acct["credentials"])
    with_loc, without = acct["devices"]
    r = await client.get(f"{SC}/vehicles/{with_loc}/location", headers=headers)
    assert r.status_code == 200 and r.json() == {"latitude": 60.39, "longitude": 5.32}
    r = await client.get(f"{SC}/vehicles/{without}/location", headers=headers)
    sc_error(r, 501, "COMPATIBILITY", "VEHICLE_NOT_CAPABLE", None)


async def test_smartcar_make_without_charge_state_answers_not_capable(client: httpx.AsyncClient) -> None:
    p = await make_pair(client, car={"has_charge_state": False})
    caps = {c["permission"]: c["capable"] for c in (await sc_get(client, p, "/capabilities")).json()["capabilities"]}
    assert caps["read_battery"] is False and caps["read_charge"] is False and caps["read_location"] is True
    for path in ("/battery", "/charge", "/charge/limit"):
        sc_error(await sc_get(client, p, path), 501, "COMPATIBILITY", "VEHICLE_NOT_CAPABLE", None)
    assert (await sc_get(client, p, "/location")).status_code == 200
    r = await client.post("/sim/accounts",
                          json={"vendor": "smartcar", "devices": [{"kind": "vehicle", "has_charge_state": "no"}]})
    assert r.status_code == 400 and "has_charge_state" in r.text


async def test_smartcar_charge_rate_is_null_for_makes_that_do_not_report_it(client: httpx.AsyncClient) -> None:
    p = await make_pair(client, car={"reports_charge_rate": False, "pushes_on_change": True})
    await plug(client, p)
    await advance(client, 1)
    body = (await sc_get(client, p, "/charge")).json()
    assert body["state"] == "CHARGING" and body["chargeRate"] is None


async def test_smartcar_unknown_or_foreign_vehicle_is_404(client: httpx.AsyncClient) -> None:
    p = await make_pair(client)
    other = await new_account(client, "smartcar", {"kind": "vehicle"})
    for vid in ("nope", other["devices"][0]):
        r = await client.get(f"{SC}/vehicles/{vid}/battery", headers=p.sc)
        sc_error(r, 404, "RESOURCE_NOT_FOUND", "PATH", None)


async def test_smartcar_batch_answers_each_path_like_the_single_get(client: httpx.AsyncClient) -> None:
    p = await make_pair(client, car={"soc": 0.6, "has_location": False})
    paths = ["/battery", "/charge", "/location", "/nope"]
    r = await client.post(f"{SC}/vehicles/{p.car}/batch", headers=p.sc, json={"requests": [{"path": x} for x in paths]})
    assert r.status_code == 200
    out = r.json()["responses"]
    assert [o["path"] for o in out] == paths
    assert [o["code"] for o in out] == [200, 200, 501, 404]
    assert out[0]["body"]["percentRemaining"] == pytest.approx(0.6)
    assert out[0]["headers"]["sc-data-age"] == (await sc_get(client, p, "/battery")).headers["sc-data-age"]
    assert out[2]["body"]["code"] == "VEHICLE_NOT_CAPABLE"
    r = await client.post(f"{SC}/vehicles/{p.car}/batch", headers=p.sc, json={"requests": "all"})
    sc_error(r, 400, "VALIDATION", "PARAMETER", None)


# -- charging as the clouds see it ---------------------------------------------------------------------
async def test_vehicle_cloud_is_cached_while_the_charger_sees_the_cable_at_once(
        client: httpx.AsyncClient, world: World) -> None:
    refresh = 300
    p = await make_pair(client, car={"vehicle_refresh_s": refresh})
    t0 = world.clock.now()
    first = await sc_get(client, p, "/charge")
    assert first.json()["isPluggedIn"] is False
    await plug(client, p)
    # The charger reports the cable and the current at once ...
    st = await box_state(client, p)
    assert st["cableLocked"] is True and st["chargerOpMode"] == 3
    assert st["totalPower"] == pytest.approx(CAR_KW)
    # ... while the vehicle cloud still answers from its cached copy.
    r = await sc_get(client, p, "/charge")
    assert r.json() == {"isPluggedIn": False, "state": "NOT_CHARGING", "chargeRate": 0.0}
    assert r.headers["sc-data-age"] == first.headers["sc-data-age"] == iso(t0)
    await advance(client, refresh)  # one refresh boundary passes: the copy describes the car then
    car = world.cars_by_vin[p.vin]
    boundary = car.phase + ((t0 + refresh - car.phase) // refresh) * refresh
    assert t0 < boundary <= t0 + refresh
    r = await sc_get(client, p, "/charge")
    assert r.json() == {"isPluggedIn": True, "state": "CHARGING", "chargeRate": round(CAR_KW * 0.95, 2)}
    assert r.headers["sc-data-age"] == iso(boundary)


async def test_a_lazy_refresh_describes_the_car_at_the_boundary_not_when_read(
        client: httpx.AsyncClient, world: World) -> None:
    refresh = 300
    p = await make_pair(client, car={"vehicle_refresh_s": refresh})
    await sc_get(client, p, "/charge")
    car = world.cars_by_vin[p.vin]
    t0 = world.clock.now()
    boundary = car.phase + ((t0 - car.phase) // refresh + 1) * refresh  # the next refresh
    await advance(client, boundary - t0 + 10)
    await plug(client, p)  # 10 s after the cloud last heard from the car
    await advance(client, 10)
    r = await sc_get(client, p, "/charge")
    assert r.json()["isPluggedIn"] is False
    assert r.headers["sc-data-age"] == iso(boundary)
    await advance(client, refresh)
    assert (await sc_get(client, p, "/charge")).json()["isPluggedIn"] is True


async def test_soc_rises_with_accelerated_time(client: httpx.AsyncClient, real: RealTime) -> None:
    cap, soc0 = 77.0, 0.5
    p = await make_pair(client, car={"capacity_kwh": cap, "soc": soc0, "charge_limit": 0.9})
    await plug(client, p)
    real.sleep(30)  # at speed 60: 1800 simulated seconds
    energy = CAR_KW * 30 * SPEED / 3600
    st = await box_state(client, p)
    assert st["sessionEnergy"] == pytest.approx(energy, abs=1e-3)
    assert st["lifetimeEnergy"] == pytest.approx(energy, abs=1e-3)
    soc = soc0 + energy / cap
    r = await sc_get(client, p, "/battery")  # first read: nothing cached yet
    assert r.json()["percentRemaining"] == pytest.approx(soc, abs=1e-4)
    assert r.json()["range"] == pytest.approx(soc * cap * 6, abs=0.05)
    car = next(v for v in (await sim_world(client))["vehicles"] if v["vin"] == p.vin)
    assert car["soc"] == pytest.approx(soc, abs=1e-4)


async def test_charging_stops_at_the_charge_limit(client: httpx.AsyncClient) -> None:
    cap, soc0, limit = 50.0, 0.75, 0.8
    p = await make_pair(client, car={"capacity_kwh": cap, "soc": soc0, "charge_limit": limit})
    await plug(client, p)
    await advance(client, 3 * 3600)
    st = await box_state(client, p)
    assert (st["chargerOpMode"], st["totalPower"], st["reasonForNoCurrent"]) == (4, 0.0, 3)
    assert st["sessionEnergy"] == pytest.approx((limit - soc0) * cap, abs=1e-3)
    assert (await sc_get(client, p, "/battery")).json()["percentRemaining"] == pytest.approx(limit)
    assert (await sc_get(client, p, "/charge")).json() == {"isPluggedIn": True, "state": "FULLY_CHARGED",
                                                           "chargeRate": 0.0}


async def test_sim_vehicle_changes_a_cars_curve_and_soc_from_now_on(client: httpx.AsyncClient) -> None:
    cap = 40.0
    p = await make_pair(client, car={"capacity_kwh": cap, "soc": 0.5, "charge_limit": 1.0})
    await plug(client, p)
    await advance(client, 600)  # flat and lossless: 11 kW for 10 min
    assert (await box_state(client, p))["sessionEnergy"] == pytest.approx(11 / 6, abs=1e-3)
    r = await client.post("/sim/vehicle", json={"vin": p.vin, "soc": 0.8, "taper_from": 0.7, "taper_floor": 0.2,
                                                 "charge_efficiency": 0.9})
    assert r.status_code == 200 and r.json()["configured"] == ["charge_efficiency", "soc", "taper_floor",
                                                               "taper_from"]
    car = next(v for v in (await sim_world(client))["vehicles"] if v["vin"] == p.vin)
    assert car["soc"] == 0.8 and car["taper_from"] == 0.7
    assert car["power_kw"] == pytest.approx(11 * (1 - 0.8 / 3))  # a third of the way down the taper
    for bad, status in (({"vin": p.vin, "taper_from": 2}, 400), ({"vin": p.vin, "colour": "red"}, 400),
                        ({"vin": p.vin, "vin2": 1}, 400), ({"vin": "NOPE", "soc": 0.1}, 404)):
        r = await client.post("/sim/vehicle", json=bad)
        assert r.status_code == status, bad
    car = next(v for v in (await sim_world(client))["vehicles"] if v["vin"] == p.vin)
    assert car["taper_from"] == 0.7  # a rejected change changes nothing


async def test_unplug_stops_charging(client: httpx.AsyncClient) -> None:
    cap, soc0 = 77.0, 0.3
    p = await make_pair(client, car={"capacity_kwh": cap, "soc": soc0})
    await plug(client, p)
    await advance(client, 1800)
    await unplug(client, p)
    st = await box_state(client, p)
    assert (st["chargerOpMode"], st["totalPower"], st["cableLocked"]) == (1, 0.0, False)
    soc_at_unplug = soc0 + CAR_KW * 0.5 / cap
    await advance(client, 3600)
    w = await sim_world(client)
    car = next(v for v in w["vehicles"] if v["vin"] == p.vin)
    assert car["soc"] == pytest.approx(soc_at_unplug, abs=1e-4)
    assert car["plugged_into"] is None and car["charging"] is False
    assert (await sc_get(client, p, "/charge")).json()["isPluggedIn"] is False


# -- Smartcar commands ----------------------------------------------------------------------------------
async def test_smartcar_stop_and_start_take_effect_after_a_short_delay(client: httpx.AsyncClient) -> None:
    p = await make_pair(client, car={"soc": 0.2})
    await plug(client, p)
    r = await sc_charge(client, p, "STOP")
    assert r.status_code == 200 and r.json() == {"status": "success"}
    assert (await box_state(client, p))["chargerOpMode"] == 3  # not yet
    await advance(client, 15)
    st = await box_state(client, p)
    assert (st["chargerOpMode"], st["totalPower"], st["reasonForNoCurrent"]) == (6, 0.0, 3)
    r = await sc_charge(client, p, "START")
    assert r.status_code == 200
    await advance(client, 15)
    st = await box_state(client, p)
    assert (st["chargerOpMode"], st["totalPower"]) == (3, pytest.approx(CAR_KW))


async def test_smartcar_charge_command_errors(client: httpx.AsyncClient) -> None:
    p = await make_pair(client)
    sc_error(await sc_charge(client, p, "START"), 409, "VEHICLE_STATE", "CHARGING_PLUG_NOT_CONNECTED", None)
    await plug(client, p)
    for action in ("GO", None, 1):
        sc_error(await sc_charge(client, p, action), 400, "VALIDATION", "PARAMETER", None)
    r = await client.post(f"{SC}/vehicles/{p.car}/charge", headers=p.sc, content=b"{not json")
    sc_error(r, 400, "VALIDATION", "PARAMETER", None)
    r = await client.post(f"{SC}/vehicles/{p.car}/honk", headers=p.sc, json={})
    sc_error(r, 404, "RESOURCE_NOT_FOUND", "PATH", None)


@pytest.mark.parametrize(("flags", "refused"), [({"can_start": False}, "START"), ({"can_stop": False}, "STOP")])
async def test_smartcar_makes_that_cannot_answer_vehicle_not_capable(
        client: httpx.AsyncClient, flags: dict[str, bool], refused: str) -> None:
    p = await make_pair(client, car=flags)
    await plug(client, p)
    sc_error(await sc_charge(client, p, refused), 501, "COMPATIBILITY", "VEHICLE_NOT_CAPABLE", None)
    allowed = "STOP" if refused == "START" else "START"
    assert (await sc_charge(client, p, allowed)).status_code == 200
    r = await client.post(f"{SC}/vehicles/{p.car}/charge/ampere", headers=p.sc, json={"amperage": 16})
    sc_error(r, 501, "COMPATIBILITY", "VEHICLE_NOT_CAPABLE", None)


async def test_smartcar_start_below_min_soc_is_refused(client: httpx.AsyncClient) -> None:
    p = await make_pair(client, car={"soc": 0.3, "min_soc_for_command": 0.5})
    await plug(client, p)
    sc_error(await sc_charge(client, p, "START"), 409, "VEHICLE_STATE", "CHARGING_SOC_TOO_LOW", None)


async def test_smartcar_stop_below_min_soc_is_allowed(client: httpx.AsyncClient) -> None:
    p = await make_pair(client, car={"soc": 0.3, "min_soc_for_command": 0.5})
    await plug(client, p)
    assert (await sc_charge(client, p, "STOP")).status_code == 200


async def test_smartcar_wake_makes_a_sleeping_car_answer_after_a_few_seconds(client: httpx.AsyncClient) -> None:
    p = await make_pair(client, car={"sleeps": True, "sleep_after_s": 900})
    await advance(client, 901)
    sc_error(await sc_get(client, p, "/battery"), 409, "VEHICLE_STATE", "ASLEEP", "RETRY_LATER")
    r = await client.post(f"{SC}/vehicles/{p.car}/wake", headers=p.sc, json={})
    assert r.status_code == 200 and r.json() == {"status": "success"}
    # docs/vendor-api.md: "the car is awake after a few seconds" (3-8 simulated seconds here)
    sc_error(await sc_get(client, p, "/battery"), 409, "VEHICLE_STATE", "ASLEEP", "RETRY_LATER")
    await advance(client, 2.9)
    sc_error(await sc_get(client, p, "/battery"), 409, "VEHICLE_STATE", "ASLEEP", "RETRY_LATER")
    await advance(client, 5.2)
    assert (await sc_get(client, p, "/battery")).status_code == 200
    assert (await sim_world(client))["vehicles"][0]["asleep"] is False


async def test_a_stale_car_cloud_answers_from_its_last_copy_until_the_fault_is_lifted(
        client: httpx.AsyncClient) -> None:
    p = await make_pair(client, car={"pushes_on_change": True, "soc": 0.3, "capacity_kwh": 10})
    await plug(client, p)
    first = await sc_get(client, p, "/charge")
    assert first.json()["isPluggedIn"] is True
    soc0 = (await sc_get(client, p, "/battery")).json()["percentRemaining"]
    await faults(client, {"vendor": "smartcar", "stale": [p.vin]})
    await advance(client, 600)
    await unplug(client, p)
    r = await sc_get(client, p, "/charge")
    assert r.json()["isPluggedIn"] is True and r.headers["sc-data-age"] == first.headers["sc-data-age"]
    assert (await sc_get(client, p, "/battery")).json()["percentRemaining"] == soc0
    await faults(client, {"vendor": "smartcar"})
    r = await sc_get(client, p, "/charge")
    assert r.json()["isPluggedIn"] is False and r.headers["sc-data-age"] != first.headers["sc-data-age"]
    assert (await sc_get(client, p, "/battery")).json()["percentRemaining"] > soc0


async def test_smartcar_wake_lifts_a_forced_sleep_after_the_delay(client: httpx.AsyncClient) -> None:
    p = await make_pair(client)
    await faults(client, {"vendor": "smartcar", "asleep": [p.vin]})
    sc_error(await sc_charge(client, p, "START"), 409, "VEHICLE_STATE", "ASLEEP", "RETRY_LATER")
    assert (await client.post(f"{SC}/vehicles/{p.car}/wake", headers=p.sc, json={})).status_code == 200
    sc_error(await sc_get(client, p, "/charge"), 409, "VEHICLE_STATE", "ASLEEP", "RETRY_LATER")
    await advance(client, 8.1)
    assert (await sc_get(client, p, "/charge")).status_code == 200


async def test_smartcar_charging_car_does_not_fall_asleep(client: httpx.AsyncClient) -> None:
    p = await make_pair(client, car={"sleeps": True, "sleep_after_s": 900, "soc": 0.1, "charge_limit": 1.0})
    await plug(client, p)
    await advance(client, 3600)
    assert (await sc_get(client, p, "/battery")).status_code == 200


async def test_smartcar_amperage_limits_the_charging_power(client: httpx.AsyncClient) -> None:
    p = await make_pair(client, car={"can_set_current": True})
    await plug(client, p)
    r = await client.post(f"{SC}/vehicles/{p.car}/charge/ampere", headers=p.sc, json={"amperage": 8})
    assert r.status_code == 200
    assert (await box_state(client, p))["totalPower"] == pytest.approx(round(min(CAR_KW, 8 * 230 * 3 / 1000), 2))
    for bad in (-1, 81, "16"):
        r = await client.post(f"{SC}/vehicles/{p.car}/charge/ampere", headers=p.sc, json={"amperage": bad})
        sc_error(r, 400, "VALIDATION", "PARAMETER", None)


async def test_smartcar_amperage_can_be_raised_again(client: httpx.AsyncClient) -> None:
    p = await make_pair(client, car={"can_set_current": True})
    await plug(client, p)
    for amps in (8, 16):
        r = await client.post(f"{SC}/vehicles/{p.car}/charge/ampere", headers=p.sc, json={"amperage": amps})
        assert r.status_code == 200
    assert (await box_state(client, p))["totalPower"] == pytest.approx(round(min(CAR_KW, 16 * 230 * 3 / 1000), 2))


# -- Easee-shaped API -----------------------------------------------------------------------------------
async def test_easee_listing_details_config_and_state(client: httpx.AsyncClient) -> None:
    acct = await new_account(client, "easee", {"kind": "charger", "serialNumber": "EH000010", "max_current": 16},
                             {"kind": "charger", "serialNumber": "EH000011", "enabled": False})
    h = await ea_login(client, acct["credentials"])
    r = await client.get(f"{EA}/chargers", headers=h)
    assert [(c["id"], c["productCode"]) for c in r.json()] == [("EH000010", 1), ("EH000011", 1)]
    r = await client.get(f"{EA}/chargers/EH000010/details", headers=h)
    assert r.json() == {"serialNumber": "EH000010", "product": "Easee Home", "manufacturer": "Easee"}
    assert (await client.get(f"{EA}/chargers/EH000010/config", headers=h)).json()["maxChargerCurrent"] == 16
    assert (await client.get(f"{EA}/chargers/EH000011/config", headers=h)).json()["isEnabled"] is False
    st = (await client.get(f"{EA}/chargers/EH000010/state", headers=h)).json()
    assert st["chargerOpMode"] == 1 and st["isOnline"] is True and st["cableLocked"] is False
    assert st["totalPower"] == 0.0 and st["dynamicChargerCurrent"] == 16 and st["voltage"] == 230


async def test_easee_foreign_or_unknown_charger_is_404(client: httpx.AsyncClient) -> None:
    p = await make_pair(client)
    await new_account(client, "easee", {"kind": "charger", "serialNumber": "EH999999"})
    for cid in ("EH999999", "nope"):
        ea_error(await client.get(f"{EA}/chargers/{cid}/state", headers=p.ea), 404, "ChargerNotFound")
        ea_error(await client.post(f"{EA}/chargers/{cid}/commands/pause_charging", headers=p.ea), 404,
                 "ChargerNotFound")


async def test_easee_disabled_charger_does_not_charge(client: httpx.AsyncClient) -> None:
    p = await make_pair(client, box={"enabled": False})
    await plug(client, p)
    st = await box_state(client, p)
    assert (st["chargerOpMode"], st["reasonForNoCurrent"], st["totalPower"]) == (2, 4, 0.0)


@pytest.mark.parametrize(("stop", "go"), [("pause_charging", "resume_charging"), ("stop_charging", "start_charging")])
async def test_easee_pause_and_resume(client: httpx.AsyncClient, stop: str, go: str) -> None:
    p = await make_pair(client)
    await plug(client, p)
    r = await ea_command(client, p, stop)
    assert r.status_code == 202 and r.json()["device"] == p.serial
    assert (await box_state(client, p))["chargerOpMode"] == 3  # accepted, not yet applied
    await advance(client, 5)
    st = await box_state(client, p)
    assert (st["chargerOpMode"], st["reasonForNoCurrent"], st["totalPower"]) == (2, 2, 0.0)
    assert (await ea_command(client, p, go)).status_code == 202
    await advance(client, 5)
    st = await box_state(client, p)
    assert (st["chargerOpMode"], st["totalPower"]) == (3, pytest.approx(CAR_KW))
    ea_error(await ea_command(client, p, "explode"), 400, "BadRequest")


async def test_easee_dynamic_current(client: httpx.AsyncClient) -> None:
    p = await make_pair(client, car={"max_charge_kw": 50.0}, box={"max_current": 32})
    await plug(client, p)
    r = await client.post(f"{EA}/chargers/{p.serial}/settings", headers=p.ea, json={"dynamicChargerCurrent": 10})
    assert r.status_code == 202
    assert (await box_state(client, p))["totalPower"] == pytest.approx(round(32 * 690 / 1000, 2))
    await advance(client, 5)
    st = await box_state(client, p)
    assert st["dynamicChargerCurrent"] == 10
    assert st["totalPower"] == pytest.approx(round(10 * 230 * 3 / 1000, 2))
    assert st["outputCurrent"] == pytest.approx(10.0)
    for bad in ({"dynamicChargerCurrent": 33}, {"dynamicChargerCurrent": -1}, {"dynamicChargerCurrent": True},
                {"dynamicChargerCurrent": "10"}, {}):
        r = await client.post(f"{EA}/chargers/{p.serial}/settings", headers=p.ea, json=bad)
        ea_error(r, 400, "BadRequest")


async def test_easee_schedule_blocks_a_start_until_overridden(client: httpx.AsyncClient) -> None:
    # Simulated time starts at 12:00 UTC; the window 22:00-06:00 is closed.
    p = await make_pair(client, box={"schedule": {"start": "22:00", "stop": "06:00"}})
    r = await client.get(f"{EA}/chargers/{p.serial}/basic_charge_plan", headers=p.ea)
    assert r.json()["chargeStartTime"] == "22:00" and r.json()["chargeStopTime"] == "06:00"
    await plug(client, p)
    st = await box_state(client, p)
    assert (st["chargerOpMode"], st["reasonForNoCurrent"], st["totalPower"], st["cableLocked"]) == (2, 1, 0.0, True)
    assert (await ea_command(client, p, "start_charging")).status_code == 202
    await advance(client, 5)
    st = await box_state(client, p)
    assert (st["chargerOpMode"], st["reasonForNoCurrent"], st["totalPower"]) == (2, 1, 0.0)
    assert (await ea_command(client, p, "override_schedule")).status_code == 202
    await advance(client, 5)
    st = await box_state(client, p)
    assert (st["chargerOpMode"], st["totalPower"]) == (3, pytest.approx(CAR_KW))


async def test_easee_charge_plan_set_and_delete(client: httpx.AsyncClient) -> None:
    p = await make_pair(client)
    await plug(client, p)
    url = f"{EA}/chargers/{p.serial}/basic_charge_plan"
    ea_error(await client.get(url, headers=p.ea), 404, "NotFound")
    r = await client.post(url, headers=p.ea, json={"chargeStartTime": "22:00", "chargeStopTime": "06:00"})
    assert r.status_code == 200 and r.json()["chargeStartTime"] == "22:00"
    st = await box_state(client, p)
    assert (st["chargerOpMode"], st["reasonForNoCurrent"]) == (2, 1)
    assert (await client.delete(url, headers=p.ea)).status_code == 200
    ea_error(await client.get(url, headers=p.ea), 404, "NotFound")
    assert (await box_state(client, p))["chargerOpMode"] == 3
    ea_error(await client.post(url, headers=p.ea, json={"chargeStartTime": "22:00"}), 400, "BadRequest")


async def test_easee_charge_plan_rejects_malformed_times(client: httpx.AsyncClient) -> None:
    p = await make_pair(client)
    await plug(client, p)
    url = f"{EA}/chargers/{p.serial}/basic_charge_plan"
    for start, stop in (("soon", "later"), ("25:00", "06:00"), ("22:00", "6:00"), ("22:00", 600),
                        ("22:00:00", "06:00")):
        r = await client.post(url, headers=p.ea, json={"chargeStartTime": start, "chargeStopTime": stop})
        ea_error(r, 400, "BadRequest")
    ea_error(await client.get(url, headers=p.ea), 404, "NotFound")  # nothing was stored
    assert (await box_state(client, p))["chargerOpMode"] == 3


# -- faults -----------------------------------------------------------------------------------------
async def test_latency_is_injected_per_vendor(client: httpx.AsyncClient) -> None:
    p = await make_pair(client)
    delay_ms = 150
    await faults(client, {"vendor": "smartcar", "latency_ms": [delay_ms, delay_ms]})
    t = time.perf_counter()
    assert (await client.get(f"{SC}/vehicles", headers=p.sc)).status_code == 200
    assert time.perf_counter() - t >= delay_ms / 1000
    t = time.perf_counter()
    assert (await client.get(f"{EA}/chargers", headers=p.ea)).status_code == 200
    assert time.perf_counter() - t < delay_ms / 1000
    await faults(client, {})
    t = time.perf_counter()
    assert (await client.get(f"{SC}/vehicles", headers=p.sc)).status_code == 200
    assert time.perf_counter() - t < delay_ms / 1000


async def test_failure_rate_one_fails_every_request_of_that_vendor(client: httpx.AsyncClient) -> None:
    p = await make_pair(client)
    await faults(client, {"vendor": "smartcar", "failure_rate": 1.0})
    for _ in range(3):
        sc_error(await sc_get(client, p, "/battery"), 500, "SERVER", "INTERNAL", "RETRY_LATER")
    sc_error(await client.get(f"{SC}/vehicles", headers=p.sc), 500, "SERVER", "INTERNAL", "RETRY_LATER")
    assert (await client.get(f"{EA}/chargers", headers=p.ea)).status_code == 200
    await faults(client, {"vendor": "easee", "failure_rate": 1.0})
    ea_error(await client.get(f"{EA}/chargers/{p.serial}/state", headers=p.ea), 500, "InternalError")
    ea_error(await ea_command(client, p, "pause_charging"), 500, "InternalError")
    # Resetting one vendor leaves the other's faults in place; {} resets all.
    await faults(client, {"vendor": "smartcar"})
    assert (await sc_get(client, p, "/battery")).status_code == 200
    ea_error(await client.get(f"{EA}/chargers", headers=p.ea), 500, "InternalError")
    await faults(client, {})
    assert (await client.get(f"{EA}/chargers", headers=p.ea)).status_code == 200


async def test_command_failure_rate_fails_only_commands(client: httpx.AsyncClient) -> None:
    p = await make_pair(client)
    await plug(client, p)
    await faults(client, {"vendor": "smartcar", "command_failure_rate": 1.0})
    await faults(client, {"vendor": "easee", "command_failure_rate": 1.0})
    assert (await sc_get(client, p, "/battery")).status_code == 200
    sc_error(await sc_charge(client, p, "STOP"), 500, "SERVER", "INTERNAL", "RETRY_LATER")
    assert (await box_state(client, p))["chargerOpMode"] == 3
    ea_error(await ea_command(client, p, "pause_charging"), 500, "InternalError")
    r = await client.post(f"{EA}/chargers/{p.serial}/settings", headers=p.ea, json={"dynamicChargerCurrent": 6})
    ea_error(r, 500, "InternalError")
    await advance(client, 30)
    st = await box_state(client, p)  # nothing was applied
    assert (st["chargerOpMode"], st["dynamicChargerCurrent"]) == (3, 32)


async def test_smartcar_offline_vehicle_is_unreachable(client: httpx.AsyncClient) -> None:
    acct = await new_account(client, "smartcar", {"kind": "vehicle", "vin": "OFF1"}, {"kind": "vehicle", "vin": "ON1"})
    h = await sc_login(client, acct["credentials"])
    off, on = acct["devices"]
    await faults(client, {"vendor": "smartcar", "offline": ["OFF1"]})
    r = await client.get(f"{SC}/vehicles/{off}/battery", headers=h)
    sc_error(r, 409, "VEHICLE_STATE", "UNREACHABLE", "RETRY_LATER")
    r = await client.post(f"{SC}/vehicles/{off}/charge", headers=h, json={"action": "START"})
    sc_error(r, 409, "VEHICLE_STATE", "UNREACHABLE", "RETRY_LATER")
    assert (await client.get(f"{SC}/vehicles/{on}/battery", headers=h)).status_code == 200
    await faults(client, {"vendor": "smartcar", "offline": [on]})  # by vehicle id
    sc_error(await client.get(f"{SC}/vehicles/{on}/charge", headers=h), 409, "VEHICLE_STATE", "UNREACHABLE",
             "RETRY_LATER")
    assert (await client.get(f"{SC}/vehicles/{off}/battery", headers=h)).status_code == 200
    await faults(client, {"vendor": "smartcar", "offline": True})
    for vid in (off, on):
        r = await client.post(f"{SC}/vehicles/{vid}/batch", headers=h, json={"requests": [{"path": "/battery"}]})
        assert r.json()["responses"][0]["code"] == 409
        assert r.json()["responses"][0]["body"]["code"] == "UNREACHABLE"


async def test_easee_offline_charger(client: httpx.AsyncClient) -> None:
    p = await make_pair(client)
    await plug(client, p)
    await faults(client, {"vendor": "easee", "offline": [p.serial]})
    st = await box_state(client, p)
    assert (st["isOnline"], st["chargerOpMode"]) == (False, 0)
    ea_error(await ea_command(client, p, "pause_charging"), 400, "ChargerNotOnline")
    r = await client.post(f"{EA}/chargers/{p.serial}/settings", headers=p.ea, json={"dynamicChargerCurrent": 6})
    ea_error(r, 400, "ChargerNotOnline")


@pytest.mark.parametrize("vendor", ["smartcar", "easee"])
async def test_rate_limit_answers_429_with_retry_after(client: httpx.AsyncClient, vendor: str) -> None:
    p = await make_pair(client)
    capacity, refill = 2, 0.25  # per simulated second
    await faults(client, {"vendor": vendor, "rate_limit": {"capacity": capacity, "refill_per_s": refill}})
    if vendor == "smartcar":
        url, headers = f"{SC}/vehicles/{p.car}/battery", p.sc
        other_url, other_headers = f"{EA}/chargers/{p.serial}/state", p.ea
    else:
        url, headers = f"{EA}/chargers/{p.serial}/state", p.ea
        other_url, other_headers = f"{SC}/vehicles/{p.car}/battery", p.sc
    for _ in range(capacity):
        assert (await client.get(url, headers=headers)).status_code == 200
    r = await client.get(url, headers=headers)
    if vendor == "smartcar":
        sc_error(r, 429, "RATE_LIMIT", "SMARTCAR_API", "RETRY_LATER")  # one bucket: the app's quota
    else:
        ea_error(r, 429, "TooManyRequests")
    wait = math.ceil(1 / refill)  # the bucket is empty: one token takes 1/refill simulated seconds
    assert r.headers["retry-after"] == "1"  # 4 simulated seconds at speed 60: under a real second, rounded up
    for _ in range(5):  # the other vendor is not limited
        assert (await client.get(other_url, headers=other_headers)).status_code == 200
    await advance(client, wait - 1)
    assert (await client.get(url, headers=headers)).status_code == 429
    await advance(client, 1)
    assert (await client.get(url, headers=headers)).status_code == 200
    assert (await client.get(url, headers=headers)).status_code == 429


@pytest.mark.parametrize(("speed", "refill", "expected"), [(60.0, 0.005, 4), (1.0, 0.25, 4), (1.0, 0.3, 4),
                                                           (10.0, 0.25, 1), (60.0, 1 / 120, 2)])
async def test_retry_after_is_in_real_seconds(real: RealTime, speed: float, refill: float, expected: int) -> None:
    """Clients sleep in real time, so the simulated wait is divided by the clock speed (rounded up, at least 1)."""
    app = create_app(make_world(real, speed=speed))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim") as client:
        p = await make_pair(client)
        await faults(client, {"vendor": "easee", "rate_limit": {"capacity": 1, "refill_per_s": refill}})
        assert (await box_state_response(client, p)).status_code == 200
        r = await box_state_response(client, p)
        ea_error(r, 429, "TooManyRequests")
        assert r.headers["retry-after"] == str(expected)
        exact = 1 / refill / speed  # real seconds until the next token
        real.sleep(exact - 0.01)
        assert (await box_state_response(client, p)).status_code == 429
        real.sleep(expected - exact + 0.01)  # in all, the advertised wait: enough
        assert (await box_state_response(client, p)).status_code == 200


async def test_smartcar_revoked_credentials(client: httpx.AsyncClient) -> None:
    p = await make_pair(client)
    other = await new_account(client, "smartcar", {"kind": "vehicle"})
    other_h = await sc_login(client, other["credentials"])
    await faults(client, {"vendor": "smartcar", "revoked": [p.sc_user]})
    sc_error(await sc_get(client, p, "/battery"), 401, "AUTHENTICATION", None, "REAUTHENTICATE")
    sc_error(await client.get(f"{SC}/vehicles", headers=p.sc), 401, "AUTHENTICATION", None, "REAUTHENTICATE")
    sc_error(await sc_charge(client, p, "START"), 401, "AUTHENTICATION", None, "REAUTHENTICATE")
    assert (await client.get(f"{SC}/vehicles", headers=other_h)).status_code == 200
    await faults(client, {})
    assert (await sc_get(client, p, "/battery")).status_code == 200


async def test_smartcar_revoked_account_cannot_log_in(client: httpx.AsyncClient) -> None:
    acct = await new_account(client, "smartcar", {"kind": "vehicle"})
    await faults(client, {"vendor": "smartcar", "revoked": [acct["credentials"]["username"]]})
    r = await client.post("/smartcar/oauth/token", json=acct["credentials"])
    sc_error(r, 401, "AUTHENTICATION", None, "REAUTHENTICATE")
    await faults(client, {"vendor": "smartcar"})
    assert (await client.post("/smartcar/oauth/token", json=acct["credentials"])).status_code == 200


async def test_easee_revoked_credentials(client: httpx.AsyncClient) -> None:
    acct = await new_account(client, "easee", {"kind": "charger"})
    creds = acct["credentials"]
    h = await ea_login(client, creds)
    await faults(client, {"vendor": "easee", "revoked": [creds["username"]]})
    ea_error(await client.get(f"{EA}/chargers", headers=h), 401, "Unauthorized")
    r = await client.post(f"{EA}/accounts/login", json={"userName": creds["username"], "password": creds["password"]})
    assert r.status_code == 401


# -- /sim control -------------------------------------------------------------------------------------
async def test_sim_world_reports_the_true_state(client: httpx.AsyncClient, world: World) -> None:
    cap, soc0 = 77.0, 0.5
    p = await make_pair(client, car={"capacity_kwh": cap, "soc": soc0})
    w = await sim_world(client)
    assert w["speed"] == SPEED
    assert w["time"] == iso(world.clock.now())
    assert {v["name"]: v["serves"] for v in w["vendors"]} == {"smartcar": "vehicles", "easee": "chargers",
                                                              "ocpp": "chargers"}
    assert {a["username"] for a in w["accounts"]} == {p.sc_user, p.ea_user}
    assert w["vehicles"][0]["plugged_into"] is None and w["chargers"][0]["op_mode"] == 1
    await plug(client, p)
    await advance(client, 600)
    w = await sim_world(client)
    (car,), (box,) = w["vehicles"], w["chargers"]
    assert (car["vin"], car["id"], car["plugged_into"], car["charging"]) == (p.vin, p.car, p.serial, True)
    assert car["power_kw"] == pytest.approx(CAR_KW)
    assert car["soc"] == pytest.approx(soc0 + CAR_KW * 600 / 3600 / cap, abs=1e-4)
    assert (box["serialNumber"], box["plugged_vin"], box["op_mode"]) == (p.serial, p.vin, 3)
    assert box["power_kw"] == pytest.approx(CAR_KW)
    await unplug(client, p)
    w = await sim_world(client)
    assert w["vehicles"][0]["plugged_into"] is None and w["chargers"][0]["plugged_vin"] is None


async def test_sim_time_advances_the_clock(client: httpx.AsyncClient, world: World) -> None:
    t0 = world.clock.now()
    r = await client.post("/sim/time", json={"advance_s": 3600})
    assert r.status_code == 200 and r.json()["time"] == iso(t0 + 3600)


async def test_sim_world_shows_charging_right_after_plug(client: httpx.AsyncClient) -> None:
    p = await make_pair(client)
    await plug(client, p)
    assert (await sim_world(client))["vehicles"][0]["charging"] is True


@pytest.mark.parametrize(
    ("path", "body", "status", "fragment"),
    [
        ("/sim/accounts", b"{not json", 400, "JSON object"),
        ("/sim/accounts", [1, 2], 400, "JSON object"),
        ("/sim/accounts", {"vendor": "tesla"}, 400, "unknown vendor"),
        ("/sim/accounts", {"vendor": "smartcar", "devices": "car"}, 400, "devices"),
        ("/sim/accounts", {"vendor": "smartcar", "devices": [], "colour": "red"}, 400, "fields"),
        ("/sim/accounts", {"vendor": "smartcar", "devices": [{"kind": "vehicle", "wings": 2}]}, 400, "wings"),
        ("/sim/accounts", {"vendor": "smartcar", "devices": [{"kind": "vehicle", "soc": 1.5}]}, 400, "soc"),
        ("/sim/accounts", {"vendor": "smartcar", "devices": [{"kind": "charger"}]}, 400, "kind"),
        ("/sim/accounts", {"vendor": "easee", "devices": ["EH1"]}, 400, "object"),
        ("/sim/accounts", {"vendor": "easee", "devices": [{"kind": "charger", "volts": 1}]}, 400, "volts"),
        ("/sim/plug", {"vin": "NOPE", "serialNumber": "NOPE"}, 404, "unknown vin"),
        ("/sim/plug", {}, 404, "unknown vin"),
        ("/sim/plug", "vin", 400, "JSON object"),
        ("/sim/unplug", {"vin": "NOPE"}, 404, "unknown vin"),
        ("/sim/faults", {"vendor": "tesla"}, 400, "unknown vendor"),
        ("/sim/faults", {"vendor": "smartcar", "failure_rate": 2}, 400, "rates"),
        ("/sim/faults", {"vendor": "smartcar", "failure_rate": "often"}, 400, "rates"),
        ("/sim/faults", {"vendor": "smartcar", "latency_ms": 100}, 400, "latency_ms"),
        ("/sim/faults", {"vendor": "smartcar", "latency_ms": [1, "x"]}, 400, "latency_ms"),
        ("/sim/faults", {"vendor": "easee", "offline": "EH1"}, 400, "offline"),
        ("/sim/faults", {"vendor": "easee", "rate_limit": 5}, 400, "rate_limit"),
        ("/sim/faults", {"vendor": "easee", "slow": True}, 400, "slow"),
        ("/sim/time", {"advance_s": -1}, 400, "advance_s"),
        ("/sim/time", {"advance_s": "1h"}, 400, "advance_s"),
        ("/sim/time", {"advance_s": True}, 400, "advance_s"),
        ("/sim/time", {}, 400, "advance_s"),
    ],
)
async def test_bad_control_input_is_a_clear_4xx(client: httpx.AsyncClient, path: str, body: Any, status: int,
                                                fragment: str) -> None:
    if isinstance(body, bytes):
        r = await client.post(path, content=body)
    else:
        r = await client.post(path, json=body)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] == ("NOT_FOUND" if status == 404 else "BAD_REQUEST")
    assert fragment in err["message"]


async def test_failed_account_creation_leaves_no_devices(client: httpx.AsyncClient) -> None:
    r = await client.post("/sim/accounts", json={"vendor": "smartcar", "devices": [
        {"kind": "vehicle", "vin": "GOOD"}, {"kind": "vehicle", "soc": 2}]})
    assert r.status_code == 400
    w = await sim_world(client)
    assert w["vehicles"] == [] and w["accounts"] == []


async def test_unknown_endpoint_is_a_json_404(client: httpx.AsyncClient) -> None:
    r = await client.get("/sim/nope")
    assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND"


VEHICLE = {"vendor": "smartcar", "devices": [{"kind": "vehicle"}]}
CHARGER = {"vendor": "easee", "devices": [{"kind": "charger"}]}


def with_field(account: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """An /sim/accounts body whose one device has extra fields."""
    return {**account, "devices": [{**account["devices"][0], **fields}]}


@pytest.mark.parametrize(
    ("path", "body", "fragment"),
    [
        ("/sim/plug", {"vin": ["VIN0001"], "serialNumber": "EH000001"}, "vin"),
        ("/sim/plug", {"vin": "VIN0001", "serialNumber": 1}, "serialNumber"),
        ("/sim/unplug", {"vin": {"x": 1}}, "vin"),
        ("/sim/accounts", {"vendor": ["smartcar"]}, "vendor"),
        ("/sim/faults", {"vendor": {"name": "easee"}}, "vendor"),
        ("/sim/faults", {"vendor": "smartcar", "revoked": "smartcar-user"}, "revoked"),
        ("/sim/faults", {"vendor": "smartcar", "asleep": [1]}, "asleep"),
        ("/sim/faults", {"vendor": "easee", "offline": [["EH1"]]}, "offline"),
        ("/sim/faults", {"vendor": "easee", "rate_limit": {"capacity": "lots"}}, "rate_limit"),
        ("/sim/faults", {"vendor": "easee", "rate_limit": {"capacity": 2, "refill_per_s": -1}}, "rate_limit"),
        ("/sim/faults", {"vendor": "easee", "failure_rate": True}, "rates"),
        ("/sim/faults", {"vendor": "easee", "latency_ms": [-5, 10]}, "latency_ms"),
        ("/sim/accounts", with_field(VEHICLE, soc="half"), "soc"),
        ("/sim/accounts", with_field(VEHICLE, soc=50), "fractions"),
        ("/sim/accounts", with_field(VEHICLE, vin=["V1"]), "vin"),
        ("/sim/accounts", with_field(VEHICLE, vin=""), "vin"),
        ("/sim/accounts", with_field(VEHICLE, make=None), "make"),
        ("/sim/accounts", with_field(VEHICLE, year=2023.5), "year"),
        ("/sim/accounts", with_field(VEHICLE, capacity_kwh=0), "capacity_kwh"),
        ("/sim/accounts", with_field(VEHICLE, charge_limit=0), "charge_limit"),
        ("/sim/accounts", with_field(VEHICLE, max_charge_kw="11"), "max_charge_kw"),
        ("/sim/accounts", with_field(VEHICLE, sleeps="yes"), "sleeps"),
        ("/sim/accounts", with_field(VEHICLE, latitude=91), "latitude"),
        ("/sim/accounts", with_field(VEHICLE, min_soc_for_command=5), "min_soc_for_command"),
        ("/sim/accounts", with_field(VEHICLE, vehicle_refresh_s=0), "vehicle_refresh_s"),
        ("/sim/accounts", with_field(VEHICLE, sleep_after_s=-1), "sleep_after_s"),
        ("/sim/accounts", with_field(CHARGER, serialNumber=123456), "serialNumber"),
        ("/sim/accounts", with_field(CHARGER, max_current="32"), "max_current"),
        ("/sim/accounts", with_field(CHARGER, phases=2.5), "phases"),
        ("/sim/accounts", with_field(CHARGER, voltage=-230), "voltage"),
        ("/sim/accounts", with_field(CHARGER, enabled=1), "enabled"),
        ("/sim/accounts", with_field(CHARGER, schedule={"start": "25:00", "stop": "06:00"}), "schedule"),
        ("/sim/accounts", with_field(CHARGER, schedule={"start": "22:00"}), "schedule"),
        ("/sim/accounts", with_field(CHARGER, schedule={"start": 22, "stop": 6}), "schedule"),
        ("/sim/accounts", with_field(CHARGER, schedule="nightly"), "schedule"),
        ("/sim/accounts", {"vendor": "smartcar", "devices": [{"kind": "vehicle", "vin": "TWIN"},
                                                             {"kind": "vehicle", "vin": "TWIN"}]}, "unique"),
    ],
)
async def test_badly_typed_control_input_is_a_clear_400(client: httpx.AsyncClient, path: str, body: Any,
                                                        fragment: str) -> None:
    await make_pair(client)
    r = await client.post(path, json=body)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "BAD_REQUEST"
    assert fragment in r.json()["error"]["message"]


async def test_a_simulator_crash_is_a_generic_500_not_a_client_error(
        loose_client: httpx.AsyncClient, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: Any) -> None:
        raise RuntimeError("boom")

    await make_pair(loose_client)
    monkeypatch.setattr(world, "box_state", broken)
    r = await loose_client.get("/sim/world")
    assert r.status_code == 500
    assert r.json() == {"error": {"code": "INTERNAL", "message": "simulator error"}}


async def test_accepted_commands_are_logged_and_refused_ones_are_not(client: httpx.AsyncClient) -> None:
    p = await make_pair(client, car={"can_stop": False})
    await plug(client, p)
    assert (await ea_command(client, p, "pause_charging")).status_code == 202
    refused = await client.post(f"/smartcar/v2.0/vehicles/{p.car}/charge", json={"action": "STOP"}, headers=p.sc)
    assert refused.status_code == 501
    assert (await client.post(f"/smartcar/v2.0/vehicles/{p.car}/charge", json={"action": "START"},
                              headers=p.sc)).status_code == 200
    log = (await client.get("/sim/commands")).json()["commands"]
    assert [(c["vendor"], c["device"], c["command"]) for c in log] == [
        ("easee", p.serial, "pause_charging"), ("smartcar", p.vin, "charge start")]


async def test_a_shared_device_is_listed_and_read_by_both_accounts(client: httpx.AsyncClient) -> None:
    p = await make_pair(client, vin="VINSHARE01", serial="EHSHARE1")
    sc2 = await new_account(client, "smartcar", {"kind": "vehicle", "vin": "VINSHARE01", "shared": True})
    ea2 = await new_account(client, "easee", {"kind": "charger", "serialNumber": "EHSHARE1", "shared": True})
    assert sc2["devices"] == [p.car] and ea2["devices"] == [p.serial]
    sc_auth, ea_auth = await sc_login(client, sc2["credentials"]), await ea_login(client, ea2["credentials"])
    assert (await client.get(f"{SC}/vehicles", headers=sc_auth)).json()["vehicles"] == [p.car]
    for headers in (p.sc, sc_auth):
        r = await client.get(f"{SC}/vehicles/{p.car}/vin", headers=headers)
        assert r.status_code == 200 and r.json()["vin"] == "VINSHARE01"
    for headers in (p.ea, ea_auth):
        assert (await client.get(f"{EA}/chargers/{p.serial}/state", headers=headers)).status_code == 200
    # an account that was not given the device still cannot read it
    other = await sc_login(client, (await new_account(client, "smartcar", {"kind": "vehicle"}))["credentials"])
    assert (await client.get(f"{SC}/vehicles/{p.car}/vin", headers=other)).status_code == 404


@pytest.mark.parametrize("device", [
    {"kind": "vehicle", "vin": "NOSUCHVIN", "shared": True},
    {"kind": "vehicle", "vin": "VINSHARE02", "shared": True, "soc": 0.5},
])
async def test_sharing_needs_an_existing_device_and_nothing_else(client: httpx.AsyncClient,
                                                                 device: dict[str, Any]) -> None:
    await new_account(client, "smartcar", {"kind": "vehicle", "vin": "VINSHARE02"})
    r = await client.post("/sim/accounts", json={"vendor": "smartcar", "devices": [device]})
    assert r.status_code == 400
