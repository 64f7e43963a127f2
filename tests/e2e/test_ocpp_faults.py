"""OCPP charge points that misbehave as field reports describe, end to end over real websockets."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import websockets

from tests.conftest import settings_for
from tests.e2e import flows
from tests.e2e.conftest import FAST
from tests.e2e.harness import Stack, make_user, stack
from tests.e2e.ocpp_flows import (
    central_url,
    charger,
    handshakes,
    link_ocpp,
    sim_faults,
    sim_point,
    sim_station,
    until_charger,
)


@pytest.fixture
async def fst(tmp_path: Path) -> AsyncIterator[Stack]:
    """A stack whose central system waits at most 2 s for a charge point's answer."""
    async with stack(settings_for(tmp_path, **{**FAST, "ocpp_call_timeout_s": 2.0}), sim_speed=1.0) as running:
        yield running


async def _plugged_and_charging(st: Stack, token: str, serial: str, vin: str, **box: object) -> dict:
    await flows.link(st, token, "smartcar", [flows.car(vin, soc=0.3)])
    c = await link_ocpp(st, token, serial, **box)
    await st.sim("/sim/plug", {"vin": vin, "serialNumber": serial})
    await until_charger(st, token, c["id"], lambda x: x["chargeState"]["isCharging"])
    return c


async def test_unavailable_after_boot_is_made_operative(st: Stack) -> None:
    """A charge point that boots Unavailable is told ChangeAvailability Operative at connect."""
    _, token = await make_user(st)
    await sim_faults(st, boot_unavailable=["CP-UNAV"])
    c = await link_ocpp(st, token, "CP-UNAV")
    assert c["chargeState"]["powerDeliveryState"] == "UNPLUGGED"
    assert (await sim_point(st, "CP-UNAV"))["status"] == "Available"


async def test_remote_start_uses_the_card_the_charger_knows(st: Stack) -> None:
    """A charger that refuses remote starts for cards it does not know (no SmartCharging: stop is a
    RemoteStop) starts again with the card it presented at plug-in."""
    _, token = await make_user(st)
    await sim_faults(st, require_known_id_tag=True)
    await flows.link(st, token, "smartcar", [flows.car("VINTAG1", soc=0.3)])
    c = await link_ocpp(st, token, "CP-TAG", {"featureProfiles": "Core,RemoteTrigger"})
    await st.sim("/sim/plug", {"vin": "VINTAG1", "serialNumber": "CP-TAG"})
    await until_charger(st, token, c["id"], lambda x: x["chargeState"]["isCharging"])
    stop = await flows.action(st, token, "stopCharging", chargerId=c["id"])
    assert (await flows.settled(st, token, stop["id"]))["state"] == "CONFIRMED"
    assert (await sim_point(st, "CP-TAG"))["transactionId"] is None  # a RemoteStop ended it
    start = await flows.action(st, token, "startCharging", chargerId=c["id"])
    assert (await flows.settled(st, token, start["id"]))["state"] == "CONFIRMED"
    assert (await sim_point(st, "CP-TAG"))["status"] == "Charging"


async def test_dropped_socket_reconnects_and_keeps_working(st: Stack) -> None:
    """A dropped connection is re-established by the charge point; state and commands carry on.
    Its password was verified by this process already: the reconnect skips scrypt."""
    _, token = await make_user(st)
    c = await _plugged_and_charging(st, token, "CP-DROP", "VINDROP")
    before = (await sim_point(st, "CP-DROP"))["connects"]
    cached = await handshakes(st, "cached")
    await sim_faults(st, drop=["CP-DROP"])
    await flows.wait_for(lambda: _connects_above(st, "CP-DROP", before))
    assert await handshakes(st, "cached") > cached
    await until_charger(st, token, c["id"], lambda x: x["isReachable"] and x["chargeState"]["isCharging"])
    stop = await flows.action(st, token, "stopCharging", chargerId=c["id"])
    assert (await flows.settled(st, token, stop["id"]))["state"] == "CONFIRMED"


async def _connects_above(st: Stack, serial: str, n: int) -> bool:
    p = await sim_point(st, serial)
    return bool(p["connects"] > n and p["connected"])


async def test_reboot_losing_its_transaction(st: Stack) -> None:
    """A charge point that reboots mid-transaction: Tandem drops the lost transaction and follows
    the new one; a stop then acts on the new one."""
    _, token = await make_user(st)
    c = await _plugged_and_charging(st, token, "CP-BOOT", "VINBOOT")
    first = (await sim_point(st, "CP-BOOT"))["transactionId"]
    await sim_faults(st, reboot=["CP-BOOT"])

    async def new_transaction() -> bool:
        tx = (await sim_point(st, "CP-BOOT"))["transactionId"]
        return tx is not None and tx > 0 and tx != first
    await flows.wait_for(new_transaction)
    await until_charger(st, token, c["id"], lambda x: x["chargeState"]["isCharging"])
    stop = await flows.action(st, token, "stopCharging", chargerId=c["id"])
    assert (await flows.settled(st, token, stop["id"]))["state"] == "CONFIRMED"


async def test_stale_status_messages_are_ignored(st: Stack) -> None:
    """Statuses delivered late (stamped before the last one) do not turn the state back."""
    _, token = await make_user(st)
    await sim_faults(st, stale_status=["CP-STALE"])
    c = await _plugged_and_charging(st, token, "CP-STALE", "VINSTALE")

    async def stale_sent() -> bool:
        return bool((await sim_point(st, "CP-STALE"))["staleSent"] >= 1)
    await flows.wait_for(stale_sent)
    now = await charger(st, token, c["id"])
    assert now["chargeState"]["isPluggedIn"] is True
    assert now["chargeState"]["isCharging"] is True


