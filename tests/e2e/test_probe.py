"""The opt-in probe: when two cars fit one charger equally, pausing it tells them apart.

The probe lives in the database: a worker killed mid-probe leaves it to the next (which neither
probes twice nor reads the pause as a car contradicting the charger), its pause and resume are
internal actions the user never sees, and a user's STOP during the pause is judged on its own.
"""

from __future__ import annotations

import asyncio
import dataclasses
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.simulator.app import create_app as create_sim
from app.web import create_app
from tests.conftest import reset_database, settings_for
from tests.e2e.conftest import FAST
from tests.e2e.flows import action, box, car, link, settled, viewer, wait_for
from tests.e2e.harness import Stack, make_user, serve, stack
from tests.e2e.test_durability import start_worker, stop

HOME, AWAY, BOX, PUBLIC = "HOME0000000000001", "AWAY0000000000001", "EH700001", "EHPUBLIC1"
PROBING = {**FAST, "allow_probe": True, "probe_s": 15.0}


@pytest.fixture
async def probing(tmp_path: Path) -> AsyncIterator[Stack]:
    """A stack that may probe, with a short confirmation window and probe."""
    async with stack(settings_for(tmp_path, **PROBING)) as running:
        yield running


async def _ambiguous(st: Stack, token: str) -> list[dict[str, Any]]:
    """Two cars of the user plug in at the same moment, at the same rate: only one of them on the
    user's charger (the other on someone else's). Returns the user's cars once the EV systems
    say both fit, before any probe."""
    cars = (await link(st, token, "smartcar", [car(HOME, pushes_on_change=True),
                                                car(AWAY, pushes_on_change=True)]))["vehicles"]
    await link(st, token, "easee", [box(BOX)])
    await st.sim("/sim/accounts", {"vendor": "easee", "devices": [box(PUBLIC)]})  # someone else's charger
    await wait_for(lambda: _all_reachable(st, token), timeout=15)
    # The other one first: were it plugged in after our charger's plug-in was seen, a poll in
    # between would find it quiet and rightly single out the home car without a probe.
    await st.sim("/sim/plug", {"vin": AWAY, "serialNumber": PUBLIC})
    await st.sim("/sim/plug", {"vin": HOME, "serialNumber": BOX})

    async def ambiguous() -> list[dict[str, Any]] | None:
        systems = (await viewer(st, token))["evSystems"]
        return systems if any("fit" in e and "not" in e for s in systems for e in s["evidence"]) else None

    systems = await wait_for(ambiguous, timeout=20)
    assert all(s["status"] == "ESTABLISHED" for s in systems), "two cars fit: no guess before the probe"
    return list(cars)


def _id_of(cars: list[dict[str, Any]], vin: str) -> str:
    return str(next(c["id"] for c in cars if c["information"]["vin"] == vin))


async def _active(st: Stack, token: str) -> list[dict[str, Any]]:
    return [s for s in (await viewer(st, token))["evSystems"] if s["status"] == "ACTIVE"]


async def _box(st: Stack) -> dict[str, Any]:
    world = (await st.http.get(f"{st.sim_url}/sim/world")).json()
    return dict(next(b for b in world["chargers"] if b["serialNumber"] == BOX))


async def _paused_by_probe(st: Stack) -> bool:
    return bool((await _box(st))["paused"])


async def _resumed(st: Stack) -> bool:
    b = await _box(st)
    return not b["paused"] and b["power_kw"] > 0


async def _commands(st: Stack) -> list[str]:
    """The commands the charger's cloud accepted, in order, repeats folded: an action re-sends
    its command when the charger is slow to follow, but a second probe would pause it again
    after the resume."""
    log = (await st.http.get(f"{st.sim_url}/sim/commands")).json()["commands"]
    sent = [c["command"] for c in log if c["device"] == BOX]
    return [c for i, c in enumerate(sent) if i == 0 or sent[i - 1] != c]


