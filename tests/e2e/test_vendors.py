"""Vendor accounts end to end: linking errors, re-linking, unlinking, vendor outages, rate limits
and revoked credentials, seen only through GraphQL and websockets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from tests.e2e.flows import box, car, link, wait_for
from tests.e2e.harness import Stack, make_user

LINK = ("mutation($v: String!, $c: JSON!) { linkVendor(vendor: $v, credentials: $c) "
        "{ vehicles { id } chargers { id } } }")
CAPS = "capabilities { chargeState { isCapable source interventions { id } } " \
       "startCharging { isCapable source interventions { id } } }"
VEHICLE = f"id isReachable {CAPS} evSystems {{ id }}"
CHARGER = f"id isReachable {CAPS.replace('chargeState', 'information')} evSystems {{ id }}"
SUB_CHARGER = f"subscription($id: ID) {{ chargerUpdated(id: $id) {{ {CHARGER} }} }}"
SUB_VEHICLE = f"subscription($id: ID) {{ vehicleUpdated(id: $id) {{ {VEHICLE} }} }}"


async def link_raw(st: Stack, token: str, vendor: str, creds: Any) -> dict[str, Any]:
    """linkVendor with the given credentials; the whole response (errors included)."""
    return await st.gql(LINK, {"v": vendor, "c": creds}, token=token)


def code(body: dict[str, Any]) -> str:
    """The first error's extensions.code."""
    assert body.get("errors"), body
    return str(body["errors"][0]["extensions"]["code"])


async def assets(st: Stack, token: str) -> dict[str, Any]:
    """The viewer's vehicles, chargers and EV systems, with reachability and capabilities."""
    return dict((await st.data(f"{{ viewer {{ vehicles {{ {VEHICLE} }} chargers {{ {CHARGER} }} "
                               f"evSystems {{ id vehicle {{ id }} charger {{ id }} }} }} }}", token=token))["viewer"])


async def reachable(st: Stack, token: str, kind: str, asset_id: str) -> bool:
    """Whether one of the viewer's assets is now reachable."""
    return any(a["id"] == asset_id and a["isReachable"] for a in (await assets(st, token))[kind])


def ids(items: list[dict[str, Any]]) -> list[str]:
    """Sorted ids."""
    return sorted(x["id"] for x in items)


def interventions(cap: dict[str, Any]) -> list[str]:
    """Intervention ids of a capability."""
    return [i["id"] for i in cap["interventions"]]


async def test_bad_credentials_and_unknown_vendor_are_coded_errors_that_create_nothing(st: Stack) -> None:
    _, token = await make_user(st)
    real = (await st.sim("/sim/accounts", {"vendor": "smartcar", "devices": [car("BADCRED00000001")]}))["credentials"]
    wrong = {**real, "password": real["password"] + "x"}
    for vendor, creds in (("smartcar", wrong), ("easee", real), ("smartcar", {"username": real["username"]}),
                          ("smartcar", {"username": "nobody", "password": "nothing"})):
        body = await link_raw(st, token, vendor, creds)
        assert body["data"] is None and code(body) == "BAD_CREDENTIALS", (vendor, creds, body)
    body = await link_raw(st, token, "teslamate", real)
    assert body["data"] is None and code(body) == "UNKNOWN_VENDOR"
    await st.sim("/sim/faults", {"vendor": "smartcar", "failure_rate": 1.0})  # the cloud is down, not the login
    body = await link_raw(st, token, "smartcar", real)
    assert body["data"] is None and code(body) == "VENDOR_UNAVAILABLE"
    await st.sim("/sim/faults", {})
    me = await assets(st, token)
    assert me == {"vehicles": [], "chargers": [], "evSystems": []}
    # The same account links fine with its real credentials: the failures above were the credentials.
    ok = (await link_raw(st, token, "smartcar", real))["data"]["linkVendor"]
    assert len(ok["vehicles"]) == 1 and ids((await assets(st, token))["vehicles"]) == ids(ok["vehicles"])


async def test_relinking_the_same_account_keeps_every_id(st: Stack) -> None:
    _, token = await make_user(st)
    cars = await link(st, token, "smartcar", [car("RELINK000000001"), car("RELINK000000002")])
    boxes = await link(st, token, "easee", [box("EHRL0001")])
    before = await assets(st, token)
    assert len(before["vehicles"]) == 2 and len(before["chargers"]) == 1 and len(before["evSystems"]) == 2
    for vendor, linked in (("smartcar", cars), ("easee", boxes), ("smartcar", cars)):
        again = (await st.data(LINK, {"v": vendor, "c": linked["credentials"]}, token=token))["linkVendor"]
        assert ids(again["vehicles"]) == ids(linked["vehicles"])
        assert ids(again["chargers"]) == ids(linked["chargers"])
    after = await assets(st, token)
    assert ids(after["vehicles"]) == ids(before["vehicles"])
    assert ids(after["chargers"]) == ids(before["chargers"])
    assert ids(after["evSystems"]) == ids(before["evSystems"])


