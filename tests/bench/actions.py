"""Benchmark: charging actions under injected vendor faults, orchestrated vs the vehicle path alone.

    python -m tests.bench.actions [--actions 400] [--households 40]

Runs the standalone simulator and `tandem serve` (embedded workers) as subprocesses. Half the
households link a car and a charger (plugged together, EV system ACTIVE): their actions are
orchestrated across both paths. The other half link only the car (plugged into a charger they
never linked): their actions can only go through the vehicle. Both halves run in the same run,
against the same fault profile, set through `/sim/faults` once every car is plugged in:

- vehicle cloud: 30 % of commands fail, 100-800 ms latency on every request;
- charger cloud: 10 % of commands fail, 50-300 ms latency; 5 % of chargers (at least one) have
  a schedule that holds every start (the orchestrator must override it).

Each household alternates stop / start actions (`stopCharging` / `startCharging` on its vehicle),
waiting for each to end (`actionUpdated` on a websocket) before the next. Prints, per half, the
share CONFIRMED, p50/p95 time from the mutation to CONFIRMED, and commands sent per action
(every recorded attempt, including wake-ups and schedule overrides). Cars push state changes to
their cloud at once in both halves, so the vehicle path is not handicapped by cloud lag.
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
FIELDS = "id state failureReason { type detail } attempts { via command outcome }"
START = f"mutation($v: ID) {{ startCharging(vehicleId: $v) {{ {FIELDS} }} }}"
STOP = f"mutation($v: ID) {{ stopCharging(vehicleId: $v) {{ {FIELDS} }} }}"
ACTION = f"query($i: ID!) {{ action(id: $i) {{ {FIELDS} }} }}"
STATE = "query($v: ID!) { vehicle(id: $v) { chargeState { isPluggedIn isCharging pluggedInChargerId } } }"
TERMINAL = {"CONFIRMED", "FAILED", "CANCELLED"}
_serial = itertools.count(1)


@dataclass
class Result:
    """One action's outcome."""

    state: str
    seconds: float
    commands: int
    failure: str | None
    detail: str = ""


@dataclass
class Household:
    """A user with a plugged-in car and, when orchestrated, their own charger."""

    orchestrated: bool
    token: str = ""
    vehicle_id: str = ""
    vin: str = ""
    serial: str = ""
    blocked: bool = False
    results: list[Result] = field(default_factory=list)


def blocking_schedule() -> dict[str, str]:
    """A charge window that starts two hours from now (UTC), so every start now is held."""
    now = datetime.now(UTC)
    return {"start": (now + timedelta(hours=2)).strftime("%H:%M"), "stop": (now + timedelta(hours=3)).strftime("%H:%M")}


class Bench:
    """Shared clients of one run."""

    def __init__(self, http: httpx.AsyncClient, url: str, sim: str) -> None:
        self.http, self.url, self.sim = http, url, sim

    async def gql(self, query: str, variables: dict[str, Any], token: str) -> dict[str, Any]:
        """One GraphQL operation that must succeed."""
        return await gql(self.http, f"{self.url}/graphql", query, variables, token)

    async def sim_post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """A simulator control call."""
        r = await self.http.post(f"{self.sim}{path}", json=body)
        r.raise_for_status()
        return dict(r.json())

    async def household(self, index: int, orchestrated: bool, blocked: bool) -> Household:
        """Create the user, link its devices and plug the car in."""
        h = Household(orchestrated, blocked=blocked)
        uid = (await self.gql('mutation($e: String!) { createUser(externalId: $e) { id } }',
                              {"e": f"actions-{index}"}, SECRET))["createUser"]["id"]
        h.token = (await self.gql('mutation($u: ID!) { createUserToken(userId: $u) { token } }',
                                  {"u": uid}, SECRET))["createUserToken"]["token"]
        h.vin = f"ACT{next(_serial):014d}"
        car = {"kind": "vehicle", "vin": h.vin, "soc": 0.2, "charge_limit": 1.0, "pushes_on_change": True}
        creds = (await self.sim_post("/sim/accounts", {"vendor": "smartcar", "devices": [car]}))["credentials"]
        h.vehicle_id = (await self.gql(LINK, {"v": "smartcar", "c": creds}, h.token))["linkVendor"]["vehicles"][0]["id"]
        h.serial = f"EHA{next(_serial):06d}"
        box: dict[str, Any] = {"kind": "charger", "serialNumber": h.serial, "max_current": 32}
        if blocked:
            box["schedule"] = blocking_schedule()
        creds = (await self.sim_post("/sim/accounts", {"vendor": "easee", "devices": [box]}))["credentials"]
        if orchestrated:
            await self.gql(LINK, {"v": "easee", "c": creds}, h.token)
        await self.sim_post("/sim/plug", {"vin": h.vin, "serialNumber": h.serial})
        return h

    async def ready(self, h: Household, timeout: float = 120) -> dict[str, Any]:
        """Wait until Tandem sees the car plugged in (and, when orchestrated, paired)."""
        end = time.monotonic() + timeout
        cs: dict[str, Any] = {}
        while time.monotonic() < end:
            cs = (await self.gql(STATE, {"v": h.vehicle_id}, h.token))["vehicle"]["chargeState"]
            if cs["isPluggedIn"] and (cs["pluggedInChargerId"] or not h.orchestrated):
                return dict(cs)
            await asyncio.sleep(1.0)
        systems = await self.gql("query($v: ID!) { vehicle(id: $v) { evSystems { status evidence } } }",
                                 {"v": h.vehicle_id}, h.token)
        raise TimeoutError(f"vehicle {h.vehicle_id} (orchestrated {h.orchestrated}, schedule-blocked {h.blocked}) "
                           f"never showed up plugged in: {cs} {systems}")

    async def run(self, h: Household, rounds: int, charging: bool, timeout: float) -> None:
        """Alternate stop/start actions; record each outcome."""
        async with WsClient(self.url.replace("http://", "ws://") + "/graphql", h.token) as ws:
            assert (await ws.ack()).get("type") == "connection_ack"
            await ws.subscribe("subscription { actionUpdated { id state } }")
            for _ in range(rounds):
                mutation, name = (STOP, "stopCharging") if charging else (START, "startCharging")
                started = time.monotonic()
                action = (await self.gql(mutation, {"v": h.vehicle_id}, h.token))[name]
                state = action["state"]
                while state not in TERMINAL:
                    msg = await ws.until(lambda d, i=action["id"]: d.get("actionUpdated", {}).get("id") == i,
                                         timeout=timeout)
                    state = msg["payload"]["data"]["actionUpdated"]["state"]
                elapsed = time.monotonic() - started
                final = (await self.gql(ACTION, {"i": action["id"]}, h.token))["action"]
                failure = (final["failureReason"] or {}).get("type")
                tried = ", ".join(f"{a['via']} {a['command']} {a['outcome']}" for a in final["attempts"])
                h.results.append(Result(final["state"], elapsed, len(final["attempts"]), failure,
                                        f"{(final['failureReason'] or {}).get('detail')} [{tried}]"))
                if final["state"] == "CONFIRMED" or failure == "UNNECESSARY":
                    charging = not charging
                await asyncio.sleep(random.uniform(0.5, 1.5))


