"""`tandem serve --demo` end to end: the README walkthrough, and restarting the demo on the same data.

The app is built as `serve --demo` builds it (embedded workers, in-process simulator, default
intervals: chargers every 10 s with their push stream), on a SQLite file that outlives each start.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from app.db.models import Charger, Client, User, UserToken, Vehicle, VendorLink
from app.settings import Settings
from app.web import create_app
from tests.e2e.flows import settled, wait_for
from tests.e2e.harness import Stack, client, serve

README = Path(__file__).resolve().parents[2] / "README.md"


def walkthrough() -> tuple[str, dict[str, Any]]:
    """The README's viewer query and the body of its `/sim/plug` curl."""
    text = README.read_text()
    query = re.search(r"```graphql\n(.*?)```", text, re.S)
    plug = re.search(r"curl -XPOST <simulator>/sim/plug -d '(\{.*?\})'", text)
    assert query and plug, "the README walkthrough has a ```graphql query and a /sim/plug curl"
    return query.group(1), json.loads(plug.group(1))


@asynccontextmanager
async def demo(data: Path) -> AsyncIterator[tuple[Stack, dict[str, str]]]:
    """One `serve --demo` run on the SQLite file in `data`; yields the stack and what it seeded."""
    settings = Settings.from_env({}, database_url=f"sqlite://{data}/tandem.sqlite3", embedded_workers=True)
    app = create_app(settings, demo=True)
    async with serve(app) as url, client() as http:
        info = app.state.demo
        yield Stack(url=url, sim_url=info["simulator"], settings=settings, http=http), info


def failed_polls() -> float:
    """Every failed poll this process counted so far."""
    return sum(s.value for m in REGISTRY.collect() if m.name == "tandem_polls"
               for s in m.samples if s.name == "tandem_polls_total" and s.labels["outcome"] != "ok")


async def all_reachable(st: Stack, token: str) -> dict[str, Any]:
    """The viewer once every asset was polled successfully since this start."""
    async def ok() -> dict[str, Any] | None:
        me = (await st.data("{ viewer { vehicles { id isReachable lastSeen } chargers { id isReachable lastSeen } } }",
                            token=token))["viewer"]
        assets = me["vehicles"] + me["chargers"]
        return me if assets and all(a["isReachable"] and a["lastSeen"] for a in assets) else None
    return dict(await wait_for(ok, timeout=30))


async def test_the_readme_walkthrough_activates_within_a_couple_of_charger_polls(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    query, plug = walkthrough()
    async with demo(tmp_path) as (st, info):
        out = capsys.readouterr().out
        for line in (f"simulator: {info['simulator']}", f"demo user token: {info['user_token']}",
                     f"demo client secret: {info['client_secret']}"):
            assert line in out.splitlines()
        token = info["user_token"]

        async def charger_polled() -> dict[str, Any] | None:  # as a reader of the README sees it
            viewer = (await st.data(query, token=token))["viewer"]
            return dict(viewer) if viewer["chargers"][0]["chargeState"]["isPluggedIn"] is not None else None
        me = await wait_for(charger_polled, timeout=30)
        (car,), (charger,), (system,) = me["vehicles"], me["chargers"], me["evSystems"]
        assert car["information"]["vin"] == plug["vin"]
        assert charger["information"]["serialNumber"] == plug["serialNumber"]
        assert car["capabilities"]["startCharging"]["source"] == "CHARGER"
        assert system["status"] == "ESTABLISHED" and charger["chargeState"]["isPluggedIn"] is False
        async with st.ws(token) as ws:
            assert (await ws.ack())["type"] == "connection_ack"
            await ws.subscribe("subscription { evSystemUpdated { status evidence } }")
            await st.sim("/sim/plug", plug)
            two_charger_polls = 2 * st.settings.charger_poll_s
            await ws.until(lambda d: d["evSystemUpdated"]["status"] == "ACTIVE", timeout=two_charger_polls)
        stop = (await st.data(f'mutation {{ stopCharging(vehicleId: "{car["id"]}") {{ id state }} }}',
                              token=token))["stopCharging"]
        assert stop["state"] == "PENDING"
        done = await settled(st, token, stop["id"], timeout=60)
        assert done["state"] == "CONFIRMED" and [a["via"] for a in done["attempts"]][-1] == "CHARGER"


async def test_restarting_the_demo_leaves_no_dead_user_nor_failing_asset(tmp_path: Path) -> None:
    """Two runs on one data directory: the first run's token no longer works, and every asset in the
    database is the second run's, polled without a failure."""
    async with demo(tmp_path) as (st, first):
        await all_reachable(st, first["user_token"])
    async with demo(tmp_path) as (st, second):
        failures = failed_polls()
        assert second["user_token"] != first["user_token"]
        old = await st.gql("{ viewer { id } }", token=first["user_token"])
        assert old["data"] is None and old["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        me = await all_reachable(st, second["user_token"])
        assert await Client.filter(name="demo").count() == 1
        assert await User.all().count() == 1 and await UserToken.all().count() == 1
        assert {v.id for v in await Vehicle.all()} == {v["id"] for v in me["vehicles"]}
        assert {c.id for c in await Charger.all()} == {c["id"] for c in me["chargers"]}
        assert await VendorLink.all().count() == 2
        await all_reachable(st, second["user_token"])
        assert failed_polls() == failures


async def test_restarting_the_demo_with_fixed_tokens_re_links_the_same_user(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TANDEM_DEMO_CLIENT_SECRET", "tdm_cs_" + "a" * 32)
    monkeypatch.setenv("TANDEM_DEMO_USER_TOKEN", "tdm_ut_" + "b" * 32)
    async with demo(tmp_path) as (st, first):
        before = await all_reachable(st, first["user_token"])
    async with demo(tmp_path) as (st, second):
        failures = failed_polls()
        assert second["user_token"] == first["user_token"] and second["user_id"] == first["user_id"]
        me = await all_reachable(st, second["user_token"])
        assert len(me["vehicles"]) == len(me["chargers"]) == 1
        assert me["vehicles"][0]["id"] != before["vehicles"][0]["id"]  # linked anew, in the new simulator
        assert await Vehicle.all().count() == 1 and await Charger.all().count() == 1
        assert await VendorLink.all().count() == 2
        assert failed_polls() == failures
