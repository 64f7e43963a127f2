"""A revocation made on one web process reaches another at once (through the broadcast): its
cached principal is dropped and its open websocket of the revoked token is closed."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sys
from pathlib import Path

import httpx
import pytest
import websockets

from app.web import create_app
from tests.conftest import reset_database, settings_for
from tests.e2e.flows import wait_for
from tests.e2e.harness import Stack, WsClient, client, free_port, make_user, serve
from tests.e2e.test_durability import settings_env

ROOT = Path(__file__).resolve().parents[2]


async def _web_process(env: dict[str, str], port: int) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app.cli", "serve", "--port", str(port), cwd=ROOT,
        env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)

    async def up() -> bool:
        assert proc.returncode is None, "the second web process exited"
        try:
            async with client(2) as http:
                return (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200
        except httpx.HTTPError:
            return False

    await wait_for(up, timeout=60)
    return proc


async def test_revoking_on_one_process_refuses_the_token_on_another(tmp_path: Path, redis_url: str) -> None:
    settings = settings_for(tmp_path, broadcast_url=redis_url, embedded_workers=False)
    await reset_database(settings.database_url)
    async with serve(create_app(settings)) as url, client() as http:
        st = Stack(url=url, sim_url="", settings=settings, http=http)
        port = free_port()
        other = await _web_process(settings_env(dataclasses.replace(settings, port=port)), port)
        try:
            st_b = Stack(url=f"http://127.0.0.1:{port}", sim_url="", settings=settings, http=http)
            uid, token = await make_user(st, "alice")
            assert (await st_b.data("{ viewer { id } }", token=token))["viewer"]["id"] == uid  # B caches it
            tokens = await st.data("{ viewer { tokens { id } } }", token=token)
            token_id = tokens["viewer"]["tokens"][0]["id"]
            async with WsClient(st_b.url.replace("http://", "ws://") + "/graphql", token) as ws:
                assert (await ws.ack())["type"] == "connection_ack"
                await ws.subscribe("subscription { vehicleUpdated { id } }")
                await st.data('mutation($i: ID!) { revokeUserToken(id: $i) { id } }', {"i": token_id}, token=token)
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await ws.next(timeout=10)
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403

            async def refused_on_b() -> bool:
                body = await st_b.gql("{ viewer { id } }", token=token)
                return bool(body.get("errors")) and body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

            # well within the 30 s a cached principal would otherwise live: the notice dropped it
            await wait_for(refused_on_b, timeout=10)
        finally:
            other.terminate()
            await asyncio.wait_for(other.wait(), 20)
