"""The web process: Starlette app with GraphQL, health, readiness and metrics."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from tortoise import connections

from app import db, metrics, revocation
from app.auth import authenticate, bearer
from app.ocpp.endpoint import ocpp_endpoint
from app.runtime import Runtime, current
from app.services.process import ProcessServices
from app.settings import Settings
from resolvers.context import Context
from schema.schema import build_schema

log = logging.getLogger("tandem.web")


class TandemGraphQL(GraphQL[Context, None]):
    """Strawberry's ASGI view with Tandem's auth on HTTP and in websocket `connection_init`."""

    async def get_context(self, request: Any, response: Any) -> Context:
        if isinstance(request, WebSocket):
            return Context(principal=None, request=request, response=response)
        principal = await authenticate(bearer(request.headers.get("authorization")))
        return Context(principal=principal, request=request, response=response)

    async def on_ws_connect(self, context: Context) -> dict[str, object] | None:
        params = context.connection_params or {}
        raw = params.get("Authorization", params.get("authorization"))
        principal = await authenticate(bearer(raw)) if isinstance(raw, str) else None
        if principal is None or principal.user_id is None:
            raise ConnectionRejectionError({"code": "UNAUTHENTICATED"})
        context.principal = principal
        revocation.watch_socket(principal, context.request)
        return None


async def healthz(_: Request) -> JSONResponse:
    """The process is up."""
    return JSONResponse({"status": "ok"})


async def readyz(_: Request) -> JSONResponse:
    """The database and the broadcast are reachable, and events still reach subscribers."""
    checks: dict[str, bool] = {}
    try:
        await connections.get("default").execute_query("SELECT 1")
        checks["database"] = True
    except Exception:
        checks["database"] = False
    try:
        checks["broadcast"] = await current().bus.ping()
    except Exception:
        checks["broadcast"] = False
    try:
        checks["events"] = current().bus.dispatching
    except Exception:
        checks["events"] = False
    ok = all(checks.values())
    return JSONResponse({"status": "ok" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503)


def _collect() -> None:
    try:
        bus = current().bus
    except RuntimeError:
        return
    metrics.BUS_QUEUE_DEPTH.set(bus.queue_depth())
    metrics.BUS_SUBSCRIBERS.set(bus.subscriber_count())
    for kind in ("bad_messages", "dropped_publishes", "markers_sent", "resyncs", "reconnects"):
        metrics.BUS_COUNTS.labels(kind).set(getattr(bus, kind))


def create_app(settings: Settings | None = None, *, demo: bool = False) -> Starlette:
    """The ASGI app. Its lifespan sets up the database, broadcast and (embedded) workers."""
    settings = settings or Settings.from_env()
    graphql = TandemGraphQL(
        build_schema(settings),
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        keep_alive=True,
        keep_alive_interval=15,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        services = ProcessServices(settings, demo=demo, web=True)
        await services.start()
        app.state.runtime = services.runtime
        app.state.demo = services.demo_info
        try:
            yield
        finally:
            # Requests had their share (uvicorn's graceful timeout); this is bounded too.
            await services.stop(settings.shutdown_timeout_s * 2 / 3)

    return Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            WebSocketRoute("/ocpp/{charge_point_id}", ocpp_endpoint),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics.metrics_endpoint(_collect)),
        ],
        middleware=[Middleware(metrics.MetricsMiddleware)],
        lifespan=lifespan,
    )


__all__ = ["Runtime", "create_app", "db"]
