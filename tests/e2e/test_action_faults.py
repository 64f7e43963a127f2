"""Actions under the faults of the field: refusals retrying cannot change end at once, failing
paths back off with a bounded number of commands, a long Retry-After holds only its own path,
idempotency keys are not reused for something else. All through GraphQL and the simulator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import settings_for
from tests.e2e.conftest import FAST
from tests.e2e.flows import ACTION_FIELDS, action, box, car, link, settled, viewer, wait_for
from tests.e2e.harness import Stack, make_user, stack
from tests.e2e.test_actions import charging, paired

MAX_CURRENT = ("mutation($c: ID, $v: ID, $a: Float!, $k: String) { setMaxCurrent(chargerId: $c, vehicleId: $v, "
               f"maxCurrent: $a, idempotencyKey: $k) {{ {ACTION_FIELDS} }} }}")


async def set_current(st: Stack, token: str, amps: float, *, charger: str | None = None,
                      vehicle: str | None = None, key: str | None = None) -> dict[str, Any]:
    """The whole GraphQL response of setMaxCurrent."""
    return await st.gql(MAX_CURRENT, {"c": charger, "v": vehicle, "a": amps, "k": key}, token=token)


def error_of(body: dict[str, Any]) -> tuple[str, str]:
    assert body.get("errors") and not (body.get("data") or {}).get("setMaxCurrent"), body
    return body["errors"][0]["extensions"]["code"], body["errors"][0]["message"]


async def charger_only(st: Stack, token: str, serial: str, vin: str, **kw: Any) -> str:
    """A user's charger with a car (not linked) plugged into it; returns the charger id."""
    cid = (await link(st, token, "easee", [box(serial, **kw)]))["chargers"][0]["id"]
    await st.sim("/sim/accounts", {"vendor": "smartcar", "devices": [car(vin)]})
    await st.sim("/sim/plug", {"vin": vin, "serialNumber": serial})

    async def seen() -> bool:
        return bool((await viewer(st, token))["chargers"][0]["chargeState"]["isPluggedIn"])

    await wait_for(seen, timeout=20)
    return str(cid)


async def test_a_current_outside_the_chargers_range_is_bad_user_input_naming_it(st: Stack) -> None:
    _, token = await make_user(st)
    vid, cid = await paired(st, token, car("RANGE0000000001", pushes_on_change=True), box("EHR00001", max_current=32))
    for amps in (40.0, 3.0):
        for target in ({"charger": cid}, {"vehicle": vid}):
            code, message = error_of(await set_current(st, token, amps, **target))
            assert code == "BAD_USER_INPUT" and "6–32 A" in message and "EHR00001" in message, message
    ok = (await set_current(st, token, 16, charger=cid))["data"]["setMaxCurrent"]
    assert ok["state"] == "PENDING"
    done = await settled(st, token, ok["id"])
    assert done["state"] == "CONFIRMED", done
    assert [(a["via"], a["command"], a["outcome"]) for a in done["attempts"]] == [
        ("CHARGER", "set_max_current", "ok")]


async def test_a_start_on_a_car_at_its_charge_limit_ends_at_once(st: Stack) -> None:
    _, token = await make_user(st)
    full = car("FULL00000000001", soc=0.8, charge_limit=0.8, pushes_on_change=True)
    vid, cid = await paired(st, token, full, box("EHF00002"))

    async def complete() -> bool:
        me = await viewer(st, token)
        return me["chargers"][0]["chargeState"]["powerDeliveryState"] == "PLUGGED_IN_COMPLETE"

    await wait_for(complete, timeout=20)
    for target in ({"vehicleId": vid}, {"chargerId": cid}):
        a = await action(st, token, "startCharging", **target)
        assert (a["state"], a["failureReason"]["type"]) == ("CANCELLED", "FAILED_PRECONDITION"), a
        assert "at its charge limit" in a["failureReason"]["detail"] and a["attempts"] == []
    log = (await st.http.get(f"{st.sim_url}/sim/commands")).json()["commands"]
    assert [c for c in log if c["device"] in ("FULL00000000001", "EHF00002")] == []


