"""TANDEM_WS_COMPRESSION reaches the web process's uvicorn: a client offering permessage-deflate gets
it back only when the setting is on (real uvicorn from `server_config`, real websocket client)."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest
import uvicorn
import websockets

from app.cli import server_config
from app.settings import Settings
from tests.e2e.harness import free_port


async def _accept_and_echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A bare ASGI websocket app: accept, echo text until the client leaves."""
    assert scope["type"] == "websocket"
    await receive()
    await send({"type": "websocket.accept"})
    while (msg := await receive())["type"] == "websocket.receive":
        await send({"type": "websocket.send", "text": msg.get("text") or ""})


@pytest.mark.parametrize(("env", "negotiated"), [({}, False), ({"TANDEM_WS_COMPRESSION": "true"}, True)])
async def test_permessage_deflate_follows_the_setting(env: dict[str, str], negotiated: bool) -> None:
    settings = dataclasses.replace(Settings.from_env(env, database_url="sqlite://:memory:"), port=free_port())
    config = server_config(_accept_and_echo, settings)
    config.lifespan = "off"
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not task.done(), "server did not start"
            await asyncio.sleep(0.01)
        url = f"ws://{settings.host}:{settings.port}/"
        async with websockets.connect(url, compression="deflate") as ws:
            extensions = ws.response.headers.get("Sec-WebSocket-Extensions") or ""
            await ws.send('{"type":"ping"}')
            assert await ws.recv() == '{"type":"ping"}'
        assert ("permessage-deflate" in extensions) is negotiated, extensions
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
