"""GraphQL-shaped JSON error answers for the edge (limits, malformed requests, crashes)."""

from __future__ import annotations

from collections.abc import Mapping

import orjson
from starlette.types import Send

#: HTTP status → the `extensions.code` of an edge refusal.
STATUS_CODES = {400: "BAD_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE",
                415: "BAD_REQUEST", 429: "RATE_LIMITED", 500: "INTERNAL_SERVER_ERROR"}


def error_body(message: str, code: str, **extensions: object) -> bytes:
    """`{"errors": [{"message", "extensions": {"code", ...}}]}` as JSON bytes."""
    return orjson.dumps({"errors": [{"message": message, "extensions": {"code": code, **extensions}}]})


async def send_error(send: Send, status: int, message: str, *, code: str | None = None,
                     headers: Mapping[str, str] | None = None, **extensions: object) -> None:
    """Answer a whole HTTP response: status, JSON error body, optional extra headers."""
    body = error_body(message, code or STATUS_CODES.get(status, "BAD_REQUEST"), **extensions)
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
