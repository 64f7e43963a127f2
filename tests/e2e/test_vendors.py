"""Vendor accounts end to end: linking errors, re-linking, unlinking, vendor outages, rate limits
and revoked credentials, seen only through GraphQL and websockets."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.bench.common import Service, free_port, ready, tandem_cmd
from tests.conftest import reset_database, settings_for
from tests.e2e.conftest import FAST
from tests.e2e.flows import action, box, car, link, settled, wait_for
from tests.e2e.harness import Stack, make_user, stack
from tests.e2e.test_durability import settings_env

LINK = ("mutation($v: String!, $c: JSON!) { linkVendor(vendor: $v, credentials: $c) "
        "{ vehicles { id } chargers { id } } }")
CAPS = "capabilities { chargeState { isCapable source interventions { id title } } " \
       "startCharging { isCapable source interventions { id title } } }"
VEHICLE = f"id isReachable rateLimitedUntil {CAPS} evSystems {{ id }}"
CHARGER = f"id isReachable rateLimitedUntil {CAPS.replace('chargeState', 'information')} evSystems {{ id }}"
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
        first = await ws.until(lambda d: d["vehicleUpdated"]["isReachable"] is False, timeout=15)
        # Unreachable at once, but the user is asked only once the re-logins (with backoff) are refused.
        assert interventions(first["payload"]["data"]["vehicleUpdated"]["capabilities"]["chargeState"]) == []
        msg = await ws.until(lambda d: interventions(d["vehicleUpdated"]["capabilities"]["chargeState"]) != [],
                             timeout=15)
    caps = msg["payload"]["data"]["vehicleUpdated"]["capabilities"]
    assert caps["chargeState"]["isCapable"] is False
    assert interventions(caps["chargeState"]) == ["RELINK_VENDOR"]
    assert caps["chargeState"]["interventions"][0]["title"] == "Link the vehicle again"
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
        msg = await ws.until(lambda d: interventions(d["chargerUpdated"]["capabilities"]["startCharging"]) != [],
                             timeout=15)
    charger = msg["payload"]["data"]["chargerUpdated"]
    assert charger["isReachable"] is False
    assert charger["capabilities"]["startCharging"]["interventions"] == [
        {"id": "RELINK_VENDOR", "title": "Link the charger again"}]
    me = await assets(st, token)
    start = me["vehicles"][0]["capabilities"]["startCharging"]
    assert start["isCapable"] is False and start["interventions"] == [
        {"id": "RELINK_VENDOR", "title": "Link the charger again"}]  # the car is fine: its charger needs it
    await st.sim("/sim/faults", {})
    await st.data(LINK, {"v": "easee", "c": creds}, token=token)
    await wait_for(lambda: reachable(st, token, "chargers", cid), timeout=15)
    me = await assets(st, token)
    assert me["vehicles"][0]["id"] == vid
    assert me["vehicles"][0]["capabilities"]["startCharging"] == {"isCapable": True, "source": "CHARGER",
                                                                 "interventions": []}


# --- rate limits: scoped, capped, shown, never a freeze ------------------------------------

CAP_S = 120.0  # TANDEM_VENDOR_RETRY_AFTER_MAX_S in these tests; the vendor asks for 37,800 s
LONG = 37_800


@pytest.fixture
async def capped(tmp_path: Path) -> AsyncIterator[Stack]:
    """The e2e stack, vehicles polled every second, Retry-After capped at CAP_S."""
    async with stack(settings_for(tmp_path, **{**FAST, "vehicle_poll_s": 1.0,
                                               "vendor_retry_after_max_s": CAP_S})) as running:
        yield running


def limited_until(asset: dict[str, Any]) -> datetime | None:
    """The asset's rateLimitedUntil, parsed."""
    raw = asset["rateLimitedUntil"]
    return datetime.fromisoformat(raw) if raw else None


async def shows_limit(st: Stack, token: str, kind: str, asset_id: str) -> datetime | None:
    """The asset's rateLimitedUntil once it shows one (None before)."""
    asset = next(a for a in (await assets(st, token))[kind] if a["id"] == asset_id)
    return limited_until(asset) if not asset["isReachable"] else None


