"""OCPP across processes and restarts: a transaction outlives a central-system restart, and a
worker process commands a charge point whose socket a web process holds (PostgreSQL + Redis)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from adapters.simulator.app import create_app as create_sim
from app.settings import Settings
from app.web import create_app
from tests.conftest import reset_database, settings_for
from tests.e2e import flows
from tests.e2e.conftest import FAST
from tests.e2e.harness import Stack, client, free_port, make_user, serve
from tests.e2e.ocpp_flows import link_ocpp, sim_faults, sim_point, until_charger
from tests.e2e.test_durability import start_worker, stop


async def test_transaction_survives_a_central_system_restart(tmp_path: Path) -> None:
    """Tandem restarts mid-transaction on the same database and URL: the charge point reconnects,
    Tandem still knows its transaction, and a stop and the final StopTransaction work."""
    settings = settings_for(tmp_path, **FAST)
    await reset_database(settings.database_url)
    port = free_port()
    async with serve(create_sim(speed=1.0), lifespan="off") as sim_url, client() as http:
        settings = dataclasses.replace(settings, simulator_url=sim_url)
        async with serve(create_app(settings), port=port) as url:
            st = Stack(url=url, sim_url=sim_url, settings=settings, http=http)
            _, token = await make_user(st)
            await flows.link(st, token, "smartcar", [flows.car("VINRST", soc=0.3)])
            c = await link_ocpp(st, token, "CP-RST")
            await st.sim("/sim/plug", {"vin": "VINRST", "serialNumber": "CP-RST"})
            await until_charger(st, token, c["id"], lambda x: x["chargeState"]["isCharging"])
            tx = (await sim_point(st, "CP-RST"))["transactionId"]
            assert tx and tx > 0
            before = (await sim_point(st, "CP-RST"))["connects"]
        async with serve(create_app(settings), port=port) as url:
            st = Stack(url=url, sim_url=sim_url, settings=settings, http=http)

            async def reconnected() -> bool:
                p = await sim_point(st, "CP-RST")
                return bool(p["connected"] and p["connects"] > before)
            await flows.wait_for(reconnected)
            assert (await sim_point(st, "CP-RST"))["transactionId"] == tx  # the charger kept it
            await until_charger(st, token, c["id"], lambda x: x["isReachable"] and x["chargeState"]["isCharging"])
            stop_action = await flows.action(st, token, "stopCharging", chargerId=c["id"])
            assert (await flows.settled(st, token, stop_action["id"]))["state"] == "CONFIRMED"
            await st.sim("/sim/unplug", {"vin": "VINRST"})
            await until_charger(st, token, c["id"], lambda x: x["chargeState"]["isPluggedIn"] is False)
            assert (await sim_point(st, "CP-RST"))["transactionId"] is None


def _redis_settings(tmp_path: Path) -> Settings:
    settings = settings_for(tmp_path, **{**FAST, "embedded_workers": False})
    if not settings.broadcast_url.startswith("redis"):
        pytest.skip("commands across processes need the Redis broadcast (the PostgreSQL + Redis run)")
    return settings


async def test_worker_process_commands_a_charge_point_held_by_the_web_process(tmp_path: Path) -> None:
    """The web process holds the socket; a `tandem worker` process polls and commands through Redis.
    A charge point connected nowhere fails at once with a reason."""
    settings = _redis_settings(tmp_path)
    await reset_database(settings.database_url)
    async with serve(create_sim(speed=1.0), lifespan="off") as sim_url, client() as http:
        settings = dataclasses.replace(settings, simulator_url=sim_url)
        async with serve(create_app(settings)) as url:
            st = Stack(url=url, sim_url=sim_url, settings=settings, http=http)
            worker = await start_worker(settings)
            try:
                _, token = await make_user(st)
                await flows.link(st, token, "smartcar", [flows.car("VINXP", soc=0.3)])
                c = await link_ocpp(st, token, "CP-XP")
                await st.sim("/sim/plug", {"vin": "VINXP", "serialNumber": "CP-XP"})
                await until_charger(st, token, c["id"], lambda x: x["chargeState"]["isCharging"])
                action = await flows.action(st, token, "setMaxCurrent", chargerId=c["id"], maxCurrent=8.0)
                done = await flows.settled(st, token, action["id"])
                assert done["state"] == "CONFIRMED", done
                box = next(b for b in (await st.http.get(f"{sim_url}/sim/world")).json()["chargers"]
                           if b["serialNumber"] == "CP-XP")
                assert box["dynamic_current"] == pytest.approx(8.0)

                await st.sim("/sim/faults", {"vendor": "ocpp", "offline": ["CP-XP"]})

                async def gone() -> bool:
                    return not (await sim_point(st, "CP-XP"))["connected"]
                await flows.wait_for(gone)
                lost = await flows.action(st, token, "setMaxCurrent", chargerId=c["id"], maxCurrent=12.0)
                failed = await flows.wait_for(lambda: _with_attempt(st, token, lost["id"]))
                assert any("not connected" in (a["detail"] or "") for a in failed["attempts"]), failed
                await sim_faults(st)
            finally:
                await stop(worker)


async def _with_attempt(st: Stack, token: str, action_id: str) -> dict | None:
    a = await flows.action_state(st, token, action_id)
    return a if a["attempts"] else None
