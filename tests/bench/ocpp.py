"""Benchmark: OCPP charge points connected straight to Tandem.

    python -m tests.bench.ocpp [--points 1000] [--users 100] [--plugins 200] [--paired 50]
                               [--commands 100] [--web 1|2]

Runs the standalone simulator and `tandem serve` as subprocesses. Every user links their charge
points through GraphQL while the simulated charge points are held offline; then all connect at
once over real websockets to Tandem's `/ocpp` (as after a restart of Tandem: each handshake costs
one scrypt password check, run in threads of their own; past 16 queued checks per thread a
handshake is refused with 503 and a Retry-After, and the charge point retries with jittered
exponential backoff, 0.5 s doubling to 60 s, never sooner than the Retry-After), heartbeats every
30 s. Each user keeps one websocket subscribed to `chargerUpdated`, `actionUpdated` and
`evSystemUpdated`. Measured:
- link time and connect time (the phase fails only when no charge point connected for 120 s),
  with the web processes' CPU per connect, the handshakes by outcome (Tandem's
  `tandem_ocpp_handshakes_total`) and the charge points' attempts;
- memory per connection: every tenth charge point connects first; then the web processes'
  resident memory after all connected (and configured), less after that first share, per charge
  point of the rest (goal ≤ 50 KB): one-off costs of serving charge points at all (imports,
  schema caches, database pools, scrypt threads) are not per connection. The figure counting
  everything from before the first connect is printed beside it;
- plug-in → `chargerUpdated` with isPluggedIn at the user's subscriber: p50/p99 (goal p99 ≤ 1 s
  at 1,000 charge points), from `/sim/plug` to the event;
- pairing with known idTags: the first `--paired` users each link two cars whose cloud reports a
  plug-in only at its next refresh (every 300 s) and give the first one its card's idTag
  (`setVehicleIdTags`). They plug that car into one of their chargers, which presents the card
  (Authorize, StartTransaction) as a real charger does. Measured: `/sim/plug` → `evSystemUpdated`
  ACTIVE for that car and charger, p50/p95 (goal p95 ≤ 1 s), and false activations (any ACTIVE
  pair that is not a car in the charger it is plugged into, over the whole run; goal 0). The
  other plug-ins are cars nobody linked, started with the charger's own card;
- command round trip: `setMaxCurrent(chargerId)` → `actionUpdated` CONFIRMED, p50/p99 (the
  orchestrator judges an action as soon as a device of its user shows a change, so this is
  SetChargingProfile + GetCompositeSchedule + the poll of the charger's report).
`--web 2` runs two web processes (the first with the workers, the second serving sockets only;
charge points split between them) on PostgreSQL + Redis (TANDEM_BENCH_DATABASE_URL, default a
fresh database on 127.0.0.1:5432; TANDEM_BENCH_REDIS_URL, default redis://127.0.0.1:6379/0), so
a command often crosses processes. Failed-handshake limiting is off.

Figures on the 2-core machine (README.md "Benchmarks" has the table). adbb7c3, alone, one scrypt
hash 23 ms: `--points 1000`: link 36 ms each, the 900 after the first 100 connected in 65 s (46 ms
web CPU per connect), 17.6 KB per connection (16.0 KB all-in), plug-in → chargerUpdated p50 9 ms /
p99 35 ms, known idTag → ACTIVE 50/50 p50 218 ms / p95 230 ms, 0 false, CONFIRMED p50 23 ms / p99
216 ms; `--points 1000 --web 2`: 21.9 KB per connection (24.8 KB all-in, two processes), plug-in
p50 9 ms / p99 78 ms, ACTIVE 50/50 p50 217 ms / p95 226 ms, 0 false, CONFIRMED p50 32 ms / p99
52 ms. On a machine about 3x slower (scrypt 147 ms), `--points 1000` missed the latency goals
(plug-in p99 15.2 s, ACTIVE p95 26.3 s): one web process was saturated. 4ab13bb, beside two CI
suites, `--points 5000`: link 50 ms each, the 4,500 after the first 500 connected
in 274 s (69 ms web CPU per connect, 43,190 busy 503s), 40.1 KB per connection, plug-in p50 676 ms
/ p99 3.3 s, ACTIVE 50/50 p50 2.5 s / p95 6.2 s, 0 false, CONFIRMED p50 230 ms / p99 1.9 s (the
goals are set at 1,000).
An earlier stop's final code (79ca3ca, alone), `--points 1000`: 35 KB per connection, plug-in
p99 304 ms, ACTIVE p95 1.01 s; `--web 2`: 77 KB, p99 93 ms, ACTIVE p95 0.71 s. Earlier figures
and the stage-by-stage timings of a plug-in are in this docstring's history (git show 6d609b1).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import websockets
from prometheus_client.parser import text_string_to_metric_families

from tests.bench.common import (
    Service,
    cpu_seconds,
    free_port,
    gql,
    pct,
    peak_rss_mb,
    ready,
    tandem_cmd,
    temp_sqlite,
)

SECRET = "tdm_cs_bench-ocpp-client-secret"
LINK = ('mutation($c: JSON!) { linkVendor(vendor: "ocpp", credentials: $c) '
        '{ chargers { id information { serialNumber } } } }')
LINK_CARS = ('mutation($c: JSON!) { linkVendor(vendor: "smartcar", credentials: $c) '
             '{ vehicles { id information { vin } } } }')
SET_TAGS = "mutation($v: ID!, $t: [String!]!) { setVehicleIdTags(vehicleId: $v, idTags: $t) { id } }"
SUBS = ["subscription { chargerUpdated { id chargeState { isPluggedIn } } }",
        "subscription { actionUpdated { id state } }",
        "subscription { evSystemUpdated { status vehicle { id } charger { id } } }"]
#: The pairing users' cars: their cloud reports a plug-in only at its next refresh, minutes away.
LAG_S = 300
#: Every this many charge points, one connects before the rest (see the memory figure).
WARM_EVERY = 10
#: The connect phase fails when no further charge point connected for this long (s).
STALL_S = 120


@dataclass
class User:
    """One user, their charge points and subscriber."""

    token: str
    chargers: dict[str, str] = field(default_factory=dict)  # serial -> charger id
    plugged: dict[str, float] = field(default_factory=dict)  # charger id -> when /sim/plug was sent
    seen: dict[str, float] = field(default_factory=dict)  # charger id -> latency (s)
    actions: dict[str, float] = field(default_factory=dict)  # action id -> when requested
    confirmed: dict[str, float] = field(default_factory=dict)  # action id -> latency (s)
    cars: dict[str, str] = field(default_factory=dict)  # vin -> vehicle id (pairing users)
    truth: dict[str, str] = field(default_factory=dict)  # vehicle id -> charger id it is plugged into
    active: dict[str, float] = field(default_factory=dict)  # vehicle id -> plug → right ACTIVE (s)
    false: set[tuple[str, str]] = field(default_factory=set)  # ACTIVE (vehicle, charger) pairs that are wrong


async def until_connected(http: httpx.AsyncClient, sim_url: str, n: int) -> dict[str, Any]:
    """Wait until `n` simulated charge points are connected (`/sim/ocpp` totals, returned);
    TimeoutError when none more connected for STALL_S seconds."""
    best, progress_at = 0, time.perf_counter()
    while True:
        sims: dict[str, Any] = (await http.get(f"{sim_url}/sim/ocpp")).json()
        if sims["connected"] >= n:
            return sims
        if sims["connected"] > best:
            best, progress_at = sims["connected"], time.perf_counter()
        elif time.perf_counter() - progress_at > STALL_S:
            raise TimeoutError(f"only {best}/{n} charge points connected, none more for {STALL_S} s")
        await asyncio.sleep(1)


async def until(done: Any, timeout: float) -> None:
    """Check `done()` every 0.2 s until it holds or `timeout` seconds pass (the figures say how many)."""
    end = time.perf_counter() + timeout
    while not done() and time.perf_counter() < end:  # noqa: ASYNC110
        await asyncio.sleep(0.2)


async def handshake_counts(http: httpx.AsyncClient, bases: list[str]) -> dict[str, float]:
    """`tandem_ocpp_handshakes_total` by outcome, summed over the web processes (their /metrics)."""
    counts: dict[str, float] = {}
    for base in bases:
        text = (await http.get(f"{base}/metrics")).text
        for family in text_string_to_metric_families(text):
            if family.name != "tandem_ocpp_handshakes":
                continue
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    outcome = sample.labels["outcome"]
                    counts[outcome] = counts.get(outcome, 0.0) + sample.value
    return counts


def handshake_line(counts: dict[str, float]) -> str:
    """`accepted 4,990, cached 10, busy 21,345, ...` (the outcomes seen)."""
    return ", ".join(f"{k} {v:,.0f}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1])) or "none counted"


def rss_kb(pid: int) -> float:
    """Current resident memory of a process, in KB."""
    for line in open(f"/proc/{pid}/status").read().splitlines():
        if line.startswith("VmRSS:"):
            return float(line.split()[1])
    return 0.0


async def private_postgres() -> tuple[str, str]:
    """(url, database) of a fresh database on the shared PostgreSQL server."""
    import asyncpg

    base = os.environ.get("TANDEM_BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
    name = f"tandem_bench_{os.getpid()}"
    conn = await asyncpg.connect(base.replace("postgres://", "postgresql://", 1))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return base.rsplit("/", 1)[0] + "/" + name, name


async def drop_postgres(name: str) -> None:
    """Drop the bench's database."""
    import asyncpg

    base = os.environ.get("TANDEM_BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
    conn = await asyncpg.connect(base.replace("postgres://", "postgresql://", 1))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def record(user: User, data: dict[str, Any], now: float) -> None:
    """Note what one subscription event tells (first plug-in, first confirmation, activations)."""
    c = data.get("chargerUpdated")
    if c and c["chargeState"]["isPluggedIn"] and c["id"] in user.plugged and c["id"] not in user.seen:
        user.seen[c["id"]] = now - user.plugged[c["id"]]
    a = data.get("actionUpdated")
    if a and a["state"] == "CONFIRMED" and a["id"] in user.actions and a["id"] not in user.confirmed:
        user.confirmed[a["id"]] = now - user.actions[a["id"]]
    s = data.get("evSystemUpdated")
    if s and s["status"] == "ACTIVE":
        vid, cid = s["vehicle"]["id"], s["charger"]["id"]
        if user.truth.get(vid) != cid:
            user.false.add((vid, cid))
        elif vid not in user.active and cid in user.plugged:
            user.active[vid] = now - user.plugged[cid]


async def subscriber(url: str, user: User, ready_evt: asyncio.Event, stop: asyncio.Event) -> None:
    """One user's websocket: records when each plug-in, confirmation and activation arrives."""
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"], max_queue=None) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {user.token}"}}))
        await ws.recv()
        for i, q in enumerate(SUBS):
            await ws.send(json.dumps({"id": str(i), "type": "subscribe", "payload": {"query": q}}))
        ready_evt.set()
        while not stop.is_set():
            try:
                raw = await asyncio.wait_for(ws.recv(), 0.5)
            except TimeoutError:
                continue
            msg = json.loads(raw)
            if msg.get("type") == "ping":
                await ws.send(json.dumps({"type": "pong"}))
                continue
            record(user, (msg.get("payload") or {}).get("data") or {}, time.perf_counter())