async def test_app_quota_with_a_long_retry_after_freezes_nothing(capped: Stack) -> None:
    """The vehicle cloud answers 429 RATE_LIMIT:SMARTCAR_API, Retry-After 37,800 s, to everything."""
    st = capped
    _, alice = await make_user(st, "alice")
    _, bob = await make_user(st, "bob")
    vid = (await link(st, alice, "smartcar", [car("LIMITAPP0000001")]))["vehicles"][0]["id"]
    cid = (await link(st, bob, "easee", [box("EHLA0001")]))["chargers"][0]["id"]
    await wait_for(lambda: reachable(st, alice, "vehicles", vid), timeout=15)
    await wait_for(lambda: reachable(st, bob, "chargers", cid), timeout=15)

    await st.sim("/sim/faults", {"vendor": "smartcar", "limited": {"retry_after_s": LONG, "ids": True}})
    asked_at = datetime.now(UTC)
    until = await wait_for(lambda: shows_limit(st, alice, "vehicles", vid), timeout=15)
    # Shown until when, and capped: asked again after CAP_S, not after 10.5 hours.
    assert asked_at + timedelta(seconds=CAP_S - 5) < until < datetime.now(UTC) + timedelta(seconds=CAP_S + 1)

    # Another user's charger-only command goes through meanwhile.
    a = await action(st, bob, "setMaxCurrent", chargerId=cid, maxCurrent=10.0)
    done = await settled(st, bob, a["id"])
    assert done["state"] == "CONFIRMED", done
    # Linking the limited vendor answers at once, with a clear code; the other vendor links.
    _, carol = await make_user(st, "carol")
    creds = (await st.sim("/sim/accounts", {"vendor": "smartcar", "devices": [car("LIMITAPP0000002")]}))["credentials"]
    body = await asyncio.wait_for(link_raw(st, carol, "smartcar", creds), 10)
    assert body["data"] is None and code(body) == "RATE_LIMITED", body
    assert len((await link(st, carol, "easee", [box("EHLA0002")]))["chargers"]) == 1

    await st.sim("/sim/faults", {"vendor": "smartcar"})  # the cloud lifts it: Tandem still honours the capped wait
    assert code(await asyncio.wait_for(link_raw(st, carol, "smartcar", creds), 10)) == "RATE_LIMITED"


async def test_a_vehicles_own_rate_limit_holds_that_vehicle_only(capped: Stack) -> None:
    """429 RATE_LIMIT:VEHICLE for one car: its account's other car, other accounts and linking carry on."""
    st = capped
    _, alice = await make_user(st, "alice")
    linked = await link(st, alice, "smartcar", [car("LIMITVEH0000001"), car("LIMITVEH0000002")])
    limited, free = (v["id"] for v in linked["vehicles"])
    vins = {v["id"]: v["information"]["vin"] for v in linked["vehicles"]}
    for vid in (limited, free):
        await wait_for(lambda vid=vid: reachable(st, alice, "vehicles", vid), timeout=15)
    await st.sim("/sim/faults", {"vendor": "smartcar", "limited": {"retry_after_s": LONG, "ids": [vins[limited]]}})
    until = await wait_for(lambda: shows_limit(st, alice, "vehicles", limited), timeout=15)
    assert until < datetime.now(UTC) + timedelta(seconds=CAP_S + 1)

    _, dave = await make_user(st, "dave")
    other = await asyncio.wait_for(link(st, dave, "smartcar", [car("LIMITVEH0000003")]), 10)
    dave_car = other["vehicles"][0]["id"]
    await wait_for(lambda: reachable(st, dave, "vehicles", dave_car), timeout=15)
    me = {v["id"]: v for v in (await assets(st, alice))["vehicles"]}
    assert me[free]["isReachable"] is True and me[free]["rateLimitedUntil"] is None
    assert me[limited]["isReachable"] is False and limited_until(me[limited]) == until

    await st.sim("/sim/faults", {"vendor": "smartcar"})  # the vendor lifts it: shown until the hold ends
    me = {v["id"]: v for v in (await assets(st, alice))["vehicles"]}
    assert limited_until(me[limited]) == until


# --- revoked for a moment: logged into again, no relink ---------------------------------------

