"""Benchmark: how fast and how correctly plug-ins are detected.

    python -m tests.bench.detection [--households 6] [--scale 0.1] [--seed 1] [--no-push]
                                    [--only all|classic|adversarial|KIND,KIND...] [--verbose]

Runs the standalone simulator and `tandem serve` (embedded workers) as subprocesses, creates
users through GraphQL, links their simulated cars and chargers, opens one websocket per user
and plugs cars in through `/sim/plug`. Measures the time from `/sim/plug` to the subscriber
receiving `evSystemUpdated` with ACTIVE for the right pair, against, in the same run, users who
linked only their car (detection by vehicle polling alone: `vehicleUpdated` with isPluggedIn).

Every interval is scaled by SCALE so the run takes minutes, not hours: charger polls every
10 s × SCALE, vehicles every 300 s × SCALE, and the simulator runs SCALE⁻¹ times faster, so a
vehicle cloud that refreshes every 300 simulated seconds lags 300 s × SCALE. `--scale 1` is
real time. Fixed costs (HTTP, database) do not scale, so small scales are pessimistic. Charger
push (the simulated Easee stream) is on, as by default; `--no-push` measures polling alone.

Scenario set, each household a separate user (the expected outcome in brackets):
- single: one car, one charger, plugged together [ACTIVE]
- lagging: as single, but the car's cloud refreshes only every 300 simulated s [ACTIVE, later]
- two-cars: two cars, one charger, one car plugged [ACTIVE for that car only, once the idle car's
  own data excludes it: its cloud is not yet known to report at once, so its silence is not used]
- two-by-two: two cars with different charge rates, two chargers, plugged within 2 s [both ACTIVE]
- public: the car plugged into a charger the user never linked [nothing ACTIVE]
- guest: someone else's car plugged into the user's charger [nothing ACTIVE]
- vehicle-only: the baseline, a user who linked only the car [isPluggedIn seen]
Adversarial households (all 11 kW, chargers at a home Location):
- elsewhere: car A (no location, reports at once) into a public charger and car B (at home,
  cloud lagging) into the home charger within a second [B·C ACTIVE once B reports, A·C never]
- race: A (lagging) into C1, B (reports at once) into C2 0.6 s later, both chargers 22 kW at
  home [no crossed pair; the right pairs may stay ESTABLISHED: nothing tells them apart]
- guest-race: a guest car into C1, the user's B into C2 0.6 s later, the user's A unplugged at
  home [no B·C1]
- swap: A ACTIVE on the charger, then unplugged and B plugged in a second later [A·C, then B·C]
  (the swap waits for A·C at most one idle-car refresh and a minute)
- drive-away: A ACTIVE, then driven 20 km away, and B (lagging) plugged in [A·C, then B·C]
- skew-ahead: X (at home, lagging cloud whose clock runs 10 min ahead) into C, Y (no location)
  into a public charger at the same rate [X·C, never Y·C]
- skew-behind: as skew-ahead, X's cloud reporting at once with a clock 150 s behind [X·C, later]
A false activation is any ACTIVE event for a pair that was not plugged together (in the last
5 s: events travel), however brief; a crossed one is a false activation whose car was plugged
into another charger of the same user. The simulator stamps vendor data with wall-clock time
(TANDEM_SIM_REAL_STAMPS), so at a scale below 1 the clouds' clocks do not run fast.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import random
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.bench.common import demo_stack, gql, pct, temp_sqlite
from tests.e2e.harness import WsClient

SECRET = "tdm_cs_bench-detection-client-secret"
LINK = ("mutation($v: String!, $c: JSON!) { linkVendor(vendor: $v, credentials: $c) "
        "{ vehicles { id information { vin } } chargers { id information { serialNumber } } } }")
SYSTEMS = "subscription { evSystemUpdated { id status evidence vehicle { id } charger { id } } }"
VEHICLES = "subscription { vehicleUpdated { id chargeState { isPluggedIn } } }"
SCENARIOS = ("single", "lagging", "two-cars", "two-by-two", "public", "guest", "vehicle-only")
ADVERSARIAL = ("elsewhere", "race", "guest-race", "swap", "drive-away", "skew-ahead", "skew-behind")
HOME = (59.91, 10.75)  # the simulator's default car position
GRACE_S = 5.0  # an ACTIVE event for a pair unplugged less than this long ago is not false
#: Swap households wait this long (× scale) for A·C before the swap: one idle-car refresh and more.
SWAP_WAIT_S = 360.0
LOCATE = 'mutation { createLocation(name: "home", latitude: 59.91, longitude: 10.75, timezone: "UTC") { id } }'
SET_LOCATION = 'mutation($c: ID!, $l: ID) { setChargerLocation(chargerId: $c, locationId: $l) { id } }'
Pair = tuple[str, str]
_serial = itertools.count(1)


@dataclass
class Household:
    """One user, their devices and what was observed."""

    kind: str
    token: str = ""
    vehicles: dict[str, str] = field(default_factory=dict)  # vin -> vehicle id
    chargers: dict[str, str] = field(default_factory=dict)  # serial -> charger id
    plugs: list[tuple[str, str]] = field(default_factory=list)  # (vin, serial) to plug
    gap_s: float | None = None  # seconds between the plugs (None: 0.2-2 s at random)
    then: list[tuple[str, str]] = field(default_factory=list)  # after the first ACTIVE: out (vin, how), in
    expected: set[Pair] = field(default_factory=set)  # (vehicle id, charger id) to activate
    allowed: set[Pair] = field(default_factory=set)  # may activate (expected or not)
    plugged_at: float = 0.0  # the first plug
    plug_times: dict[str, float] = field(default_factory=dict)  # charger id -> when its cable went in
    detected: dict[Pair, float] = field(default_factory=dict)  # pair -> seconds after its plug
    false_pairs: set[Pair] = field(default_factory=set)
    crossed_pairs: set[Pair] = field(default_factory=set)
    cables: list[tuple[float, str, str | None]] = field(default_factory=list)  # (when, vin, serial or None)
    plug_ins: int = 0  # cables put into one of the user's chargers
    activated: asyncio.Event = field(default_factory=asyncio.Event)  # an expected pair went ACTIVE
    evidence: dict[Pair, list[tuple[float, str, list[str]]]] = field(default_factory=dict)  # (when, status, why)
    seen_plugged: float | None = None  # vehicle-only: seconds after plug

    def together(self, vin: str, serial: str, since: float, until: float) -> bool:
        """Whether the car was plugged into the charger at some moment in [since, until]."""
        state: str | None = None
        for at, v, s in self.cables:
            if at > until:
                break
            if v == vin:
                if at >= since and s == serial:
                    return True
                state = s
        return state == serial

    def on_own_charger(self, vin: str, since: float, until: float) -> bool:
        """Whether the car was in one of the user's chargers at some moment in [since, until]."""
        return any(self.together(vin, serial, since, until) for serial in self.chargers)


