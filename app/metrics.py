"""Prometheus metrics, and a pure-ASGI middleware counting requests and latencies."""

from __future__ import annotations

import time
from collections.abc import Callable, MutableMapping
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

REQUESTS = Counter("tandem_http_requests_total", "HTTP requests", ["path", "status"])
LATENCY = Histogram("tandem_http_request_seconds", "HTTP request latency", ["path"])
WS_CONNECTIONS = Gauge("tandem_websocket_connections", "Open websocket connections")
BUS_QUEUE_DEPTH = Gauge("tandem_broadcast_queue_depth", "Events queued for local subscribers")
BUS_SUBSCRIBERS = Gauge("tandem_broadcast_subscribers", "Local broadcast subscribers")
BUS_COUNTS = Gauge("tandem_broadcast_events", "Broadcast counters of this process since start: bad_messages "
                   "(dropped, not Tandem events), dropped_publishes, markers_sent, resyncs, reconnects", ["kind"])
POLLS = Counter("tandem_polls_total", "Device polls", ["kind", "vendor", "outcome"])
PUSHES = Counter("tandem_pushes_total", "Device changes pushed by vendor streams", ["vendor"])
COMMANDS = Counter("tandem_commands_total", "Commands sent", ["via", "vendor", "outcome"])
PATH_SUCCESS = Gauge("tandem_path_success_rate", "Recent command success rate per path", ["via", "vendor"])
ACTIONS = Counter("tandem_actions_total", "Actions finished", ["kind", "state"])
OCPP_HANDSHAKES = Counter("tandem_ocpp_handshakes_total", "OCPP handshakes by outcome: accepted (scrypt checked), "
                          "cached (a credential this process verified before), or refused: busy (503), "
                          "unauthenticated (401), no_subprotocol (400), rate_limited (429), unavailable (503)",
                          ["outcome"])

_KNOWN_PATHS = {"/graphql", "/healthz", "/readyz", "/metrics"}


class MetricsMiddleware:
    """Counts HTTP requests per path and status, times them, and tracks websockets."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            WS_CONNECTIONS.inc()
            try:
                await self.app(scope, receive, send)
            finally:
                WS_CONNECTIONS.dec()
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"] if scope["path"] in _KNOWN_PATHS else "other"
        status = 500
        start = time.perf_counter()

        async def send_wrapper(message: MutableMapping[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            REQUESTS.labels(path, str(status)).inc()
            LATENCY.labels(path).observe(time.perf_counter() - start)


def metrics_endpoint(collect: Callable[[], None]) -> Callable[[Request], Response]:
    """A /metrics handler that refreshes gauges with `collect` first."""

    def handler(_: Request) -> Response:
        collect()
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return handler
