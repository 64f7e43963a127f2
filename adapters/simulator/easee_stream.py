"""The Easee-shaped cloud's push channel: a websocket that streams charger observations.

Shaped after Easee's streaming API (SignalR `ProductUpdate` messages): one connection per
account, authenticated like the REST API (`Authorization: Bearer`), and a message whenever a
charger's operating mode (observation 109, `ChargerOpMode`) changes:

    {"mid": "EH000001", "dataType": 4, "id": 109, "timestamp": "...", "value": "3"}

The cloud checks its chargers every `TICK_S` real seconds, so a change arrives within about a
second, as Easee's stream does. A revoked token closes the stream with code 4401; an offline
charger streams mode 0.
"""

from __future__ import annotations

import asyncio
import contextlib

from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from adapters.simulator.common import Sim, bearer

#: Real seconds between the cloud's looks at an account's chargers.
TICK_S = 1.0
#: Easee's observation id of the charger's operating mode.
OP_MODE = 109
REVOKED = 4401


def routes(sim: Sim) -> list[WebSocketRoute]:
    """The streaming endpoint."""
    world = sim.world

    def modes(devices: list[str]) -> dict[str, int]:
        faults, t = sim.faults["easee"], sim.now()
        return {cid: 0 if faults.is_offline(cid) else world.box_state(world.boxes[cid], t)["mode"]
                for cid in devices if cid in world.boxes}

    def revoked(username: str) -> bool:
        return username in sim.faults["easee"].revoked

    async def stream(ws: WebSocket) -> None:
        acct = world.account_of(bearer(ws))
        if acct is None or acct.vendor != "easee" or revoked(acct.username):
            await ws.close(code=REVOKED)
            return
        await ws.accept()
        last = modes(acct.devices)
        receiving = asyncio.ensure_future(ws.receive())
        sim.streams[acct.username] = sim.streams.get(acct.username, 0) + 1
        try:
            while True:
                done, _ = await asyncio.wait({receiving}, timeout=TICK_S)
                if done:  # the client closed (it sends nothing else)
                    if receiving.result()["type"] == "websocket.disconnect":
                        return
                    receiving = asyncio.ensure_future(ws.receive())
                if revoked(acct.username):
                    await ws.close(code=REVOKED)
                    return
                now = modes(acct.devices)
                for cid, mode in now.items():
                    if last.get(cid) != mode:
                        await ws.send_json({"mid": cid, "dataType": 4, "id": OP_MODE,
                                            "timestamp": sim.stamp("easee", sim.now()), "value": str(mode)})
                last = now
        except WebSocketDisconnect:
            return
        finally:
            sim.streams[acct.username] -= 1
            if not sim.streams[acct.username]:
                del sim.streams[acct.username]
            receiving.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await receiving

    return [WebSocketRoute("/easee/streaming", stream)]
