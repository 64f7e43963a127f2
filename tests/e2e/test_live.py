"""Live updates across processes: a websocket subscriber, an event from another OS process via Redis,
and the subscription surviving a killed Redis connection."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import settings_for
from tests.e2e.conftest import FAST
from tests.e2e.flows import car, link
from tests.e2e.harness import Stack, make_user, stack
from tests.integration.test_redis_bus import kill_pubsub_clients

ROOT = Path(__file__).resolve().parents[2]
SUB = "subscription($id: ID) { vehicleUpdated(id: $id) { id information { brand } } }"


@pytest.fixture
async def redis_st(tmp_path: Path, redis_url: str) -> AsyncIterator[Stack]:
    """A stack whose broadcast is Redis, whatever the suite's engine."""
    async with stack(settings_for(tmp_path, **FAST, broadcast_url=redis_url)) as running:
        yield running


async def publish_from_another_process(st: Stack, user_id: str, vehicle_id: str, brand: str) -> None:
    """Run tests.e2e.publish_event in a fresh interpreter."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.e2e.publish_event", st.settings.database_url, st.settings.broadcast_url,
        user_id, vehicle_id, brand, cwd=ROOT, stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()


def brand_is(name: str):  # type: ignore[no-untyped-def]
    """Predicate on a vehicleUpdated payload."""
    return lambda d: d["vehicleUpdated"]["information"]["brand"] == name


async def test_subscription_receives_another_process_event_and_survives_client_kill(
    redis_st: Stack, redis_url: str
) -> None:
    """Event from a separate process arrives; after CLIENT KILL the client is resynced and events resume."""
    st = redis_st
    uid, token = await make_user(st)
    vid = (await link(st, token, "smartcar", [car("LIVE0000000000001", make="Kia")]))["vehicles"][0]["id"]
    async with st.ws(token) as ws:
        assert (await ws.ack())["type"] == "connection_ack"
        await ws.subscribe(SUB, {"id": vid})
        await asyncio.sleep(0.3)
        await publish_from_another_process(st, uid, vid, "Renamed-1")
        msg = await ws.until(brand_is("Renamed-1"), timeout=10)
        assert msg["payload"]["data"]["vehicleUpdated"]["id"] == vid

        assert await kill_pubsub_clients(redis_url) >= 1
        # The server reconnects and resyncs: the subscription re-sends the vehicle unprompted.
        await ws.until(brand_is("Renamed-1"), timeout=15)

        await publish_from_another_process(st, uid, vid, "Renamed-2")
        await ws.until(brand_is("Renamed-2"), timeout=10)


async def test_other_users_events_never_reach_a_subscriber(redis_st: Stack) -> None:
    """Scoping holds across processes: bob's subscription sees nothing of alice's vehicle."""
    st = redis_st
    alice, alice_token = await make_user(st, "alice")
    _, bob_token = await make_user(st, "bob")
    vid = (await link(st, alice_token, "smartcar", [car("LIVE0000000000002")]))["vehicles"][0]["id"]
    async with st.ws(bob_token) as ws:
        await ws.ack()
        await ws.subscribe("subscription { vehicleUpdated { id } }")
        await asyncio.sleep(0.3)
        await publish_from_another_process(st, alice, vid, "Secret")
        with pytest.raises(TimeoutError):
            await ws.until(lambda d: True, timeout=2)