async def test_unlink_removes_the_asset_and_its_systems_but_never_someone_elses(st: Stack) -> None:
    _, alice = await make_user(st, "alice")
    _, bob = await make_user(st, "bob")
    a, b = (await link(st, alice, "smartcar", [car("UNLINK000000001"), car("UNLINK000000002")]))["vehicles"]
    charger = (await link(st, alice, "easee", [box("EHUL0001")]))["chargers"][0]
    await link(st, bob, "easee", [box("EHUL0002")])
    before = await assets(st, alice)
    assert len(before["evSystems"]) == 2
    gone_system = next(s["id"] for s in before["evSystems"] if s["vehicle"]["id"] == a["id"])

    for mutation, asset in (("unlinkVehicle", a), ("unlinkCharger", charger)):
        body = await st.gql(f'mutation($i: ID!) {{ {mutation}(id: $i) }}', {"i": asset["id"]}, token=bob)
        assert code(body) == "NOT_FOUND", body
    assert await assets(st, alice) == before

    async with st.ws(alice) as ws:
        await ws.ack()
        await ws.subscribe(SUB_CHARGER, {"id": charger["id"]})
        await asyncio.sleep(0.3)
        assert (await st.data('mutation($i: ID!) { unlinkVehicle(id: $i) }', {"i": a["id"]},
                              token=alice))["unlinkVehicle"] == a["id"]
        # The charger's subscriber hears that its system with the unlinked car is gone.
        await ws.until(lambda d: len(d["chargerUpdated"]["evSystems"]) == 1, timeout=10)
    me = await assets(st, alice)
    assert ids(me["vehicles"]) == [b["id"]]
    assert [s["vehicle"]["id"] for s in me["evSystems"]] == [b["id"]]
    body = await st.gql('query($i: ID!) { vehicle(id: $i) { id } }', {"i": a["id"]}, token=alice)
    assert code(body) == "NOT_FOUND"
    body = await st.gql('query($i: ID!) { evSystem(id: $i) { id } }', {"i": gone_system}, token=alice)
    assert code(body) == "NOT_FOUND"
    body = await st.gql('mutation($i: ID!) { unlinkVehicle(id: $i) }', {"i": a["id"]}, token=alice)
    assert code(body) == "NOT_FOUND"

    assert (await st.data('mutation($i: ID!) { unlinkCharger(id: $i) }', {"i": charger["id"]},
                          token=alice))["unlinkCharger"] == charger["id"]
    me = await assets(st, alice)
    assert me["chargers"] == [] and me["evSystems"] == [] and ids(me["vehicles"]) == [b["id"]]
    assert me["vehicles"][0]["evSystems"] == []
    assert interventions(me["vehicles"][0]["capabilities"]["startCharging"]) == []  # b can start itself
    assert len((await assets(st, bob))["chargers"]) == 1


async def _reachable_charger(st: Stack, serial: str) -> tuple[str, str]:
    """A new user with one linked charger, polled once: (token, charger id)."""
    _, token = await make_user(st)
    cid = (await link(st, token, "easee", [box(serial)]))["chargers"][0]["id"]
    await wait_for(lambda: reachable(st, token, "chargers", cid), timeout=15)
    return token, cid


@asynccontextmanager
async def _watching_charger(st: Stack, token: str, cid: str) -> AsyncIterator[Any]:
    """A websocket subscribed to `chargerUpdated` for the charger."""
    async with st.ws(token) as ws:
        await ws.ack()
        await ws.subscribe(SUB_CHARGER, {"id": cid})
        await asyncio.sleep(0.3)
        yield ws


@pytest.mark.parametrize("fault", [{"offline": True}, {"offline": ["EHOFF001"]}, {"failure_rate": 1.0}],
                         ids=["offline-all", "offline-one", "failing"])
async def test_vendor_outage_makes_the_charger_unreachable_until_it_recovers(st: Stack, fault: dict[str, Any]) -> None:
    token, cid = await _reachable_charger(st, "EHOFF001")
    async with _watching_charger(st, token, cid) as ws:
        await st.sim("/sim/faults", {"vendor": "easee", **fault})
        await ws.until(lambda d: d["chargerUpdated"]["isReachable"] is False, timeout=10)
        await asyncio.sleep(2)  # a few failed polls (and backoff) later
        await st.sim("/sim/faults", {})
        msg = await ws.until(lambda d: d["chargerUpdated"]["isReachable"] is True, timeout=15)
    charger = msg["payload"]["data"]["chargerUpdated"]
    assert charger["capabilities"]["startCharging"] == {"isCapable": True, "source": "CHARGER", "interventions": []}
    assert await reachable(st, token, "chargers", cid)


