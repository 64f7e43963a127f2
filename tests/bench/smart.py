"""Benchmark: the smart charging planner against the field, in simulated time.

    python -m tests.bench.smart [--sessions 1000] [--seed 1]

Each session: a car (one of 100, each with its own true charge curve: onboard limit, taper start
and depth, usable capacity, charging losses) arrives in the evening at a random SoC on a 3.7-22 kW
charger, with a day-ahead price series (a random duck-curve day with noise) and a deadline the
next morning; 20 % of sessions have a cold battery (the car takes 60 % of its power for the first
90 minutes). Every 15 minutes the strategy re-plans from the SoC the car's cloud reported 5
minutes ago and decides whether to charge in the next slot; the true physics then runs in
one-minute steps and the car stops at the target (its own limit).

Strategies, side by side in one run:
- tandem: `app.smart.planner` with each car's curve learned from its earlier sessions (the spec's
  onboard limit and capacity, a default taper and a wider margin until then), the charger's last
  reading as a live derate;
- greedy: the cheapest slots that cover the energy needed at constant full power (no taper, no
  losses beyond a nominal 10 %, no margin), re-planned the same way;
- at once: charge from arrival (the non-smart cost);
- optimum: offline, with perfect knowledge of the car and prices: the cheapest whole slots that
  bring the car to its full target, found by dynamic programme over SoC and charged with the same
  one-minute physics (`minute`) as the strategies.
Printed: the share of sessions reaching the target by the deadline (within 0.5 %, as the service
counts a plan finished; goal ≥ 99.5 %), cost against the offline optimum over all sessions (goal
within 2 %), split between cars' first sessions and later ones, and planner time per re-plan
(goal p99 ≤ 50 ms).

Figures (`./run bench smart --sessions 1000 --seed N`, seeds 1, 2, 3): tandem reaches the target
in 100.00 % of the sessions that can (all three seeds) at +1.57 %, +1.55 %, +1.42 % over the
optimum (first sessions of a car +3.3-4.3 %, later ones +1.2-1.4 %); greedy reaches 93.4 %,
92.0 %, 94.0 % at -0.07 %, -0.17 %, +0.04 % (it stops short, so it buys less); charging at once
+122-124 %. Planner p99 1.8-2.5 ms per re-plan (max ~60 ms, a busy shared machine).
"""

from __future__ import annotations

import argparse
import math
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from app.smart.curve import ChargeCurve, SessionSample, learn
from app.smart.planner import PlanInput, PriceRate, plan
from tests.bench.common import pct

SLOT_S = 900.0
LAG_S = 300.0
DAY0 = datetime(2026, 11, 30, tzinfo=UTC)
OPT_BUCKETS = 20  # per SoC %


@dataclass
class Car:
    """A car's true behaviour and what Tandem has learned of it."""

    curve: ChargeCurve  # true
    samples: list[SessionSample] = field(default_factory=list)
    energy: float = 0.0
    gained: float = 0.0
    learned: ChargeCurve | None = None


@dataclass
class Session:
    """One plug-in."""

    car: Car
    arrival: datetime
    deadline: datetime
    soc: float
    target: float
    minimum: float
    charger_kw: float
    cold: bool
    prices: tuple[PriceRate, ...]


@dataclass
class Outcome:
    """What a strategy achieved in one session."""

    cost: float = 0.0
    energy: float = 0.0
    reached: bool = False


def day_prices(rng: random.Random, start: datetime) -> tuple[PriceRate, ...]:
    """48 hourly prices: a duck curve (evening peak, cheap night, solar dip) with noise."""
    out = []
    for h in range(48):
        hod = (start + timedelta(hours=h)).hour
        base = 0.18 + 0.14 * math.exp(-((hod - 19) ** 2) / 6) - 0.09 * math.exp(-((hod - 3) ** 2) / 8) \
            - 0.05 * math.exp(-((hod - 13) ** 2) / 5)
        out.append(PriceRate(start + timedelta(hours=h), start + timedelta(hours=h + 1),
                             round(max(0.01, base * rng.uniform(0.8, 1.25) + rng.gauss(0, 0.015)), 4)))
    return tuple(out)


def derate(s: Session, t: datetime) -> float:
    """A cold battery takes 60 % of the car's power for its first 90 minutes."""
    return 0.6 if s.cold and t < s.arrival + timedelta(minutes=90) else 1.0


def minute(s: Session, soc: float, now: datetime) -> tuple[float, float, float, float]:
    """The true physics of one minute of charging from `soc` at `now`: (SoC after, grid kW, grid kWh,
    cost); the car stops at its target within the minute."""
    c = s.car.curve
    kw = c.power_kw(soc, s.charger_kw, derate(s, now))
    gain = kw * c.efficiency / 60 / c.capacity_kwh * 100
    frac = min(1.0, (s.target - soc) / gain) if gain > 0 else 0.0
    price = next(r.price for r in s.prices if r.start <= now < r.end)
    return soc + gain * frac, kw, kw * frac / 60, kw * frac / 60 * price


