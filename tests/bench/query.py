"""Benchmark: the `viewer` query against a bare `{ __typename }` on the same server, same run.

    python -m tests.bench.query [--requests 2000] [--concurrency 16] [--rounds 5]

Starts `tandem serve --demo` in a subprocess (SQLite in a temp dir unless TANDEM_BENCH_DATABASE_URL
is set), links a second vehicle and charger (2 + 2 assets, 4 EV systems), then drives the queries
from concurrent HTTP clients in interleaved rounds. Prints requests/s, p50/p99, requests per
server CPU-second (steadier than wall-clock rates on a shared machine), the ratios, and the number of SQL
queries one `viewer` request runs at 2 + 2 and at 4 + 4 assets (it must not grow).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import time
from typing import Any

import httpx

from tests.bench.common import (
    BENCH_SECRET_KEYS,
    Load,
    Service,
    cpu_seconds,
    free_port,
    gql,
    load,
    ready,
    tandem_cmd,
    temp_sqlite,
)
from tests.e2e.flows import CHARGER_FIELDS, SYSTEM_FIELDS, VEHICLE_FIELDS

#: What the issue names: assets, their capabilities and EV systems (with the charge state an app shows).
VIEWER = """{ viewer {
  vehicles { id isReachable chargeState { batteryLevel isPluggedIn isCharging pluggedInChargerId }
    capabilities { startCharging { isCapable source } stopCharging { isCapable source }
                   location { isCapable source } setMaxCurrent { isCapable source } } }
  chargers { id isReachable chargeState { isPluggedIn isCharging chargeRate }
    capabilities { startCharging { isCapable } stopCharging { isCapable } setMaxCurrent { isCapable } } }
  evSystems { id status pluggedInVehicleId pluggedInChargerId } } }"""
#: Every field the end-to-end tests read (information, location, interventions, evidence, ...).
VIEWER_FULL = (f"{{ viewer {{ vehicles {{ {VEHICLE_FIELDS} }} chargers {{ {CHARGER_FIELDS} }} "
               f"evSystems {{ {SYSTEM_FIELDS} }} }} }}")
TYPENAME = "{ __typename }"
LINK = "mutation($v: String!, $c: JSON!) { linkVendor(vendor: $v, credentials: $c) { vehicles { id } } }"


async def link_more(http: httpx.AsyncClient, url: str, sim: str, token: str, n: int, tag: str) -> None:
    """Link `n` more simulated vehicles and `n` more chargers."""
    for vendor, devices in (
        ("smartcar", [{"kind": "vehicle", "vin": f"BENCH{tag}{i:010d}"} for i in range(n)]),
        ("easee", [{"kind": "charger", "serialNumber": f"EHB{tag}{i:05d}"} for i in range(n)]),
    ):
        async with httpx.AsyncClient(timeout=30) as sim_http:  # `http` may be an in-process transport
            creds = (await sim_http.post(f"{sim}/sim/accounts", json={"vendor": vendor, "devices": devices})).json()
        await gql(http, url, LINK, {"v": vendor, "c": creds["credentials"]}, token)


class Counter(logging.Handler):
    """Counts the SQL statements Tortoise logs."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


async def app_cpu_ms(app: Any, token: str, query: str, rounds: int = 5, per_round: int = 300) -> float:
    """CPU milliseconds (this process, its threads included) the ASGI app spends on one request,
    called directly without a server or client: best of `rounds`."""
    body = json.dumps({"query": query}).encode()
    headers = [(b"host", b"tandem"), (b"content-type", b"application/json"),
               (b"authorization", f"Bearer {token}".encode()), (b"content-length", str(len(body)).encode())]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": "/graphql", "raw_path": b"/graphql", "query_string": b"",
             "root_path": "", "headers": headers, "client": ("127.0.0.1", 1), "server": ("tandem", 80)}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Any) -> None:
        if message["type"] == "http.response.body":
            assert b'"errors"' not in message["body"], message["body"][:200]

    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(per_round):
            await app(dict(scope), receive, send)
        best = min(best, (time.process_time() - start) / per_round * 1000)
    return best