async def test_rate_limited_vendor_is_survived_and_recovers(st: Stack) -> None:
    token, cid = await _reachable_charger(st, "EHRATE01")
    async with _watching_charger(st, token, cid) as ws:
        # One request per 5 s: polls every second are refused with 429 and a Retry-After.
        await st.sim("/sim/faults", {"vendor": "easee", "rate_limit": {"capacity": 1, "refill_per_s": 0.2}})
        await ws.until(lambda d: d["chargerUpdated"]["isReachable"] is False, timeout=10)
        await st.sim("/sim/faults", {})
        await ws.until(lambda d: d["chargerUpdated"]["isReachable"] is True, timeout=15)
    await asyncio.sleep(2.5)  # stays reachable once the limit is gone
    assert await reachable(st, token, "chargers", cid)
    r = await st.http.get(f"{st.url}/healthz")
    assert r.status_code == 200


async def test_revoked_vehicle_asks_for_relink_and_relinking_restores_polling(st: Stack) -> None:
    _, token = await make_user(st)
    linked = await link(st, token, "smartcar", [car("REVOKE000000001", can_start=False, can_stop=False)])
    vid, creds = linked["vehicles"][0]["id"], linked["credentials"]
    await link(st, token, "easee", [box("EHRV0001")])
    await wait_for(lambda: reachable(st, token, "vehicles", vid), timeout=15)
    async with st.ws(token) as ws:
        await ws.ack()
        await ws.subscribe(SUB_VEHICLE, {"id": vid})
        await asyncio.sleep(0.3)
        await st.sim("/sim/faults", {"vendor": "smartcar", "revoked": [creds["username"]]})
        # A plug-in makes Tandem poll the user's vehicles at once.
        await st.sim("/sim/plug", {"vin": "REVOKE000000001", "serialNumber": "EHRV0001"})
        msg = await ws.until(lambda d: d["vehicleUpdated"]["isReachable"] is False, timeout=15)
    caps = msg["payload"]["data"]["vehicleUpdated"]["capabilities"]
    assert caps["chargeState"]["isCapable"] is False
    assert interventions(caps["chargeState"]) == ["RELINK_VENDOR"]
    # The revoked account cannot log in either.
    assert code(await link_raw(st, token, "smartcar", creds)) == "BAD_CREDENTIALS"
    await asyncio.sleep(1.5)  # no poll brings it back while revoked
    me = await assets(st, token)
    assert me["vehicles"][0]["isReachable"] is False
    assert interventions(me["vehicles"][0]["capabilities"]["chargeState"]) == ["RELINK_VENDOR"]

    await st.sim("/sim/faults", {"vendor": "smartcar"})
    async with st.ws(token) as ws:
        await ws.ack()
        await ws.subscribe(SUB_VEHICLE, {"id": vid})
        await asyncio.sleep(0.3)
        again = (await st.data(f"mutation($v: String!, $c: JSON!) {{ linkVendor(vendor: $v, credentials: $c) "
                               f"{{ vehicles {{ {VEHICLE} }} }} }}", {"v": "smartcar", "c": creds},
                               token=token))["linkVendor"]["vehicles"]
        assert [v["id"] for v in again] == [vid]
        assert again[0]["capabilities"]["chargeState"] == {"isCapable": True, "source": "VEHICLE",
                                                          "interventions": []}
        await ws.until(lambda d: d["vehicleUpdated"]["isReachable"] is True, timeout=15)
    assert await reachable(st, token, "vehicles", vid)


async def test_revoked_charger_asks_for_relink_on_itself_and_on_the_car_it_serves(st: Stack) -> None:
    _, token = await make_user(st)
    vid = (await link(st, token, "smartcar", [car("REVOKE000000002", can_start=False)]))["vehicles"][0]["id"]
    boxes = await link(st, token, "easee", [box("EHRV0002")])
    cid, creds = boxes["chargers"][0]["id"], boxes["credentials"]
    await wait_for(lambda: reachable(st, token, "chargers", cid), timeout=15)
    me = await assets(st, token)
    assert me["vehicles"][0]["capabilities"]["startCharging"]["source"] == "CHARGER"
    async with st.ws(token) as ws:
        await ws.ack()
        await ws.subscribe(SUB_CHARGER, {"id": cid})
        await asyncio.sleep(0.3)
        await st.sim("/sim/faults", {"vendor": "easee", "revoked": [creds["username"]]})
        msg = await ws.until(lambda d: d["chargerUpdated"]["isReachable"] is False, timeout=10)
    assert interventions(msg["payload"]["data"]["chargerUpdated"]["capabilities"]["startCharging"]) == \
        ["RELINK_VENDOR"]
    me = await assets(st, token)
    start = me["vehicles"][0]["capabilities"]["startCharging"]
    assert start["isCapable"] is False and interventions(start) == ["RELINK_VENDOR"]
    await st.sim("/sim/faults", {})
    await st.data(LINK, {"v": "easee", "c": creds}, token=token)
    await wait_for(lambda: reachable(st, token, "chargers", cid), timeout=15)
    me = await assets(st, token)
    assert me["vehicles"][0]["id"] == vid
    assert me["vehicles"][0]["capabilities"]["startCharging"] == {"isCapable": True, "source": "CHARGER",
                                                                 "interventions": []}