def run(s: Session, decide: object, learn_from: bool = False) -> tuple[Outcome, list[float]]:
    """Simulate one session under `decide(session, now, seen_soc, soc_at) -> charge?`; planner times (ms)."""
    soc = s.soc
    last_kw = 0.0  # what the charger reported the car taking (chargers report at once)
    history: list[tuple[datetime, float]] = [(s.arrival, soc)]
    out = Outcome()
    times: list[float] = []
    t = s.arrival
    while t + timedelta(seconds=SLOT_S) <= s.deadline:
        seen_at = t - timedelta(seconds=LAG_S)
        seen = next((v for when, v in reversed(history) if when <= seen_at), s.soc)
        t0 = time.perf_counter()
        on = soc < s.target - 1e-9 and decide(s, t, seen, max(s.arrival, seen_at), last_kw)  # type: ignore[operator]
        last_kw = 0.0
        times.append((time.perf_counter() - t0) * 1000)
        for m in range(int(SLOT_S // 60)):
            now = t + timedelta(minutes=m)
            if on and soc < s.target - 1e-9:
                soc, kw, kwh, cost = minute(s, soc, now)
                out.energy += kwh
                out.cost += cost
                last_kw = kw
                if learn_from and m % 5 == 0:
                    s.car.samples.append(SessionSample(soc, kw, s.charger_kw))

            history.append((now + timedelta(minutes=1), soc))
        t += timedelta(seconds=SLOT_S)
    out.reached = soc >= s.target - 0.5
    if learn_from:
        s.car.energy += out.energy
        s.car.gained += soc - s.soc
        s.car.learned = learn(s.car.samples[-400:], s.car.energy, s.car.gained, s.car.learned or nominal(s))
    return out, times


def nominal(s: Session) -> ChargeCurve:
    """What the car's spec (or its cloud) tells: onboard charger and usable capacity; not its taper or losses."""
    return ChargeCurve(max_kw=s.car.curve.max_kw, capacity_kwh=s.car.curve.capacity_kwh)


def tandem(s: Session, now: datetime, seen: float, seen_at: datetime, last_kw: float) -> bool:
    curve = s.car.learned or nominal(s)
    expected = curve.power_kw(seen, s.charger_kw)
    derate = min(1.0, max(0.3, last_kw / expected)) if last_kw > 0 and expected > 0 else 1.0
    p = plan(PlanInput(now=now, soc=seen, soc_at=seen_at, target=s.target, minimum=s.minimum,
                       deadline=s.deadline, charger_kw=s.charger_kw, curve=curve, prices=s.prices, derate=derate))
    return p.charging_at(now)


def greedy(s: Session, now: datetime, seen: float, seen_at: datetime, last_kw: float) -> bool:
    n = int((s.deadline - now).total_seconds() // SLOT_S)
    kw = min(s.charger_kw, s.car.curve.max_kw)
    need_kwh = max(0.0, s.target - seen) / 100 * s.car.curve.capacity_kwh / 0.9
    k = min(n, math.ceil(need_kwh / (kw * SLOT_S / 3600) - 1e-9))
    starts = [now + timedelta(seconds=i * SLOT_S) for i in range(n)]
    price = [next(r.price for r in s.prices if r.start <= a < r.end) for a in starts]
    best = sorted(range(n), key=lambda i: (price[i], i))[:k]
    return 0 in best


def at_once(s: Session, now: datetime, seen: float, seen_at: datetime, last_kw: float) -> bool:
    return True


def optimum(s: Session) -> Outcome:
    """Offline, with perfect knowledge (the true curve, cold derate, losses, SoC, prices): the
    cheapest choice of whole slots that brings the car to its full target, by dynamic programme
    over (slot, SoC in 0.05 % buckets), each bucket keeping its cheapest path with that path's exact
    SoC, and every slot charged with `minute`, the very physics the strategies are run with (so the
    choice it finds, replayed in `run`, costs what it says)."""
    n = int((s.deadline - s.arrival).total_seconds() // SLOT_S)
    # SoC bucket -> (cost, energy, exact SoC)
    best: dict[int, tuple[float, float, float]] = {round(s.soc * OPT_BUCKETS): (0.0, 0.0, s.soc)}
    for i in range(n):
        start = s.arrival + timedelta(seconds=i * SLOT_S)
        nxt: dict[int, tuple[float, float, float]] = {}
        for bucket, (cost, energy, soc) in best.items():
            if cost < nxt.get(bucket, (math.inf, 0.0, 0.0))[0]:
                nxt[bucket] = (cost, energy, soc)
            if soc >= s.target - 1e-9:
                continue
            for m in range(int(SLOT_S // 60)):
                soc, _, kwh, paid = minute(s, soc, start + timedelta(minutes=m))
                cost += paid
                energy += kwh
            key = round(soc * OPT_BUCKETS)
            if cost < nxt.get(key, (math.inf, 0.0, 0.0))[0]:
                nxt[key] = (cost, energy, soc)
        best = nxt
    done = [v for v in best.values() if v[2] >= s.target - 1e-6]
    if done:
        cost, energy, _ = min(done)
        return Outcome(cost=cost, energy=energy, reached=True)
    cost, energy, _ = max(best.values(), key=lambda v: v[2])
    return Outcome(cost=cost, energy=energy, reached=False)


def sessions(n: int, rng: random.Random) -> list[Session]:
    cars = [Car(ChargeCurve(max_kw=rng.choice([7.4, 11.0, 11.0, 11.0, 22.0]), taper_start=rng.uniform(70, 90),
                            taper_floor=rng.uniform(0.25, 0.5), capacity_kwh=rng.uniform(40, 95),
                            efficiency=rng.uniform(0.86, 0.93), learned=True)) for _ in range(100)]
    out = []
    for i in range(n):
        car = cars[i % len(cars)]
        day = DAY0 + timedelta(days=i // len(cars))
        arrival = day + timedelta(hours=rng.uniform(16, 22))
        arrival = arrival.replace(second=0, microsecond=0)
        deadline = (day + timedelta(days=1, hours=rng.uniform(6, 9))).replace(second=0, microsecond=0)
        charger = rng.choice([3.7, 7.4, 11.0, 11.0, 22.0])
        soc = rng.uniform(10, 70)
        target = rng.choice([80.0, 80.0, 90.0, 100.0])
        # keep sessions that can be done at full speed in the time given (the plan's job is the rest)
        need_h = (target - soc) / 100 * car.curve.capacity_kwh / (min(charger, car.curve.max_kw) * 0.6 * 0.86)
        if need_h > (deadline - arrival).total_seconds() / 3600 - 0.5:
            soc = max(soc, target - 40)
        out.append(Session(car, arrival, deadline, soc, target, min(20.0, soc), charger, rng.random() < 0.2,
                           day_prices(rng, day)))
    return out


def main(n: int, seed: int) -> None:
    rng = random.Random(seed)
    runs = sessions(n, rng)
    results: dict[str, list[Outcome]] = {"tandem": [], "greedy": [], "at once": [], "optimum": []}
    times: list[float] = []
    first: list[bool] = []  # the car's first session: default curve, wider margin
    for s in runs:
        first.append(s.car.learned is None)
        o, t = run(s, tandem, learn_from=True)
        results["tandem"].append(o)
        times += t
        results["greedy"].append(run(s, greedy)[0])
        results["at once"].append(run(s, at_once)[0])
        results["optimum"].append(optimum(s))
    opt = sum(o.cost for o in results["optimum"])
    feasible = [i for i, o in enumerate(results["optimum"]) if o.reached]
    print(f"\nSmart charging: {n} sessions (seed {seed}), 100 cars, 20 % cold, SoC 5 min late, "
          "re-plan every 15 min")
    print(f"{len(feasible)} of them can reach the target by the deadline at all (the optimum's); "
          "shares below are of those")
    print(f"{'strategy':<9} {'reached target':>15} {'cost':>10} {'vs optimum':>11} {'energy kWh':>11}")
    for name, outs in results.items():
        share = sum(outs[i].reached for i in feasible) / max(1, len(feasible)) * 100
        cost = sum(o.cost for o in outs)
        print(f"{name:<9} {share:>14.2f}% {cost:>10.2f} {(cost / opt - 1) * 100:>+10.2f}% "
              f"{sum(o.energy for o in outs):>11.0f}")
    for label, group in (("a car's first session (default curve)", [i for i in range(n) if first[i]]),
                         ("later sessions (learned curve)", [i for i in range(n) if not first[i]])):
        part = sum(results["optimum"][i].cost for i in group)
        mine = sum(results["tandem"][i].cost for i in group)
        print(f"  tandem, {label}: {len(group)} sessions, {(mine / max(part, 1e-9) - 1) * 100:+.2f}% vs optimum")
    print("goals: tandem reaches the target ≥ 99.5 % (within 0.5 %, as the service counts it finished), "
          "cost within 2 % of the optimum")
    print(f"planner per re-plan: p50 {pct(times, 50):.2f} ms, p99 {pct(times, 99):.2f} ms, "
          f"max {max(times):.2f} ms over {len(times)} (goal p99 ≤ 50 ms)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    main(args.sessions, args.seed)