def report(name: str, households: list[Household]) -> None:
    """Print one half's figures."""
    results = [r for h in households for r in h.results]
    if not results:
        print(f"{name}: no actions")
        return
    confirmed = [r for r in results if r.state == "CONFIRMED"]
    times = [r.seconds for r in confirmed]
    outcomes = Counter(f"{r.state}/{r.failure}" if r.failure else r.state for r in results)
    print(f"{name:<28} {len(confirmed) / len(results):8.2%} confirmed of {len(results)}   "
          f"p50 {pct(times, 50):5.1f} s  p95 {pct(times, 95):5.1f} s   "
          f"commands/action {sum(r.commands for r in results) / len(results):.2f}")
    print(f"{'':<28} outcomes: {dict(outcomes)}")
    for h in households:
        for r in h.results:
            if r.state != "CONFIRMED":
                print(f"{'':<28} {r.state}/{r.failure} after {r.seconds:.0f} s, {r.commands} commands, "
                      f"schedule-blocked charger: {h.blocked}: {r.detail}")


async def main(actions: int, households: int) -> None:
    """Run the benchmark."""
    timeout = 120.0
    env = {
        "TANDEM_DATABASE_URL": temp_sqlite(), "TANDEM_DEMO_CLIENT_SECRET": SECRET, "TANDEM_ACTION_CHECK_S": "1",
        "TANDEM_ACTION_TIMEOUT_S": str(timeout - 30), "TANDEM_LOG_LEVEL": "WARNING",
        # Only so the vehicle-only half notices its plug-in quickly; commands kick a poll anyway.
        "TANDEM_VEHICLE_POLL_S": "20",
    }
    async with demo_stack(env) as stack:
        bench = Bench(stack.http, stack.url, stack.sim_url)
        half = max(1, households // 2)
        blocked = set(random.sample(range(half), max(1, round(half * 0.05))))
        homes = [await bench.household(i, True, i in blocked) for i in range(half)]
        homes += [await bench.household(half + i, False, False) for i in range(half)]
        states = await asyncio.gather(*(bench.ready(h) for h in homes))
        await bench.sim_post("/sim/faults", {"vendor": "smartcar", "command_failure_rate": 0.3,
                                             "latency_ms": [100, 800]})
        await bench.sim_post("/sim/faults", {"vendor": "easee", "command_failure_rate": 0.1,
                                             "latency_ms": [50, 300]})
        rounds = max(1, actions // len(homes))
        print(f"{len(homes)} households ready ({len(blocked)} schedule-blocked chargers); "
              f"{rounds} actions each", flush=True)
        started = time.monotonic()
        await asyncio.gather(*(bench.run(h, rounds, bool(s["isCharging"]), timeout)
                               for h, s in zip(homes, states, strict=True)))
        print(f"ran in {time.monotonic() - started:.0f} s")
    print()
    print("fault profile: vehicle commands 30 % fail (100-800 ms), charger commands 10 % fail (50-300 ms), "
          "5 % of chargers schedule-blocked")
    report("orchestrated (car+charger)", [h for h in homes if h.orchestrated])
    report("vehicle path alone", [h for h in homes if not h.orchestrated])
    print("goal: >= 99.90 % confirmed with the orchestrator")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--actions", type=int, default=400, help="actions in all (half per path setup)")
    parser.add_argument("--households", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    random.seed(args.seed)
    asyncio.run(main(args.actions, args.households))
