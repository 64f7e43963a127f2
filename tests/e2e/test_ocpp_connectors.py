"""A twin-socket wallbox: Tandem tracks connector 1 of an OCPP charge point; the other
connector's sessions, cards and meter values (and the whole box's main meter on connector 0) are
answered and leave connector 1's state alone. End to end: a raw OCPP 1.6J charge point over a real
websocket to a real uvicorn.

Barrier: the central system writes a message's effect on the station row before it answers the
message, and a kicked poll stamps `polled_at` with the time it started, before it reads the row;
so a charger's `polled_at` at or after a reply's time shows Tandem's state derived from every
message answered before it (`barrier`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from app.db.models import Charger, OcppStation
from tests.e2e import flows
from tests.e2e.harness import Stack, make_user
from tests.e2e.ocpp_flows import OCPP_CHARGER, charger, reachable, until_charger
from tests.e2e.ocpp_peer import Peer, connected

SET_TAGS = "mutation($v: ID!, $t: [String!]!) { setVehicleIdTags(vehicleId: $v, idTags: $t) { id } }"
PASSWORD = "twin-socket-pw"


def lagging(vin: str) -> dict[str, object]:
    """A car whose cloud refreshes every 5 minutes: only the charger's reports can pair it here."""
    return {"kind": "vehicle", "vin": vin, "vehicle_refresh_s": 300, "soc": 0.4}


async def link_twin(st: Stack, token: str, cp_id: str) -> str:
    """Link `cp_id` as an `ocpp` charger (no simulated charge point behind it); its charger id."""
    data = await st.data(
        f"mutation($c: JSON!) {{ linkVendor(vendor: \"ocpp\", credentials: $c) {{ chargers {{ {OCPP_CHARGER} }} }} }}",
        {"c": {"chargePointId": cp_id, "password": PASSWORD}}, token=token)
    return str(data["linkVendor"]["chargers"][0]["id"])


async def two_cars(st: Stack, token: str) -> dict[str, str]:
    """Car A (card CARD-A) and car B (card CARD-B), both cards set by the user; vehicle ids by card."""
    cars = await flows.link(st, token, "smartcar", [lagging("VINTWINA0001"), lagging("VINTWINB0001")])
    ids = {v["information"]["vin"]: v["id"] for v in cars["vehicles"]}
    # the raw charge point is no charger of the simulated world, where these cars stay unplugged:
    # their clouds keep their last copy, or a refresh in the test would (truly) say "unplugged"
    await st.sim("/sim/faults", {"vendor": "smartcar", "stale": ["VINTWINA0001", "VINTWINB0001"]})
    await st.data(SET_TAGS, {"v": ids["VINTWINA0001"], "t": ["CARD-A"]}, token=token)
    await st.data(SET_TAGS, {"v": ids["VINTWINB0001"], "t": ["CARD-B"]}, token=token)
    return {"CARD-A": ids["VINTWINA0001"], "CARD-B": ids["VINTWINB0001"]}


async def station(cp_id: str) -> OcppStation:
    return await OcppStation.get(charge_point_id=cp_id)


async def polled_since(charger_id: str, since: datetime) -> Charger:
    """The charger row once a poll that started at or after `since` has been saved."""
    async def look() -> Charger | None:
        row = await Charger.get(id=charger_id)
        at = row.polled_at
        if at is not None and at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        return row if at is not None and at >= since else None
    return await flows.wait_for(look, 15, every=0.1)  # type: ignore[no-any-return]


async def barrier(peer: Peer, charger_id: str, wh: float) -> Charger:
    """Connector 1's idle meter (0 W, no transaction), twice: a report of connector 1 that clears
    nothing and asks for a poll. The second asks for one that starts after the first was answered
    (a kicked poll stamps `polled_at`); returns the charger row that poll saved. What follows a
    saved poll (its charging session, SoC learning) may still be running: wait on that itself."""
    await peer.meter(1, 0, wh)
    since = datetime.now(UTC)
    await peer.meter(1, 0, wh)
    return await polled_since(charger_id, since)


def charging_at_11_kw(c: dict[str, Any]) -> bool:
    """Connector 1's car charging at its own 11 kW."""
    return bool(c["chargeState"]["isCharging"]) and c["chargeState"]["chargeRate"] == pytest.approx(11.0)


