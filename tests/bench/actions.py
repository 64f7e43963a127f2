"""Benchmark: charging actions under a field-like fault profile, orchestrated vs the vehicle path alone.

    python -m tests.bench.actions [--households 80] [--minutes 40] [--scale 0.1] [--seed 1]

Runs the standalone simulator and `tandem serve` (embedded workers) as subprocesses. Half the
households link a car and a charger (plugged together, EV system ACTIVE): their actions are
orchestrated across both paths. The other half link only the car (plugged into a charger they
never linked): their actions can only go through the vehicle. Both halves run at once, against
the same fault profile, drawn per household pair so both halves get the same faults:

- 20 % of cars out of coverage (a garage) once, for 10-40 min, starting anywhere in the run;
- 10 % of cars rate limited once for 5-15 min: their requests answer 429 with Retry-After 37,800 s;
- 30 % of cars sleep after 5 min without charging (a command must wake them first);
- vehicle commands: 10 % fail (5xx), 50-300 ms latency on every vehicle request;
- chargers: 5 % have a schedule that holds every start (the orchestrator must override it),
  5 % go offline once for 2-10 min, 5 % of charger commands fail, 20-150 ms latency.

Every household alternates stop / start actions on its vehicle (`stopCharging` / `startCharging`)
for MINUTES of simulated time, waiting 20-60 s between actions and for each to end
(`actionUpdated` on a websocket). Every interval (simulator speed, polls, checks, verification
windows, backoff, the 2 min action deadline) is scaled by SCALE so the run takes minutes; times
are printed in simulated (real-world) seconds. Fixed costs (HTTP, database) do not scale, so
small scales are pessimistic. Prints, per half, the share CONFIRMED within 2 min, p50/p95 time to
CONFIRMED, and commands per action (every attempt row: each is one request to a vendor, wake-ups
and schedule overrides included).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.bench.common import demo_stack, gql, pct, temp_sqlite
from tests.e2e.harness import WsClient

SECRET = "tdm_cs_bench-actions-client-secret"
LINK = ("mutation($v: String!, $c: JSON!) { linkVendor(vendor: $v, credentials: $c) "
        "{ vehicles { id } chargers { id } } }")
FIELDS = "id state failureReason { type detail } attempts { via command outcome detail }"
START = f"mutation($v: ID, $k: String) {{ startCharging(vehicleId: $v, idempotencyKey: $k) {{ {FIELDS} }} }}"
STOP = f"mutation($v: ID, $k: String) {{ stopCharging(vehicleId: $v, idempotencyKey: $k) {{ {FIELDS} }} }}"
ACTION = f"query($i: ID!) {{ action(id: $i) {{ {FIELDS} }} }}"
STATE = "query($v: ID!) { vehicle(id: $v) { chargeState { isPluggedIn isCharging pluggedInChargerId } } }"
TERMINAL = {"CONFIRMED", "FAILED", "CANCELLED"}
DEADLINE_S = 120.0  # the goal: confirmed within 2 min (simulated)
_serial = itertools.count(1)


@dataclass
class Result:
    """One action's outcome (seconds simulated)."""

    state: str
    seconds: float
    commands: int
    failure: str | None
    detail: str = ""


@dataclass
class Profile:
    """The faults one household pair draws (both halves get the same)."""

    garage: tuple[float, float] | None = None  # out of coverage (sim s from the start)
    limited: tuple[float, float] | None = None  # 429 with a long Retry-After
    sleeps: bool = False
    blocked: bool = False  # charger schedule holds every start
    offline: tuple[float, float] | None = None  # charger offline


@dataclass
class Household:
    """A user with a plugged-in car and, when orchestrated, their own charger."""

    orchestrated: bool
    profile: Profile
    token: str = ""
    vehicle_id: str = ""
    vin: str = ""
    serial: str = ""
    results: list[Result] = field(default_factory=list)


