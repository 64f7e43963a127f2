"""One plug-in, several OCPP transactions: a stop and a start again (a RemoteStopTransaction and a
RemoteStartTransaction on a charger without SmartCharging profiles, a stop at the charger) is not a
car swap. The session's energy counts on across the transactions, whether the charger's register
counts on or restarts at 0 with every transaction; the EV system stays ACTIVE; there is one
charging session. A real unplug and plug-in still starts a new one. End to end: simulated and raw
OCPP 1.6J charge points over real websockets to a real uvicorn.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from app.db.models import Charger, OcppStation
from tests.e2e import flows
from tests.e2e.harness import Stack, make_user
from tests.e2e.ocpp_flows import link_ocpp, reachable, sim_point, until_charger
from tests.e2e.ocpp_peer import connected
from tests.e2e.test_ocpp_connectors import PASSWORD, SET_TAGS, barrier, link_twin, polled_since

TAG = "04SESSION1"
NO_SMART = "Core,RemoteTrigger"  # RemoteStop/RemoteStart, no charging profiles
SESSIONS = "{ viewer { chargingSessions { id startedAt endedAt energyKwh } } }"


async def paired_car(st: Stack, token: str, vin: str) -> str:
    """A car whose card is `TAG` (set by the user) and whose cloud lags: its id."""
    cars = await flows.link(st, token, "smartcar", [{"kind": "vehicle", "vin": vin, "vehicle_refresh_s": 300,
                                                     "soc": 0.3, "id_tag": TAG}])
    vid = str(cars["vehicles"][0]["id"])
    await st.data(SET_TAGS, {"v": vid, "t": [TAG]}, token=token)
    return vid


async def active(st: Stack, token: str) -> list[dict[str, Any]]:
    return [s for s in (await flows.viewer(st, token))["evSystems"] if s["status"] == "ACTIVE"]


async def sessions(st: Stack, token: str) -> list[dict[str, Any]]:
    return list((await st.data(SESSIONS, token=token))["viewer"]["chargingSessions"])


async def counted(st: Stack, token: str, kwh: float) -> list[dict[str, Any]]:
    """The user's sessions once their energy adds up to at least `kwh`. A session follows the
    charger's saved poll (the coordinator's hook runs after the write a barrier sees), so it is
    waited for; a count past `kwh` still returns, for the caller's exact check."""
    async def look() -> list[dict[str, Any]] | None:
        found = await sessions(st, token)
        return found if sum(s["energyKwh"] for s in found) >= kwh - 1e-6 else None
    return list(await flows.wait_for(look, 15, every=0.1))


async def energy_at_least(charger_id: str, kwh: float) -> float:
    """Wait until the charger's saved session energy reaches `kwh`; the energy."""
    async def look() -> float | None:
        e = (await Charger.get(id=charger_id)).session_energy
        return e if e is not None and e >= kwh else None
    return float(await flows.wait_for(look, 30, every=0.2))


@pytest.mark.parametrize("register", ["lifetime", "transaction"])
async def test_a_remote_stop_and_start_keep_the_plug_session(st: Stack, register: str) -> None:
    """A paired car has charged about 1 kWh; stopCharging (RemoteStopTransaction: the transaction
    ends, the car waits in Finishing) and startCharging (a new transaction, its meterStart the
    register then, or 0) are CONFIRMED, the EV system stays ACTIVE, the session energy counts on
    from where it was, and there is one charging session."""
    _, token = await make_user(st)
    vid = await paired_car(st, token, f"VINSE{register[:4].upper()}")
    serial = f"CP-SE-{register[:4].upper()}"
    c = await link_ocpp(st, token, serial, {"featureProfiles": NO_SMART, "energyRegister": register})
    await st.sim("/sim/plug", {"vin": f"VINSE{register[:4].upper()}", "serialNumber": serial})
    (system,) = await flows.wait_for(lambda: active(st, token), 40, every=0.2)
    assert system["vehicle"]["id"] == vid
    await st.sim("/sim/time", {"advance_s": 330})  # about 1 kWh at 11 kW
    charged = await energy_at_least(c["id"], 0.9)
    first_tx = (await sim_point(st, serial))["transactionId"]

    stop = await flows.action(st, token, "stopCharging", chargerId=c["id"])
    assert (await flows.settled(st, token, stop["id"]))["state"] == "CONFIRMED"
    assert (await sim_point(st, serial))["transactionId"] is None  # the transaction ended, the car waits
    start = await flows.action(st, token, "startCharging", chargerId=c["id"])
    done = await flows.settled(st, token, start["id"])
    assert done["state"] == "CONFIRMED", done
    second_tx = (await sim_point(st, serial))["transactionId"]
    assert second_tx not in (None, first_tx)  # a new transaction in the same plug-in

    await st.sim("/sim/time", {"advance_s": 60})  # about 0.18 kWh more
    await energy_at_least(c["id"], charged + 0.1)
    await polled_since(c["id"], datetime.now(UTC))  # pairing has seen every report so far
    (still,) = await active(st, token)
    assert (still["id"], still["activatedAt"]) == (system["id"], system["activatedAt"])
    (only,) = await sessions(st, token)
    assert only["endedAt"] is None and only["energyKwh"] >= charged + 0.1


