"""Subscription fan-out: how fast a change reaches many websocket subscribers, and at what memory.

    ./run bench fanout                                   # 500 users × 1 subscriber, 100 changes, 1 process
    ./run bench fanout --users 5000 --changes 1000       # (a) 5,000 users, 1,000 plug-ins within 1 s
    ./run bench fanout --users 1 --per-user 2000 --changes 1   # (b) 2,000 subscribers of one user
    ./run bench fanout --users 5000 --per-user 4 --processes 4 --changes 1000   # 20,000 over 4 processes

Seeds users, each with one charger, directly in the database; starts `--processes` web
processes (`tandem serve`, no workers) on Redis with a namespace of their own; opens one
websocket per subscriber from `--clients` client processes (the lean `websockets` client, one
`chargerUpdated(id)` subscription per socket); then marks `--changes` chargers plugged in
(database write, then the event on the broadcast, as a worker's poll does) spread evenly over
`--over` seconds. Latency runs from just before a charger's write to its subscriber receiving
`isPluggedIn: true`. Memory per subscriber is the growth of each web process's resident memory
from before the sockets opened to after every subscription was registered. The clients offer
permessage-deflate only with `--deflate` (browsers always do); the server accepts it only with
TANDEM_WS_COMPRESSION=true (5,000 users with `--deflate`: 51.8 KB per subscriber, 93.2 KB with
compression on).

Database: a fresh SQLite file, or `--database postgres://...` (a private database
`tandem_bench_<pid>` is created beside the one named and dropped at exit). Redis:
`--redis` (default `redis://127.0.0.1:6379/0`); only this run's channel is used.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from tests.bench.common import (
    BENCH_SECRET_KEYS,
    ROOT,
    Service,
    cpu_seconds,
    free_port,
    pct,
    ready,
    tandem_cmd,
    temp_sqlite,
)

SUB = "subscription($i: ID) { chargerUpdated(id: $i) { id chargeState { isPluggedIn powerDeliveryState } } }"


# ---------------------------------------------------------------- client process


async def client_main(spec_path: str) -> None:
    """One client process: open its sockets, subscribe, report receipts (see `Clients`)."""
    import websockets

    spec = json.loads(Path(spec_path).read_text())  # noqa: ASYNC240 (once, before any socket)
    received: dict[int, float] = {}
    errors: list[str] = []
    opened = settled = 0
    gate = asyncio.Semaphore(64)
    all_open = asyncio.Event()
    total = len(spec["subs"])

    def settle() -> None:
        nonlocal settled
        settled += 1
        if settled == total:
            all_open.set()

    async def one(i: int, url: str, token: str, cid: str) -> None:
        nonlocal opened
        is_open = False
        try:
            async with gate:
                ws = await websockets.connect(url, subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
                                              compression=spec["compression"], ping_interval=None,
                                              open_timeout=120, max_queue=16)
                await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}))
                ack = json.loads(await asyncio.wait_for(ws.recv(), 120))
                if ack.get("type") != "connection_ack":
                    raise RuntimeError(f"no ack: {ack}")
                await ws.send(json.dumps({"id": "1", "type": "subscribe",
                                          "payload": {"query": SUB, "variables": {"i": cid}}}))
            opened += 1
            is_open = True
            settle()
            async for raw in ws:
                msg = json.loads(raw)
                kind = msg.get("type")
                if kind == "ping":
                    await ws.send('{"type":"pong"}')
                elif kind == "next":
                    data = (msg["payload"].get("data") or {}).get("chargerUpdated") or {}
                    if data.get("chargeState", {}).get("isPluggedIn") and i not in received:
                        received[i] = time.time()
                    elif msg["payload"].get("errors"):
                        errors.append(str(msg["payload"]["errors"])[:200])
                elif kind in ("error", "complete"):
                    errors.append(str(msg)[:200])
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}"[:200])
            if not is_open:
                settle()

    tasks = [asyncio.create_task(one(i, *s)) for i, s in enumerate(spec["subs"])]
    await all_open.wait()
    print(f"ready {opened} {len(errors)}", flush=True)
    stop = asyncio.create_task(asyncio.to_thread(sys.stdin.readline))
    while not stop.done():
        print(f"progress {len(received)}", flush=True)
        await asyncio.wait([stop], timeout=0.25)
    print("result " + json.dumps({"received": received, "errors": errors[:20], "n_errors": len(errors)}),
          flush=True)
    for t in tasks:
        t.cancel()


# ---------------------------------------------------------------- orchestration


@dataclass
class Run:
    """One benchmark run's inputs and what it measured."""

    users: int
    per_user: int
    changes: int
    processes: int
    subscribers: int = 0
    expected: int = 0
    latencies: list[float] = field(default_factory=list)
    kb_per_sub: list[float] = field(default_factory=list)
    server_cpu_s: float = 0.0
    errors: int = 0
    sample_errors: list[str] = field(default_factory=list)