async def test_capable_through_the_charger_but_not_plugged_in_is_a_precondition(st: Stack) -> None:
    _, token = await make_user(st)
    vid = (await link(st, token, "smartcar", [car("PREC00000000001")]))["vehicles"][0]["id"]
    await link(st, token, "easee", [box("EHP00001")])
    cap = (await viewer(st, token))["vehicles"][0]["capabilities"]["setMaxCurrent"]
    assert (cap["isCapable"], cap["source"]) == (True, "CHARGER")
    a = (await set_current(st, token, 16, vehicle=vid))["data"]["setMaxCurrent"]
    assert (a["state"], a["failureReason"]["type"]) == ("CANCELLED", "FAILED_PRECONDITION"), a
    assert "Plug it into your linked charger" in a["failureReason"]["detail"]


async def test_an_idempotency_key_reused_for_something_else_is_refused(st: Stack) -> None:
    _, token = await make_user(st)
    cid = await charger_only(st, token, "EHI00001", "IDEM00000000002")
    first = (await set_current(st, token, 16, charger=cid, key="k1"))["data"]["setMaxCurrent"]
    again = (await set_current(st, token, 16, charger=cid, key="k1"))["data"]["setMaxCurrent"]
    assert again["id"] == first["id"]
    code, message = error_of(await set_current(st, token, 20, charger=cid, key="k1"))
    assert code == "IDEMPOTENCY_KEY_REUSED" and first["id"] in message
    for mutation in ("startCharging", "stopCharging"):
        body = await st.gql(f'mutation($c: ID) {{ {mutation}(chargerId: $c, idempotencyKey: "k1") {{ id kind }} }}',
                            {"c": cid}, token=token)
        assert body["errors"][0]["extensions"]["code"] == "IDEMPOTENCY_KEY_REUSED", body
    # another user may use the same key for their own request
    _, other = await make_user(st, "u2")
    cid2 = await charger_only(st, other, "EHI00002", "IDEM00000000003")
    assert (await set_current(st, other, 20, charger=cid2, key="k1"))["data"]["setMaxCurrent"]["id"] != first["id"]


async def _bounded(st: Stack, fault: dict[str, Any], serial: str, vin: str) -> dict[str, Any]:
    _, token = await make_user(st)
    cid = await charger_only(st, token, serial, vin)
    await st.sim("/sim/faults", {"vendor": "easee", **fault})
    a = await action(st, token, "stopCharging", chargerId=cid)
    return await settled(st, token, a["id"], timeout=60)


async def test_an_offline_charger_gets_a_bounded_number_of_commands_and_attempts_say_why(st: Stack) -> None:
    done = await _bounded(st, {"offline_windows": {"EHO00001": [[0, 3600]]}}, "EHO00001", "OFFL00000000001")
    assert (done["state"], done["failureReason"]["type"]) == ("FAILED", "NO_RESPONSE"), done
    # every 0.5 s check for 30 s used to send ~60 commands; backoff 5, 10, 20 s (halved at most by jitter)
    assert 1 <= len(done["attempts"]) <= 4, done["attempts"]
    for a in done["attempts"]:
        assert a["outcome"] == "UNREACHABLE" and "next try through this path in" in a["detail"], a
    assert "charger path: " in done["failureReason"]["detail"]


async def test_the_commands_of_an_action_are_capped(tmp_path: Path) -> None:
    async with stack(settings_for(tmp_path, **{**FAST, "action_max_commands": 2, "action_backoff_s": 0.5})) as st:
        done = await _bounded(st, {"command_failure_rate": 1.0}, "EHO00002", "OFFL00000000002")
        assert (done["state"], done["failureReason"]["type"]) == ("FAILED", "NO_RESPONSE"), done
        assert done["failureReason"]["detail"].startswith("Gave up after 2 commands")
        assert [a["outcome"] for a in done["attempts"]] == ["UNREACHABLE", "UNREACHABLE"]


