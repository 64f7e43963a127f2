"""Websocket limits over real uvicorn: sockets and subscriptions per user, connection_init timeout,
message size, handshake rate limit, and errors answered with codes instead of closed sockets."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import websockets

from tests.e2e.harness import Stack, WsClient, make_user
from tests.e2e.test_edge import edge

SUB = "subscription { chargerUpdated { id } }"


async def closed_with(conn: Any, timeout: float = 10) -> tuple[int, str]:
    """Wait until the server closes `conn`; its close code and reason."""
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(conn.recv(), timeout)
    rcvd = closed.value.rcvd
    assert rcvd is not None
    return rcvd.code, rcvd.reason


async def acked(st: Stack, token: str) -> WsClient:
    ws = await st.ws(token).__aenter__()
    assert (await ws.ack())["type"] == "connection_ack"
    return ws


async def test_sockets_beyond_the_per_user_cap_are_refused(tmp_path: Path) -> None:
    async with edge(tmp_path, max_sockets_per_user=2) as st:
        _, alice = await make_user(st, "alice")
        _, bob = await make_user(st, "bob")
        first, second = await acked(st, alice), await acked(st, alice)
        async with st.ws(alice) as third:
            code, reason = await closed_with(third.conn)
        assert code == 4429 and reason.startswith("TOO_MANY_SOCKETS")
        other = await acked(st, bob)  # another user's slots are their own
        await first.__aexit__()

        async def reopened() -> bool:
            try:
                ws = await acked(st, alice)
            except websockets.ConnectionClosed:
                await asyncio.sleep(0.1)
                return False
            await ws.__aexit__()
            return True

        for _ in range(100):  # the slot comes back once the server has seen the close
            if await reopened():
                break
        else:
            raise AssertionError("slot not released")
        await second.__aexit__()
        await other.__aexit__()


async def test_subscriptions_beyond_the_per_user_cap_are_refused_with_a_code(tmp_path: Path) -> None:
    async with edge(tmp_path, max_subscriptions_per_user=3) as st:
        _, token = await make_user(st)
        a, b = await acked(st, token), await acked(st, token)
        for ws in (a, a, b):
            await ws.subscribe(SUB)
        sid = await b.subscribe(SUB)
        msg = await b.next()
        assert msg["type"] == "error" and msg["id"] == sid
        assert msg["payload"][0]["extensions"] == {"code": "TOO_MANY_SUBSCRIPTIONS", "maxSubscriptions": 3}
        await a.conn.send(json.dumps({"id": "1", "type": "complete"}))
        # a freed slot is usable again: the next subscription reaches its resolver (NOT_FOUND, not the cap)
        for _ in range(100):
            sid = await b.subscribe("subscription { chargerUpdated(id: \"nope\") { id } }")
            msg = await b.next()
            code = msg["payload"][0]["extensions"]["code"] if msg["type"] == "error" else \
                msg["payload"]["errors"][0]["extensions"]["code"]
            if code == "NOT_FOUND":
                break
            assert code == "TOO_MANY_SUBSCRIPTIONS"
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("subscription slot not released")
        await a.__aexit__()
        await b.__aexit__()


async def test_a_socket_without_connection_init_is_closed_4408(tmp_path: Path) -> None:
    async with edge(tmp_path, ws_init_timeout_s=0.5) as st:
        url = st.url.replace("http://", "ws://") + "/graphql"
        async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as conn:  # type: ignore[list-item]
            code, _ = await closed_with(conn)
        assert code == 4408


async def test_errors_over_the_socket_carry_codes_and_keep_it_open(st: Stack) -> None:
    _, token = await make_user(st)
    ws = await acked(st, token)
    for query, code in (("subscription { chargerUpdated(", "GRAPHQL_PARSE_FAILED"),
                        ("subscription { nope }", "GRAPHQL_VALIDATION_FAILED"),
                        ("subscription($i: ID) { chargerUpdated(id: $i) { id } }", "BAD_USER_INPUT")):
        variables = {"i": [1]} if "$i" in query else None
        sid = await ws.subscribe(query, variables)
        msg = await ws.next()
        assert msg["id"] == sid and msg["type"] == "error", msg
        assert msg["payload"][0]["extensions"]["code"] == code, msg
    await ws.conn.send(json.dumps({"type": "ping"}))
    assert (await ws.conn.recv()) and True  # still open: the pong arrives
    await ws.__aexit__()


async def test_a_message_over_the_cap_closes_the_socket_1009(tmp_path: Path) -> None:
    async with edge(tmp_path, max_body_bytes=10_000) as st:
        _, token = await make_user(st)
        ws = await acked(st, token)
        await ws.subscribe("subscription { chargerUpdated { id } } # " + "x" * 20_000)
        code, _ = await closed_with(ws.conn)
        assert code == 1009


async def test_websocket_handshakes_count_against_the_address(tmp_path: Path) -> None:
    async with edge(tmp_path, rate_limit_per_minute=5) as st:
        url = st.url.replace("http://", "ws://") + "/graphql"
        refused: Any = None
        for _ in range(10):
            try:
                async with websockets.connect(url, subprotocols=["graphql-transport-ws"]):  # type: ignore[list-item]
                    pass
            except websockets.InvalidStatus as exc:
                refused = exc.response
                break
        assert refused is not None and refused.status_code == 429
        assert int(refused.headers["Retry-After"]) >= 1
        assert json.loads(refused.body)["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
