"""The opt-in probe: when two cars fit one charger equally, pausing it tells them apart."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import settings_for
from tests.e2e.conftest import FAST
from tests.e2e.flows import box, car, link, viewer, wait_for
from tests.e2e.harness import Stack, make_user, stack


@pytest.fixture
async def probing(tmp_path: Path) -> AsyncIterator[Stack]:
    """A stack that may probe, with a short confirmation window and probe."""
    async with stack(settings_for(tmp_path, **{**FAST, "allow_probe": True, "probe_s": 15.0})) as running:
        yield running


async def test_a_probe_singles_out_the_car_that_stops_and_resumes_the_charger(probing: Stack) -> None:
    st = probing
    _, token = await make_user(st)
    cars = (await link(st, token, "smartcar", [car("HOME0000000000001", pushes_on_change=True),
                                                car("AWAY0000000000001", pushes_on_change=True)]))["vehicles"]
    await link(st, token, "easee", [box("EH700001")])
    await st.sim("/sim/accounts", {"vendor": "easee", "devices": [box("EHPUBLIC1")]})  # someone else's charger
    await wait_for(lambda: _all_reachable(st, token), timeout=15)
    # Both cars plug in at the same moment, at the same rate: only one of them is on our charger.
    # (The other one first: were it plugged in after our charger's plug-in was seen, a poll in
    # between would find it quiet and rightly single out the home car without a probe.)
    await st.sim("/sim/plug", {"vin": "AWAY0000000000001", "serialNumber": "EHPUBLIC1"})
    await st.sim("/sim/plug", {"vin": "HOME0000000000001", "serialNumber": "EH700001"})

    async def ambiguous() -> list[dict[str, Any]] | None:
        systems = (await viewer(st, token))["evSystems"]
        return systems if any("fit" in e and "not" in e for s in systems for e in s["evidence"]) else None

    systems = await wait_for(ambiguous, timeout=15)
    assert all(s["status"] == "ESTABLISHED" for s in systems), "two cars fit: no guess before the probe"

    async def active() -> list[dict[str, Any]]:
        return [s for s in (await viewer(st, token))["evSystems"] if s["status"] == "ACTIVE"]

    done = await wait_for(active, timeout=FAST["confirm_window_s"] + 40)
    home = next(c["id"] for c in cars if c["information"]["vin"] == "HOME0000000000001")
    assert [s["vehicle"]["id"] for s in done] == [home]
    assert any(e.startswith("probe at") and "only" in e for e in done[0]["evidence"])

    async def resumed() -> bool:
        world = (await st.http.get(f"{st.sim_url}/sim/world")).json()
        box_state = next(b for b in world["chargers"] if b["serialNumber"] == "EH700001")
        return not box_state["paused"] and box_state["power_kw"] > 0

    assert await wait_for(resumed, timeout=20), "the probe restores charging"


async def _all_reachable(st: Stack, token: str) -> bool:
    me = await viewer(st, token)
    return all(v["isReachable"] for v in me["vehicles"]) and all(c["isReachable"] for c in me["chargers"])
