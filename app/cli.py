"""The `tandem` command: serve, serve --demo, worker, migrate, simulate, export-schema."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Coroutine
from typing import Any

from app.logs import configure_logging
from app.settings import ConfigError, Settings


def _settings(args: argparse.Namespace, **extra: object) -> Settings:
    return Settings.from_env(None, port=getattr(args, "port", None), **extra)


def _serve(args: argparse.Namespace) -> None:
    import uvicorn

    from app.web import create_app

    extra: dict[str, object] = {}
    if args.demo:
        extra["embedded_workers"] = True
    settings = _settings(args, **extra)
    app = create_app(settings, demo=args.demo)
    print(f"GraphQL: http://{settings.host}:{settings.port}/graphql", flush=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning", ws="websockets-sansio",
                ws_max_size=settings.max_body_bytes or 16 * 1024 * 1024, log_config=None)


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
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
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


def _simulate(args: argparse.Namespace) -> None:
    from adapters.simulator.app import run

    run(port=args.port or 8001, speed=args.speed, host=args.host)


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
    p = sub.add_parser("simulate", help="run the vendor simulator standalone")
    p.add_argument("--port", type=int)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--speed", type=float, default=1.0)
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
