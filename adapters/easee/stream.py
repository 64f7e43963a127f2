"""Easee's push channel, read as "which chargers changed" (adapters/simulator/easee_stream.py
serves it; docs/vendor-api.md describes it).

The stream only says *that* a charger changed; the poller then reads the charger's state over
REST, so state has one source and a lost message costs no more than the next regular poll.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from adapters import errors as e

#: Easee's observation id of the charger's operating mode (plug, charge and pause show in it).
OP_MODE = 109
REVOKED = 4401


def stream_url(base_url: str) -> str:
    """The websocket URL of the streaming API below the REST base URL."""
    url = httpx.URL(base_url.rstrip("/") + "/streaming")
    return str(url.copy_with(scheme="wss" if url.scheme == "https" else "ws"))


def changed_charger(raw: str | bytes) -> str | None:
    """The charger a stream message is about when it reports an operating-mode change, else None.
    A message that is not a JSON object with a string `mid` is a BadResponse."""
    try:
        msg: Any = json.loads(raw)
    except ValueError:
        raise e.BadResponse("charger stream sent non-JSON") from None
    if not isinstance(msg, dict) or not isinstance(msg.get("mid"), str):
        raise e.BadResponse("charger stream sent an unexpected shape")
    return msg["mid"] if msg.get("id") == OP_MODE else None


async def watch(base_url: str, token: str, timeout_s: float) -> AsyncIterator[str]:
    """Charger ids as the cloud reports their operating mode changing, until the stream ends.

    Raises AuthRevoked when the cloud refuses the token, Unreachable when the connection fails
    or drops, BadResponse on a malformed message.
    """
    try:
        async with connect(stream_url(base_url), additional_headers={"Authorization": f"Bearer {token}"},
                           open_timeout=timeout_s, close_timeout=2, max_size=2**16, proxy=None,
                           user_agent_header="tandem") as ws:
            async for raw in ws:
                if (cid := changed_charger(raw)) is not None:
                    yield cid
    except InvalidStatus as exc:
        if exc.response.status_code in (401, 403):
            raise e.AuthRevoked("vendor refused the stream's access token") from None
        raise e.Unreachable(f"charger stream refused ({exc.response.status_code})") from None
    except ConnectionClosed as exc:
        if exc.rcvd is not None and exc.rcvd.code == REVOKED:
            raise e.AuthRevoked("vendor closed the stream: access token revoked") from None
        raise e.Unreachable("charger stream dropped") from None
    except (OSError, TimeoutError, WebSocketException) as exc:
        raise e.Unreachable(f"charger stream failed ({type(exc).__name__})") from None
    raise e.Unreachable("charger stream ended")