def draw(rng: random.Random, minutes: float) -> Profile:
    """One household pair's faults."""
    run = minutes * 60
    p = Profile(sleeps=rng.random() < 0.3, blocked=rng.random() < 0.05)
    if rng.random() < 0.2:
        length = rng.uniform(600, 2400)
        start = rng.uniform(0, max(0.0, run - 600))
        p.garage = (start, start + length)
    if rng.random() < 0.1:
        length = rng.uniform(300, 900)
        start = rng.uniform(0, max(0.0, run - 300))
        p.limited = (start, start + length)
    if rng.random() < 0.05:
        length = rng.uniform(120, 600)
        start = rng.uniform(0, max(0.0, run - 120))
        p.offline = (start, start + length)
    return p


def blocking_schedule() -> dict[str, str]:
    """A charge window that starts two hours from now (UTC), so every start now is held."""
    now = datetime.now(UTC)
    return {"start": (now + timedelta(hours=2)).strftime("%H:%M"), "stop": (now + timedelta(hours=3)).strftime("%H:%M")}


class Bench:
    """Shared clients of one run."""

    def __init__(self, http: httpx.AsyncClient, url: str, sim: str, scale: float) -> None:
        self.http, self.url, self.sim, self.scale = http, url, sim, scale

    async def gql(self, query: str, variables: dict[str, Any], token: str) -> dict[str, Any]:
        """One GraphQL operation that must succeed (sent again once when a kept-alive connection
        was closed under it; actions carry an idempotency key, so that is safe)."""
        try:
            return await gql(self.http, f"{self.url}/graphql", query, variables, token)
        except (httpx.ReadError, httpx.RemoteProtocolError):
            return await gql(self.http, f"{self.url}/graphql", query, variables, token)

    async def sim_post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """A simulator control call."""
        r = await self.http.post(f"{self.sim}{path}", json=body)
        r.raise_for_status()
        return dict(r.json())

    async def household(self, index: int, orchestrated: bool, profile: Profile) -> Household:
        """Create the user, link its devices and plug the car in."""
        h = Household(orchestrated, profile)
        uid = (await self.gql('mutation($e: String!) { createUser(externalId: $e) { id } }',
                              {"e": f"actions-{index}"}, SECRET))["createUser"]["id"]
        h.token = (await self.gql('mutation($u: ID!) { createUserToken(userId: $u) { token } }',
                                  {"u": uid}, SECRET))["createUserToken"]["token"]
        h.vin = f"ACT{next(_serial):014d}"
        car: dict[str, Any] = {"kind": "vehicle", "vin": h.vin, "soc": 0.2, "charge_limit": 1.0,
                               "pushes_on_change": True, "sleeps": profile.sleeps, "sleep_after_s": 300}
        creds = (await self.sim_post("/sim/accounts", {"vendor": "smartcar", "devices": [car]}))["credentials"]
        h.vehicle_id = (await self.gql(LINK, {"v": "smartcar", "c": creds}, h.token))["linkVendor"]["vehicles"][0]["id"]
        h.serial = f"EHA{next(_serial):06d}"
        box: dict[str, Any] = {"kind": "charger", "serialNumber": h.serial, "max_current": 32}
        if profile.blocked:
            box["schedule"] = blocking_schedule()
        creds = (await self.sim_post("/sim/accounts", {"vendor": "easee", "devices": [box]}))["credentials"]
        if orchestrated:
            await self.gql(LINK, {"v": "easee", "c": creds}, h.token)
        await self.sim_post("/sim/plug", {"vin": h.vin, "serialNumber": h.serial})
        return h

    async def ready(self, h: Household, timeout: float = 180) -> None:
        """Wait until Tandem sees the car plugged in (and, when orchestrated, paired)."""
        end = time.monotonic() + timeout
        cs: dict[str, Any] = {}
        while time.monotonic() < end:
            cs = (await self.gql(STATE, {"v": h.vehicle_id}, h.token))["vehicle"]["chargeState"]
            if cs["isPluggedIn"] and (cs["pluggedInChargerId"] or not h.orchestrated):
                return
            await asyncio.sleep(1.0)
        raise TimeoutError(f"vehicle {h.vehicle_id} (orchestrated {h.orchestrated}) never showed up plugged in: {cs}")

    async def charging(self, h: Household) -> bool | None:
        """Whether Tandem shows the car charging."""
        cs = (await self.gql(STATE, {"v": h.vehicle_id}, h.token))["vehicle"]["chargeState"]
        return cs["isCharging"]  # type: ignore[no-any-return]

    async def run(self, h: Household, until: float, rng: random.Random) -> None:
        """Alternate stop/start actions until `until` (monotonic); record each outcome."""
        async with WsClient(self.url.replace("http://", "ws://") + "/graphql", h.token) as ws:
            assert (await ws.ack()).get("type") == "connection_ack"
            await ws.subscribe("subscription { actionUpdated { id state } }")
            charging = await self.charging(h)
            while time.monotonic() < until:
                await asyncio.sleep(rng.uniform(20, 60) * self.scale)
                mutation, name = (STOP, "stopCharging") if charging else (START, "startCharging")
                started = time.monotonic()
                key = f"{h.vehicle_id}-{len(h.results)}"
                action = (await self.gql(mutation, {"v": h.vehicle_id, "k": key}, h.token))[name]
                state = action["state"]
                while state not in TERMINAL:
                    msg = await ws.until(lambda d, i=action["id"]: d.get("actionUpdated", {}).get("id") == i,
                                         timeout=DEADLINE_S * self.scale + 60)
                    state = msg["payload"]["data"]["actionUpdated"]["state"]
                elapsed = (time.monotonic() - started) / self.scale
                final = (await self.gql(ACTION, {"i": action["id"]}, h.token))["action"]
                failure = (final["failureReason"] or {}).get("type")
                tried = "; ".join(f"{a['via']} {a['command']} {a['outcome']}: {a['detail']}" for a in final["attempts"])
                h.results.append(Result(final["state"], elapsed, len(final["attempts"]), failure,
                                        f"{(final['failureReason'] or {}).get('detail')} [{tried}]"))
                if final["state"] == "CONFIRMED" or failure == "UNNECESSARY":
                    charging = not charging
                else:
                    charging = await self.charging(h)