async def test_a_stop_at_the_charger_finishing_first_and_a_per_transaction_register(st: Stack) -> None:
    """A raw charge point whose register restarts at 0 with every transaction: its Finishing
    status comes before the StopTransaction (whose meterStop then still counts), a reading of 0
    between transactions changes nothing, the card starts a second transaction: 1.1 + 0.5 kWh,
    one plug session, the EV system still ACTIVE."""
    _, token = await make_user(st)
    vid = await paired_car(st, token, "VINSEPEER001")
    # the raw charge point is no charger of the simulated world, where this car stays unplugged: its
    # cloud keeps its last copy, or a refresh in the test would (truly) say "unplugged" and beat the card
    await st.sim("/sim/faults", {"vendor": "smartcar", "stale": ["VINSEPEER001"]})
    cid = await link_twin(st, token, "CP-SE-PEER")
    async with connected(st, "CP-SE-PEER", PASSWORD) as peer:
        await reachable(st, token, cid)
        await peer.status(1, "Preparing")
        tx1 = await peer.start_tx(1, TAG, 0)
        await peer.status(1, "Charging")
        await peer.meter(1, 11000, 1000, tx=tx1)
        (system,) = await flows.wait_for(lambda: active(st, token), 40, every=0.2)
        assert system["vehicle"]["id"] == vid
        await peer.status(1, "Finishing")  # the stop at the charger, told before its StopTransaction
        await peer.stop_tx(tx1, 1100)
        assert (await barrier(peer, cid, 0)).session_energy == pytest.approx(1.1)  # 0 Wh between: not taken
        tx2 = await peer.start_tx(1, TAG, 0)
        await peer.status(1, "Charging")
        await peer.meter(1, 11000, 500, tx=tx2)
        polled = await barrier(peer, cid, 500)
        assert polled.session_energy == pytest.approx(1.6) and polled.is_plugged_in is True
        (still,) = await active(st, token)
        assert still["id"] == system["id"]
        (only,) = await counted(st, token, 1.6)
        assert only["endedAt"] is None and only["energyKwh"] == pytest.approx(1.6)

        await peer.status(1, "Available")  # the unplug
        assert (await barrier(peer, cid, 500)).session_energy is None


async def test_an_unplug_and_plug_in_is_a_new_session(st: Stack) -> None:
    """With a register that restarts with every transaction, the car unplugged and plugged in
    again (as fast as the charge point reports it): a new charging session, counting from 0."""
    _, token = await make_user(st)
    await paired_car(st, token, "VINSEREPLUG1")
    c = await link_ocpp(st, token, "CP-SE-REPLUG", {"energyRegister": "transaction"})
    await st.sim("/sim/plug", {"vin": "VINSEREPLUG1", "serialNumber": "CP-SE-REPLUG"})
    await flows.wait_for(lambda: active(st, token), 40, every=0.2)
    await st.sim("/sim/time", {"advance_s": 330})
    await energy_at_least(c["id"], 0.9)
    first_tx = (await sim_point(st, "CP-SE-REPLUG"))["transactionId"]

    await st.sim("/sim/unplug", {"vin": "VINSEREPLUG1"})

    async def unplugged() -> bool:  # Tandem has the Available; its polls may or may not have seen it
        return bool((await OcppStation.get(charge_point_id="CP-SE-REPLUG")).status == "Available")
    await flows.wait_for(unplugged, 15, every=0.05)
    await st.sim("/sim/plug", {"vin": "VINSEREPLUG1", "serialNumber": "CP-SE-REPLUG"})

    async def new_transaction() -> bool:
        tx = (await sim_point(st, "CP-SE-REPLUG"))["transactionId"]
        return tx is not None and tx > 0 and tx != first_tx
    await flows.wait_for(new_transaction, 15)
    await until_charger(st, token, c["id"], lambda x: x["chargeState"]["isCharging"])

    async def two() -> list[dict[str, Any]] | None:
        found = await sessions(st, token)
        return found if len(found) == 2 else None
    newest, oldest = await flows.wait_for(two, 20, every=0.2)
    assert oldest["endedAt"] is not None and oldest["energyKwh"] >= 0.9
    assert newest["endedAt"] is None and newest["energyKwh"] < 0.5
    assert (await Charger.get(id=c["id"])).session_energy < 0.5  # type: ignore[operator]
