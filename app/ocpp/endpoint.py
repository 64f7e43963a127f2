"""`/ocpp/{chargePointId}`: the websocket a charge point opens to Tandem (OCPP 1.6J, security
profile 1).

The handshake is refused before anything is created: 400 without the `ocpp1.6` subprotocol,
401 for an unknown id or a wrong Basic-auth password (username = chargePointId), 429 with
`Retry-After` once an id has failed `TANDEM_OCPP_AUTH_FAILURES_PER_MINUTE` times in the last
minute from one address (an address, or an id from anywhere, ten times that: `handshake`), 503
with `Retry-After` (seconds the queued checks take, randomised) while too many password checks
are queued (`passwords.busy`: a reconnect storm). A charge point reconnecting with the
credential this process last verified for it skips the check (`verified`), busy or rate-limited
or not. Each outcome is counted in `tandem_ocpp_handshakes_total`.
"""

from __future__ import annotations

import base64
import binascii
import logging
from datetime import UTC, datetime

from starlette.responses import JSONResponse
from starlette.websockets import WebSocket, WebSocketDisconnect

from app import metrics
from app.ocpp import passwords, store
from app.ocpp.central import CentralChargePoint
from app.ocpp.handshake import HandshakeLimiter
from app.ocpp.hub import OcppHub
from app.runtime import current

log = logging.getLogger("tandem.ocpp")
SUBPROTOCOL = "ocpp1.6"


class _DenialNoise(logging.Filter):
    """uvicorn's websockets-sansio protocol logs an ERROR after every denial response (a refused
    handshake is answered, but its flag for a finished handshake stays unset); drop that line."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != "ASGI callable returned without completing handshake."


logging.getLogger("uvicorn.error").addFilter(_DenialNoise())
class _Socket:
    """The `send`/`recv` pair the ocpp library drives, over a Starlette websocket."""

    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws

    async def recv(self) -> str:
        message = await self.ws.receive()
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000))
        if message.get("text") is not None:
            return str(message["text"])
        return bytes(message.get("bytes") or b"").decode("utf-8", "replace")

    async def send(self, text: str) -> None:
        await self.ws.send_text(text)

    async def close(self) -> None:
        await self.ws.close()


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """`(username, password)` of an HTTP Basic `Authorization` header, or None."""
    if not header or not header[:6].lower() == "basic ":
        return None
    try:
        raw = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    user, sep, password = raw.partition(":")
    return (user, password) if sep else None


#: The metric's outcome for each refusal code.
_OUTCOMES = {"SUBPROTOCOL_REQUIRED": "no_subprotocol", "TOO_MANY_FAILED_ATTEMPTS": "rate_limited",
             "BUSY": "busy", "UNAUTHENTICATED": "unauthenticated", "UNAVAILABLE": "unavailable"}


async def _deny(ws: WebSocket, status: int, code: str, retry_after_s: int | None = None) -> None:
    metrics.OCPP_HANDSHAKES.labels(_OUTCOMES[code]).inc()
    headers = {"WWW-Authenticate": 'Basic realm="Tandem OCPP"'} if status == 401 else {}
    if code == "BUSY":  # a reconnect storm: come back once the queued checks are done
        headers["Retry-After"] = str(passwords.retry_after_s())
    if retry_after_s is not None:
        headers["Retry-After"] = str(retry_after_s)
    await ws.send_denial_response(JSONResponse({"error": code}, status_code=status, headers=headers))


async def ocpp_endpoint(ws: WebSocket) -> None:
    """Authenticate a charge point, then serve its messages until it disconnects."""
    try:
        rt = current()
    except RuntimeError:  # starting or shutting down
        await _deny(ws, 503, "UNAVAILABLE")
        return
    cp_id = str(ws.path_params.get("charge_point_id", ""))
    if SUBPROTOCOL not in ws.scope.get("subprotocols", []):
        await _deny(ws, 400, "SUBPROTOCOL_REQUIRED")
        return
    address = ws.client.host if ws.client else "unknown"
    hub: OcppHub = rt.ocpp
    limiter: HandshakeLimiter = hub.limiter
    creds = basic_credentials(ws.headers.get("authorization"))
    password = creds[1] if creds else ""
    # A credential this process verified before gets in without scrypt, and no lockout of its id
    # (failures from elsewhere, maybe an attacker's) holds it out.
    row = await store.get(cp_id) if hub.verified.knows(cp_id) else None
    proven = row is not None and hub.verified.hit(cp_id, password, row.password_hash)
    if not proven and not await limiter.allowed(cp_id, address):
        await _deny(ws, 429, "TOO_MANY_FAILED_ATTEMPTS", await limiter.retry_after_s(cp_id, address))
        return
    if not proven and passwords.busy():  # no check queued for a socket that may give up
        await _deny(ws, 503, "BUSY")
        return
    if row is None:
        row = await store.get(cp_id)
    outcome = "cached" if proven else await hub.verified.check(cp_id, password, row.password_hash if row else None)
    if outcome == "busy":
        await _deny(ws, 503, "BUSY")
        return
    if outcome == "unauthenticated" or creds is None or creds[0] != cp_id or row is None or row.charger_id is None:
        await limiter.failed(cp_id, address)
        log.info("ocpp handshake refused for %r from %s", cp_id[:48], address)
        await _deny(ws, 401, "UNAUTHENTICATED")
        return
    metrics.OCPP_HANDSHAKES.labels(outcome).inc()
    await serve(ws, cp_id, row.charger_id, hub)


async def serve(ws: WebSocket, cp_id: str, charger_id: str, hub: OcppHub) -> None:
    """Hold an accepted charge point's socket until it closes."""
    from app.workers.kick import request_poll

    rt = current()

    async def changed() -> None:
        await request_poll(rt, "charger", charger_id)

    await ws.accept(subprotocol=SUBPROTOCOL)
    cp = CentralChargePoint(cp_id, _Socket(ws), rt.settings, changed)
    await hub.attach(cp)
    now = datetime.now(UTC)
    # A status from before this connection says nothing about now (a car may have been swapped
    # meanwhile): the cable is unknown until the charge point reports again (asked for at once).
    await store.update(cp_id, connected_node=hub.node, connected_at=now, last_message_at=now, status=None)
    await changed()
    cp.spawn(cp.configure())
    log.info("charge point %s connected", cp_id)
    try:
        await cp.start()
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass
    finally:
        await hub.detach(cp)
        if cp_id not in hub.local:
            from app.db.models import OcppStation

            await OcppStation.filter(charge_point_id=cp_id, connected_node=hub.node).update(connected_node=None)
            await changed()
        log.info("charge point %s disconnected", cp_id)