async def private_postgres(url: str) -> tuple[str, Any]:
    """A database of this run beside the one `url` names; returns its URL and a dropper."""
    import asyncpg

    name = f"tandem_bench_{os.getpid()}"
    admin_url = url.replace("postgres://", "postgresql://", 1)

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(admin_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    await admin(f'DROP DATABASE IF EXISTS "{name}"')
    await admin(f'CREATE DATABASE "{name}"')

    async def drop() -> None:
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return urlsplit(url)._replace(path=f"/{name}").geturl(), drop


async def seed(users: int) -> list[tuple[str, str, str]]:
    """`users` users of one client, each with a token and one unplugged charger: (user, token, charger)."""
    from app.db.models import Charger, User, VendorLink
    from app.services.accounts import create_client, create_user_token

    client, _ = await create_client("fanout-bench")
    rows = [User(client_id=client.id, external_id=f"fan-{i}") for i in range(users)]
    await User.bulk_create(rows, batch_size=1000)
    ids = [u.id for u in await User.filter(client_id=client.id).order_by("external_id")]
    links = [VendorLink(user_id=uid, vendor="easee", account_key=f"acct-{uid}") for uid in ids]
    await VendorLink.bulk_create(links, batch_size=1000)
    link_of = {lk.user_id: lk.id for lk in await VendorLink.filter(user_id__in=ids)}  # type: ignore[attr-defined]
    now = datetime.now(UTC)
    await Charger.bulk_create([
        Charger(user_id=uid, link_id=link_of[uid], vendor="easee", vendor_id=f"EHB{n:06d}", serial_number=f"EHB{n:06d}",
                brand="Easee", model="Home", is_reachable=True, is_online=True, is_plugged_in=False,
                power_state="UNPLUGGED", last_seen=now, state_updated_at=now, capabilities=[])
        for n, uid in enumerate(ids)], batch_size=1000)
    charger_of = {c.user_id: c.id for c in await Charger.filter(user_id__in=ids)}  # type: ignore[attr-defined]
    out = []
    for uid in ids:
        _, token = await create_user_token(client.id, uid)
        out.append((uid, token, charger_of[uid]))
    return out


def rss_kb(pid: int) -> int:
    """Current resident memory of `pid` in KB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def subscribers_of(http: httpx.AsyncClient, base: str) -> int:
    """Subscriptions registered on a web process's bus (its /metrics gauge)."""
    text = (await http.get(f"{base}/metrics")).text
    for line in text.splitlines():
        if line.startswith("tandem_broadcast_subscribers "):
            return int(float(line.split()[1]))
    return 0


async def run(args: argparse.Namespace) -> Run:
    """Seed, serve, subscribe, change, measure."""
    from app import db
    from app.db.models import Charger
    from app.events import Event, EventBus
    from app.settings import Settings

    result = Run(args.users, args.per_user, args.changes, args.processes)
    db_url, drop = args.database or temp_sqlite(), None
    if db_url.startswith(("postgres://", "postgresql://")):
        db_url, drop = await private_postgres(db_url)
    namespace = f"bench-{uuid.uuid4().hex[:10]}"
    settings = Settings.from_env({}, database_url=db_url, broadcast_url=args.redis, broadcast_namespace=namespace,
                                 secret_keys=BENCH_SECRET_KEYS)  # the web processes' keys (tests.bench.common)
    await db.migrate(settings)
    await db.init(settings)
    servers: list[Service] = []
    clients: list[Service] = []
    bus = EventBus(args.redis, namespace=namespace)
    try:
        t0 = time.monotonic()
        people = await seed(args.users)
        print(f"seeded {args.users} users in {time.monotonic() - t0:.1f} s", flush=True)
        env = {"TANDEM_DATABASE_URL": db_url, "TANDEM_BROADCAST_URL": args.redis,
               "TANDEM_BROADCAST_NAMESPACE": namespace, "TANDEM_EMBEDDED_WORKERS": "false",
               "TANDEM_MAX_SOCKETS_PER_USER": "0", "TANDEM_MAX_SUBSCRIPTIONS_PER_USER": "0",
               "TANDEM_RATE_LIMIT_PER_MINUTE": "0", "TANDEM_LOG_LEVEL": "WARNING"}
        ports = [free_port() for _ in range(args.processes)]
        for port in ports:
            servers.append(await Service.start(tandem_cmd("serve", "--port", str(port)), env))
        bases = [f"http://127.0.0.1:{p}" for p in ports]
        async with httpx.AsyncClient(timeout=60) as http:
            for base, srv in zip(bases, servers, strict=True):
                srv.drain()
                await ready(http, base)
            await asyncio.sleep(1.0)  # let start-up allocations settle before the baseline
            base_rss = [rss_kb(s.proc.pid) for s in servers]

            subs = [(i, uid, tok, cid) for i, (uid, tok, cid) in
                    enumerate(p for p in people for _ in range(args.per_user))]
            result.subscribers = len(subs)
            per_client: list[list[list[str]]] = [[] for _ in range(args.clients)]
            owner: list[tuple[int, int]] = []  # subscriber -> (client, index in client)
            for i, _uid, tok, cid in subs:
                url = bases[i % args.processes].replace("http://", "ws://") + "/graphql"
                c = i % args.clients
                owner.append((c, len(per_client[c])))
                per_client[c].append([url, tok, cid])
            tmp = Path(tempfile.mkdtemp(prefix="tandem-fanout-"))
            for c, specs in enumerate(per_client):
                path = tmp / f"client{c}.json"
                path.write_text(json.dumps({"subs": specs, "compression": "deflate" if args.deflate else None}))
                clients.append(Service(await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "tests.bench.fanout", "--client", str(path), cwd=ROOT, limit=1 << 24,
                    stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)))
            for cl in clients:
                m = await cl.wait_for(r"^ready (\d+) (\d+)", timeout=args.timeout * 10)
                if int(m.group(2)):
                    print(f"warning: a client could not open {m.group(2)} subscriptions", flush=True)
            t0 = time.monotonic()
            while sum([await subscribers_of(http, b) for b in bases]) < len(subs):
                if time.monotonic() - t0 > 60:
                    print("warning: not every subscription registered", flush=True)
                    break
                await asyncio.sleep(0.2)
            per_proc = [sum(1 for i in range(len(subs)) if i % args.processes == k) for k in range(args.processes)]
            result.kb_per_sub = [(rss_kb(s.proc.pid) - b) / max(1, n)
                                 for s, b, n in zip(servers, base_rss, per_proc, strict=True)]
            cpu0 = sum(cpu_seconds(s.proc.pid) for s in servers)

            # the changes: write, then publish, spread evenly over `--over` seconds
            await bus.connect()
            changed = [cid for _, _, cid in people[: args.changes]]
            owner_of = {cid: uid for uid, _, cid in people[: args.changes]}
            changed_at: dict[str, float] = {}
            batches = max(1, min(len(changed), int(args.over * 20)))
            size = -(-len(changed) // batches)
            start = time.monotonic()
            for b in range(batches):
                part = changed[b * size:(b + 1) * size]
                if not part:
                    break
                await asyncio.sleep(max(0.0, start + b * args.over / batches - time.monotonic()))
                stamp = time.time()
                await Charger.filter(id__in=part).update(
                    is_plugged_in=True, power_state="PLUGGED_IN_INITIALIZING", state_updated_at=datetime.now(UTC))
                for cid in part:
                    changed_at[cid] = stamp
                await asyncio.gather(*(bus.publish(Event("charger", owner_of[cid], cid)) for cid in part))
            print(f"published {len(changed)} changes in {time.monotonic() - start:.2f} s", flush=True)
            result.expected = args.changes * args.per_user

            got = [0] * len(clients)
            readers = [asyncio.create_task(_progress(cl, got, k)) for k, cl in enumerate(clients)]
            t0 = time.monotonic()
            while sum(got) < result.expected and time.monotonic() - t0 < args.timeout:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
            for r in readers:
                r.cancel()
            result.server_cpu_s = sum(cpu_seconds(s.proc.pid) for s in servers) - cpu0
            received: list[dict[str, float]] = []
            for cl in clients:
                received.append(await _stop_client(cl))
            for i, _uid, _tok, cid in subs:
                c, k = owner[i]
                when = received[c]["received"].get(str(k))
                if when is not None and cid in changed_at:
                    result.latencies.append(when - changed_at[cid])
            result.errors = sum(int(r["n_errors"]) for r in received)
            result.sample_errors = [e for r in received for e in r["errors"]][:3]
    finally:
        await bus.disconnect()
        for cl in clients:
            await cl.stop()
        for srv in servers:
            await srv.stop()
        await db.close()
        if drop is not None:
            await drop()
    return result


async def _progress(cl: Service, got: list[int], k: int) -> None:
    assert cl.proc.stdout is not None
    while True:
        line = (await cl.proc.stdout.readline()).decode()
        if not line:
            return
        if line.startswith("progress "):
            got[k] = int(line.split()[1])
        cl.lines.append(line)


async def _stop_client(cl: Service) -> dict[str, Any]:
    assert cl.proc.stdin is not None
    cl.proc.stdin.write(b"stop\n")
    await cl.proc.stdin.drain()
    m = await cl.wait_for(r"^result (.*)$", timeout=60)
    return dict(json.loads(m.group(1)))


def report(r: Run) -> None:
    """Print one run's figures."""
    lat = r.latencies
    within = sum(1 for x in lat if x <= 1.0)
    print(f"processes {r.processes}  users {r.users}  subscribers {r.subscribers} "
          f"({r.per_user} per user)  changes {r.changes}")
    print(f"delivered {len(lat)} of {r.expected}  within 1 s {within}  p50 {pct(lat, 50) * 1000:.0f} ms  "
          f"p99 {pct(lat, 99) * 1000:.0f} ms  max {max(lat, default=0) * 1000:.0f} ms")
    print("KB per subscriber (per process): " + ", ".join(f"{kb:.1f}" for kb in r.kb_per_sub)
          + f"  server CPU during fan-out {r.server_cpu_s:.1f} s  client errors {r.errors}")
    for e in r.sample_errors:
        print(f"  error: {e}")


def main() -> None:
    """Command line."""
    p = argparse.ArgumentParser(prog="python -m tests.bench.fanout", description=__doc__.split("\n\n")[0])
    p.add_argument("--client", help=argparse.SUPPRESS)
    p.add_argument("--users", type=int, default=500)
    p.add_argument("--per-user", type=int, default=1, help="subscribers (sockets) per user")
    p.add_argument("--changes", type=int, default=100, help="chargers plugged in (the first N users')")
    p.add_argument("--over", type=float, default=1.0, help="seconds over which the changes are spread")
    p.add_argument("--processes", type=int, default=1, help="web processes")
    p.add_argument("--clients", type=int, default=2, help="client processes")
    p.add_argument("--deflate", action="store_true", help="clients offer permessage-deflate")
    p.add_argument("--database", default=os.environ.get("TANDEM_BENCH_DATABASE_URL"))
    p.add_argument("--redis", default=os.environ.get("TANDEM_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"))
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for deliveries")
    args = p.parse_args()
    if args.client:
        asyncio.run(client_main(args.client))
        return
    args.changes = min(args.changes, args.users)
    report(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
