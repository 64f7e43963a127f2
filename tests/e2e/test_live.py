"""Live updates across processes: a websocket subscriber, events from another OS process via Redis,
hostile messages on the channel, other deployments on the same Redis, and killed connections.

Redis is shared: each stack has a namespace of its own, and only the stack's own connections are
killed (by their CLIENT SETNAME and CLIENT KILL ID).
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis import asyncio as aioredis

from app.runtime import current
from tests.conftest import settings_for
from tests.e2e.conftest import FAST
from tests.e2e.flows import box, car, link, wait_for
from tests.e2e.harness import Stack, make_user, stack
from tests.integration.test_redis_bus import kill_connections_of

ROOT = Path(__file__).resolve().parents[2]
SUB = "subscription($id: ID) { vehicleUpdated(id: $id) { id information { brand } } }"


@pytest.fixture
async def redis_st(tmp_path: Path, redis_url: str) -> AsyncIterator[Stack]:
    """A stack whose broadcast is Redis (whatever the suite's engine), on a namespace of its own."""
    settings = settings_for(tmp_path, **FAST, broadcast_url=redis_url, broadcast_namespace=f"t-{uuid.uuid4().hex}")
    async with stack(settings) as running:
        yield running


async def publish_from_another_process(st: Stack, user_id: str, vehicle_id: str, brand: str,
                                       namespace: str | None = None) -> None:
    """Run tests.e2e.publish_event in a fresh interpreter (by default in the stack's namespace)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.e2e.publish_event", st.settings.database_url, st.settings.broadcast_url,
        namespace or st.settings.broadcast_namespace, user_id, vehicle_id, brand,
        cwd=ROOT, stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()


def brand_is(name: str):  # type: ignore[no-untyped-def]
    """Predicate on a vehicleUpdated payload."""
    return lambda d: d["vehicleUpdated"]["information"]["brand"] == name


async def subscribers(n: int) -> None:
    """Wait until the server has `n` subscriptions registered on its bus."""
    async def enough() -> bool:
        return current().bus.subscriber_count() >= n
    await wait_for(enough, timeout=10, every=0.02)


async def readiness(st: Stack) -> tuple[int, dict]:  # type: ignore[type-arg]
    """Status code and body of /readyz."""
    r = await st.http.get(f"{st.url}/readyz")
    return r.status_code, r.json()


async def test_subscription_receives_another_process_event_and_survives_a_killed_connection(
    redis_st: Stack, redis_url: str
) -> None:
    """Event from a separate process arrives; after the server's pub/sub connection is killed the
    client is resynced and events resume."""
    st = redis_st
    uid, token = await make_user(st)
    vid = (await link(st, token, "smartcar", [car("LIVE0000000000001", make="Kia")]))["vehicles"][0]["id"]
    async with st.ws(token) as ws:
        assert (await ws.ack())["type"] == "connection_ack"
        await ws.subscribe(SUB, {"id": vid})
        await subscribers(1)
        await publish_from_another_process(st, uid, vid, "Renamed-1")
        msg = await ws.until(brand_is("Renamed-1"), timeout=10)
        assert msg["payload"]["data"]["vehicleUpdated"]["id"] == vid

        assert await kill_connections_of(redis_url, current().bus, "pubsub") == 1
        # The server reconnects and resyncs: the subscription re-sends the vehicle unprompted.
        await ws.until(brand_is("Renamed-1"), timeout=15)

        await publish_from_another_process(st, uid, vid, "Renamed-2")
        await ws.until(brand_is("Renamed-2"), timeout=10)


async def test_a_plug_in_after_all_connections_were_killed_still_reaches_subscribers(
        redis_st: Stack, redis_url: str) -> None:
    """The issue's blip: every Redis connection of the process (publisher and subscriber side) is
    killed; the plug-in that follows is still seen by the subscriber (event or resync)."""
    st = redis_st
    _, token = await make_user(st)
    await link(st, token, "smartcar", [car("BLIP0000000000001")])
    cid = (await link(st, token, "easee", [box("EHBLIP001")]))["chargers"][0]["id"]
    async with st.ws(token) as ws:
        await ws.ack()
        await ws.subscribe("subscription($i: ID) { chargerUpdated(id: $i) { id chargeState { isPluggedIn } } }",
                           {"i": cid})
        await subscribers(1)
        assert await kill_connections_of(redis_url, current().bus) >= 2
        await st.sim("/sim/plug", {"vin": "BLIP0000000000001", "serialNumber": "EHBLIP001"})
        await ws.until(lambda d: d["chargerUpdated"]["chargeState"]["isPluggedIn"] is True, timeout=20)
    assert current().bus.dropped_publishes == 0 or current().bus.markers_sent >= 1


async def test_a_hostile_message_does_not_stop_subscriptions_and_readiness_tells(redis_st: Stack) -> None:
    """5,000 nested `[` and a 1 MB blob on the deployment's channel: dropped and counted, the
    subscription keeps working, /readyz stays ok. Readiness turns 503 if dispatch ever stops."""
    st = redis_st
    uid, token = await make_user(st)
    vid = (await link(st, token, "smartcar", [car("LIVE0000000000003")]))["vehicles"][0]["id"]
    bus = current().bus
    raw = aioredis.Redis.from_url(st.settings.broadcast_url)
    try:
        async with st.ws(token) as ws:
            await ws.ack()
            await ws.subscribe(SUB, {"id": vid})
            await subscribers(1)
            await raw.publish(bus.channel, "[" * 5000)
            await raw.publish(bus.channel, "x" * 1_000_000)
            await publish_from_another_process(st, uid, vid, "StillAlive")
            await ws.until(brand_is("StillAlive"), timeout=10)
            assert bus.bad_messages == 2
            code, body = await readiness(st)
            assert code == 200 and body["checks"]["events"] is True
            scraped = (await st.http.get(f"{st.url}/metrics")).text
            assert 'tandem_broadcast_events{kind="bad_messages"} 2.0' in scraped
    finally:
        await raw.aclose()
    assert bus._listener is not None
    bus._listener.cancel()  # what a dispatcher death would look like
    await asyncio.gather(bus._listener, return_exceptions=True)
    code, body = await readiness(st)
    assert code == 503 and body["checks"]["events"] is False


async def test_another_deployment_on_the_same_redis_cannot_inject_events(redis_st: Stack) -> None:
    """A publisher in another namespace (another deployment, any other database number) is not heard."""
    st = redis_st
    uid, token = await make_user(st)
    vid = (await link(st, token, "smartcar", [car("LIVE0000000000004")]))["vehicles"][0]["id"]
    async with st.ws(token) as ws:
        await ws.ack()
        await ws.subscribe(SUB, {"id": vid})
        await subscribers(1)
        await publish_from_another_process(st, uid, vid, "Injected", namespace=f"other-{uuid.uuid4().hex}")
        with pytest.raises(TimeoutError):
            await ws.until(lambda d: True, timeout=2)
        await publish_from_another_process(st, uid, vid, "Own")
        # the row was changed by both; only our deployment's event made the server re-read it
        await ws.until(brand_is("Own"), timeout=10)


async def test_other_users_events_never_reach_a_subscriber(redis_st: Stack) -> None:
    """Scoping holds across processes: bob's subscription sees nothing of alice's vehicle."""
    st = redis_st
    alice, alice_token = await make_user(st, "alice")
    _, bob_token = await make_user(st, "bob")
    vid = (await link(st, alice_token, "smartcar", [car("LIVE0000000000002")]))["vehicles"][0]["id"]
    async with st.ws(bob_token) as ws:
        await ws.ack()
        await ws.subscribe("subscription { vehicleUpdated { id } }")
        await subscribers(1)
        await publish_from_another_process(st, alice, vid, "Secret")
        with pytest.raises(TimeoutError):
            await ws.until(lambda d: True, timeout=2)


async def test_many_subscribers_of_one_user_share_one_read_per_change(st: Stack) -> None:
    """50 subscriptions of one user's charger: each gets the new state, read from the database once
    per change rather than once per subscriber."""
    from resolvers import live

    _, token = await make_user(st)
    await link(st, token, "smartcar", [car("FAN00000000000001")])
    cid = (await link(st, token, "easee", [box("EHFAN0001")]))["chargers"][0]["id"]
    q = "subscription($i: ID) { chargerUpdated(id: $i) { id chargeState { isPluggedIn } evSystems { id } } }"
    clients = [st.ws(token) for _ in range(5)]
    for c in clients:
        await c.__aenter__()
        await c.ack()
        for _ in range(10):
            await c.subscribe(q, {"i": cid})
    try:
        await subscribers(50)
        before = live.graphs.keys_loaded
        await st.sim("/sim/plug", {"vin": "FAN00000000000001", "serialNumber": "EHFAN0001"})
        for c in clients:
            for _ in range(10):
                await c.until(lambda d: d["chargerUpdated"]["chargeState"]["isPluggedIn"] is True, timeout=20)
        assert live.graphs.keys_loaded - before < 10  # one per change (a plug-in may publish twice), not 50
    finally:
        for c in clients:
            await c.__aexit__(None, None, None)