async def set_faults(bench: Bench, homes: list[Household]) -> None:
    """The fault profile, as simulator faults (windows count from now, in simulated seconds)."""
    garage = {h.vin: [list(h.profile.garage)] for h in homes if h.profile.garage}
    limited = {h.vin: [[*h.profile.limited, 37800]] for h in homes if h.profile.limited}
    offline = {h.serial: [list(h.profile.offline)] for h in homes if h.profile.offline}
    await bench.sim_post("/sim/faults", {"vendor": "smartcar", "command_failure_rate": 0.1, "latency_ms": [50, 300],
                                         "offline_windows": garage, "rate_limit_windows": limited})
    await bench.sim_post("/sim/faults", {"vendor": "easee", "command_failure_rate": 0.05, "latency_ms": [20, 150],
                                         "offline_windows": offline})


def report(name: str, households: list[Household], verbose: bool) -> int:
    """Print one half's figures; returns its failures."""
    results = [r for h in households for r in h.results]
    if not results:
        print(f"{name}: no actions")
        return 0
    confirmed = [r for r in results if r.state == "CONFIRMED"]
    in_time = [r for r in confirmed if r.seconds <= DEADLINE_S + 5]
    times = [r.seconds for r in confirmed]
    commands = [float(r.commands) for r in results]
    outcomes = Counter(f"{r.state}/{r.failure}" if r.failure else r.state for r in results)
    print(f"{name:<28} {len(in_time) / len(results):8.2%} confirmed within 2 min ({len(in_time)} of {len(results)})  "
          f"p50 {pct(times, 50):5.1f} s  p95 {pct(times, 95):5.1f} s   commands/action mean "
          f"{sum(commands) / len(commands):.2f}, p95 {pct(commands, 95):.0f}, max {max(commands):.0f}")
    print(f"{'':<28} outcomes: {dict(outcomes)}")
    if verbose:
        for h in households:
            for r in h.results:
                if r.state != "CONFIRMED":
                    print(f"{'':<28} {r.state}/{r.failure} after {r.seconds:.0f} s, {r.commands} commands, "
                          f"{h.profile}: {r.detail[:600]}")
    return len(results) - len(in_time)


