"""Pairing with an OCPP charger: the pushed plug-in, and the car named by the idTag it starts with,
even while the car's cloud lags minutes; a card of another car, and a card nobody named."""

from __future__ import annotations

from typing import Any

from tests.e2e import flows
from tests.e2e.harness import Stack, make_user
from tests.e2e.ocpp_flows import link_ocpp, until_charger

SET_TAGS = "mutation($v: ID!, $t: [String!]!) { setVehicleIdTags(vehicleId: $v, idTags: $t) { id } }"


def lagging(vin: str, **kw: object) -> dict[str, object]:
    """A car whose cloud refreshes every 5 minutes (it will not report the plug-in in this test)."""
    return {"kind": "vehicle", "vin": vin, "vehicle_refresh_s": 300, "soc": 0.4, **kw}


async def systems(st: Stack, token: str) -> list[dict]:
    return list((await flows.viewer(st, token))["evSystems"])


async def carded_and_plugged(st: Stack, token: str, cp: str, vin: str, tag: str,
                             *others: str) -> tuple[dict[str, str], str, dict]:
    """Lagging cars `vin` (its card `tag` set as its idTag) and `others`, an OCPP charger `cp`, `vin`
    plugged into it and ACTIVE by its card: (vehicle ids by vin, charger id, the EV system)."""
    cars = await flows.link(st, token, "smartcar", [lagging(vin, id_tag=tag), *(lagging(o) for o in others)])
    ids = {v["information"]["vin"]: v["id"] for v in cars["vehicles"]}
    await st.data(SET_TAGS, {"v": ids[vin], "t": [tag]}, token=token)
    c = await link_ocpp(st, token, cp)
    await st.sim("/sim/plug", {"vin": vin, "serialNumber": cp})
    system = await flows.wait_for(lambda: first_active(st, token), 15, every=0.2)
    assert system["vehicle"]["id"] == ids[vin]
    return ids, c["id"], system


async def first_active(st: Stack, token: str) -> dict | None:
    return next((s for s in await systems(st, token) if s["status"] == "ACTIVE"), None)


async def until_counted(st: Stack, token: str, charger_id: str) -> None:
    """Until the charger's session has counted more than 0.1 kWh (its meter can vouch for it)."""
    async def counted() -> bool:
        data = await st.data("{ viewer { chargingSessions { chargerId energyKwh } } }", token=token)
        return any(x["chargerId"] == charger_id and x["energyKwh"] > 0.1 for x in data["viewer"]["chargingSessions"])
    await flows.wait_for(counted, 60, every=0.5)


async def sessions_of(st: Stack, token: str, charger_id: str) -> list[dict]:
    data = await st.data("{ viewer { chargingSessions { id chargerId endedAt } } }", token=token)
    return [x for x in data["viewer"]["chargingSessions"] if x["chargerId"] == charger_id]


async def test_a_known_idtag_activates_at_once_and_excludes_the_other_car(st: Stack) -> None:
    _, token = await make_user(st)
    cars = await flows.link(st, token, "smartcar", [lagging("VINTAGGED01", id_tag="04AABBCC"),
                                                    lagging("VINOTHER001")])
    ids = {v["information"]["vin"]: v["id"] for v in cars["vehicles"]}
    await st.data(SET_TAGS, {"v": ids["VINTAGGED01"], "t": ["04AABBCC"]}, token=token)
    c = await link_ocpp(st, token, "CP-PAIR-1")
    await st.sim("/sim/plug", {"vin": "VINTAGGED01", "serialNumber": "CP-PAIR-1"})

    async def active() -> list[dict] | None:
        found = [s for s in await systems(st, token) if s["status"] == "ACTIVE"]
        return found or None
    (system,) = await flows.wait_for(active, 15, every=0.2)
    assert system["vehicle"]["id"] == ids["VINTAGGED01"] and system["charger"]["id"] == c["id"]
    assert any("idTag 04AABBCC" in e for e in system["evidence"])
    other = next(s for s in await systems(st, token) if s["vehicle"]["id"] == ids["VINOTHER001"])
    assert other["status"] == "ESTABLISHED"
    assert any("names" in e and "not" in e for e in other["evidence"])


async def test_a_card_of_another_car_excludes_the_car_that_borrowed_it(st: Stack) -> None:
    """A car plugged in with another car's card is excluded by the card (the card names the other
    car; the charger's identification is what a card is for)."""
    _, token = await make_user(st)
    cars = await flows.link(st, token, "smartcar", [
        {"kind": "vehicle", "vin": "VINCARDOWNER", "pushes_on_change": True, "soc": 0.5},
        lagging("VINBORROWER", id_tag="CARD0001")])
    ids = {v["information"]["vin"]: v["id"] for v in cars["vehicles"]}
    await st.data(SET_TAGS, {"v": ids["VINCARDOWNER"], "t": ["CARD0001"]}, token=token)
    c = await link_ocpp(st, token, "CP-PAIR-2")
    await st.sim("/sim/plug", {"vin": "VINBORROWER", "serialNumber": "CP-PAIR-2"})
    await until_charger(st, token, c["id"], lambda x: x["chargeState"]["isCharging"])

    async def decided() -> list[dict] | None:
        found = await systems(st, token)
        borrower = next(s for s in found if s["vehicle"]["id"] == ids["VINBORROWER"])
        return found if any("names" in e for e in borrower["evidence"]) else None
    found = await flows.wait_for(decided, 20, every=0.3)
    borrower = next(s for s in found if s["vehicle"]["id"] == ids["VINBORROWER"])
    assert borrower["status"] == "ESTABLISHED", borrower
    assert any("which names" in e and "not" in e for e in borrower["evidence"]), borrower


