"""OCPP 1.6J end to end: simulated charge points over real websockets to a real uvicorn."""

from __future__ import annotations

import asyncio
import base64

import pytest
import websockets

from app.db import column
from tests.e2e import flows
from tests.e2e.harness import Stack, make_user
from tests.e2e.ocpp_flows import OCPP_CHARGER, central_url, charger, link_ocpp, sim_station, sim_world, until_charger
from tests.e2e.ocpp_peer import connected


async def test_link_connect_plug_and_commands(st: Stack) -> None:
    """Linked as `ocpp`, the charge point connects; plug-in, stop, start and max current all show
    in the charger's state from what the charge point reports."""
    _, token = await make_user(st)
    await flows.link(st, token, "smartcar", [flows.car("VINOCPP1", soc=0.4)])
    c = await link_ocpp(st, token, "CP-E2E-1")
    assert c["vendor"] == "ocpp"
    assert c["chargeState"]["powerDeliveryState"] == "UNPLUGGED"
    await st.sim("/sim/plug", {"vin": "VINOCPP1", "serialNumber": "CP-E2E-1"})
    now = await until_charger(st, token, c["id"], lambda x: x["chargeState"]["isCharging"])
    assert now["chargeState"]["isPluggedIn"] is True
    assert now["chargeState"]["chargeRate"] == pytest.approx(11.0, abs=0.1)

    stop = await flows.action(st, token, "stopCharging", chargerId=c["id"])
    done = await flows.settled(st, token, stop["id"])
    assert done["state"] == "CONFIRMED", done
    world = await sim_world(st)
    assert [b["power_kw"] for b in world["chargers"] if b["serialNumber"] == "CP-E2E-1"] == [0.0]

    start = await flows.action(st, token, "startCharging", chargerId=c["id"])
    assert (await flows.settled(st, token, start["id"]))["state"] == "CONFIRMED"

    limit = await flows.action(st, token, "setMaxCurrent", chargerId=c["id"], maxCurrent=10.0)
    assert (await flows.settled(st, token, limit["id"]))["state"] == "CONFIRMED"
    after = await charger(st, token, c["id"])
    assert after["chargeState"]["maxCurrent"] == pytest.approx(10.0)
    world = await sim_world(st)
    box = next(b for b in world["chargers"] if b["serialNumber"] == "CP-E2E-1")
    assert box["dynamic_current"] == pytest.approx(10.0)

    await st.sim("/sim/unplug", {"vin": "VINOCPP1"})
    gone = await until_charger(st, token, c["id"], lambda x: x["chargeState"]["isPluggedIn"] is False)
    assert gone["chargeState"]["powerDeliveryState"] == "UNPLUGGED"


async def test_a_charger_is_named_by_its_boot_notification(st: Stack) -> None:
    """A charger is linked before it first connects, so linking cannot know what it is: the
    charge point's BootNotification (vendor, model) names it; the id stays its serial number."""
    _, token = await make_user(st)
    data = await st.data(
        f"mutation($c: JSON!) {{ linkVendor(vendor: \"ocpp\", credentials: $c) {{ chargers {{ {OCPP_CHARGER} }} }} }}",
        {"c": {"chargePointId": "CP-NAMED-1", "password": "named-charger-pw"}}, token=token)
    linked = data["linkVendor"]["chargers"][0]
    assert linked["information"] == {"brand": None, "model": None, "serialNumber": "CP-NAMED-1"}
    async with connected(st, "CP-NAMED-1", "named-charger-pw"):  # booted: Tandem answered the boot
        named = await charger(st, token, linked["id"])
    assert named["information"] == {"brand": "PeerTest", "model": "Twin", "serialNumber": "CP-NAMED-1"}


async def test_a_linked_charger_is_never_seen_without_its_station(st: Stack) -> None:
    """Linking writes the charger and its station (password hash) together: a poller that loads
    the charger in between would read "charge point not registered" and stop polling it for good
    (NOT_FOUND: its plug-ins then never reached pairing, 1 in 300 in the OCPP bench)."""
    from app.db.models import Charger, OcppStation

    _, token = await make_user(st)
    creds = await sim_station(st, "CP-ATOMIC-1")
    orphans: list[str] = []
    done = asyncio.Event()

    async def watch() -> None:
        while not done.is_set():
            ids = await column(Charger.filter(vendor="ocpp", vendor_id="CP-ATOMIC-1"), "id")
            if ids and not await OcppStation.filter(charger_id__in=ids).exists():
                orphans.extend(ids)
            await asyncio.sleep(0)

    watcher = asyncio.create_task(watch())
    await st.data('mutation($c: JSON!) { linkVendor(vendor: "ocpp", credentials: $c) { chargers { id } } }',
                  {"c": creds}, token=token)
    done.set()
    await watcher
    assert orphans == []
    assert await OcppStation.filter(charge_point_id="CP-ATOMIC-1").exists()


async def _handshake(st: Stack, cp_id: str, password: str | None, subprotocols: list[str]) -> int:
    headers = {}
    if password is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{cp_id}:{password}".encode()).decode()
    try:
        async with websockets.connect(f"{central_url(st)}/{cp_id}", subprotocols=subprotocols,  # type: ignore[arg-type]
                                      additional_headers=headers, open_timeout=5):
            return 101
    except websockets.InvalidStatus as exc:
        return int(exc.response.status_code)