async def main(households: int, minutes: float, scale: float, seed: int, verbose: bool) -> None:
    """Run the benchmark."""
    rng = random.Random(seed)
    s = scale
    env = {
        "TANDEM_DATABASE_URL": temp_sqlite(), "TANDEM_DEMO_CLIENT_SECRET": SECRET, "TANDEM_LOG_LEVEL": "WARNING",
        "TANDEM_ACTION_TIMEOUT_S": str(DEADLINE_S * s), "TANDEM_ACTION_CHECK_S": str(5 * s),
        "TANDEM_VERIFY_CHARGER_S": str(30 * s), "TANDEM_VERIFY_VEHICLE_S": str(45 * s),
        "TANDEM_WAKE_WAIT_S": str(10 * s), "TANDEM_ACTION_BACKOFF_S": str(5 * s),
        "TANDEM_ACTION_BACKOFF_MAX_S": str(120 * s), "TANDEM_CHARGER_POLL_S": str(10 * s),
        "TANDEM_VEHICLE_POLL_S": str(300 * s), "TANDEM_VEHICLE_POLL_CHARGING_S": str(120 * s),
        "TANDEM_CONFIRM_POLL_S": str(20 * s), "TANDEM_CONFIRM_WINDOW_S": str(600 * s),
        "TANDEM_BACKOFF_MAX_S": str(600 * s), "TANDEM_LEASE_S": str(max(3.0, 15 * s)),
        # Requests per second are 1/SCALE times the real world's: so is the budget.
        "TANDEM_VENDOR_BUDGET_PER_S": str(50 / s), "TANDEM_VENDOR_BUDGET_BURST": str(int(100 / s)),
        "TANDEM_VENDOR_TIMEOUT_S": str(max(2.0, 10 * s)),
    }
    async with demo_stack(env, sim_speed=1 / s) as stack:
        bench = Bench(stack.http, stack.url, stack.sim_url, s)
        half = max(1, households // 2)
        profiles = [draw(rng, minutes) for _ in range(half)]
        homes = [await bench.household(i, True, p) for i, p in enumerate(profiles)]
        homes += [await bench.household(half + i, False, p) for i, p in enumerate(profiles)]
        await asyncio.gather(*(bench.ready(h) for h in homes))
        await set_faults(bench, homes)
        print(f"{len(homes)} households ready; {minutes:g} simulated minutes at scale {s:g} "
              f"({minutes * 60 * s:.0f} s real)", flush=True)
        started = time.monotonic()
        until = started + minutes * 60 * s
        await asyncio.gather(*(bench.run(h, until, random.Random(rng.random())) for h in homes))
        print(f"ran in {time.monotonic() - started:.0f} s")
    print()
    print("fault profile: 20 % of cars out of coverage 10-40 min; 10 % rate limited 5-15 min (429, Retry-After "
          "37,800 s); 30 % sleeping cars; vehicle commands 10 % fail; chargers: 5 % schedule-blocked, 5 % offline "
          "2-10 min, 5 % of commands fail")
    orchestrated = report("orchestrated (car+charger)", [h for h in homes if h.orchestrated], verbose)
    alone = report("vehicle path alone", [h for h in homes if not h.orchestrated], verbose)
    ratio = f"{alone / orchestrated:.1f}x" if orchestrated else "no orchestrated failure"
    print(f"failures (not confirmed within 2 min): vehicle path alone {alone}, orchestrated {orchestrated}: "
          f"{ratio} (goal >= 5x)")
    print("goals: orchestrated >= 99.9 % confirmed within 2 min; <= 2 commands per action at p95")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--households", type=int, default=80, help="households in all (half per path setup)")
    parser.add_argument("--minutes", type=float, default=40, help="simulated minutes of actions")
    parser.add_argument("--scale", type=float, default=0.1, help="interval scale (1 = real time)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--verbose", action="store_true", help="print every action that was not confirmed")
    args = parser.parse_args()
    asyncio.run(main(args.households, args.minutes, args.scale, args.seed, args.verbose))