async def test_a_long_retry_after_holds_only_its_own_path(st: Stack) -> None:
    """A vehicle cloud answering 429 with Retry-After 37,800 s: the car's own actions take the
    charger at once, a car with no other path ends at its deadline saying why, and other users'
    charger actions are not held."""
    _, token_a = await make_user(st, "a")
    vid_a, _ = await paired(st, token_a, car("RLIM00000000001", can_set_current=True, pushes_on_change=True),
                            box("EHL00001"))
    await charging(st, token_a, True)
    _, token_b = await make_user(st, "b")
    vid_b = (await link(st, token_b, "smartcar", [car("RLIM00000000002", pushes_on_change=True)]))["vehicles"][0]["id"]
    await st.sim("/sim/accounts", {"vendor": "easee", "devices": [box("EHL00002")]})
    await st.sim("/sim/plug", {"vin": "RLIM00000000002", "serialNumber": "EHL00002"})

    async def b_charging() -> bool:
        return bool((await viewer(st, token_b))["vehicles"][0]["chargeState"]["isCharging"])

    await wait_for(b_charging, timeout=40)
    _, token_c = await make_user(st, "c")
    cid_c = await charger_only(st, token_c, "EHL00003", "RLIM00000000003")
    windows = {vin: [[0, 3600, 37800]] for vin in ("RLIM00000000001", "RLIM00000000002")}
    await st.sim("/sim/faults", {"vendor": "smartcar", "rate_limit_windows": windows})

    a = (await set_current(st, token_a, 16, vehicle=vid_a))["data"]["setMaxCurrent"]
    stop_a = await action(st, token_a, "stopCharging", vehicleId=vid_a)
    b = await action(st, token_b, "stopCharging", vehicleId=vid_b)
    c = (await set_current(st, token_c, 10, charger=cid_c))["data"]["setMaxCurrent"]

    for done in [await settled(st, token_c, c["id"]), await settled(st, token_a, a["id"]),
                 await settled(st, token_a, stop_a["id"])]:
        assert done["state"] == "CONFIRMED", done
        tried = [(x["via"], x["outcome"]) for x in done["attempts"]]
        assert ("CHARGER", "ok") in tried, done  # confirmed through the charger
        assert all(outcome in ("RATE_LIMITED", "TIMEOUT") for via, outcome in tried if via == "VEHICLE"), done
        if tried[0][0] == "VEHICLE":  # it did not wait for the vehicle: the charger went next, at once
            assert tried[1][0] == "CHARGER" and "trying the charger now" in done["attempts"][0]["detail"], done
    ended = await settled(st, token_b, b["id"], timeout=st.settings.action_timeout_s + 20)
    assert (ended["state"], ended["failureReason"]["type"]) == ("FAILED", "NO_RESPONSE"), ended
    assert "vehicle path: " in ended["failureReason"]["detail"]
    assert ended["attempts"] and {x["outcome"] for x in ended["attempts"]} <= {"RATE_LIMITED", "TIMEOUT"}, ended
    if ended["attempts"][0]["outcome"] == "RATE_LIMITED":
        assert "rate limited until" in ended["failureReason"]["detail"]


async def test_a_vendor_refusal_retrying_cannot_change_ends_the_action_at_once(st: Stack) -> None:
    _, token = await make_user(st)
    vin = "SOCL00000000001"  # a make that refuses remote starts below 50 % (Smartcar CHARGING_SOC_TOO_LOW)
    vid = (await link(st, token, "smartcar", [car(vin, soc=0.2, min_soc_for_command=0.5, pushes_on_change=True)])
           )["vehicles"][0]["id"]
    await st.sim("/sim/accounts", {"vendor": "easee", "devices": [box("EHQ00001")]})
    await st.sim("/sim/plug", {"vin": vin, "serialNumber": "EHQ00001"})

    async def shows(want: bool) -> bool:
        return (await viewer(st, token))["vehicles"][0]["chargeState"]["isCharging"] is want

    await wait_for(lambda: shows(True), timeout=30)
    assert (await settled(st, token, (await action(st, token, "stopCharging", vehicleId=vid))["id"]))["state"] \
        == "CONFIRMED"
    await wait_for(lambda: shows(False), timeout=30)
    done = await settled(st, token, (await action(st, token, "startCharging", vehicleId=vid))["id"])
    assert (done["state"], done["failureReason"]["type"]) == ("CANCELLED", "FAILED_PRECONDITION"), done
    assert "CHARGING_SOC_TOO_LOW" in done["failureReason"]["detail"]
    assert [(a["via"], a["outcome"]) for a in done["attempts"]] == [("VEHICLE", "FAILED_PRECONDITION")], done