async def test_handshake_refusals(st: Stack) -> None:
    """Unknown id and wrong password: 401; no `ocpp1.6` subprotocol: 400; nothing is created."""
    _, token = await make_user(st)
    creds = await sim_station(st, "CP-AUTH-1")
    await st.data('mutation($c: JSON!) { linkVendor(vendor: "ocpp", credentials: $c) { chargers { id } } }',
                  {"c": creds}, token=token)
    assert await _handshake(st, "CP-NOBODY", "whatever-password", ["ocpp1.6"]) == 401
    assert await _handshake(st, "CP-AUTH-1", creds["password"] + "x", ["ocpp1.6"]) == 401
    assert await _handshake(st, "CP-AUTH-1", None, ["ocpp1.6"]) == 401
    assert await _handshake(st, "CP-AUTH-1", creds["password"], ["ocpp2.0.1"]) == 400
    assert await _handshake(st, "CP-AUTH-1", creds["password"], ["ocpp1.6"]) == 101


async def test_failed_handshakes_are_rate_limited_per_charge_point(tmp_path) -> None:
    """After the allowed failures for one id, even the right password waits (429); other ids do not."""
    from tests.conftest import settings_for
    from tests.e2e.conftest import FAST
    from tests.e2e.harness import stack

    async with stack(settings_for(tmp_path, **{**FAST, "ocpp_auth_failures_per_minute": 3})) as st:
        _, token = await make_user(st)
        await st.sim("/sim/faults", {"vendor": "ocpp", "offline": ["CP-RL-1"]})  # we are the charger here
        creds = await sim_station(st, "CP-RL-1")
        await st.data('mutation($c: JSON!) { linkVendor(vendor: "ocpp", credentials: $c) { chargers { id } } }',
                      {"c": creds}, token=token)
        for _ in range(3):
            assert await _handshake(st, "CP-RL-1", "wrong-password", ["ocpp1.6"]) == 401
        auth = base64.b64encode(f"CP-RL-1:{creds['password']}".encode()).decode()
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with websockets.connect(f"{central_url(st)}/CP-RL-1", subprotocols=["ocpp1.6"],  # type: ignore[list-item]
                                          additional_headers={"Authorization": f"Basic {auth}"}, open_timeout=5):
                pass
        assert refused.value.response.status_code == 429
        assert 1 <= int(refused.value.response.headers["Retry-After"]) <= 60
        assert await _handshake(st, "CP-RL-OTHER", "wrong-password", ["ocpp1.6"]) == 401
        # a charge point whose password this process verified is not held out by failures of its id
        creds2 = await sim_station(st, "CP-RL-2")
        data = await st.data('mutation($c: JSON!) { linkVendor(vendor: "ocpp", credentials: $c) { chargers { id } } }',
                             {"c": creds2}, token=token)
        proven = data["linkVendor"]["chargers"][0]["id"]
        await until_charger(st, token, proven, lambda c: c["isReachable"])  # verified by this process
        await st.sim("/sim/faults", {"vendor": "ocpp", "offline": ["CP-RL-1", "CP-RL-2"]})
        await until_charger(st, token, proven, lambda c: not c["isReachable"])
        password = creds2["password"]
        for _ in range(3):  # (the simulated charge point's own attempts before it was linked count too)
            assert await _handshake(st, "CP-RL-2", "wrong-password", ["ocpp1.6"]) in (401, 429)
        assert await _handshake(st, "CP-RL-2", "still-wrong-pw", ["ocpp1.6"]) == 429
        assert await _handshake(st, "CP-RL-2", password, ["ocpp1.6"]) == 101


async def test_a_storm_is_told_when_to_come_back_and_a_verified_charge_point_still_gets_in(
        st: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the password threads full, a handshake that would need scrypt gets 503 with a
    Retry-After in whole seconds (at least 1); a charge point whose password this process
    verified before is let in without a check; a wrong password for it is not."""
    from app.ocpp import passwords

    _, token = await make_user(st)
    await st.sim("/sim/faults", {"vendor": "ocpp", "offline": ["CP-STORM-1"]})  # we are the charger here
    creds = await sim_station(st, "CP-STORM-1")
    await st.data('mutation($c: JSON!) { linkVendor(vendor: "ocpp", credentials: $c) { chargers { id } } }',
                  {"c": creds}, token=token)
    assert await _handshake(st, "CP-STORM-1", creds["password"], ["ocpp1.6"]) == 101  # verified once
    monkeypatch.setattr(passwords, "_checks", passwords.MAX_WAITING)
    auth = "Basic " + base64.b64encode(b"CP-STORM-2:any-password").decode()
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(f"{central_url(st)}/CP-STORM-2", subprotocols=["ocpp1.6"],  # type: ignore[list-item]
                                      additional_headers={"Authorization": auth}, open_timeout=5):
            pass
    assert refused.value.response.status_code == 503
    assert int(refused.value.response.headers["Retry-After"]) >= 1
    assert await _handshake(st, "CP-STORM-1", creds["password"], ["ocpp1.6"]) == 101
    assert await _handshake(st, "CP-STORM-1", creds["password"] + "x", ["ocpp1.6"]) == 503