@pytest.mark.parametrize("kind", ["charger", "vehicle"])
async def test_an_account_revoked_for_5_s_comes_back_without_relinking(tmp_path: Path, kind: str) -> None:
    settings = settings_for(tmp_path, **{**FAST, "vehicle_poll_s": 1.0, "relogin_attempts": 6,
                                         "relogin_backoff_s": 1.0})
    async with stack(settings) as st:
        _, token = await make_user(st)
        vendor, devices = ("easee", [box("EHBLIP01")]) if kind == "charger" else ("smartcar", [car("BLIP00000000001")])
        linked = await link(st, token, vendor, devices)
        asset_id = linked[f"{kind}s"][0]["id"]
        await wait_for(lambda: reachable(st, token, f"{kind}s", asset_id), timeout=15)
        seen: list[dict[str, Any]] = []
        async with st.ws(token) as ws:
            await ws.ack()
            await ws.subscribe(SUB_CHARGER if kind == "charger" else SUB_VEHICLE, {"id": asset_id})
            await asyncio.sleep(0.3)
            await st.sim("/sim/faults", {"vendor": vendor, "revoked": [linked["credentials"]["username"]]})
            topic = f"{kind}Updated"
            msg = await ws.until(lambda d: d[topic]["isReachable"] is False, timeout=15)
            seen.append(msg["payload"]["data"][topic])
            await asyncio.sleep(5)  # the account stays revoked for 5 s (the scenario, not a wait for a state)
            await st.sim("/sim/faults", {"vendor": vendor})

            def back(d: dict[str, Any]) -> bool:
                seen.append(d[topic])
                return bool(d[topic]["isReachable"])

            await ws.until(back, timeout=40)
        asked = [i for a in seen for cap in a["capabilities"].values() for i in cap["interventions"]]
        assert asked == []  # never asked the user to link again
        assert await reachable(st, token, f"{kind}s", asset_id)


# --- shutdown ---------------------------------------------------------------------------------

@pytest.mark.parametrize("process", ["serve", "worker"])
async def test_sigterm_ends_the_process_whatever_the_vendors_do(tmp_path: Path, process: str) -> None:
    """Vehicle cloud: 429 with Retry-After 37,800 s; charger cloud: every request hangs. SIGTERM
    while polls (and, for serve, a linkVendor) are in flight: the process exits (clean)."""
    sim_port, port = free_port(), free_port()
    sim = await Service.start(tandem_cmd("simulate", "--port", str(sim_port)), {})
    web = worker = None
    try:
        await sim.wait_for("simulator: ")
        sim.drain()
        sim_url = f"http://127.0.0.1:{sim_port}"
        settings = settings_for(tmp_path, **{**FAST, "port": port, "simulator_url": sim_url,
                                             "vendor_timeout_s": 300.0, "shutdown_timeout_s": 3.0})
        await reset_database(settings.database_url)
        env = settings_env(settings)
        web = await Service.start(tandem_cmd("serve", "--demo"), env)
        token = (await web.wait_for(r"demo user token: (\S+)", timeout=120)).group(1)
        web.drain()
        async with httpx.AsyncClient(timeout=60) as http:
            await ready(http, f"http://127.0.0.1:{port}")
            if process == "worker":  # the demo's assets are now polled by a worker process instead
                await web.stop()
                worker = await Service.start(tandem_cmd("worker"), env)
                await worker.wait_for("running")
                worker.drain()
            await http.post(f"{sim_url}/sim/faults", json={"vendor": "smartcar",
                                                           "limited": {"retry_after_s": LONG, "ids": True}})
            await http.post(f"{sim_url}/sim/faults", json={"vendor": "easee", "latency_ms": [600_000, 600_000]})
            creds = (await http.post(f"{sim_url}/sim/accounts", json={"vendor": "easee", "devices": [box("EHTERM01")]}
                                     )).json()["credentials"]
            in_flight = asyncio.create_task(http.post(
                f"http://127.0.0.1:{port}/graphql", json={"query": LINK, "variables": {"v": "easee", "c": creds}},
                headers={"Authorization": f"Bearer {token}"})) if process == "serve" else None
            await asyncio.sleep(2)  # polls (charger every second) and the link are now waiting on the vendors
            target = worker if worker is not None else web
            started = time.monotonic()
            target.proc.send_signal(signal.SIGTERM)
            code_ = await asyncio.wait_for(target.proc.wait(), 30)  # a liveness bound, not a speed claim
            print(f"{process} exited {code_} {time.monotonic() - started:.1f} s after SIGTERM")
            # A clean, bounded shutdown: 0, or the signal uvicorn re-raises once done (the watchdog exits 1).
            assert code_ in (0, -signal.SIGTERM)
            if in_flight is not None:
                await asyncio.gather(in_flight, return_exceptions=True)
    finally:
        for service in (worker, web):
            if service is not None and service.proc.returncode is None:
                service.proc.kill()
                await service.proc.wait()
        sim.proc.kill()
        await sim.proc.wait()
