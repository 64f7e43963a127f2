"""The edge of the web process: request ids, rate limits, body caps and a JSON answer to crashes.

A pure ASGI middleware, in this order for every HTTP request and websocket handshake:

1. a request id (`X-Request-Id` on the answer, `REQUEST_ID` for logs and error extensions);
2. on `/graphql`, the rate limit (`RateLimiter`): 429 `RATE_LIMITED` with `Retry-After`
   (a websocket handshake is answered the same way, before it is accepted);
3. on `/graphql`, the body cap: a `Content-Length` over `max_body_bytes` is refused before
   anything is read, a longer streamed body as soon as it passes the cap, a longer query string
   (GET) at once: 413 `PAYLOAD_TOO_LARGE`;
4. anything the app raises before answering becomes a JSON 500 `INTERNAL_SERVER_ERROR` carrying
   the request id, logged once with its traceback.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.auth import bearer
from app.edge.ratelimit import RateLimiter
from app.edge.responses import error_body, send_error
from app.logs import REQUEST_ID, new_request_id

log = logging.getLogger("tandem.edge")

LIMITED_PATHS = frozenset({"/graphql"})


class TooLarge(Exception):
    """The request body passed the cap."""


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole request body; `TooLarge` once it passes `limit` bytes (0: no limit)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if limit and size > limit:
            raise TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


class EdgeMiddleware:
    """Request ids, rate limits, the body cap and JSON crash answers (see the module doc)."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter, max_body_bytes: int) -> None:
        self.app = app
        self.limiter = limiter
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        rid = new_request_id()
        reset = REQUEST_ID.set(rid)
        try:
            if scope["type"] == "websocket":
                await self._websocket(scope, receive, send)
            else:
                await self._http(scope, receive, send, rid)
        finally:
            REQUEST_ID.reset(reset)

    async def _refused(self, scope: Scope) -> int:
        """Seconds to wait when this request is over its rate limit, else 0."""
        if scope["path"] not in LIMITED_PATHS or not self.limiter.enabled:
            return 0
        client = scope.get("client")
        token = bearer(_header(scope, b"authorization"))
        verdict = await self.limiter.hit(self.limiter.key_for(token, client[0] if client else "unknown"))
        return 0 if verdict.allowed else verdict.retry_after_s

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        wait = await self._refused(scope)
        if not wait:
            await self.app(scope, receive, send)
            return
        if "websocket.http.response" in scope.get("extensions", {}):
            body = error_body("Too many requests; retry later.", "RATE_LIMITED", retryAfter=wait)
            await send({"type": "websocket.http.response.start", "status": 429,
                        "headers": [(b"content-type", b"application/json"), (b"retry-after", str(wait).encode()),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "websocket.http.response.body", "body": body})
        else:
            await send({"type": "websocket.close", "code": 4429, "reason": "RATE_LIMITED"})

    async def _http(self, scope: Scope, receive: Receive, send: Send, rid: str) -> None:
        started = False
        rid_header = (b"x-request-id", rid.encode())

        async def send_with_id(message: MutableMapping[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []), rid_header]
            await send(message)

        try:
            wait = await self._refused(scope)
            if wait:
                await send_error(send_with_id, 429, "Too many requests; retry later.",
                                 headers={"retry-after": str(wait)}, retryAfter=wait)
                return
            limit = self.max_body_bytes
            if scope["path"] in LIMITED_PATHS and limit and len(scope.get("query_string", b"")) > limit:
                await send_error(send_with_id, 413, f"The query string is longer than {limit} bytes.", maxBytes=limit)
                return
            if scope["path"] in LIMITED_PATHS and scope["method"] == "POST":
                replay = await self._capped(scope, receive, send_with_id)
                if replay is None:
                    return
                receive = replay
            await self.app(scope, receive, send_with_id)
        except Exception:
            if started:
                raise
            log.exception("unhandled error answering %s %s", scope.get("method"), scope.get("path"))
            await send_error(send_with_id, 500, "Internal server error.", requestId=rid)

    async def _capped(self, scope: Scope, receive: Receive, send: Send) -> Receive | None:
        """A `receive` replaying the body read under the cap; None after answering 413."""
        limit = self.max_body_bytes
        message = f"The request body is larger than {limit} bytes."
        declared = _header(scope, b"content-length")
        if limit and declared is not None and declared.isdigit() and int(declared) > limit:
            await send_error(send, 413, message, maxBytes=limit)
            return None
        try:
            body = await read_body(receive, limit)
        except TooLarge:
            await send_error(send, 413, message, maxBytes=limit)
            return None
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        return replay