def car_spec(*, lagging: bool = False, kw: float = 11.0, **extra: Any) -> dict[str, Any]:
    """A simulated car; fresh-cloud cars push their state on change."""
    vin = f"DET{next(_serial):014d}"
    return {"kind": "vehicle", "vin": vin, "max_charge_kw": kw, "soc": 0.3,
            "pushes_on_change": not lagging, "vehicle_refresh_s": 300, **extra}


def box_spec(amps: float = 32) -> dict[str, Any]:
    """A simulated charger (32 A: 22 kW; 16 A: 11 kW)."""
    return {"kind": "charger", "serialNumber": f"EHD{next(_serial):06d}", "max_current": amps}


class Bench:
    """Shared clients of one run."""

    def __init__(self, http: httpx.AsyncClient, url: str, sim: str) -> None:
        self.http, self.url, self.sim = http, url, sim

    async def account(self, vendor: str, devices: list[dict[str, Any]]) -> dict[str, Any]:
        """A simulated vendor account."""
        r = await self.http.post(f"{self.sim}/sim/accounts", json={"vendor": vendor, "devices": devices})
        r.raise_for_status()
        return dict(r.json()["credentials"])

    async def link(self, h: Household, vendor: str, devices: list[dict[str, Any]]) -> None:
        """Create an account with `devices` and link it as `h`'s user."""
        creds = await self.account(vendor, devices)
        data = (await gql(self.http, f"{self.url}/graphql", LINK, {"v": vendor, "c": creds}, h.token))["linkVendor"]
        h.vehicles.update({v["information"]["vin"]: v["id"] for v in data["vehicles"]})
        h.chargers.update({c["information"]["serialNumber"]: c["id"] for c in data["chargers"]})

    async def household(self, kind: str, index: int) -> Household:
        """Create the user and devices of one scenario."""
        h = Household(kind)
        url = f"{self.url}/graphql"
        uid = (await gql(self.http, url, 'mutation($e: String!) { createUser(externalId: $e) { id } }',
                         {"e": f"{kind}-{index}"}, SECRET))["createUser"]["id"]
        h.token = (await gql(self.http, url, 'mutation($u: ID!) { createUserToken(userId: $u) { token } }',
                             {"u": uid}, SECRET))["createUserToken"]["token"]
        if kind in ADVERSARIAL:
            await self.adversarial(h)
            h.allowed |= h.expected
            return h
        cars = {"two-cars": [car_spec(), car_spec()], "two-by-two": [car_spec(kw=11.0), car_spec(kw=7.4)],
                "lagging": [car_spec(lagging=True)]}.get(kind, [car_spec()])
        await self.link(h, "smartcar", cars)
        if kind == "vehicle-only":
            other = box_spec()
            await self.account("easee", [other])
            h.plugs = [(cars[0]["vin"], other["serialNumber"])]
            return h
        boxes = [box_spec(), box_spec()] if kind == "two-by-two" else [box_spec()]
        await self.link(h, "easee", boxes)
        vid = {c["vin"]: h.vehicles[c["vin"]] for c in cars}
        cid = {b["serialNumber"]: h.chargers[b["serialNumber"]] for b in boxes}
        if kind == "public":
            public = box_spec()
            await self.account("easee", [public])
            h.plugs = [(cars[0]["vin"], public["serialNumber"])]
        elif kind == "guest":
            guest = car_spec()
            await self.account("smartcar", [guest])
            h.plugs = [(guest["vin"], boxes[0]["serialNumber"])]
        else:
            pairs = list(zip(cars, boxes, strict=False)) if kind == "two-by-two" else [(cars[-1], boxes[0])]
            h.plugs = [(c["vin"], b["serialNumber"]) for c, b in pairs]
            h.expected = {(vid[c["vin"]], cid[b["serialNumber"]]) for c, b in pairs}
        h.allowed = set(h.expected)
        return h

    async def at_home(self, h: Household, serials: list[str]) -> None:
        """Give the chargers a home Location at the cars' position."""
        url = f"{self.url}/graphql"
        loc = (await gql(self.http, url, LOCATE, None, h.token))["createLocation"]["id"]
        for serial in serials:
            await gql(self.http, url, SET_LOCATION, {"c": h.chargers[serial], "l": loc}, h.token)

    async def adversarial(self, h: Household) -> None:
        """Devices and plugs of an adversarial household (see the module docstring)."""
        kind = h.kind
        boxes = [box_spec(), box_spec()] if kind in ("race", "guest-race") else [box_spec(amps=16)]
        if kind in ("skew-ahead", "skew-behind"):
            a = car_spec(has_location=False)
            b = car_spec(lagging=kind == "skew-ahead", clock_skew_s=600 if kind == "skew-ahead" else -150)
        elif kind in ("elsewhere", "drive-away"):
            a, b = car_spec(has_location=kind == "drive-away"), car_spec(lagging=True)
        elif kind == "race":
            a, b = car_spec(lagging=True), car_spec()
        else:  # guest-race, swap
            a, b = car_spec(), car_spec()
        await self.link(h, "smartcar", [a, b])
        await self.link(h, "easee", boxes)
        await self.at_home(h, [x["serialNumber"] for x in boxes])
        va, vb = h.vehicles[a["vin"]], h.vehicles[b["vin"]]
        c1 = boxes[0]["serialNumber"]
        id1 = h.chargers[c1]
        if kind in ("elsewhere", "skew-ahead", "skew-behind"):
            public = box_spec(amps=16)
            await self.account("easee", [public])
            h.plugs, h.gap_s = [(a["vin"], public["serialNumber"]), (b["vin"], c1)], 0.3
            h.expected = {(vb, id1)}
        elif kind == "race":
            c2 = boxes[1]["serialNumber"]
            h.plugs, h.gap_s = [(a["vin"], c1), (b["vin"], c2)], 0.6
            h.allowed = {(va, id1), (vb, h.chargers[c2])}
        elif kind == "guest-race":
            guest = car_spec()
            await self.account("smartcar", [guest])
            c2 = boxes[1]["serialNumber"]
            h.plugs, h.gap_s = [(guest["vin"], c1), (b["vin"], c2)], 0.6
            h.allowed = {(vb, h.chargers[c2])}
        else:  # swap, drive-away: A first, then B instead
            h.plugs = [(a["vin"], c1)]
            h.then = [(a["vin"], "away" if kind == "drive-away" else "out"), (b["vin"], c1)]
            h.expected = {(va, id1), (vb, id1)}

    async def watch(self, h: Household, ws: WsClient, until: float) -> None:
        """Record what `h`'s subscriber receives until `until` (monotonic)."""
        vin_of = {vid: vin for vin, vid in h.vehicles.items()}
        serial_of = {cid: serial for serial, cid in h.chargers.items()}
        while (left := until - time.monotonic()) > 0:
            try:
                msg = await ws.next(left)
            except TimeoutError:
                return
            if msg.get("type") != "next":
                continue
            data = msg["payload"].get("data") or {}
            at = time.monotonic()
            if "evSystemUpdated" in data:
                s = data["evSystemUpdated"]
                pair = (s["vehicle"]["id"], s["charger"]["id"])
                h.evidence.setdefault(pair, []).append((at - (h.plugged_at or at), s["status"], s["evidence"]))
                if s["status"] != "ACTIVE":
                    continue
                vin, serial = vin_of[pair[0]], serial_of[pair[1]]
                if not h.together(vin, serial, at - GRACE_S, at):
                    h.false_pairs.add(pair)
                    if h.on_own_charger(vin, at - GRACE_S, at):
                        h.crossed_pairs.add(pair)
                elif pair in h.expected and pair[1] in h.plug_times:
                    h.detected.setdefault(pair, at - h.plug_times[pair[1]])
                    h.activated.set()
            elif "vehicleUpdated" in data and h.plugged_at and h.seen_plugged is None:
                if data["vehicleUpdated"]["chargeState"]["isPluggedIn"]:
                    h.seen_plugged = at - h.plugged_at

    async def plug(self, h: Household, vin: str, serial: str) -> None:
        """Put the cable in (the simulator pulls the charger's old one out first) and log it."""
        r = await self.http.post(f"{self.sim}/sim/plug", json={"vin": vin, "serialNumber": serial})
        at = time.monotonic()
        r.raise_for_status()
        for other in {v for _, v, _ in h.cables if v != vin}:
            if h.together(other, serial, at, at):
                h.cables.append((at, other, None))
        h.cables.append((at, vin, serial))
        h.plugged_at = h.plugged_at or at
        if serial in h.chargers:
            h.plug_times[h.chargers[serial]] = at
            h.plug_ins += 1

    async def unplug(self, h: Household, vin: str, away: bool) -> None:
        """Pull the cable; with `away`, the car also drives 20 km north."""
        if away:
            r = await self.http.post(f"{self.sim}/sim/move",
                                     json={"vin": vin, "latitude": HOME[0] + 0.18, "longitude": HOME[1]})
        else:
            r = await self.http.post(f"{self.sim}/sim/unplug", json={"vin": vin})
        r.raise_for_status()
        h.cables.append((time.monotonic(), vin, None))

    async def run(self, h: Household, plug_at: float, until: float, scale: float) -> None:
        """Subscribe, plug at `plug_at` (then swap cars, for swap households), watch until `until`."""
        async with WsClient(self.url.replace("http://", "ws://") + "/graphql", h.token) as ws:
            assert (await ws.ack()).get("type") == "connection_ack"
            await ws.subscribe(VEHICLES if h.kind == "vehicle-only" else SYSTEMS)
            watcher = asyncio.create_task(self.watch(h, ws, until))
            await asyncio.sleep(max(0.0, plug_at - time.monotonic()))
            for i, (vin, serial) in enumerate(h.plugs):
                if i:
                    await asyncio.sleep(h.gap_s if h.gap_s is not None else random.uniform(0.2, 2.0))
                await self.plug(h, vin, serial)
            if h.then:
                wait = min(until - 450 * scale - 10, time.monotonic() + SWAP_WAIT_S * scale) - time.monotonic()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(h.activated.wait(), max(0.0, wait))
                (out_vin, how), (in_vin, serial) = h.then
                await self.unplug(h, out_vin, away=how == "away")
                await asyncio.sleep(1.0)
                await self.plug(h, in_vin, serial)
            await watcher


