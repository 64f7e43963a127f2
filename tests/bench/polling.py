"""Benchmark: device polls per second a `tandem worker` process sustains.

    python -m tests.bench.polling [--devices 10000] [--seconds 20] [--interval 1]

Starts the standalone simulator (`tandem simulate`) with DEVICES simulated devices (half cars,
half chargers; one car and one charger per user, linked through the real linking flow), then
runs `tandem worker` processes with every poll interval at 1 s, so demand far exceeds what a
worker can poll and the measured rate is the worker's capacity. Polls are counted from each
worker's own Prometheus counter (`tandem_polls_total`, served on TANDEM_METRICS_PORT). Charger
push is off (polling alone) unless `--push`: then each worker also holds the push streams of the
charger accounts it owns, one per account.

One worker, then two workers sharing the assets through shard leases, both on PostgreSQL
(database `tandem_bench` on 127.0.0.1:5432, recreated each run; TANDEM_BENCH_PG_URL overrides).
Without PostgreSQL only the one-worker figure is measured, on SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import time

import httpx

from tests.bench.common import BENCH_SECRET_KEYS, Service, cpu_seconds, free_port, tandem_cmd, temp_sqlite

PG_ADMIN = "postgres://postgres@127.0.0.1:5432/test"
PG_BENCH = os.environ.get("TANDEM_BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/tandem_bench")
POLL_LINE = re.compile(r'^tandem_polls_total\{([^}]*)\} ([0-9.e+]+)$', re.M)


def pg_reachable() -> bool:
    """Whether PostgreSQL accepts connections on 127.0.0.1:5432."""
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=1).close()
        return True
    except OSError:
        return False


async def recreate_pg_database(url: str) -> None:
    """Drop and create the benchmark database."""
    import asyncpg

    name = url.rsplit("/", 1)[1]
    conn = await asyncpg.connect(PG_ADMIN.replace("postgres://", "postgresql://"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def seed(database_url: str, sim_url: str, devices: int) -> None:
    """Create DEVICES/2 users, each linking one simulated car account and one charger account."""
    from app import db
    from app.events import EventBus
    from app.runtime import Runtime
    from app.services import accounts, linking
    from app.settings import Settings

    settings = Settings.from_env({}, database_url=database_url, simulator_url=sim_url,
                                 vendor_budget_per_s=100000.0, vendor_budget_burst=1000, secret_keys=BENCH_SECRET_KEYS)
    await db.init(settings)
    rt = Runtime(settings=settings, bus=EventBus("memory://"))
    await rt.bus.connect()
    client, _ = await accounts.create_client("bench")
    gate = asyncio.Semaphore(32)
    done = 0

    async def one_user(i: int, http: httpx.AsyncClient) -> None:
        nonlocal done
        async with gate:
            user = await accounts.create_user(client.id, f"bench-{i}")
            for vendor, kind in (("smartcar", "vehicle"), ("easee", "charger")):
                r = await http.post("/sim/accounts", json={"vendor": vendor, "devices": [{"kind": kind}]})
                r.raise_for_status()
                await linking.link_vendor(rt, user.id, vendor, r.json()["credentials"])
            done += 2
            if done % 2000 == 0:
                print(f"  linked {done} devices", flush=True)

    try:
        async with httpx.AsyncClient(base_url=sim_url, timeout=30) as http:
            await asyncio.gather(*(one_user(i, http) for i in range(devices // 2)))
    finally:
        await rt.aclose()
        await rt.bus.disconnect()
        await db.close()


async def polls(http: httpx.AsyncClient, port: int) -> tuple[float, float]:
    """(successful, failed) polls a worker has counted so far."""
    text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
    ok = failed = 0.0
    for labels, value in POLL_LINE.findall(text):
        if 'outcome="ok"' in labels:
            ok += float(value)
        else:
            failed += float(value)
    return ok, failed


async def run_workers(count: int, devices: int, env: dict[str, str],
                      seconds: float) -> tuple[float, float, list[float]]:
    """Start COUNT workers, warm up, measure; (polls/s, failed polls/s, peak RSS MB per worker)."""
    ports = [free_port() for _ in range(count)]
    workers = [await Service.start(tandem_cmd("worker"), {**env, "TANDEM_METRICS_PORT": str(p)}) for p in ports]
    try:
        for w in workers:
            await w.wait_for(r"worker .* running", timeout=120)
            w.drain()
        async with httpx.AsyncClient(timeout=10) as http:
            # Warm-up: two full rounds (the first poll of a device writes its whole state), every
            # worker polling, then leases settled (a lease tick is lease_s/3).
            end = time.monotonic() + 300
            while time.monotonic() < end:
                counts = [await polls(http, p) for p in ports]
                if all(ok > 0 for ok, _ in counts) and sum(ok for ok, _ in counts) >= 2 * devices:
                    break
                await asyncio.sleep(0.5)
            await asyncio.sleep(float(env["TANDEM_LEASE_S"]))
            before = [await polls(http, p) for p in ports]
            cpu_before = [cpu_seconds(w.proc.pid) for w in workers]
            t0 = time.monotonic()
            await asyncio.sleep(seconds)
            after = [await polls(http, p) for p in ports]
            cpu = sum(cpu_seconds(w.proc.pid) for w in workers) - sum(cpu_before)
            elapsed = time.monotonic() - t0
        done = sum(a[0] - b[0] for a, b in zip(after, before, strict=True))
        ok = done / elapsed
        failed = sum(a[1] - b[1] for a, b in zip(after, before, strict=True)) / elapsed
        per = [(a[0] - b[0]) / elapsed for a, b in zip(after, before, strict=True)]
        print(f"  {count} worker(s): {ok:.0f} polls/s ({', '.join(f'{x:.0f}' for x in per)}), "
              f"failed {failed:.1f}/s ({100 * failed / max(ok + failed, 1e-9):.1f} % of polls), "
              f"workers busy {cpu / elapsed:.2f} cores, "
              f"{done / cpu:.0f} polls per worker CPU-second", flush=True)
        return ok, failed, [w.peak_rss_mb() for w in workers]
    finally:
        for w in workers:
            await w.stop()


async def main(devices: int, seconds: float, push: bool = False, interval: float = 1.0,
               sim_keep_alive: int | None = None) -> None:
    """Run the benchmark and print its figures."""
    use_pg = pg_reachable()
    if use_pg:
        await recreate_pg_database(PG_BENCH)
        database_url = PG_BENCH
    else:
        database_url = temp_sqlite()
        print("PostgreSQL not reachable: one worker on SQLite only")
    sim_port = free_port()
    keep_alive = ["--keep-alive", str(sim_keep_alive)] if sim_keep_alive else []
    sim = await Service.start(tandem_cmd("simulate", "--port", str(sim_port), *keep_alive), {})
    try:
        await sim.wait_for(r"simulator: ")
        sim.drain()
        sim_url = f"http://127.0.0.1:{sim_port}"
        t = time.monotonic()
        await seed(database_url, sim_url, devices)
        print(f"seeded {devices} devices in {time.monotonic() - t:.0f} s ({database_url.split('://')[0]})")
        env = {
            "TANDEM_DATABASE_URL": database_url, "TANDEM_SIMULATOR_URL": sim_url,
            "TANDEM_CHARGER_POLL_S": str(interval), "TANDEM_VEHICLE_POLL_S": str(interval),
            "TANDEM_VEHICLE_POLL_CHARGING_S": str(interval),
            "TANDEM_VENDOR_BUDGET_PER_S": "100000", "TANDEM_VENDOR_BUDGET_BURST": "1000",
            "TANDEM_LEASE_S": "6", "TANDEM_LOG_LEVEL": "WARNING",
            # Polling capacity is measured; --push adds one stream per charger account, to show their cost.
            "TANDEM_CHARGER_PUSH": "true" if push else "false",
        }
        one, one_failed, one_rss = await run_workers(1, devices, env, seconds)
        two = two_failed = 0.0
        two_rss: list[float] = []
        if use_pg:
            two, two_failed, two_rss = await run_workers(2, devices, env, seconds)
    finally:
        await sim.stop()
    print()
    print(f"devices: {devices}   cpu cores: {os.cpu_count()}   measured over {seconds:.0f} s each   "
          f"poll interval {interval:g} s   charger push: {'on' if push else 'off'}")
    print(f"one worker:   {one:8.0f} polls/s   (failed {one_failed:.1f}/s)   peak RSS {one_rss[0]:.0f} MB")
    if use_pg:
        print(f"two workers:  {two:8.0f} polls/s   (failed {two_failed:.1f}/s)   "
              f"peak RSS {', '.join(f'{r:.0f}' for r in two_rss)} MB")
        print(f"ratio two/one: {two / one:.2f}   (goal >= 1.8; goal per worker >= 1000 polls/s)")
        print("(the simulator, PostgreSQL and this script share the same cores: when the workers are "
              "CPU-bound, the ratio is bounded by the cores left to them; compare polls per CPU-second)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", type=int, default=10000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--push", action="store_true", help="follow the chargers' push streams while polling")
    parser.add_argument("--interval", type=float, default=1.0,
                        help="every poll interval, s (1: demand exceeds capacity; near the simulator's 5 s "
                             "keep-alive, idle connections meet the server closing them)")
    parser.add_argument("--sim-keep-alive", type=int, help="the simulator closes idle connections after this many s")
    args = parser.parse_args()
    asyncio.run(main(args.devices, args.seconds, args.push, args.interval, args.sim_keep_alive))
