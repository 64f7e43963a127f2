"""End-to-end harness: a real uvicorn serving Tandem, a real simulator, real HTTP and websockets."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal

import httpx
import uvicorn
import websockets

from app.settings import Settings
from app.web import create_app


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


#: uvicorn closes a connection idle for 5 s (its `timeout_keep_alive`); a client that keeps one
#: idle as long (httpx's default) may send on it just as the server closes it: httpx.ReadError.
CLIENT_KEEPALIVE_S = 2.0


def client(timeout: float = 20) -> httpx.AsyncClient:
    """An HTTP client for servers under test: it lets idle connections go before uvicorn does."""
    return httpx.AsyncClient(timeout=timeout, limits=httpx.Limits(keepalive_expiry=CLIENT_KEEPALIVE_S))


@asynccontextmanager
async def serve(app: Any, port: int | None = None,
                lifespan: Literal["auto", "on", "off"] = "on", ws_compression: bool = False) -> AsyncIterator[str]:
    """Serve an ASGI app with a real uvicorn on a free port (permessage-deflate as `tandem serve`
    with TANDEM_WS_COMPRESSION = `ws_compression`); yields its base URL."""
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan=lifespan, ws="websockets-sansio",
                                           ws_per_message_deflate=ws_compression))
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started or task.done():
            break
        await asyncio.sleep(0.02)
    if task.done():
        task.result()
        raise RuntimeError("server did not start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)


@dataclass
class Stack:
    """A running Tandem and simulator."""

    url: str
    sim_url: str
    settings: Settings
    http: httpx.AsyncClient

    async def gql(self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
                  ) -> dict[str, Any]:
        """POST a GraphQL operation; returns the whole JSON response."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        r = await self.http.post(f"{self.url}/graphql", json={"query": query, "variables": variables or {}},
                                 headers=headers)
        assert r.status_code in (200, 400), r.text
        return dict(r.json())

    async def data(self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
                   ) -> dict[str, Any]:
        """POST a GraphQL operation that must succeed; returns `data`."""
        body = await self.gql(query, variables, token)
        assert not body.get("errors"), body["errors"]
        return dict(body["data"])

    async def sim(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST to a simulator control endpoint."""
        r = await self.http.post(f"{self.sim_url}{path}", json=body)
        assert r.status_code < 300, r.text
        return dict(r.json())

    def ws(self, token: str | None) -> WsClient:
        """A graphql-transport-ws client (use `async with`)."""
        return WsClient(self.url.replace("http://", "ws://") + "/graphql", token)


class WsClient:
    """A minimal graphql-transport-ws client over the `websockets` library."""

    def __init__(self, url: str, token: str | None) -> None:
        self.url = url
        self.token = token
        self.conn: Any = None
        self._ids = 0

    async def __aenter__(self) -> WsClient:
        self.conn = await websockets.connect(self.url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
        payload = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        await self.conn.send(json.dumps({"type": "connection_init", "payload": payload}))
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.conn.close()

    async def ack(self, timeout: float = 5) -> dict[str, Any]:
        """The server's answer to connection_init."""
        return dict(json.loads(await asyncio.wait_for(self.conn.recv(), timeout)))

    async def subscribe(self, query: str, variables: dict[str, Any] | None = None) -> str:
        """Start a subscription; returns its id."""
        self._ids += 1
        sid = str(self._ids)
        await self.conn.send(json.dumps({"id": sid, "type": "subscribe",
                                         "payload": {"query": query, "variables": variables or {}}}))
        return sid

    async def next(self, timeout: float = 10) -> dict[str, Any]:
        """The next message (pings answered)."""
        while True:
            msg = json.loads(await asyncio.wait_for(self.conn.recv(), timeout))
            if msg.get("type") == "ping":
                await self.conn.send(json.dumps({"type": "pong"}))
                continue
            return dict(msg)

    async def until(self, predicate: Any, timeout: float = 30) -> dict[str, Any]:
        """Wait for a `next` payload whose data satisfies `predicate`."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while True:
            left = end - loop.time()
            if left <= 0:
                raise TimeoutError("no matching subscription event")
            msg = await self.next(left)
            if msg.get("type") == "next" and predicate(msg["payload"].get("data") or {}):
                return msg
            if msg.get("type") == "error":
                raise AssertionError(msg)


@asynccontextmanager
async def stack(settings: Settings, *, sim_speed: float = 1.0) -> AsyncIterator[Stack]:
    """Start the simulator and Tandem (with embedded workers) on real sockets."""
    import dataclasses

    from adapters.simulator.app import create_app as create_sim
    from tests.conftest import reset_database

    await reset_database(settings.database_url)
    async with serve(create_sim(speed=sim_speed), lifespan="off") as sim_url:
        settings = dataclasses.replace(settings, simulator_url=sim_url)
        async with (serve(create_app(settings), ws_compression=settings.ws_compression) as url,
                    client() as http):
            yield Stack(url=url, sim_url=sim_url, settings=settings, http=http)


async def make_user(st: Stack, external_id: str = "u1") -> tuple[str, str]:
    """A client, a user and its token, created through the API; returns (user id, token)."""
    from app.services.accounts import create_client

    _, secret = await create_client("tests")
    created = await st.data('mutation($e: String!) { createUser(externalId: $e) { id } }', {"e": external_id},
                            token=secret)
    uid = created["createUser"]["id"]
    tok = await st.data('mutation($u: ID!) { createUserToken(userId: $u) { token } }', {"u": uid}, token=secret)
    return uid, tok["createUserToken"]["token"]
