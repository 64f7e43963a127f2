"""The central system's hub: which charge points this process holds, and requests to the ones
held elsewhere.

A charge point's websocket lives in one web process. A request for it (from a worker's
orchestrator, or another web process) goes to that process over Redis: each holding process
subscribes `<ns>ocpp:call:<chargePointId>` while it holds the socket, and answers on the
asking process's reply channel. `PUBLISH` says how many processes heard it: none means the
charge point is connected nowhere, which fails at once. With the in-memory broadcast there is
one process, and only local sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from typing import Any

from redis import asyncio as aioredis
from redis.exceptions import RedisError

from adapters import errors as ve
from adapters.ocpp.hub import StationState
from app.events.wire import namespace_for
from app.ocpp import store
from app.ocpp.central import CentralChargePoint
from app.ocpp.handshake import HandshakeLimiter
from app.ocpp.verified import VerifiedCredentials
from app.settings import Settings

log = logging.getLogger("tandem.ocpp.hub")
MAX_REPLY_BYTES = 65536


def namespace(settings: Settings) -> str:
    """Channel prefix of this deployment: the broadcast's namespace (`TANDEM_BROADCAST_NAMESPACE`,
    else derived from the database), so two deployments on one Redis never reach each other's
    charge points."""
    return f"tandem.{settings.broadcast_namespace or namespace_for(settings.database_url)}."


class OcppHub:
    """Implements `adapters.ocpp.hub.StationHub` for one process."""

    def __init__(self, settings: Settings, node: str) -> None:
        self.settings = settings
        self.node = node
        self.local: dict[str, CentralChargePoint] = {}
        self.ns = namespace(settings)
        self._redis: aioredis.Redis | None = None
        self._pubsub: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._serving: set[asyncio.Task[None]] = set()
        self._reply_channel = f"{self.ns}ocpp:reply:{node}:{secrets.token_hex(4)}"
        self.limiter = HandshakeLimiter(settings.ocpp_auth_failures_per_minute)
        self.verified = VerifiedCredentials()

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        """Listen for requests and replies (Redis broadcast only)."""
        if not self.settings.broadcast_url.startswith(("redis://", "rediss://")):
            return
        self._redis = aioredis.Redis.from_url(self.settings.broadcast_url, socket_connect_timeout=2)
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        await self._pubsub.subscribe(self._reply_channel)
        self._reader = asyncio.create_task(self._read(), name="ocpp-hub")

    async def stop(self) -> None:
        """Close the charge points held here (they reconnect elsewhere) and the Redis connection."""
        for cp_id, cp in list(self.local.items()):
            cp.cancel_tasks()
            await store.update(cp_id, connected_node=None)
            with contextlib.suppress(Exception):
                await cp._connection.close()
        self.local.clear()
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        if self._pubsub is not None:
            with contextlib.suppress(RedisError, OSError):
                await self._pubsub.aclose()
        if self._redis is not None:
            with contextlib.suppress(RedisError, OSError):
                await self._redis.aclose()

    async def attach(self, cp: CentralChargePoint) -> None:
        """This process now holds `cp`'s socket (a previous socket of the same id is closed)."""
        old = self.local.get(cp.id)
        self.local[cp.id] = cp
        if old is not None and old is not cp:
            old.cancel_tasks()
            with contextlib.suppress(Exception):
                await old._connection.close()
        if self._pubsub is not None:
            with contextlib.suppress(RedisError, OSError):
                await self._pubsub.subscribe(self._call_channel(cp.id))

    async def detach(self, cp: CentralChargePoint) -> None:
        """`cp`'s socket closed."""
        cp.cancel_tasks()
        if self.local.get(cp.id) is not cp:
            return  # replaced by a newer socket
        del self.local[cp.id]
        if self._pubsub is not None:
            with contextlib.suppress(RedisError, OSError):
                await self._pubsub.unsubscribe(self._call_channel(cp.id))

    def _call_channel(self, cp_id: str) -> str:
        return f"{self.ns}ocpp:call:{cp_id}"

    # -- StationHub ----------------------------------------------------------------------------
    async def state(self, charge_point_id: str) -> StationState | None:
        """The station's last reports (from the database: any process can read them)."""
        row = await store.get(charge_point_id)
        return None if row is None else store.to_state(row)

    async def note(self, charge_point_id: str, **changes: Any) -> None:
        """Record what Tandem asked of the station."""
        await store.update(charge_point_id, **changes)

    async def call(self, charge_point_id: str, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Send a Call to the charge point, wherever its socket is."""
        cp = self.local.get(charge_point_id)
        if cp is not None:
            return await cp.request(action, payload)
        if self._redis is None:
            raise ve.Unreachable("the charge point is not connected")
        request_id = secrets.token_hex(8)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        message = json.dumps({"id": request_id, "action": action, "payload": payload, "replyTo": self._reply_channel})
        try:
            heard = await self._redis.publish(self._call_channel(charge_point_id), message)
            if not heard:
                raise ve.Unreachable("the charge point is not connected to any Tandem web process")
            reply = await asyncio.wait_for(future, self.settings.ocpp_call_timeout_s + 2)
        except TimeoutError:
            raise ve.Unreachable(f"no answer to {action} from the process holding the charge point") from None
        except (RedisError, OSError):
            raise ve.Unreachable("the broadcast is unreachable") from None
        finally:
            self._waiting.pop(request_id, None)
        if "error" in reply:
            raise _error(str(reply.get("error")), str(reply.get("detail", "")))
        result = reply.get("result")
        return result if isinstance(result, dict) else {}

    # -- Redis ---------------------------------------------------------------------------------
    async def _read(self) -> None:
        while True:
            try:
                msg = await self._pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                log.warning("ocpp hub lost Redis (%s); retrying", type(exc).__name__)
                await asyncio.sleep(1.0)
                continue
            if not msg or msg.get("type") != "message":
                continue
            data = msg.get("data")
            if not isinstance(data, bytes | str) or len(data) > MAX_REPLY_BYTES:
                continue
            try:
                body = json.loads(data)
            except (ValueError, RecursionError):
                continue
            if not isinstance(body, dict):
                continue
            channel = msg.get("channel")
            channel = channel.decode() if isinstance(channel, bytes) else str(channel)
            if channel == self._reply_channel:
                future = self._waiting.get(str(body.get("id")))
                if future is not None and not future.done():
                    future.set_result(body)
            elif channel.startswith(prefix := f"{self.ns}ocpp:call:"):
                task = asyncio.create_task(self._serve(channel[len(prefix):], body))
                self._serving.add(task)
                task.add_done_callback(self._serving.discard)

    async def _serve(self, cp_id: str, body: dict[str, Any]) -> None:
        reply_to, request_id = body.get("replyTo"), body.get("id")
        if not isinstance(reply_to, str) or not reply_to.startswith(f"{self.ns}ocpp:reply:"):
            return
        answer: dict[str, Any] = {"id": request_id}
        cp = self.local.get(cp_id)
        try:
            if cp is None:
                raise ve.Unreachable("the charge point is not connected")
            payload = body.get("payload")
            answer["result"] = await cp.request(str(body.get("action")), payload if isinstance(payload, dict) else {})
        except ve.VendorError as exc:
            answer.update(error=exc.code, detail=exc.detail)
        except Exception:  # our bug: the asking process still gets an answer, and it is logged once
            log.exception("serving an OCPP request for %s failed", cp_id)
            answer.update(error=ve.BadResponse.code, detail="the central system failed to send the request")
        if self._redis is not None:
            with contextlib.suppress(RedisError, OSError):
                await self._redis.publish(reply_to, json.dumps(answer))


def _error(code: str, detail: str) -> ve.VendorError:
    kinds: dict[str, type[ve.VendorError]] = {
        c.code: c for c in (ve.Unreachable, ve.PreconditionFailed, ve.BadResponse, ve.NotCapable, ve.VendorError)
    }
    return kinds.get(code, ve.Unreachable)(detail[:200])