def explain(h: Household, slow_s: float) -> None:
    """Print the evidence history of a household whose detection was missed, slow or false."""
    late = [p for p, t in h.detected.items() if t > slow_s]
    if not (h.false_pairs or h.expected - set(h.detected) or late):
        return
    names = {**{vid: f"car:{vin[-4:]}" for vin, vid in h.vehicles.items()},
             **{cid: f"charger:{serial[-4:]}" for serial, cid in h.chargers.items()}}
    print(f"  -- {h.kind}: cables {[(round(t - h.plugged_at, 1), v[-4:], s and s[-4:]) for t, v, s in h.cables]}")
    for pair, history in h.evidence.items():
        for at, status, why in history:
            print(f"     {at:7.1f} s {names[pair[0]]} {names[pair[1]]} {status}: {' | '.join(why[-6:])}")


def report(households: list[Household], scale: float, charger_poll_s: float, verbose: bool = False) -> None:
    """Print the figures."""
    paired = [t for h in households if h.kind in ("single", "two-by-two") for t in h.detected.values()]
    others = [t for h in households if h.kind == "two-cars" for t in h.detected.values()]
    lagging = [t for h in households if h.kind == "lagging" for t in h.detected.values()]
    adversarial = [t for h in households if h.kind in ADVERSARIAL for t in h.detected.values()]
    baseline = [h.seen_plugged for h in households if h.kind == "vehicle-only" and h.seen_plugged is not None]
    expected = sum(len(h.expected) for h in households)
    missed = sum(len(h.expected - set(h.detected)) for h in households)
    false = sum(len(h.false_pairs) for h in households)
    crossed = sum(len(h.crossed_pairs) for h in households)
    plug_ins = sum(h.plug_ins for h in households)
    never_seen = sum(1 for h in households if h.kind == "vehicle-only" and h.seen_plugged is None)

    def line(name: str, xs: list[float]) -> str:
        if not xs:
            return f"{name:<34} n=0"
        return (f"{name:<34} p50 {pct(xs, 50):6.2f} s  p95 {pct(xs, 95):6.2f} s  max {max(xs):6.2f} s  n={len(xs)}"
                f"   (real time ≈ p50 {pct(xs, 50) / scale:6.1f} s, p95 {pct(xs, 95) / scale:6.1f} s)")

    print()
    print(f"scale {scale}: charger poll {charger_poll_s:.2f} s, vehicle poll {300 * scale:.1f} s, "
          f"vehicle cloud lag up to {300 * scale:.1f} s (lagging cars), households {len(households)}")
    print(line("plug -> ACTIVE (fresh car cloud)", paired))
    print(line("plug -> ACTIVE (two-cars: other idle)", others))
    print(line("plug -> ACTIVE (lagging car cloud)", lagging))
    print(line("plug -> ACTIVE (adversarial)", adversarial))
    print(line("plug -> vehicle-only isPluggedIn", baseline))
    if paired and baseline:
        print(f"speed-up vs vehicle-only: p50 {pct(baseline, 50) / pct(paired, 50):.1f}x, "
              f"p95 {pct(baseline, 95) / pct(paired, 95):.1f}x   (goal >= 20x)")
        print(f"p95 fresh {pct(paired, 95):.2f} s vs goal charger poll + 1 s = {charger_poll_s + 1:.2f} s")
    print(f"plug-ins into users' chargers {plug_ins}: false activations {false} (crossed {crossed}); "
          f"activations expected {expected}, missed {missed}; vehicle-only never seen {never_seen}")
    if verbose:
        for kind in SCENARIOS + ADVERSARIAL:
            xs = [t for h in households if h.kind == kind
                  for t in ([*h.detected.values()] if kind != "vehicle-only" else [h.seen_plugged or float("nan")])]
            print(f"  {kind:<12} {' '.join(f'{x:.2f}' for x in sorted(xs))}")
    for h in households:
        if h.false_pairs or h.expected - set(h.detected):
            print(f"  {h.kind}: false {sorted(h.false_pairs)} crossed {sorted(h.crossed_pairs)} "
                  f"missed {sorted(h.expected - set(h.detected))}")
        if verbose:
            explain(h, slow_s=60 * scale)



