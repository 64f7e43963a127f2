"""idTags learnt from an OCPP session the car's own cloud confirmed: the next plug-in with that
card activates at once while the car's cloud lags, and the evidence says the tag was learnt (and
from which session). With TANDEM_OCPP_LEARN_ID_TAGS off nothing is learnt."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import settings_for
from tests.e2e import flows
from tests.e2e.conftest import FAST
from tests.e2e.harness import Stack, make_user, stack
from tests.e2e.ocpp_flows import link_ocpp, until_charger

SET_TAGS = "mutation($v: ID!, $t: [String!]!) { setVehicleIdTags(vehicleId: $v, idTags: $t) { id } }"
TAGS = "{ viewer { vehicles { id idTags learntIdTags } } }"
CARD = "04LEARN1"


@pytest.fixture
async def off(tmp_path: Path) -> AsyncIterator[Stack]:
    """The stack with learning off."""
    async with stack(settings_for(tmp_path, **{**FAST, "ocpp_learn_id_tags": False})) as running:
        yield running


async def system_of(st: Stack, token: str, vehicle_id: str) -> dict[str, Any]:
    found = (await flows.viewer(st, token))["evSystems"]
    return dict(next(s for s in found if s["vehicle"]["id"] == vehicle_id))


async def until_system(st: Stack, token: str, vehicle_id: str, check: Any, timeout: float) -> dict[str, Any]:
    async def look() -> dict[str, Any] | None:
        s = await system_of(st, token, vehicle_id)
        return s if check(s) else None
    return dict(await flows.wait_for(look, timeout, every=0.2))


async def tags(st: Stack, token: str) -> dict[str, tuple[list[str], list[str]]]:
    found = (await st.data(TAGS, token=token))["viewer"]["vehicles"]
    return {v["id"]: (v["idTags"], v["learntIdTags"]) for v in found}


async def first_session(st: Stack) -> tuple[str, str, str, str]:
    """Car A (its own card, a prompt cloud) and car B (a card the user set on it, its cloud
    refreshing every 2 s) and an OCPP charger; A plugs in and its cloud confirms it; A unplugs
    and its cloud says so. Returns (token, A, B, charger)."""
    _, token = await make_user(st)
    cars = await flows.link(st, token, "smartcar", [
        {"kind": "vehicle", "vin": "VINLEARNA01", "pushes_on_change": True, "id_tag": CARD, "soc": 0.4},
        {"kind": "vehicle", "vin": "VINLEARNB01", "vehicle_refresh_s": 2, "id_tag": "B-CARD", "soc": 0.6}])
    ids = {v["information"]["vin"]: v["id"] for v in cars["vehicles"]}
    a, b = ids["VINLEARNA01"], ids["VINLEARNB01"]
    await st.data(SET_TAGS, {"v": b, "t": ["B-CARD"]}, token=token)
    c = await link_ocpp(st, token, "CP-LEARN-1")
    await st.sim("/sim/plug", {"vin": "VINLEARNA01", "serialNumber": "CP-LEARN-1"})
    await until_system(st, token, a, lambda s: s["status"] == "ACTIVE", 30)
    await st.sim("/sim/unplug", {"vin": "VINLEARNA01"})
    await until_system(st, token, a, lambda s: s["status"] == "ESTABLISHED", 20)
    await until_charger(st, token, c["id"], lambda x: x["chargeState"]["isPluggedIn"] is False)

    async def unplugged() -> bool:
        found = (await flows.viewer(st, token))["vehicles"]
        return any(v["id"] == a and v["chargeState"]["isPluggedIn"] is False for v in found)
    await flows.wait_for(unplugged, 20)
    return token, a, b, c["id"]


async def test_a_card_confirmed_by_the_cars_cloud_is_learnt_and_then_names_the_car_at_once(st: Stack) -> None:
    token, a, b, charger_id = await first_session(st)
    first = await system_of(st, token, a)
    assert (await tags(st, token))[a] == ([CARD], [CARD])
    assert (await tags(st, token))[b] == (["B-CARD"], [])
    assert first["status"] == "ESTABLISHED"

    # both clouds now lag: neither can confirm anything; A's learnt card still names it
    await st.sim("/sim/faults", {"vendor": "smartcar", "stale": ["VINLEARNA01", "VINLEARNB01"]})
    await st.sim("/sim/plug", {"vin": "VINLEARNA01", "serialNumber": "CP-LEARN-1"})
    active = await until_system(st, token, a, lambda s: s["status"] == "ACTIVE", 10)
    assert active["charger"]["id"] == charger_id
    evidence = "\n".join(active["evidence"])
    assert f"idTag {CARD}, which Tandem learnt for" in evidence, evidence
    assert "from its session plugged in at" in evidence and "confirmed then by other evidence" in evidence
    assert f"singled out by the learnt idTag {CARD}" in evidence
    assert (await system_of(st, token, b))["status"] == "ESTABLISHED"

    # the user leaves the learnt card out of the vehicle's list: forgotten for it, for good
    await st.data(SET_TAGS, {"v": a, "t": []}, token=token)
    assert (await tags(st, token))[a] == ([], [])


async def test_the_evidence_of_the_teaching_session_says_the_card_was_learnt(st: Stack) -> None:
    _, token = await make_user(st)
    cars = await flows.link(st, token, "smartcar", [
        {"kind": "vehicle", "vin": "VINTEACH001", "pushes_on_change": True, "id_tag": CARD, "soc": 0.4}])
    a = cars["vehicles"][0]["id"]
    await link_ocpp(st, token, "CP-LEARN-2")
    await st.sim("/sim/plug", {"vin": "VINTEACH001", "serialNumber": "CP-LEARN-2"})
    active = await until_system(st, token, a, lambda s: s["status"] == "ACTIVE"
                                and any("learnt for" in e for e in s["evidence"]), 30)
    assert any(e.startswith(f"idTag {CARD} learnt for") for e in active["evidence"]), active["evidence"]
    assert active["evidence"][-1] == "activated"


async def test_with_learning_off_nothing_is_learnt_and_a_lagging_car_waits(off: Stack) -> None:
    token, a, _, _ = await first_session(off)
    assert (await tags(off, token))[a] == ([], [])
    assert not any("learnt" in e for e in (await system_of(off, token, a))["evidence"])
    await off.sim("/sim/faults", {"vendor": "smartcar", "stale": ["VINLEARNA01", "VINLEARNB01"]})
    await off.sim("/sim/plug", {"vin": "VINLEARNA01", "serialNumber": "CP-LEARN-1"})
    waiting = await until_system(off, token, a, lambda s: any("plugged in at" in e for e in s["evidence"])
                                 and any("no data newer than the plug-in" in e for e in s["evidence"]), 10)
    assert waiting["status"] == "ESTABLISHED"