async def test_a_probe_singles_out_the_car_that_stops_and_resumes_the_charger(probing: Stack) -> None:
    st = probing
    _, token = await make_user(st)
    async with st.ws(token) as ws:
        await ws.ack()
        await ws.subscribe("subscription { actionUpdated { id kind state } }")
        cars = await _ambiguous(st, token)
        done = await wait_for(lambda: _active(st, token), timeout=FAST["confirm_window_s"] + 40)
        assert [s["vehicle"]["id"] for s in done] == [_id_of(cars, HOME)]
        assert any(e.startswith("probe at") and "only" in e for e in done[0]["evidence"])
        assert await wait_for(lambda: _resumed(st), timeout=20), "the probe restores charging"
        assert await _commands(st) == ["pause_charging", "start_charging"], "one pause, one resume"
        # The probe's pause and resume are internal: the user's first action event is their own.
        mine = await action(st, token, "setMaxCurrent", chargerId=(await viewer(st, token))["chargers"][0]["id"],
                            maxCurrent=10.0)
        first = await ws.until(lambda d: "actionUpdated" in d, timeout=20)
        assert first["payload"]["data"]["actionUpdated"]["id"] == mine["id"]


async def test_a_users_stop_during_the_probe_is_judged_on_its_own(probing: Stack) -> None:
    st = probing
    _, token = await make_user(st)
    await _ambiguous(st, token)
    assert await wait_for(lambda: _paused_by_probe(st), timeout=FAST["confirm_window_s"] + 20)
    # The cars' cloud fails from now on: the probe would wait its whole window for them.
    await st.sim("/sim/faults", {"vendor": "smartcar", "failure_rate": 1.0})
    charger_id = (await viewer(st, token))["chargers"][0]["id"]
    stop_ = await action(st, token, "stopCharging", chargerId=charger_id)
    assert stop_["state"] == "PENDING", "the charger is stopped by the probe, not by the user: not UNNECESSARY"
    await st.sim("/sim/faults", {"vendor": "smartcar"})
    done = await settled(st, token, stop_["id"], timeout=60)
    assert done["state"] == "CONFIRMED", done
    # Judged on its own: the probe resumed the charger first, then the user's STOP was sent
    # (again if the charger was slow to follow).
    sent = {(a["via"], a["command"], a["outcome"]) for a in done["attempts"]}
    assert sent == {("CHARGER", "stop_charging", "ok")}, done["attempts"]
    assert (await _commands(st)) == ["pause_charging", "start_charging", "pause_charging"]
    assert await _paused_by_probe(st), "the charger stays stopped, as the user asked"

    async def recorded() -> list[dict[str, Any]] | None:  # the probe records its end after its resume ended
        found = (await viewer(st, token))["evSystems"]
        return found if any("ended early" in e for s in found for e in s["evidence"]) else None
    systems = await wait_for(recorded, timeout=15)
    assert all(s["status"] == "ESTABLISHED" for s in systems)


async def test_a_worker_killed_mid_probe_leaves_it_to_the_next(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, **{**PROBING, "probe_s": 25.0, "embedded_workers": False})
    await reset_database(settings.database_url)
    async with serve(create_sim(), lifespan="off") as sim_url:
        settings = dataclasses.replace(settings, simulator_url=sim_url)
        first = await start_worker(settings)
        second: asyncio.subprocess.Process | None = None
        try:
            async with serve(create_app(settings)) as url, httpx.AsyncClient(timeout=20) as http:
                st = Stack(url=url, sim_url=sim_url, settings=settings, http=http)
                _, token = await make_user(st)
                cars = await _ambiguous(st, token)
                assert await wait_for(lambda: _paused_by_probe(st), timeout=FAST["confirm_window_s"] + 30)
                first.send_signal(signal.SIGKILL)  # mid-probe: the charger is paused
                await first.wait()
                second = await start_worker(settings)
                done = await wait_for(lambda: _active(st, token), timeout=90)
                assert [s["vehicle"]["id"] for s in done] == [_id_of(cars, HOME)]
                probe_lines = [e for e in done[0]["evidence"] if e.startswith("probe at")]
                assert len(probe_lines) == 1 and "only" in probe_lines[0], done[0]["evidence"]
                assert not any("excluded" in e for e in done[0]["evidence"]), done[0]["evidence"]
                assert await wait_for(lambda: _resumed(st), timeout=30), "the next worker restores charging"
                assert await _commands(st) == ["pause_charging", "start_charging"], "probed once"
        finally:
            await stop(first)
            if second is not None:
                await stop(second)


async def _all_reachable(st: Stack, token: str) -> bool:
    me = await viewer(st, token)
    return all(v["isReachable"] for v in me["vehicles"]) and all(c["isReachable"] for c in me["chargers"])