def plug_offsets(kinds: list[str], spread: float) -> list[float]:
    """When each household plugs in, seconds after the start: each scenario's households spread
    evenly over `spread` (one vehicle poll interval), at a random point of their own slot.

    Stratified, so a scenario's few samples cover the whole poll cycle: with independent uniform
    draws, 10 plug-ins can by chance all fall just before the vehicles' next poll (seed 1 did
    that, and made the vehicle-only baseline look twice as fast as a uniform wait).
    """
    slots: dict[str, list[int]] = {}
    for i, kind in enumerate(kinds):
        slots.setdefault(kind, []).append(i)
    offsets = [0.0] * len(kinds)
    for indices in slots.values():
        order = random.sample(range(len(indices)), len(indices))
        for slot, i in zip(order, indices, strict=True):
            offsets[i] = (slot + random.random()) * spread / len(indices)
    return offsets


async def main(per_scenario: int, scale: float, verbose: bool = False, push: bool = True,
               kinds: tuple[str, ...] = SCENARIOS + ADVERSARIAL) -> None:
    """Run the benchmark."""
    charger_poll_s = 10 * scale
    env = {
        "TANDEM_CHARGER_PUSH": "true" if push else "false",
        "TANDEM_DATABASE_URL": temp_sqlite(), "TANDEM_DEMO_CLIENT_SECRET": SECRET,
        "TANDEM_CHARGER_POLL_S": str(charger_poll_s), "TANDEM_VEHICLE_POLL_S": str(300 * scale),
        "TANDEM_VEHICLE_POLL_CHARGING_S": str(120 * scale), "TANDEM_CONFIRM_POLL_S": str(20 * scale),
        "TANDEM_CONFIRM_WINDOW_S": str(600 * scale), "TANDEM_LOG_LEVEL": "WARNING",
    }
    async with demo_stack(env, sim_speed=1 / scale, sim_env={"TANDEM_SIM_REAL_STAMPS": "1"}) as stack:
        bench = Bench(stack.http, stack.url, stack.sim_url)
        households = [await bench.household(kind, i) for kind in kinds for i in range(per_scenario)]
        random.shuffle(households)
        # Let every charger be polled unplugged a few times, then plug over ~one vehicle poll.
        start = time.monotonic() + max(3.0, 3 * charger_poll_s)
        spread = 300 * scale
        swaps = SWAP_WAIT_S * scale + 1 if any(h.then for h in households) else 0.0  # swap households wait for A·C
        until = start + spread + swaps + 300 * scale * 1.5 + 10
        print(f"{len(households)} households linked; plugging over {spread:.0f} s, "
              f"watching until {until - time.monotonic():.0f} s from now", flush=True)
        offsets = plug_offsets([h.kind for h in households], spread)
        await asyncio.gather(*(bench.run(h, start + at, until, scale)
                               for h, at in zip(households, offsets, strict=True)))
        rss = stack.web.peak_rss_mb()
    print(f"charger push (Easee stream): {'on' if push else 'off: chargers polled only'}")
    report(households, scale, charger_poll_s, verbose)
    print(f"peak RSS of the web process (embedded workers): {rss:.0f} MB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--households", type=int, default=6, help="households per scenario")
    parser.add_argument("--scale", type=float, default=0.1, help="interval scale (1 = real time)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-push", action="store_true", help="no charger push: detection by polling alone")
    parser.add_argument("--verbose", action="store_true", help="print every measured time")
    parser.add_argument("--only", default="all",
                        help="which households: all, classic, adversarial, or a comma-separated list of kinds")
    args = parser.parse_args()
    random.seed(args.seed)
    sets = {"all": SCENARIOS + ADVERSARIAL, "classic": SCENARIOS, "adversarial": ADVERSARIAL}
    chosen = sets.get(args.only) or tuple(k for k in args.only.split(",") if k in SCENARIOS + ADVERSARIAL)
    if not chosen:
        parser.error(f"--only: all, classic, adversarial or kinds from {', '.join(SCENARIOS + ADVERSARIAL)}")
    print(f"seed {args.seed}, households: {args.only}", flush=True)
    asyncio.run(main(args.households, args.scale, args.verbose, push=not args.no_push, kinds=chosen))