async def active_systems(st: Stack, token: str) -> list[dict[str, Any]]:
    return [s for s in (await flows.viewer(st, token))["evSystems"] if s["status"] == "ACTIVE"]


async def test_a_car_on_connector_2_is_not_connector_1s(st: Stack) -> None:
    """A car on connector 2 (its card set on one of the user's cars) leaves the charger unplugged,
    not charging, with no session idTag and no EV system; then a car on connector 1 is followed,
    paired by its card and commanded on connector 1 while connector 2 keeps charging; connector 2's
    meter, the main meter (connector 0) and connector 2's stop leave connector 1's state alone."""
    _, token = await make_user(st)
    cars = await two_cars(st, token)
    cid = await link_twin(st, token, "CP-TWIN-1")
    async with connected(st, "CP-TWIN-1", PASSWORD) as peer:
        await reachable(st, token, cid)

        # -- car B on connector 2, a whole session -------------------------------------------
        await peer.status(2, "Preparing")
        await peer.authorize("CARD-B")
        tx_b = await peer.start_tx(2, "CARD-B", 1000)
        await peer.status(2, "Charging")
        await peer.meter(2, 7400, 1500, soc=55, tx=tx_b)
        row = await station("CP-TWIN-1")
        assert (row.status, row.transaction_id, row.tx_id_tag, row.last_id_tag) == ("Available", None, None, None)
        assert (row.power_w, row.soc, row.energy_wh) == (0.0, None, None)  # as connector 1's Available left them
        polled = await barrier(peer, cid, 500)
        assert polled.session_id_tag is None and polled.is_plugged_in is False and polled.is_charging is False
        now = await charger(st, token, cid)
        assert now["chargeState"]["powerDeliveryState"] == "UNPLUGGED" and now["chargeState"]["isCharging"] is False
        assert now["chargeState"]["chargeRate"] == 0.0
        assert await active_systems(st, token) == []
        await peer.stop_tx(tx_b, 2000)
        await peer.status(2, "Finishing")
        row = await station("CP-TWIN-1")
        # connector 2's meterStop (2000) is not connector 1's; connector 1's idle reading (no transaction) is not taken
        assert (row.energy_wh, row.power_w, row.transaction_id) == (None, 0, None)
        polled = await barrier(peer, cid, 500)
        assert polled.session_id_tag is None and polled.is_plugged_in is False
        assert await active_systems(st, token) == []

        # -- connector 2 charges again; car A on connector 1 ------------------------------------
        tx_b2 = await peer.start_tx(2, "CARD-B", 2000)
        await peer.status(2, "Charging")
        await peer.meter(2, 7400, 2100, soc=56, tx=tx_b2)
        await peer.status(1, "Preparing")
        await peer.authorize("CARD-A")
        tx_a = await peer.start_tx(1, "CARD-A", 500)
        assert len({tx_b, tx_b2, tx_a}) == 3  # unique per charge point, whichever connector
        await peer.status(1, "Charging")
        await peer.meter(1, 11000, 600, soc=40, tx=tx_a)
        await until_charger(st, token, cid, charging_at_11_kw)

        async def paired() -> list[dict[str, Any]] | None:
            return await active_systems(st, token) or None
        (system,) = await flows.wait_for(paired, 15, every=0.2)
        assert system["vehicle"]["id"] == cars["CARD-A"] and system["charger"]["id"] == cid
        assert any("idTag CARD-A" in e for e in system["evidence"]), system
        assert (await Charger.get(id=cid)).session_id_tag == "CARD-A"

        # connector 2's meter and the main meter (connector 0) do not move connector 1's
        await peer.meter(2, 3700, 2600, soc=60, tx=tx_b2)
        await peer.meter(0, 14700, 98_000)
        row = await station("CP-TWIN-1")
        assert (row.power_w, row.energy_wh, row.soc, row.transaction_id) == (11000, 600, 40, tx_a)

        # commands go to connector 1 and its transaction
        stop = await flows.action(st, token, "stopCharging", chargerId=cid)
        assert (await flows.settled(st, token, stop["id"]))["state"] == "CONFIRMED"
        (pause,) = [p for p in peer.asked("SetChargingProfile") if p["charging_profile_purpose"] == "TxProfile"]
        assert (pause["connector_id"], pause["transaction_id"]) == (1, tx_a)
        limit = await flows.action(st, token, "setMaxCurrent", chargerId=cid, maxCurrent=10.0)
        assert (await flows.settled(st, token, limit["id"]))["state"] == "CONFIRMED"
        (default,) = [p for p in peer.asked("SetChargingProfile")
                      if p["charging_profile_purpose"] == "TxDefaultProfile"]
        assert default["connector_id"] == 1
        assert {p["connector_id"] for p in peer.asked("GetCompositeSchedule")} == {1}

        # connector 2's car leaves: connector 1's transaction, meter and pause stay
        await peer.stop_tx(tx_b2, 2700)
        await peer.status(2, "Finishing")
        await peer.status(2, "Available")
        row = await station("CP-TWIN-1")
        assert (row.transaction_id, row.tx_id_tag, row.energy_wh, row.paused) == (tx_a, "CARD-A", 600, True)
        assert row.status == "SuspendedEVSE"
        polled = await barrier(peer, cid, 600)
        assert polled.session_id_tag == "CARD-A" and polled.is_plugged_in is True
        assert [s["vehicle"]["id"] for s in await active_systems(st, token)] == [cars["CARD-A"]]


