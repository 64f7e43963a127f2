"""The web process: Starlette app with GraphQL, health, readiness and metrics."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import orjson
from cross_web import HTTPException
from starlette.applications import Starlette
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError, MissingQueryError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType
from tortoise import connections

from app import db, metrics, revocation
from app.auth import authenticate, bearer
from app.edge.middleware import EdgeMiddleware
from app.edge.ratelimit import RateLimiter, make_storage
from app.edge.responses import STATUS_CODES, error_body
from app.edge.slots import UserSlots
from app.edge.sockets import SocketLimits, SocketRefused, TandemWebSocketAdapter, TandemWSHandler
from app.ocpp.endpoint import ocpp_endpoint
from app.runtime import Runtime, current
from app.services.process import ProcessServices
from app.settings import Settings
from resolvers.context import Context
from schema.errors import strip_suggestions
from schema.schema import build_schema

log = logging.getLogger("tandem.web")


class TandemGraphQL(GraphQL[Context, None]):
    """Strawberry's ASGI view with Tandem's auth, limits and JSON answers to malformed requests.

    Bodies are parsed with orjson (invalid UTF-8 and nesting past 1024 levels are errors, not
    crashes); every refusal Strawberry raises as an HTTP exception is answered as a GraphQL
    error `{"errors": [{"message", "extensions": {"code"}}]}` with its status.
    """

    def __init__(self, *args: Any, limiter: RateLimiter, limits: SocketLimits, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limiter = limiter
        self.limits = limits
        handler = type("Handler", (TandemWSHandler,), {"limits": limits, "limiter": limiter})
        self.graphql_transport_ws_handler_class = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            response = await self.run(Request(scope=scope, receive=receive))
        except HTTPException as e:
            response = Response(error_body(e.reason, STATUS_CODES.get(e.status_code, "BAD_REQUEST")),
                                status_code=e.status_code, media_type="application/json")
        await response(scope, receive, send)

    async def execute_single(self, request: Any, request_adapter: Any, sub_response: Any, context: Context,
                             root_value: None, request_data: GraphQLRequestData) -> ExecutionResult:
        """One operation over plain HTTP: queries (GET, POST) and mutations (POST); subscriptions need a websocket."""
        allowed = OperationType.from_http(request_adapter.method) - {OperationType.SUBSCRIPTION}
        try:
            return await self.schema.execute(
                request_data.query, root_value=root_value, variable_values=request_data.variables,
                context_value=context, operation_name=request_data.operation_name,
                allowed_operation_types=allowed, operation_extensions=request_data.extensions)
        except CannotGetOperationTypeError as e:
            raise HTTPException(400, e.as_http_error_reason()) from e
        except InvalidOperationTypeError as e:
            reason = e.as_http_error_reason(request_adapter.method)
            if e.operation_type == OperationType.SUBSCRIPTION:
                reason = "Subscriptions need the websocket (graphql-transport-ws) at /graphql."
            raise HTTPException(400, reason) from e
        except MissingQueryError as e:
            raise HTTPException(400, "No GraphQL query found in the request.") from e

    async def process_result(self, request: Any, result: ExecutionResult) -> GraphQLHTTPResponse:
        """The JSON answer; callers without a valid token get no "Did you mean ...?" hints."""
        data = await super().process_result(request, result)
        errors: list[dict[str, Any]] = data.get("errors") or []  # type: ignore[assignment]
        if getattr(request.state, "anonymous", True):
            for err in errors:
                err["message"] = strip_suggestions(str(err["message"]))
        return data

    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)

    def parse_json(self, data: str | bytes) -> Any:
        try:
            parsed = self.decode_json(data)
        except ValueError:  # orjson.JSONDecodeError: malformed, invalid UTF-8, nested too deeply
            raise HTTPException(400, "The request body is not valid JSON (UTF-8, nested at most 1024 levels).") \
                from None
        if not isinstance(parsed, dict | list):
            raise HTTPException(400, "The request body must be a JSON object.")
        return parsed

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    async def get_context(self, request: Any, response: Any) -> Context:
        if isinstance(request, WebSocket):
            return Context(principal=None, request=request, response=response)
        token = bearer(request.headers.get("authorization"))
        principal = await authenticate(token)
        if principal is not None and token:
            self.limiter.remember_valid(token)
        request.state.anonymous = principal is None
        return Context(principal=principal, request=request, response=response, token=token)

    async def on_ws_connect(self, context: Context) -> dict[str, object] | None:
        params = context.connection_params or {}
        raw = params.get("Authorization", params.get("authorization"))
        token = bearer(raw) if isinstance(raw, str) else None
        principal = await authenticate(token)
        if principal is None or principal.user_id is None:
            raise ConnectionRejectionError({"code": "UNAUTHENTICATED"})
        slot = await self.limits.store.acquire("sockets", principal.user_id, self.limits.max_sockets)
        if slot is None:
            log.info("websocket refused: TOO_MANY_SOCKETS")
            raise SocketRefused(4429, f"TOO_MANY_SOCKETS: at most {self.limits.max_sockets} per user")
        context.socket_user, context.socket_slot = principal.user_id, slot
        context.principal = principal
        context.token = token
        if token:
            self.limiter.remember_valid(token)
        revocation.watch_socket(principal, context.request)
        return None


async def http_error(_: Request, exc: Exception) -> Response:
    """Starlette's own refusals (unknown path, wrong method) as JSON errors with a code."""
    status = getattr(exc, "status_code", 500)
    detail = str(getattr(exc, "detail", "")) or "Error."
    headers = getattr(exc, "headers", None)
    return Response(error_body(detail, STATUS_CODES.get(status, "BAD_REQUEST")), status_code=status,
                    media_type="application/json", headers=headers)


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
    limiter = RateLimiter(settings.rate_limit_per_minute,
                          make_storage(settings.broadcast_url, settings.rate_limit_prefix))
    limits = SocketLimits(UserSlots(settings.broadcast_url, settings.rate_limit_prefix + ":slots"),
                          settings.max_sockets_per_user, settings.max_subscriptions_per_user)
    graphql = TandemGraphQL(
        build_schema(settings),
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        keep_alive=True,
        keep_alive_interval=15,
        connection_init_wait_timeout=timedelta(seconds=settings.ws_init_timeout_s),
        max_subscriptions_per_connection=None,
        limiter=limiter,
        limits=limits,
    )
    graphql.websocket_adapter_class = type(  # type: ignore[assignment]
        "Adapter", (TandemWebSocketAdapter,), {"max_message_bytes": settings.max_body_bytes})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        services = ProcessServices(settings, demo=demo, web=True)
        await services.start()
        app.state.runtime = services.runtime
        app.state.demo = services.demo_info
        try:
            yield
        finally:
            await limits.store.close()
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
        middleware=[Middleware(metrics.MetricsMiddleware),
                    Middleware(EdgeMiddleware, limiter=limiter, max_body_bytes=settings.max_body_bytes)],
        exception_handlers={StarletteHTTPException: http_error},
        lifespan=lifespan,
    )


__all__ = ["Runtime", "create_app", "db"]