async def test_call_errors_fail_the_action_with_a_reason(fst: Stack) -> None:
    """A charge point answering every Call with a CallError: the action fails, saying so."""
    _, token = await make_user(fst)
    c = await link_ocpp(fst, token, "CP-ERR")
    await sim_faults(fst, call_error=["CP-ERR"])
    limit = await flows.action(fst, token, "setMaxCurrent", chargerId=c["id"], maxCurrent=12.0)
    done = await flows.settled(fst, token, limit["id"], timeout=60)
    # a refusal retrying cannot change: the action ends at once, with the charge point's answer
    assert done["state"] in ("FAILED", "CANCELLED"), done
    assert done["failureReason"]["type"] in ("FAILED_PRECONDITION", "NO_RESPONSE"), done
    assert any("CallError" in (a["detail"] or "") or "InternalError" in (a["detail"] or "")
               for a in done["attempts"]), done


async def test_silent_charge_point_times_out_without_blocking_its_reports(fst: Stack) -> None:
    """Calls to a charge point that never answers time out (Unreachable), while its own messages
    (a plug-in) are still handled."""
    _, token = await make_user(fst)
    await flows.link(fst, token, "smartcar", [flows.car("VINSIL", soc=0.3)])
    c = await link_ocpp(fst, token, "CP-SIL")
    await sim_faults(fst, silent=["CP-SIL"])
    limit = await flows.action(fst, token, "setMaxCurrent", chargerId=c["id"], maxCurrent=12.0)
    await fst.sim("/sim/plug", {"vin": "VINSIL", "serialNumber": "CP-SIL"})
    await until_charger(fst, token, c["id"], lambda x: x["chargeState"]["isCharging"])
    done = await flows.settled(fst, token, limit["id"], timeout=60)
    assert done["state"] == "FAILED"
    assert any(a["outcome"] != "SENT" for a in done["attempts"]), done


async def test_malformed_frames_get_a_call_error_and_the_socket_lives(st: Stack) -> None:
    """Garbage, wrong shapes and schema violations are answered with CallErrors, never a crash."""
    _, token = await make_user(st)
    creds = await sim_station(st, "CP-RAW")
    await st.data('mutation($c: JSON!) { linkVendor(vendor: "ocpp", credentials: $c) { chargers { id } } }',
                  {"c": creds}, token=token)
    # the simulated one goes offline (and stays away), else its reconnect would replace our socket
    await st.sim("/sim/faults", {"vendor": "ocpp", "offline": ["CP-RAW"], "ocpp": {}})
    await flows.wait_for(lambda: _disconnected(st, "CP-RAW"))
    auth = base64.b64encode(f"CP-RAW:{creds['password']}".encode()).decode()
    async with websockets.connect(f"{central_url(st)}/CP-RAW", subprotocols=["ocpp1.6"],  # type: ignore[list-item]
                                  additional_headers={"Authorization": f"Basic {auth}"}) as ws:
        for frame, code in [("hello", "FormationViolation"), ("[" * 5000, "FormationViolation"),
                            (json.dumps([2, "a1", "Heartbeat"]), "FormationViolation"),
                            (json.dumps([2, "a2", "StatusNotification", {"connectorId": "one"}]), None),
                            (json.dumps([2, "a3", "NoSuchAction", {}]), "NotSupported")]:
            await ws.send(frame)
            reply = await _next_reply(ws)
            assert reply[0] == 4, (frame[:40], reply)
            if code:
                assert reply[2] == code, reply
        await ws.send(json.dumps([2, "ok1", "Heartbeat", {}]))
        reply = await _next_reply(ws)
        assert reply[:2] == [3, "ok1"] and "currentTime" in reply[2]


async def _disconnected(st: Stack, serial: str) -> bool:
    """Whether the simulated charge point has no socket to Tandem now."""
    return not (await sim_point(st, serial))["connected"]


async def _next_reply(ws: websockets.ClientConnection) -> list:
    """The next CallResult/CallError (Tandem's own Calls at connect are skipped)."""
    import asyncio

    while True:
        msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if msg[0] in (3, 4):
            return list(msg)


async def test_max_current_is_capable_only_where_the_charge_point_has_smart_charging(st: Stack) -> None:
    """The feature profiles a charge point lists at connect decide its capabilities: without
    SmartCharging there is no max current (start and stop remain, by RemoteStart/Stop)."""
    _, token = await make_user(st)
    caps = "capabilities { startCharging { isCapable } stopCharging { isCapable } setMaxCurrent { isCapable } }"
    query = f"query($i: ID!) {{ charger(id: $i) {{ {caps} }} }}"

    async def capable(charger_id: str) -> dict[str, bool] | None:
        found = (await st.data(query, {"i": charger_id}, token=token))["charger"]["capabilities"]
        return {k: v["isCapable"] for k, v in found.items()}

    plain = await link_ocpp(st, token, "CP-NOSMART", {"featureProfiles": "Core,RemoteTrigger"})
    smart = await link_ocpp(st, token, "CP-SMART")

    async def told() -> dict[str, bool] | None:
        got = await capable(plain["id"])
        return got if got is not None and not got["setMaxCurrent"] else None
    assert await flows.wait_for(told, 20) == {"startCharging": True, "stopCharging": True, "setMaxCurrent": False}
    assert await capable(smart["id"]) == {"startCharging": True, "stopCharging": True, "setMaxCurrent": True}
    limit = await flows.action(st, token, "setMaxCurrent", chargerId=plain["id"], maxCurrent=10.0)
    done = await flows.settled(st, token, limit["id"])
    assert done["state"] == "FAILED" and done["failureReason"]["type"] == "NOT_CAPABLE", done