async def test_after_a_restart_only_connector_1s_transaction_is_adopted(st: Stack) -> None:
    """Transactions Tandem does not know (the charge point's, from before a central-system
    restart): connector 1's is adopted from its MeterValues, connector 2's is not, and connector
    2's StopTransaction then leaves connector 1's alone."""
    _, token = await make_user(st)
    cid = await link_twin(st, token, "CP-TWIN-2")
    async with connected(st, "CP-TWIN-2", PASSWORD) as peer:
        await reachable(st, token, cid)
        await peer.status(2, "Charging")
        await peer.meter(2, 7400, 5000, tx=41)
        assert (await station("CP-TWIN-2")).transaction_id is None
        await peer.status(1, "Charging")
        await peer.meter(1, 11000, 3000, tx=40)
        row = await station("CP-TWIN-2")
        assert (row.transaction_id, row.tx_meter_start_wh, row.power_w) == (40, 3000, 11000)
        await peer.meter(2, 7400, 5100, tx=41)
        await peer.stop_tx(41, 5200)
        row = await station("CP-TWIN-2")
        assert (row.transaction_id, row.energy_wh, row.power_w) == (40, 3000, 11000)
        await until_charger(st, token, cid, charging_at_11_kw)
        await peer.stop_tx(40, 3400)
        row = await station("CP-TWIN-2")
        assert (row.transaction_id, row.energy_wh, row.power_w) == (None, 3400, 0)


async def test_the_whole_box_faulted_then_back_asks_for_connector_1s_status(st: Stack) -> None:
    """Connector 0 Faulted stands for connector 1 too; when connector 0 alone says the box is
    Available again (many chargers report only the box), Tandem asks for connector 1's status
    (TriggerMessage) instead of showing the charger faulted until connector 1 happens to report."""
    _, token = await make_user(st)
    cid = await link_twin(st, token, "CP-BOX-1")
    async with connected(st, "CP-BOX-1", PASSWORD, connectors=1) as peer:
        await peer.status(1, "Charging")
        await until_charger(st, token, cid, lambda c: c["chargeState"]["isCharging"] is True)
        await peer.status(0, "Faulted")
        faulted = await until_charger(st, token, cid, lambda c: c["chargeState"]["powerDeliveryState"]
                                      == "PLUGGED_IN_FAULT")
        assert faulted["chargeState"]["isPluggedIn"] is None
        triggers = len([p for p in peer.asked("TriggerMessage") if p["connector_id"] == 1])
        await peer.status(0, "Available")  # the peer answers the trigger with connector 1's "Charging"
        back = await until_charger(st, token, cid, lambda c: c["chargeState"]["isCharging"] is True)
        assert back["chargeState"]["powerDeliveryState"] == "PLUGGED_IN_CHARGING"
        assert len([p for p in peer.asked("TriggerMessage") if p["connector_id"] == 1]) == triggers + 1
