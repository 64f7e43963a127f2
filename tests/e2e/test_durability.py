"""Actions survive a worker crash: SIGKILL a `tandem worker` mid-flight, start another, and every
action still ends, with exactly one command accepted by the vendor per action."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import sys
from pathlib import Path
from typing import Any

from adapters.simulator.app import create_app as create_sim
from app.settings import Settings
from app.web import create_app
from tests.conftest import reset_database, settings_for
from tests.e2e.conftest import FAST
from tests.e2e.flows import ACTION_FIELDS, action, box, car, link, settled, viewer, wait_for
from tests.e2e.harness import Stack, client, make_user, serve

ROOT = Path(__file__).resolve().parents[2]
HOUSEHOLDS = 6
_drains: set[asyncio.Task[None]] = set()


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes `tandem` processes use these settings."""
    return {f"TANDEM_{f.name.upper()}": str(getattr(settings, f.name)) for f in dataclasses.fields(settings)}


async def start_worker(settings: Settings) -> asyncio.subprocess.Process:
    """A `tandem worker` process, started and running."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app.cli", "worker", cwd=ROOT,
        env={**os.environ, **settings_env(settings), "PYTHONUNBUFFERED": "1"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    assert proc.stdout is not None
    while b"running" not in (line := await asyncio.wait_for(proc.stdout.readline(), 60)):
        assert line, "worker exited before running"
    task = asyncio.create_task(_drain(proc))
    _drains.add(task)
    task.add_done_callback(_drains.discard)
    return proc


async def _drain(proc: asyncio.subprocess.Process) -> None:
    assert proc.stdout is not None
    while await proc.stdout.readline():
        pass


async def stop(proc: asyncio.subprocess.Process) -> None:
    """Terminate a worker if it still runs."""
    if proc.returncode is None:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 20)


async def test_pending_actions_finish_after_the_worker_is_killed(tmp_path: Path) -> None:
    # Long verification windows: a resumed action must verify what the dead worker sent, not resend.
    settings = settings_for(tmp_path, **{**FAST, "embedded_workers": False, "verify_charger_s": 15.0,
                                         "verify_vehicle_s": 25.0, "action_timeout_s": 90.0})
    await reset_database(settings.database_url)
    async with serve(create_sim(), lifespan="off") as sim_url:
        settings = dataclasses.replace(settings, simulator_url=sim_url)
        worker = await start_worker(settings)
        try:
            async with serve(create_app(settings)) as url, client() as http:
                st = Stack(url=url, sim_url=sim_url, settings=settings, http=http)
                await _run(st, settings, worker)
        finally:
            await stop(worker)


async def _run(st: Stack, settings: Settings, first: asyncio.subprocess.Process) -> None:
    homes: list[tuple[str, str, str]] = []  # token, vin, serial
    for i in range(HOUSEHOLDS):
        _, token = await make_user(st, f"kill-{i}")
        vin, serial = f"KILL{i:013d}", f"EHK{i:05d}"
        await link(st, token, "smartcar", [car(vin, pushes_on_change=True)])
        await link(st, token, "easee", [box(serial)])
        await st.sim("/sim/plug", {"vin": vin, "serialNumber": serial})
        homes.append((token, vin, serial))

    async def charging_and_active(token: str) -> bool:
        me = await viewer(st, token)
        return me["evSystems"][0]["status"] == "ACTIVE" and bool(me["vehicles"][0]["chargeState"]["isCharging"])

    for token, _, _ in homes:
        await wait_for(lambda t=token: charging_and_active(t), timeout=40)
    # Slow vendors keep the commands in flight when the worker dies.
    for vendor in ("smartcar", "easee"):
        await st.sim("/sim/faults", {"vendor": vendor, "latency_ms": [300, 900]})
    actions = []
    for token, _, _ in homes:
        me = await viewer(st, token)
        actions.append(await action(st, token, "stopCharging", vehicleId=me["vehicles"][0]["id"]))
    assert all(a["state"] == "PENDING" for a in actions)
    await asyncio.sleep(0.8)
    first.send_signal(signal.SIGKILL)
    await first.wait()
    in_flight = [await _action(st, t, a["id"]) for (t, _, _), a in zip(homes, actions, strict=True)]
    assert any(a["state"] == "PENDING" for a in in_flight), "the kill must land while actions are pending"

    second = await start_worker(settings)
    try:
        finished = []
        for (token, _, _), a in zip(homes, actions, strict=True):
            async def done(t: str = token, i: str = a["id"]) -> dict[str, Any] | None:
                got = await _action(st, t, i)
                return got if got["state"] != "PENDING" else None
            finished.append(await wait_for(done, timeout=90, every=0.5))
    finally:
        await stop(second)
    assert [a["state"] for a in finished] == ["CONFIRMED"] * HOUSEHOLDS, finished
    log = (await st.http.get(f"{st.sim_url}/sim/commands")).json()["commands"]
    for (_, vin, serial), a in zip(homes, actions, strict=True):
        sent = [c["command"] for c in log if c["device"] in (vin, serial)]
        assert len(sent) == 1 and sent[0] in ("pause_charging", "charge stop"), (a["id"], sent, a)


async def _action(st: Stack, token: str, action_id: str) -> dict[str, Any]:
    data = await st.data(f"query($i: ID!) {{ action(id: $i) {{ {ACTION_FIELDS} }} }}", {"i": action_id}, token=token)
    return dict(data["action"])


async def test_a_command_sent_before_the_worker_dies_is_recorded_then_verified(tmp_path: Path) -> None:
    """The charger carries out start_charging but its cloud answers late; the worker is killed in
    between. The attempt was written before the command left: it shows SENDING, then UNKNOWN, and
    the next worker confirms the action from device data without sending it again."""
    settings = settings_for(tmp_path, **{**FAST, "embedded_workers": False, "action_timeout_s": 90.0})
    await reset_database(settings.database_url)
    async with serve(create_sim(), lifespan="off") as sim_url:
        settings = dataclasses.replace(settings, simulator_url=sim_url)
        first = await start_worker(settings)
        second: asyncio.subprocess.Process | None = None
        try:
            async with serve(create_app(settings)) as url, client() as http:
                st = Stack(url=url, sim_url=sim_url, settings=settings, http=http)
                _, token = await make_user(st)
                cid = (await link(st, token, "easee", [box("EHS00001")]))["chargers"][0]["id"]
                await st.sim("/sim/accounts", {"vendor": "smartcar", "devices": [car("SENT00000000001")]})
                await st.sim("/sim/plug", {"vin": "SENT00000000001", "serialNumber": "EHS00001"})

                async def charging(want: bool) -> bool:
                    return (await viewer(st, token))["chargers"][0]["chargeState"]["isCharging"] is want

                await wait_for(lambda: charging(True), timeout=30)
                paused = await action(st, token, "stopCharging", chargerId=cid)
                assert (await _settled(st, token, paused["id"]))["state"] == "CONFIRMED"
                await wait_for(lambda: charging(False), timeout=30)
                await st.sim("/sim/faults", {"vendor": "easee", "reply_latency_ms": [5000, 5000]})
                start = await action(st, token, "startCharging", chargerId=cid)

                async def received() -> bool:
                    log = (await st.http.get(f"{sim_url}/sim/commands")).json()["commands"]
                    return any(c["device"] == "EHS00001" and c["command"] == "start_charging" for c in log)

                await wait_for(received, timeout=20, every=0.05)
                first.send_signal(signal.SIGKILL)
                await first.wait()
                shown = await _action(st, token, start["id"])
                assert shown["state"] == "PENDING"
                assert [(a["via"], a["command"], a["outcome"]) for a in shown["attempts"]] == [
                    ("CHARGER", "start_charging", "SENDING")], shown
                second = await start_worker(settings)
                done = await _settled(st, token, start["id"])
                assert done["state"] == "CONFIRMED", done
                (attempt,) = done["attempts"]
                assert (attempt["command"], attempt["outcome"]) == ("start_charging", "UNKNOWN"), done
                assert "the worker stopped while sending" in attempt["detail"]
                assert "device data then showed the requested state" in attempt["detail"]
                log = (await st.http.get(f"{sim_url}/sim/commands")).json()["commands"]
                assert [c["command"] for c in log if c["device"] == "EHS00001"] == ["pause_charging",
                                                                                   "start_charging"]
        finally:
            await stop(first)
            if second is not None:
                await stop(second)


async def _settled(st: Stack, token: str, action_id: str) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        got = await _action(st, token, action_id)
        return got if got["state"] != "PENDING" else None
    return dict(await wait_for(done, timeout=60, every=0.3))


async def test_routing_remembers_a_failing_path_after_the_worker_restarts(tmp_path: Path) -> None:
    from tests.e2e.test_actions import charging, paired

    settings = settings_for(tmp_path, **{**FAST, "embedded_workers": False})
    await reset_database(settings.database_url)
    async with serve(create_sim(), lifespan="off") as sim_url:
        settings = dataclasses.replace(settings, simulator_url=sim_url)
        worker = await start_worker(settings)
        try:
            async with serve(create_app(settings)) as url, client() as http:
                st = Stack(url=url, sim_url=sim_url, settings=settings, http=http)
                _, token = await make_user(st)
                vid, _ = await paired(st, token, car("ROUTE000000000001", pushes_on_change=True), box("EHR00001"))
                await charging(st, token, True)
                # The charger's commands fail: the STOP (led by the charger) falls back to the car,
                # and the charger path's rate drops below the car's.
                await st.sim("/sim/faults", {"vendor": "easee", "command_failure_rate": 1.0})
                first = await settled(st, token, (await action(st, token, "stopCharging", vehicleId=vid))["id"])
                assert first["state"] == "CONFIRMED", str(first)
                assert any(a["via"] == "CHARGER" and a["outcome"] != "ok" for a in first["attempts"]), str(first)
                assert any(a["via"] == "VEHICLE" and a["outcome"] == "ok" for a in first["attempts"]), str(first)
                await st.sim("/sim/faults", {"vendor": "easee"})
                await stop(worker)
                worker = await start_worker(settings)  # a new process: only the database remembers
                second = await settled(st, token, (await action(st, token, "startCharging", vehicleId=vid))["id"])
                assert second["state"] == "CONFIRMED", str(second)
                assert second["attempts"][0]["via"] == "VEHICLE", "the path that failed last time goes second"
        finally:
            await stop(worker)
