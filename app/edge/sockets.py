"""Websocket limits: sockets and subscriptions per user, message size, and GraphQL-shaped refusals.

`SocketLimits` holds the caps and the slot counts (`app.edge.slots.UserSlots`: shared through
Redis when there is one). `TandemWSHandler` (Strawberry's graphql-transport-ws handler) uses them:

- a socket over `max_sockets` is closed with 4429 and the reason `TOO_MANY_SOCKETS` right after
  its `connection_init` (a bad token is closed with 4403, as before);
- a `subscribe` over `max_subscriptions` is answered with an `error` message carrying
  `extensions.code` `TOO_MANY_SUBSCRIPTIONS` (the socket stays open), and over the rate limit
  with `RATE_LIMITED`;
- a syntax error is answered as an `error` message with its code instead of closing the socket;
- a text message longer than `max_message_bytes` closes the socket with 1009.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLError
from starlette.websockets import WebSocketDisconnect, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import NonJsonMessageReceived, NonTextMessageReceived
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler, Operation
from strawberry.subscriptions.protocols.graphql_transport_ws.types import ConnectionInitMessage, SubscribeMessage

from app.edge.ratelimit import RateLimiter, token_key
from app.edge.slots import UserSlots
from app.logs import REQUEST_ID

log = logging.getLogger("tandem.edge")

#: The operation a websocket operation task runs (each task has its own context).
_OPERATION: contextvars.ContextVar[Operation[Any, None] | None] = contextvars.ContextVar("ws_operation", default=None)


class SocketRefused(Exception):
    """`on_ws_connect` refuses the socket with this close code and reason."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class SocketLimits:
    """Per-user caps (0: none) and the shared slot counts they are checked against."""

    store: UserSlots
    max_sockets: int
    max_subscriptions: int


def limit_error(message: str, code: str, **extensions: object) -> dict[str, Any]:
    """A formatted GraphQL error for a websocket `error` message."""
    return GraphQLError(message, extensions={"code": code, **extensions}).formatted  # type: ignore[return-value]


class TandemWebSocketAdapter(ASGIWebSocketAdapter):
    """Strawberry's websocket adapter with a message size cap and text frames for bytes encoders."""

    max_message_bytes = 0

    async def iter_json(self, *, ignore_parsing_errors: bool = False) -> AsyncGenerator[object, None]:
        try:
            while self.ws.application_state != WebSocketState.DISCONNECTED:
                text = await self.ws.receive_text()
                if self.max_message_bytes and len(text) > self.max_message_bytes:
                    await self.ws.close(code=1009, reason="Message too big")
                    return
                try:
                    yield self.view.decode_json(text)
                except ValueError as e:
                    if not ignore_parsing_errors:
                        raise NonJsonMessageReceived from e
        except KeyError as e:
            raise NonTextMessageReceived from e
        except WebSocketDisconnect:
            pass

    async def send_json(self, message: Any) -> None:
        encoded = self.view.encode_json(message)
        await super().send_json(message) if isinstance(encoded, str) else await self._send_text(encoded)

    async def _send_text(self, encoded: bytes) -> None:
        from strawberry.http.exceptions import WebSocketDisconnected

        try:
            await self.ws.send_text(encoded.decode())
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc


class TandemWSHandler(BaseGraphQLTransportWSHandler[Any, None]):
    """graphql-transport-ws with per-user socket and subscription caps (see the module doc)."""

    limits: SocketLimits
    limiter: RateLimiter

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._counted: dict[str, str] = {}  # operation id -> subscription slot
        self._releases: set[asyncio.Task[None]] = set()

    @property
    def _user(self) -> str | None:
        """The user holding this socket's slot (set by the view's `on_ws_connect`)."""
        user = getattr(self.context, "socket_user", None)
        return user if isinstance(user, str) else None

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        try:
            await super().handle_connection_init(message)
        except SocketRefused as refused:
            await self.websocket.close(code=refused.code, reason=refused.reason)

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        user = self._user
        if user is None or not self.connection_acknowledged:
            await super().handle_subscribe(message)
            return
        op_id = message.get("id")
        if not isinstance(op_id, str) or op_id in self.operations:
            await super().handle_subscribe(message)
            return
        token = getattr(self.context, "token", None)
        if self.limiter.enabled and token:
            verdict = await self.limiter.hit(token_key(token))
            if not verdict.allowed:
                await self._refuse(op_id, limit_error("Too many requests; retry later.", "RATE_LIMITED",
                                                      retryAfter=verdict.retry_after_s))
                return
        slot = await self.limits.store.acquire("subscriptions", user, self.limits.max_subscriptions)
        if slot is None:
            log.info("subscription refused: TOO_MANY_SUBSCRIPTIONS")
            await self._refuse(op_id, limit_error("Subscription limit reached.", "TOO_MANY_SUBSCRIPTIONS",
                                                  maxSubscriptions=self.limits.max_subscriptions))
            return
        self._counted[op_id] = slot
        try:
            await super().handle_subscribe(message)
        finally:
            if op_id not in self.operations:
                self._release(op_id)

    async def _refuse(self, op_id: str, error: dict[str, Any]) -> None:
        await self.websocket.send_json({"id": op_id, "type": "error", "payload": [error]})

    async def run_operation(self, operation: Operation[Any, None]) -> None:
        """Strawberry's operation task; a crash is answered with a coded `error` message (see below)."""
        _OPERATION.set(operation)
        await super().run_operation(operation)

    async def handle_task_exception(self, error: Exception) -> None:
        """Log a crashed operation once and answer it `INTERNAL_SERVER_ERROR` with the request id."""
        log.error("websocket operation failed", exc_info=error)
        operation = _OPERATION.get()
        if operation is not None:
            with contextlib.suppress(Exception):
                message: Any = {"id": operation.id, "type": "error", "payload": [
                    limit_error("Internal server error.", "INTERNAL_SERVER_ERROR", requestId=REQUEST_ID.get())]}
                await operation.send_operation_message(message)

    def _release(self, op_id: str) -> None:
        slot = self._counted.pop(op_id, None)
        user = self._user
        if slot is not None and user is not None:
            task = asyncio.ensure_future(self.limits.store.release("subscriptions", user, slot))
            self._releases.add(task)
            task.add_done_callback(self._releases.discard)

    def forget_id(self, id: str) -> None:
        super().forget_id(id)
        self._release(id)

    async def cleanup_operation(self, operation_id: str) -> None:
        await super().cleanup_operation(operation_id)
        self._release(operation_id)

    async def shutdown(self) -> None:
        try:
            await super().shutdown()
        finally:
            for op_id in list(self._counted):
                self._release(op_id)
            user, slot = self._user, getattr(self.context, "socket_slot", None)
            if user is not None and slot is not None:
                await self.limits.store.release("sockets", user, slot)
                self.context.socket_user = None

    @staticmethod
    def _get_pre_execution_close_reason(error: GraphQLError) -> str | None:
        # Syntax and operation errors are answered as `error` messages with a code, not by closing.
        return None