async def link_pairing_cars(http: httpx.AsyncClient, api: str, sim_url: str, u: int, user: User) -> str:
    """A pairing user's two cars, both with a lagging cloud: the one they plug in carries a card
    (its idTag, told to Tandem with setVehicleIdTags), the other has none. Returns the first's vin."""
    tagged, other = f"OCPPPAIR{u:05d}A", f"OCPPPAIR{u:05d}B"
    made = (await http.post(f"{sim_url}/sim/accounts", json={"vendor": "smartcar", "devices": [
        {"kind": "vehicle", "vin": tagged, "soc": 0.4, "vehicle_refresh_s": LAG_S, "id_tag": f"04BE{u:06d}"},
        {"kind": "vehicle", "vin": other, "soc": 0.5, "vehicle_refresh_s": LAG_S}]})).json()
    data = await gql(http, api, LINK_CARS, {"c": made["credentials"]}, user.token)
    user.cars = {v["information"]["vin"]: v["id"] for v in data["linkVendor"]["vehicles"]}
    await gql(http, api, SET_TAGS, {"v": user.cars[tagged], "t": [f"04BE{u:06d}"]}, user.token)
    return tagged


async def main(points: int, users_n: int, plugins: int, paired: int, commands: int, webs: int) -> None:
    rng = random.Random(1)
    per_user = max(1, points // users_n)
    paired = min(paired, users_n)
    env: dict[str, str] = {"TANDEM_DEMO_CLIENT_SECRET": SECRET, "TANDEM_OCPP_AUTH_FAILURES_PER_MINUTE": "0",
                           "TANDEM_CHARGER_POLL_S": "10", "TANDEM_MAX_SOCKETS_PER_USER": "0",
                           "TANDEM_MAX_SUBSCRIPTIONS_PER_USER": "0", "TANDEM_RATE_LIMIT_PER_MINUTE": "0"}
    pg_name = None
    if webs > 1:
        url, pg_name = await private_postgres()
        env.update(TANDEM_DATABASE_URL=url,
                   TANDEM_BROADCAST_URL=os.environ.get("TANDEM_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"))
    else:
        env["TANDEM_DATABASE_URL"] = temp_sqlite()
    sim_port = free_port()
    sim = await Service.start(tandem_cmd("simulate", "--port", str(sim_port)), {})
    await sim.wait_for("simulator: ")
    sim.drain()
    sim_url = f"http://127.0.0.1:{sim_port}"
    ports = [free_port() for _ in range(webs)]
    procs: list[Service] = []
    try:
        for i, port in enumerate(ports):
            args = ["serve", "--demo"] if i == 0 else ["serve"]
            extra = {"TANDEM_EMBEDDED_WORKERS": "false"} if i else {}
            web = await Service.start(tandem_cmd(*args), {**env, **extra, "TANDEM_PORT": str(port),
                                                          "TANDEM_SIMULATOR_URL": sim_url})
            await web.wait_for("GraphQL: " if i else "demo user token: ", timeout=120)
            web.drain()
            procs.append(web)
        async with httpx.AsyncClient(timeout=120) as http:
            bases = [f"http://127.0.0.1:{p}" for p in ports]
            for base in bases:
                await ready(http, base)
            api = bases[0] + "/graphql"
            users: list[User] = []
            for u in range(users_n):
                uid = (await gql(http, api, 'mutation($e: String!) { createUser(externalId: $e) { id } }',
                                 {"e": f"ocpp-bench-{u}"}, SECRET))["createUser"]["id"]
                tok = (await gql(http, api, 'mutation($u: ID!) { createUserToken(userId: $u) { token } }',
                                 {"u": uid}, SECRET))["createUserToken"]["token"]
                users.append(User(tok))
            tagged = [await link_pairing_cars(http, api, sim_url, u, users[u]) for u in range(paired)]
            # Cars of nobody Tandem knows, for the other plug-ins (each a charger's own card starts it).
            vins = [f"OCPPBENCH{i:08d}" for i in range(max(0, min(plugins, points) - paired))]
            if vins:
                cars = (await http.post(f"{sim_url}/sim/accounts", json={"vendor": "smartcar", "devices": [
                    {"kind": "vehicle", "vin": vin, "soc": 0.2} for vin in vins]})).json()
                assert cars["devices"]
            # Linked first, connected after: every charge point then connects at once (as after a
            # restart of Tandem), and no handshake is refused for an id not linked yet.
            await http.post(f"{sim_url}/sim/faults", json={"vendor": "ocpp", "offline": True})
            t_link = time.perf_counter()
            for u, user in enumerate(users):
                web_url = bases[u % webs].replace("http://", "ws://") + "/ocpp"
                serials = [f"CPB{u:04d}{k:03d}" for k in range(per_user)]
                made = (await http.post(f"{sim_url}/sim/accounts", json={
                    "vendor": "ocpp", "centralSystemUrl": web_url, "ocppOptions": {"heartbeatS": 30},
                    "devices": [{"kind": "charger", "serialNumber": s} for s in serials]})).json()
                for creds in made["chargePoints"]:
                    data = await gql(http, api, LINK, {"c": creds}, user.token)
                    ch = data["linkVendor"]["chargers"][0]
                    user.chargers[ch["information"]["serialNumber"]] = ch["id"]
            link_s = time.perf_counter() - t_link
            total = sum(len(u.chargers) for u in users)
            await asyncio.sleep(2)
            cold = [rss_kb(p.proc.pid) for p in procs]
            # A first share connects alone (every WARM_EVERY-th, so every web process gets some): the
            # one-off costs of serving charge points at all (imports, schema caches, database pools,
            # scrypt threads) are then paid before the memory per connection is measured.
            serials = [serial for u in users for serial in u.chargers]
            warm = set(serials[::WARM_EVERY])
            await http.post(f"{sim_url}/sim/faults", json={
                "vendor": "ocpp", "offline": [x for x in serials if x not in warm]})
            await until_connected(http, sim_url, len(warm))
            await asyncio.sleep(10)  # let the at-connect configuration finish
            before = [rss_kb(p.proc.pid) for p in procs]
            rest = total - len(warm)
            cpu0 = [cpu_seconds(p.proc.pid) for p in procs]
            t0 = time.perf_counter()
            await http.post(f"{sim_url}/sim/faults", json={"vendor": "ocpp"})
            sims = await until_connected(http, sim_url, total)
            connect_s = time.perf_counter() - t0
            connect_cpu = sum(cpu_seconds(p.proc.pid) for p in procs) - sum(cpu0)
            handshakes = await handshake_counts(http, bases)
            await asyncio.sleep(10)  # let the at-connect configuration finish
            after = [rss_kb(p.proc.pid) for p in procs]
            per_conn_kb = (sum(after) - sum(before)) / max(1, rest)
            per_conn_cold_kb = (sum(after) - sum(cold)) / total

            t_after, cpu_after = time.perf_counter(), [cpu_seconds(p.proc.pid) for p in [*procs, sim]]
            stop = asyncio.Event()
            readies = [asyncio.Event() for _ in users]
            subs = [asyncio.create_task(subscriber(bases[i % webs].replace("http://", "ws://") + "/graphql", u,
                                                   readies[i], stop)) for i, u in enumerate(users)]
            await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 120)

            # Pairing users plug their tagged car into their first charger; the rest plug an
            # unknown car into random chargers of the other users. Interleaved over ~10 s.
            plan: list[tuple[User, str, str]] = [(users[u], next(iter(users[u].chargers)), vin)
                                                 for u, vin in enumerate(tagged)]
            others = [(u, s) for u in users[paired:] for s in u.chargers]
            rng.shuffle(others)
            plan += [(u, s, vin) for (u, s), vin in zip(others, vins, strict=False)]
            rng.shuffle(plan)
            for user, serial, vin in plan:
                cid = user.chargers[serial]
                if vin in user.cars:
                    user.truth[user.cars[vin]] = cid
                user.plugged[cid] = time.perf_counter()
                await http.post(f"{sim_url}/sim/plug", json={"vin": vin, "serialNumber": serial})
                await asyncio.sleep(max(0.0, 10.0 / max(1, len(plan))))
            await until(lambda: sum(len(u.seen) for u in users) >= len(plan)
                        and sum(len(u.active) for u in users) >= len(tagged), 60)
            await asyncio.sleep(5)  # late wrong activations would show here
            plug_lat = [v for u in users for v in u.seen.values()]
            act_lat = [v for u in users for v in u.active.values()]
            false = sum(len(u.false) for u in users)

            pairs = [(u, s) for u in users for s in u.chargers]
            rng.shuffle(pairs)
            targets = pairs[: max(1, commands)]
            for user, serial in targets:
                cid = user.chargers[serial]
                start = time.perf_counter()
                data = await gql(http, api, 'mutation($c: ID!, $a: Float!) { setMaxCurrent(chargerId: $c, '
                                 'maxCurrent: $a) { id state } }', {"c": cid, "a": float(rng.choice([8, 10, 13, 16]))},
                                 user.token)
                user.actions[data["setMaxCurrent"]["id"]] = start
                await asyncio.sleep(max(0.0, 5.0 / len(targets)))  # spread over ~5 s
            await until(lambda: sum(len(u.confirmed) for u in users) >= len(targets), 120)
            cmd_lat = [v for u in users for v in u.confirmed.values()]
            after_s = time.perf_counter() - t_after
            busy = [(cpu_seconds(p.proc.pid) - c0) / after_s * 100
                    for p, c0 in zip([*procs, sim], cpu_after, strict=True)]
            stop.set()
            await asyncio.gather(*subs, return_exceptions=True)

        print(f"\nOCPP bench: {total} charge points on {webs} web process(es), {users_n} users, heartbeats 30 s, "
              f"{os.cpu_count()} cores (shared)")
        print(f"  linked through GraphQL in {link_s:.1f} s ({link_s / total * 1000:.0f} ms each: one scrypt hash)")
        print(f"  connected: {total - rest} first, then the other {rest} in {connect_s:.1f} s, all at once "
              f"(handshake with one scrypt check, then the at-connect configuration); web CPU "
              f"{connect_cpu:.0f} s, {connect_cpu / max(1, rest) * 1000:.0f} ms per connect")
        print(f"  handshakes during the connect phase: {handshake_line(handshakes)}; the charge points tried "
              f"{sims['attempts']:,} times (refused by status: {sims['refused'] or 'none'}; other failures: "
              f"{sims['failed'] or 'none'})")
        print(f"  memory per connection: {per_conn_kb:.1f} KB (RSS {sum(before) / 1024:.0f} → "
              f"{sum(after) / 1024:.0f} MB over the {rest} connected at once; goal ≤ 50 KB); "
              f"{per_conn_cold_kb:.1f} KB counting the first {total - rest} and the one-off costs "
              f"(from {sum(cold) / 1024:.0f} MB)")
        print(f"  plug-in → chargerUpdated: delivered {len(plug_lat)}/{len(plan)}, "
              f"p50 {pct(plug_lat, 50) * 1000:.0f} ms, p99 {pct(plug_lat, 99) * 1000:.0f} ms (goal p99 ≤ 1000 ms)")
        print(f"  plug-in with a known idTag → EV system ACTIVE (car cloud {LAG_S} s behind): "
              f"{len(act_lat)}/{len(tagged)}, p50 {pct(act_lat, 50) * 1000:.0f} ms, "
              f"p95 {pct(act_lat, 95) * 1000:.0f} ms (goal ≤ 1000 ms); false activations: {false} (goal 0)")
        print(f"  setMaxCurrent → CONFIRMED: {len(cmd_lat)}/{len(targets)}, p50 {pct(cmd_lat, 50) * 1000:.0f} ms, "
              f"p99 {pct(cmd_lat, 99) * 1000:.0f} ms")
        print(f"  after connect ({after_s:.0f} s: subscribers, plug-ins, commands), CPU in % of one core: web "
              f"{', '.join(f'{b:.0f}' for b in busy[:-1])}, simulator {busy[-1]:.0f}")
        print(f"  peak RSS of the web process(es): {', '.join(f'{peak_rss_mb(p.proc.pid):.0f} MB' for p in procs)}")
    finally:
        for p in procs:
            await p.stop()
        await sim.stop()
        if pg_name:
            await drop_postgres(pg_name)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=1000)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--plugins", type=int, default=200)
    parser.add_argument("--paired", type=int, default=50)
    parser.add_argument("--commands", type=int, default=100)
    parser.add_argument("--web", type=int, default=1, choices=[1, 2])
    args = parser.parse_args()
    asyncio.run(main(args.points, args.users, args.plugins, args.paired, args.commands, args.web))