async def test_an_outage_of_the_charger_ends_neither_the_activation_nor_the_session(st: Stack) -> None:
    """The charge point's socket goes down mid-charge: while Tandem cannot tell whether a cable is
    in, that is no unplug. Back with its meter still counting, it is the same plug session: still
    ACTIVE, one charging session."""
    _, token = await make_user(st)
    _, cid, system = await carded_and_plugged(st, token, "CP-DARK-1", "VINDARK0001", "04DA4C00")
    await until_charger(st, token, cid, lambda x: x["chargeState"]["isCharging"])
    await until_counted(st, token, cid)
    await st.sim("/sim/faults", {"vendor": "ocpp", "offline": ["CP-DARK-1"]})
    dark = await until_charger(st, token, cid, lambda x: not x["isReachable"])
    assert dark["chargeState"]["isPluggedIn"] is None
    await st.sim("/sim/faults", {"vendor": "ocpp"})
    await until_charger(st, token, cid, lambda x: x["isReachable"] and x["chargeState"]["isCharging"])
    after = await first_active(st, token)
    assert after is not None and after["id"] == system["id"] and after["activatedAt"] == system["activatedAt"]
    assert not any(e.startswith("deactivated") for e in after["evidence"]), after["evidence"]
    mine = await sessions_of(st, token, cid)
    assert len(mine) == 1 and mine[0]["endedAt"] is None, mine


async def test_a_sessions_battery_levels_follow_the_chargers_soc_over_a_lagging_cloud(st: Stack) -> None:
    """The car's cloud still says 45 % (it lost touch with the car); the car is at 70 % and the OCPP
    charger reports that in its MeterValues. The charging session's start and end levels are the
    levels Tandem shows (`batteryLevel`), the charger's, not the cloud's stale 45 %."""
    _, token = await make_user(st)
    cars = await flows.link(st, token, "smartcar", [lagging("VINSOCLVL01", id_tag="04500C00", soc=0.45)])
    vid = cars["vehicles"][0]["id"]
    await st.data(SET_TAGS, {"v": vid, "t": ["04500C00"]}, token=token)
    await st.sim("/sim/faults", {"vendor": "smartcar", "stale": ["VINSOCLVL01"]})  # its cloud keeps 45 %
    await st.sim("/sim/vehicle", {"vin": "VINSOCLVL01", "soc": 0.70})
    c = await link_ocpp(st, token, "CP-SOCLVL")
    await st.sim("/sim/plug", {"vin": "VINSOCLVL01", "serialNumber": "CP-SOCLVL"})
    query = "{ viewer { chargingSessions { chargerId vehicleId endedAt startBatteryLevel endBatteryLevel } } }"

    async def session(ended: bool) -> dict | None:
        found = [s for s in (await st.data(query, token=token))["viewer"]["chargingSessions"]
                 if s["chargerId"] == c["id"] and s["vehicleId"] == vid and (s["endedAt"] is not None) == ended]
        return found[0] if found and found[0]["startBatteryLevel"] is not None else None
    # a card is quicker than the charger's first SoC: the start level may be the cloud's 45 % for a
    # moment, until the charger's reading (newer than the cloud's, from the session) replaces it
    async def from_the_charger() -> dict | None:
        found = await session(False)
        return found if found and found["startBatteryLevel"] >= 69.0 else None
    started = await flows.wait_for(from_the_charger, 20, every=0.3)
    assert started["startBatteryLevel"] <= 72.0, started
    await st.sim("/sim/unplug", {"vin": "VINSOCLVL01"})
    ended = await flows.wait_for(lambda: session(True), 20, every=0.3)
    assert started["startBatteryLevel"] <= ended["endBatteryLevel"] <= 72.0, ended


async def test_a_car_swapped_while_the_charger_was_offline_ends_the_activation(st: Stack) -> None:
    """Car X (its card set) charges, ACTIVE; the charge point drops off the network; meanwhile X
    leaves and car Y is plugged in and started with the charger's own card. Back online, the
    charge point sends the queued StopTransaction and its current status: another transaction
    with another card is another plug session, never X's session resumed. X is no longer ACTIVE
    there (its cloud, stale, cannot say), and the sessions are two."""
    _, token = await make_user(st)
    _, cid, system = await carded_and_plugged(st, token, "CP-SWAP-1", "VINSWAPX001", "04AA0001", "VINSWAPY001")
    await until_counted(st, token, cid)
    await st.sim("/sim/faults", {"vendor": "ocpp", "offline": ["CP-SWAP-1"]})
    await until_charger(st, token, cid, lambda x: not x["isReachable"])
    await st.sim("/sim/unplug", {"vin": "VINSWAPX001"})
    await st.sim("/sim/plug", {"vin": "VINSWAPY001", "serialNumber": "CP-SWAP-1"})
    await st.sim("/sim/faults", {"vendor": "ocpp"})
    await until_charger(st, token, cid, lambda x: x["isReachable"] and x["chargeState"]["isCharging"])

    async def ended() -> dict | None:
        mine = next(s for s in await systems(st, token) if s["id"] == system["id"])
        return mine if mine["status"] != "ACTIVE" else None
    after = await flows.wait_for(ended, 20, every=0.3)
    assert any("new plug session" in e for e in after["evidence"]), after["evidence"]
    assert await first_active(st, token) is None  # Y is nobody's by any evidence: no pair is guessed

    async def two() -> list[dict[str, Any]] | None:  # sessions follow the poll after pairing has decided
        found = await sessions_of(st, token, cid)
        return found if len(found) >= 2 else None
    assert len(await flows.wait_for(two, 15, every=0.2)) == 2
