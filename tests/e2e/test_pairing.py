"""EV systems end to end: established on link, activated on plug-in, never guessed."""

from __future__ import annotations

import asyncio

from tests.e2e.flows import SYSTEM_FIELDS, box, car, link, viewer, wait_for
from tests.e2e.harness import Stack, make_user

SUB_SYSTEMS = f"subscription {{ evSystemUpdated {{ {SYSTEM_FIELDS} }} }}"
SUB_CHARGER = "subscription { chargerUpdated { id chargeState { isPluggedIn } } }"


def active(data: dict) -> bool:
    return data.get("evSystemUpdated", {}).get("status") == "ACTIVE"


async def test_incapable_car_gains_start_stop_from_the_charger_at_once(st: Stack) -> None:
    _, token = await make_user(st)
    v = (await link(st, token, "smartcar", [car("JEEP00000000001", make="Jeep", can_start=False, can_stop=False,
                                                 has_location=False)]))["vehicles"][0]
    assert v["capabilities"]["startCharging"] == {"isCapable": False, "source": "NONE",
                                                  "interventions": [{"id": "LINK_CHARGER"}]}
    await link(st, token, "easee", [box("EH100001")])
    me = await viewer(st, token)
    caps = me["vehicles"][0]["capabilities"]
    assert caps["startCharging"] == {"isCapable": True, "source": "CHARGER", "interventions": []}
    assert caps["stopCharging"] == {"isCapable": True, "source": "CHARGER"}
    assert caps["location"]["isCapable"] is False  # only while plugged into a located charger
    assert [s["status"] for s in me["evSystems"]] == ["ESTABLISHED"]


async def test_plug_in_activates_and_unplug_deactivates_over_websocket(st: Stack) -> None:
    _, token = await make_user(st)
    v = (await link(st, token, "smartcar", [car("VW0000000000001", pushes_on_change=True)]))["vehicles"][0]
    c = (await link(st, token, "easee", [box("EH200001")]))["chargers"][0]
    async with st.ws(token) as ws, st.ws(token) as ws2:
        await ws.ack()
        await ws2.ack()
        await ws.subscribe(SUB_SYSTEMS)
        await ws2.subscribe(SUB_CHARGER)
        await st.sim("/sim/plug", {"vin": "VW0000000000001", "serialNumber": "EH200001"})
        await ws2.until(lambda d: d["chargerUpdated"]["chargeState"]["isPluggedIn"] is True, timeout=10)
        msg = await ws.until(active, timeout=20)
        system = msg["payload"]["data"]["evSystemUpdated"]
        assert system["pluggedInVehicleId"] == v["id"] and system["pluggedInChargerId"] == c["id"]
        assert any("plugged in" in e for e in system["evidence"])
        me = await viewer(st, token)
        assert me["vehicles"][0]["chargeState"]["pluggedInChargerId"] == c["id"]
        assert me["chargers"][0]["chargeState"]["pluggedInVehicleId"] == v["id"]
        await st.sim("/sim/unplug", {"vin": "VW0000000000001"})
        await ws.until(lambda d: d["evSystemUpdated"]["status"] == "ESTABLISHED", timeout=10)
    me = await viewer(st, token)
    assert me["vehicles"][0]["chargeState"]["pluggedInChargerId"] is None


async def test_two_cars_one_charger_activates_only_the_plugged_one(st: Stack) -> None:
    _, token = await make_user(st)
    cars = (await link(st, token, "smartcar", [car("CARA00000000001"), car("CARB00000000001")]))["vehicles"]
    await link(st, token, "easee", [box("EH300001")])
    await st.sim("/sim/plug", {"vin": "CARB00000000001", "serialNumber": "EH300001"})

    async def activated() -> list[dict]:
        return [s for s in (await viewer(st, token))["evSystems"] if s["status"] == "ACTIVE"]

    systems = await wait_for(activated, timeout=30)
    assert len(systems) == 1
    b = next(x for x in cars if x["information"]["vin"] == "CARB00000000001")
    assert systems[0]["vehicle"]["id"] == b["id"]


async def test_public_charging_shows_plugged_in_without_a_charger(st: Stack) -> None:
    _, token = await make_user(st)
    await link(st, token, "smartcar", [car("PUB000000000001")])
    await link(st, token, "easee", [box("EH400001")])
    stranger = (await st.sim("/sim/accounts", {"vendor": "easee", "devices": [box("EHPUBLIC1")]}))
    assert stranger["devices"] == ["EHPUBLIC1"]
    await st.sim("/sim/plug", {"vin": "PUB000000000001", "serialNumber": "EHPUBLIC1"})
    await st.sim("/sim/time", {"advance_s": 5})

    async def plugged() -> dict | None:
        me = await viewer(st, token)
        v = me["vehicles"][0]
        return me if v["chargeState"]["isPluggedIn"] else None

    me = await wait_for(plugged, timeout=40)
    assert me["vehicles"][0]["chargeState"]["pluggedInChargerId"] is None
    assert all(s["status"] == "ESTABLISHED" for s in me["evSystems"])


async def test_stale_vehicle_cloud_neither_confirms_nor_excludes(st: Stack) -> None:
    """The plugged car's cloud lags ten minutes: its stale "unplugged" must not exclude it and
    nothing may activate on a guess; once its cloud refreshes, it activates."""
    _, token = await make_user(st)
    cars = (await link(st, token, "smartcar", [car("LAG000000000001", vehicle_refresh_s=600),
                                                car("OTHER0000000001", pushes_on_change=True)]))["vehicles"]
    await link(st, token, "easee", [box("EH500001")])

    async def all_polled() -> bool:
        return all(v["isReachable"] for v in (await viewer(st, token))["vehicles"])

    await wait_for(all_polled, timeout=15)
    await st.sim("/sim/plug", {"vin": "LAG000000000001", "serialNumber": "EH500001"})

    async def waiting() -> list[dict] | None:
        systems = (await viewer(st, token))["evSystems"]
        return systems if any("no data newer than the plug-in" in e for s in systems for e in s["evidence"]) else None

    systems = await wait_for(waiting, timeout=20)
    assert all(s["status"] == "ESTABLISHED" for s in systems)
    await asyncio.sleep(3)  # several confirmation polls later: still no guess
    assert all(s["status"] == "ESTABLISHED" for s in (await viewer(st, token))["evSystems"])
    await st.sim("/sim/time", {"advance_s": 600})  # the cloud refreshes from the car

    async def activated() -> list[dict]:
        return [s for s in (await viewer(st, token))["evSystems"] if s["status"] == "ACTIVE"]

    active_now = await wait_for(activated, timeout=20)
    lagging = next(x for x in cars if x["information"]["vin"] == "LAG000000000001")
    assert [s["vehicle"]["id"] for s in active_now] == [lagging["id"]]
