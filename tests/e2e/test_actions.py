"""Charging actions end to end: routed across both assets, verified from device data."""

from __future__ import annotations

from typing import Any

from tests.e2e.flows import ACTION_FIELDS, action, box, car, link, settled, viewer, wait_for
from tests.e2e.harness import Stack, make_user


async def paired(st: Stack, token: str, vehicle: dict[str, Any], charger: dict[str, Any]) -> tuple[str, str]:
    """Link a car and a charger, plug them in, wait for ACTIVE; returns (vehicle id, charger id)."""
    vid = (await link(st, token, "smartcar", [vehicle]))["vehicles"][0]["id"]
    cid = (await link(st, token, "easee", [charger]))["chargers"][0]["id"]
    await st.sim("/sim/plug", {"vin": vehicle["vin"], "serialNumber": charger["serialNumber"]})

    async def is_active() -> bool:
        return any(s["status"] == "ACTIVE" for s in (await viewer(st, token))["evSystems"])

    await wait_for(is_active, timeout=30)
    return vid, cid


async def charging(st: Stack, token: str, want: bool) -> bool:
    async def check() -> bool:
        return (await viewer(st, token))["chargers"][0]["chargeState"]["isCharging"] is want
    return bool(await wait_for(check, timeout=15))


async def test_car_that_cannot_stop_is_stopped_through_the_charger(st: Stack) -> None:
    _, token = await make_user(st)
    vid, _ = await paired(st, token, car("JEEP00000000002", make="Jeep", can_start=False, can_stop=False,
                                        pushes_on_change=True), box("EHA00001"))
    await charging(st, token, True)
    async with st.ws(token) as ws:
        await ws.ack()
        await ws.subscribe(f"subscription {{ actionUpdated {{ {ACTION_FIELDS} }} }}")
        a = await action(st, token, "stopCharging", vehicleId=vid)
        assert a["state"] == "PENDING" and a["kind"] == "STOP"
        msg = await ws.until(lambda d: d["actionUpdated"]["state"] == "CONFIRMED", timeout=40)
    done = msg["payload"]["data"]["actionUpdated"]
    assert done["id"] == a["id"]
    assert {x["via"] for x in done["attempts"]} == {"CHARGER"}
    assert (await viewer(st, token))["vehicles"][0]["chargeState"]["isCharging"] is False


async def test_charger_path_failing_is_confirmed_through_the_vehicle(st: Stack) -> None:
    _, token = await make_user(st)
    vid, _ = await paired(st, token, car("FAIL00000000001", pushes_on_change=True), box("EHB00001"))
    await charging(st, token, True)
    await st.sim("/sim/faults", {"vendor": "easee", "command_failure_rate": 1.0})
    a = await action(st, token, "stopCharging", vehicleId=vid)
    done = await settled(st, token, a["id"])
    assert done["state"] == "CONFIRMED", done
    vias = [(x["via"], x["outcome"]) for x in done["attempts"]]
    # a stop retries a charger that failed once (its pause leaves both paths able to resume), then the car
    assert vias[:3] == [("CHARGER", "UNREACHABLE"), ("CHARGER", "UNREACHABLE"), ("VEHICLE", "ok")], vias
    assert "next try through this path in" in done["attempts"][0]["detail"]
    assert "trying the vehicle now" in done["attempts"][1]["detail"]


