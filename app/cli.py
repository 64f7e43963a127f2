"""The `tandem` command: serve, serve --demo, worker, migrate, rotate-secrets, generate-secret-key,
simulate, export-schema."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import threading
from collections.abc import Coroutine
from types import FrameType
from typing import TYPE_CHECKING, Any

from app.logs import configure_logging
from app.settings import ConfigError, Settings

if TYPE_CHECKING:
    import uvicorn


def _settings(args: argparse.Namespace, **extra: object) -> Settings:
    from app import crypto

    settings = Settings.from_env(None, port=getattr(args, "port", None), **extra)
    if not getattr(args, "demo", False):
        crypto.keys_for(settings)  # no usable vendor-secret key: a clear message now (the demo makes one)
    return settings


def _serve(args: argparse.Namespace) -> None:
    import uvicorn

    from app.web import create_app

    extra: dict[str, object] = {}
    if args.demo:
        extra["embedded_workers"] = True
    settings = _settings(args, **extra)
    if args.demo:
        from app.services.demo import with_secret_key

        settings = with_secret_key(settings)
    app = create_app(settings, demo=args.demo)
    print(f"GraphQL: http://{settings.host}:{settings.port}/graphql", flush=True)
    config = server_config(app, settings)

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            _exit_anyway_after(settings.shutdown_timeout_s + 3)
            super().handle_exit(sig, frame)

    Server(config).run()


def server_config(app: Any, settings: Settings) -> uvicorn.Config:
    """The uvicorn configuration of a web process serving `app` on `settings.host:port`."""
    import uvicorn

    # In-flight requests get part of the shutdown time, the lifespan (workers, vendors) the rest.
    # No server websocket pings: OCPP charge points prove they live with heartbeats (and many do not
    # answer pings sent more often than their heartbeat); GraphQL clients get graphql-transport-ws pings.
    # permessage-deflate only with TANDEM_WS_COMPRESSION (its zlib contexts cost 40-105 KB per socket).
    grace = max(1, round(settings.shutdown_timeout_s / 3))
    return uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning",
                          ws="websockets-sansio", timeout_graceful_shutdown=grace, ws_ping_interval=None,
                          ws_per_message_deflate=settings.ws_compression,
                          ws_max_size=settings.max_body_bytes or 16 * 1024 * 1024, log_config=None)


def _exit_anyway_after(seconds: float) -> None:
    """Once a stop signal came: end the process after `seconds` even if shutdown is stuck
    (a liveness bound; a clean shutdown ends well before)."""
    global _watchdog
    if _watchdog is not None:
        return

    def exit_now() -> None:
        print(f"shutdown took over {seconds:.0f} s: exiting", file=sys.stderr, flush=True)
        os._exit(1)

    _watchdog = threading.Timer(seconds, exit_now)
    _watchdog.daemon = True
    _watchdog.start()


_watchdog: threading.Timer | None = None


def _worker(args: argparse.Namespace) -> None:
    from app.services.process import ProcessServices

    async def run() -> None:
        settings = _settings(args)
        if settings.metrics_port:
            from prometheus_client import start_http_server

            start_http_server(settings.metrics_port, addr=settings.host)
        services = ProcessServices(settings, web=False)
        await services.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def on_signal() -> None:
            _exit_anyway_after(settings.shutdown_timeout_s + 3)
            stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal)
        print(f"worker {services.runtime.worker_id if services.runtime else ''} running", flush=True)
        await stop.wait()
        await services.stop()

    _run_fast(run())


def _run_fast(main: Coroutine[Any, Any, None]) -> None:
    """Run on uvloop where it is installed (uvicorn[standard] brings it on Linux), else asyncio."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
        return
    uvloop.run(main)


def _migrate(args: argparse.Namespace) -> None:
    from app import db

    asyncio.run(db.migrate(_settings(args)))
    print("migrations applied")


def _rotate_secrets(args: argparse.Namespace) -> None:
    from app import db

    async def run() -> int:
        await db.init(_settings(args))
        try:
            return await db.rotate_secrets()
        finally:
            await db.close()

    changed = asyncio.run(run())
    print(f"vendor secrets re-encrypted with the first key: {changed} row(s) changed")


def _generate_secret_key(args: argparse.Namespace) -> None:
    from app.crypto import generate_key

    print(generate_key())


def _simulate(args: argparse.Namespace) -> None:
    from adapters.simulator.app import run

    run(port=args.port or 8001, speed=args.speed, host=args.host, keep_alive_s=args.keep_alive)


def _export_schema(args: argparse.Namespace) -> None:
    from schema.schema import build_schema

    text = build_schema().as_str() + "\n"
    if args.check:
        with open(args.path) as f:
            if f.read() != text:
                print(f"{args.path} is out of date: run `tandem export-schema`", file=sys.stderr)
                raise SystemExit(1)
        print(f"{args.path} is up to date")
        return
    with open(args.path, "w") as f:
        f.write(text)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `tandem` console script."""
    parser = argparse.ArgumentParser(prog="tandem", description="EV + charger pairing service")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve", help="run the web process")
    p.add_argument("--demo", action="store_true", help="embedded defaults, simulator and demo data")
    p.add_argument("--port", type=int)
    p.set_defaults(func=_serve)
    p = sub.add_parser("worker", help="run polling and action workers")
    p.set_defaults(func=_worker)
    p = sub.add_parser("migrate", help="apply database migrations")
    p.set_defaults(func=_migrate)
    p = sub.add_parser("rotate-secrets", help="re-encrypt stored vendor secrets with the first TANDEM_SECRET_KEYS key")
    p.set_defaults(func=_rotate_secrets)
    p = sub.add_parser("generate-secret-key", help="print a new key for TANDEM_SECRET_KEYS")
    p.set_defaults(func=_generate_secret_key)
    p = sub.add_parser("simulate", help="run the vendor simulator standalone")
    p.add_argument("--port", type=int)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--speed", type=float, default=1.0)
    p.add_argument("--keep-alive", type=int, default=5, help="close idle connections after this many seconds")
    p.set_defaults(func=_simulate)
    p = sub.add_parser("export-schema", help="write (or --check) schema.graphql")
    p.add_argument("--path", default="schema.graphql")
    p.add_argument("--check", action="store_true")
    p.set_defaults(func=_export_schema)
    args = parser.parse_args(argv)
    try:
        env_settings = Settings.from_env()
        configure_logging(env_settings.log_level, env_settings.log_format)
    except ConfigError:
        configure_logging()  # the command itself reports the bad setting below
    try:
        args.func(args)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
