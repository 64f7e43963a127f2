"""Revocations reach every web process: cached principals are dropped and open websockets of a
revoked (or expired) user token are closed, which ends their subscriptions.

A revocation is applied in the process that made it at once and announced on the broadcast
(pseudo-user channel `AUTH_CHANNEL`); every web process follows it (`follow`). Should the
broadcast lose messages, the subscriber gets a Resync: it drops its whole token cache and closes
the open sockets of tokens revoked meanwhile; cached entries live at most 30 s anyway
(app/auth.py).

Websockets are closed with code 4403 (as a refused `connection_init` is), reason
"token revoked" or "token expired".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from typing import Any, Protocol

from app import auth
from app.db import column
from app.events import Event, EventBus

log = logging.getLogger("tandem.auth")
AUTH_CHANNEL = "__auth__"
TOPIC_USER_TOKEN = "user_token"
TOPIC_CLIENT_SECRET = "client_secret"
CLOSE_CODE = 4403


class Closable(Protocol):
    """A websocket (Starlette's) as far as closing it goes."""

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        """Close the connection."""


_sockets: dict[str, weakref.WeakSet[Any]] = {}
_tasks: set[asyncio.Task[None]] = set()


async def _close(ws: Closable, reason: str) -> None:
    with contextlib.suppress(Exception):  # already closed or closing
        await ws.close(code=CLOSE_CODE, reason=reason)


def _spawn(ws: Closable, reason: str) -> None:
    task = asyncio.get_running_loop().create_task(_close(ws, reason))
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


def watch_socket(principal: auth.Principal, ws: Closable) -> None:
    """Close `ws` when the user token it authenticated with is revoked or expires."""
    if principal.token_id is None:
        return
    if len(_sockets) > 1000:  # drop tokens whose sockets are all gone
        for token_id in [t for t, socks in _sockets.items() if not socks]:
            del _sockets[token_id]
    _sockets.setdefault(principal.token_id, weakref.WeakSet()).add(ws)
    if principal.expires_at is not None:
        delay = max(0.0, (principal.expires_at - auth.utcnow()).total_seconds())
        ref = weakref.ref(ws)

        def expire() -> None:
            target = ref()
            if target is not None:
                _spawn(target, "token expired")

        asyncio.get_running_loop().call_later(delay, expire)


def apply(topic: str, object_id: str) -> None:
    """Act on a revocation in this process: drop cached principals, close sockets."""
    if topic == TOPIC_USER_TOKEN:
        auth.forget(token_id=object_id)
        for ws in list(_sockets.pop(object_id, ())):
            _spawn(ws, "token revoked")
    elif topic == TOPIC_CLIENT_SECRET:
        auth.forget(client_id=object_id)


async def announce(bus: EventBus | None, topic: str, object_id: str) -> None:
    """Apply a revocation here and tell every other process."""
    apply(topic, object_id)
    if bus is not None:
        await bus.publish(Event(topic=topic, user_id=AUTH_CHANNEL, object_id=object_id))


async def follow(bus: EventBus) -> None:
    """Apply every announced revocation until cancelled (run one per web process)."""
    async with bus.subscribe(AUTH_CHANNEL) as sub:
        async for item in sub:
            if isinstance(item, Event):
                apply(item.topic, item.object_id)
            else:
                auth.forget_cached()
                await recheck_sockets()


async def recheck_sockets() -> None:
    """Close the open sockets of tokens revoked meanwhile (after notices may have been missed)."""
    from app.db.models import UserToken

    open_ids = [t for t, socks in _sockets.items() if socks]
    if open_ids:
        for token_id in await column(UserToken.filter(id__in=open_ids, revoked_at__isnull=False), "id"):
            apply(TOPIC_USER_TOKEN, token_id)