async def test_schedule_blocked_charger_is_overridden_for_a_start(st: Stack) -> None:
    _, token = await make_user(st)
    vid = (await link(st, token, "smartcar", [car("SCHED0000000001", pushes_on_change=True)]))["vehicles"][0]["id"]
    linked = await link(st, token, "easee", [box("EHC00001")])
    creds = linked["credentials"]
    # the user's charger app sets a schedule whose window is never now: the car waits
    login = await st.http.post(f"{st.sim_url}/easee/api/accounts/login",
                               json={"userName": creds["username"], "password": creds["password"]})
    auth = {"Authorization": f"Bearer {login.json()['accessToken']}"}
    r = await st.http.post(f"{st.sim_url}/easee/api/chargers/EHC00001/basic_charge_plan",
                           json={"chargeStartTime": "03:00", "chargeStopTime": "03:00"}, headers=auth)
    assert r.status_code == 200
    await st.sim("/sim/plug", {"vin": "SCHED0000000001", "serialNumber": "EHC00001"})

    async def blocked_and_active() -> bool:
        me = await viewer(st, token)
        return any(s["status"] == "ACTIVE" for s in me["evSystems"]) and \
            me["chargers"][0]["chargeState"]["powerDeliveryState"] == "PLUGGED_IN_STOPPED"

    await wait_for(blocked_and_active, timeout=30)
    start = await settled(st, token, (await action(st, token, "startCharging", vehicleId=vid))["id"])
    assert start["state"] == "CONFIRMED", start
    assert any(x["command"] == "override_schedule" for x in start["attempts"])


async def test_not_capable_and_preconditions_answer_at_once(st: Stack) -> None:
    _, token = await make_user(st)
    vid = (await link(st, token, "smartcar", [car("NOCAP0000000001", can_start=False)]))["vehicles"][0]["id"]
    a = await action(st, token, "startCharging", vehicleId=vid)
    assert a["state"] == "FAILED" and a["failureReason"]["type"] == "NOT_CAPABLE"
    assert "Link a charger" in a["failureReason"]["detail"]
    await link(st, token, "easee", [box("EHD00001")])
    a = await action(st, token, "startCharging", vehicleId=vid)
    # capable (through the charger), but not plugged together yet: a precondition, not a capability
    assert (a["state"], a["failureReason"]["type"]) == ("CANCELLED", "FAILED_PRECONDITION")
    assert "Plug it into your linked charger" in a["failureReason"]["detail"]


async def test_idempotency_conflict_and_cancel(st: Stack) -> None:
    _, token = await make_user(st)
    vid, cid = await paired(st, token, car("IDEM00000000001", pushes_on_change=True), box("EHE00001"))
    await charging(st, token, True)
    await st.sim("/sim/faults", {"vendor": "easee", "offline": True})
    await st.sim("/sim/faults", {"vendor": "smartcar", "command_failure_rate": 1.0})
    first = await action(st, token, "stopCharging", vehicleId=vid, idempotencyKey="k1")
    again = await action(st, token, "stopCharging", vehicleId=vid, idempotencyKey="k1")
    assert again["id"] == first["id"]
    same_kind = await action(st, token, "stopCharging", vehicleId=vid)
    assert same_kind["id"] == first["id"]
    contrary = await action(st, token, "startCharging", vehicleId=vid)
    assert contrary["id"] != first["id"]
    old = await settled(st, token, first["id"], timeout=5)
    assert old["state"] == "CANCELLED" and old["failureReason"]["type"] == "CONFLICT"
    assert contrary["state"] == "CANCELLED" and contrary["failureReason"]["type"] == "UNNECESSARY"
    pending = await action(st, token, "stopCharging", chargerId=cid)
    assert pending["state"] == "PENDING"
    cancelled = (await st.data(f'mutation($i: ID!) {{ cancelAction(id: $i) {{ {ACTION_FIELDS} }} }}',
                               {"i": pending["id"]}, token=token))["cancelAction"]
    assert cancelled["state"] == "CANCELLED" and cancelled["failureReason"]["type"] == "REQUESTED_CANCELLATION"


async def test_both_paths_down_fails_with_no_response(st: Stack) -> None:
    _, token = await make_user(st)
    vid, _ = await paired(st, token, car("DOWN00000000001", pushes_on_change=True), box("EHF00001"))
    await charging(st, token, True)
    await st.sim("/sim/faults", {"vendor": "smartcar", "command_failure_rate": 1.0})
    await st.sim("/sim/faults", {"vendor": "easee", "command_failure_rate": 1.0})
    a = await action(st, token, "stopCharging", vehicleId=vid)
    done = await settled(st, token, a["id"], timeout=60)
    assert done["state"] == "FAILED" and done["failureReason"]["type"] == "NO_RESPONSE"
    assert {x["via"] for x in done["attempts"]} == {"VEHICLE", "CHARGER"}