async def sql_per_viewer(db_url: str, sim: str, token: str
                         ) -> tuple[int, int, dict[str, int], dict[str, float]]:
    """SQL statements of one viewer request in-process, at the current assets and after adding 2 + 2 more,
    and the app's CPU per request (`app_cpu_ms`) at the current assets."""
    from app.settings import Settings
    from app.web import create_app

    settings = Settings.from_env({}, database_url=db_url, simulator_url=sim, embedded_workers=False,
                                 log_level="WARNING", rate_limit_per_minute=0, secret_keys=BENCH_SECRET_KEYS)
    app = create_app(settings)
    counter = Counter()
    db_log = logging.getLogger("tortoise.db_client")
    async with app.router.lifespan_context(app), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://tandem", timeout=30
    ) as http:
        async def count() -> tuple[int, dict[str, int]]:
            await gql(http, "/graphql", VIEWER_FULL, token=token)  # warm the token cache
            db_log.setLevel(logging.DEBUG)
            db_log.addHandler(counter)
            counter.count = 0
            data = await gql(http, "/graphql", VIEWER_FULL, token=token)
            db_log.removeHandler(counter)
            v = data["viewer"]
            return counter.count, {k: len(v[k]) for k in ("vehicles", "chargers", "evSystems")}

        small, _ = await count()
        cpu = {name: await app_cpu_ms(app, token, q) for name, q in (("__typename", TYPENAME), ("viewer", VIEWER))}
        await link_more(http, "/graphql", sim, token, 2, "X")
        large, sizes = await count()
    return small, large, sizes, cpu


def merge(loads: list[Load]) -> Load:
    """Several runs of one query as one."""
    return Load(sum(x.requests for x in loads), sum(x.seconds for x in loads),
                [ms for x in loads for ms in x.latencies_ms], sum(x.errors for x in loads))


async def main(requests: int, concurrency: int, rounds: int = 5) -> None:
    """Run the benchmark and print its figures."""
    db_url, port = temp_sqlite(), free_port()
    server = await Service.start(tandem_cmd("serve", "--demo", "--port", str(port)),
                                 {"TANDEM_DATABASE_URL": db_url, "TANDEM_LOG_LEVEL": "WARNING"})
    try:
        sim = (await server.wait_for(r"simulator: (\S+)")).group(1)
        token = (await server.wait_for(r"demo user token: (\S+)")).group(1)
        server.drain()
        url = f"http://127.0.0.1:{port}/graphql"
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(timeout=30, limits=limits) as http:
            await ready(http, f"http://127.0.0.1:{port}")
            await link_more(http, url, sim, token, 1, "A")
            me = (await gql(http, url, VIEWER, token=token))["viewer"]
            shape = {k: len(me[k]) for k in ("vehicles", "chargers", "evSystems")}

            def call(body: dict[str, Any]) -> Any:
                async def one() -> bool:
                    r = await http.post(url, json=body, headers={"Authorization": f"Bearer {token}"})
                    return r.status_code == 200 and not r.json().get("errors")
                return one

            for body in ({"query": TYPENAME}, {"query": VIEWER}, {"query": VIEWER_FULL}):  # warm-up
                await load(call(body), 100, concurrency)
            # Interleaved rounds: on a shared machine the load of others changes over a run, and
            # measuring one query after the other would hand each a different machine.
            runs: dict[str, list[Load]] = {"__typename": [], "viewer": [], "viewer full": []}
            cpu = dict.fromkeys(runs, 0.0)
            per_round = max(1, requests // rounds)
            for _ in range(rounds):
                for name, body in (("__typename", TYPENAME), ("viewer", VIEWER), ("viewer full", VIEWER_FULL)):
                    before = cpu_seconds(server.proc.pid)
                    runs[name].append(await load(call({"query": body}), per_round, concurrency))
                    cpu[name] += cpu_seconds(server.proc.pid) - before
            bare, viewer, full = (merge(runs[n]) for n in ("__typename", "viewer", "viewer full"))
        small, large, sizes, app_cpu = await sql_per_viewer(db_url, sim, token)
        print(f"tests.bench.query: {requests} requests per query, {concurrency} concurrent clients, "
              f"one uvicorn worker, {db_url.split(':')[0]}")
        print(f"assets: {shape}")
        per_cpu = {n: len(runs[n]) * per_round / cpu[n] if cpu[n] else float("nan") for n in runs}
        for name, result in (("__typename", bare), ("viewer", viewer), ("viewer full", full)):
            print(f"{result.line(name)}   {per_cpu[name]:7.0f} req per server CPU-second")
        print(f"ratio viewer/__typename: {viewer.rps / bare.rps:.2f} (goal >= 0.5), per server CPU-second "
              f"{per_cpu['viewer'] / per_cpu['__typename']:.2f}; full tree: {full.rps / bare.rps:.2f}, "
              f"{per_cpu['viewer full'] / per_cpu['__typename']:.2f}")
        print(f"app CPU per request (in process, no server or client, best of 5 x 300): "
              f"__typename {app_cpu['__typename']:.3f} ms, viewer {app_cpu['viewer']:.3f} ms")
        print(f"SQL statements per viewer request: {small} at 2+2 assets, {large} at {sizes}")
        print(f"server peak RSS: {server.peak_rss_mb():.0f} MB")
    finally:
        await server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds of the three queries")
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.concurrency, args.rounds))
