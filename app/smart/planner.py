"""The smart charging planner (pure): which slots to charge in so the car reaches its target by
the deadline at the lowest cost.

Time from now to the deadline is cut into equal slots (15 min by default; a partial slot at
the deadline is not used). Because a car's power depends on its SoC and not on the clock, the
energy the k-th charged slot delivers is fixed by k alone (a high-power slot early, a tapering
one at the top), whichever slot of the day it is. The cheapest set of slots is then found
exactly by dynamic programming over (slots seen, slots charged): O(slots²), a few ms for 48 h.

- The minimum charge limit is served first: the first slots up to it are charged whatever the price.
- A safety margin keeps slots in reserve after the ones the estimate needs, sized from where the
  uncertainty is: a small share of the charging time on the plateau once the car's curve is
  learned (power and kWh per % are what its sessions showed; a charger reading below it, passed
  as `derate`, slows the plan live), a larger one in the taper, the part of a curve learned least
  well (few samples, 5 % buckets) and where an error costs most time. The reserve slots cost
  nothing in the estimate, so the DP puts them last: the plan finishes early enough for them to
  fit before the deadline (a latest-finish guard), and as charging proceeds and the remaining
  need shrinks, re-planning shrinks the reserve with it. SoC age adds none: plugged in, SoC only
  rises, so an old reading already makes the plan charge longer, never shorter.
- When the target cannot be reached by the deadline every slot is charged (charge at once) and
  the plan says so; so the latest-feasible start is never passed.
Prices are per kWh drawn from the grid; energy and costs are grid-side.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.smart.curve import ChargeCurve

#: Margins, as shares of the charging time the estimate needs: on the plateau and in the taper, for
#: a learned curve and for one not learned yet (whose default taper is already on the slow side).
PLATEAU_MARGIN = 0.02
TAPER_MARGIN = 0.10
UNLEARNED_PLATEAU_MARGIN = 0.05
UNLEARNED_TAPER_MARGIN = 0.10
#: Integration step inside a slot (s).
STEP_S = 60.0
#: Breaks ties between slots that deliver no energy in the estimate (margin slots): cheapest first.
EPSILON_KWH = 1e-6
#: Breaks ties between slots of the same price: the earlier one (finishing early is safer).
EARLIER = 1e-9


@dataclass(frozen=True)
class PriceRate:
    """A price (per grid kWh) over [start, end)."""

    start: datetime
    end: datetime
    price: float


@dataclass(frozen=True)
class PlanInput:
    """Everything the planner knows."""

    now: datetime
    soc: float  # %
    soc_at: datetime  # when that SoC was true
    target: float  # %
    minimum: float  # %
    deadline: datetime
    charger_kw: float
    curve: ChargeCurve
    prices: tuple[PriceRate, ...]
    #: The car takes this share of its usual power now (a cold battery, seen from the charger's
    #: reading), for the next `derate_slots` charged slots (a battery warms up as it charges).
    derate: float = 1.0
    derate_slots: int = 4
    slot_s: float = 900.0


@dataclass(frozen=True)
class Slot:
    """A slot of the plan: grid power and energy it is expected to take, and its price."""

    start: datetime
    end: datetime
    power_kw: float
    energy_kwh: float
    price: float


@dataclass(frozen=True)
class Plan:
    """The planner's answer."""

    slots: tuple[Slot, ...]  # charged slots, in time order
    feasible: bool  # the target is reached by the deadline
    energy_kwh: float  # grid energy the plan expects to draw
    smart_cost: float
    non_smart_cost: float  # the same energy drawn from now on, slot after slot
    estimated_finish_at: datetime | None  # when the target is expected
    margin: float  # reserve kept after the estimate, as a share of the charging time it needs
    reason: str | None = None

    @property
    def start_at(self) -> datetime | None:
        """The first charged slot's start."""
        return self.slots[0].start if self.slots else None

    @property
    def stop_at(self) -> datetime | None:
        """The last charged slot's end."""
        return self.slots[-1].end if self.slots else None

    def charging_at(self, t: datetime) -> bool:
        """Whether the plan charges at time `t`."""
        return any(s.start <= t < s.end for s in self.slots)


class NoPrice(ValueError):
    """Some part of the period up to the deadline has no price."""


def margins(curve: ChargeCurve) -> tuple[float, float]:
    """The margins (plateau, taper) for how well the curve is known."""
    if curve.learned:
        return PLATEAU_MARGIN, TAPER_MARGIN
    return UNLEARNED_PLATEAU_MARGIN, UNLEARNED_TAPER_MARGIN


def _trajectory(soc: float, target: float, n: int, slot_s: float, charger_kw: float, curve: ChargeCurve,
                derate: float, derate_slots: int | None) -> tuple[list[float], list[float], list[float]]:
    """`trajectory`, and the reserve each charged slot asks for (in slots: its charging time, as a
    share of the slot, times the margin for the part of the curve it charges on)."""
    plateau_m, taper_m = margins(curve)
    energy: list[float] = []
    socs: list[float] = []
    hedge: list[float] = []
    s = soc
    for k in range(n):
        slow = derate if derate_slots is None or k < derate_slots else 1.0
        e = h = 0.0
        left = slot_s
        while left > 1e-9 and s < target - 1e-9:
            dt = min(STEP_S, left)
            kw = curve.power_kw(s, charger_kw, slow)
            if kw <= 0:
                break
            gain = kw * curve.efficiency * dt / 3600 / curve.capacity_kwh * 100
            if s + gain > target:  # the last bit: only the time it takes
                dt *= (target - s) / gain
                gain = target - s
            h += dt / slot_s * (taper_m if curve.fraction(s) < 1 - 1e-9 else plateau_m)
            s += gain
            e += kw * dt / 3600
            left -= dt
        energy.append(e)
        socs.append(s)
        hedge.append(h)
    return energy, socs, hedge


def trajectory(soc: float, target: float, n: int, slot_s: float, charger_kw: float, curve: ChargeCurve,
               derate: float = 1.0, derate_slots: int | None = None) -> tuple[list[float], list[float]]:
    """Grid energy of the 1st..n-th charged slot and the SoC after each, charging from `soc` and
    stopping at `target` (%); `derate` holds for the first `derate_slots` charged slots (None: all)."""
    energy, socs, _ = _trajectory(soc, target, n, slot_s, charger_kw, curve, derate, derate_slots)
    return energy, socs


def slot_prices(start: datetime, n: int, slot_s: float, rates: tuple[PriceRate, ...]) -> list[float]:
    """Time-weighted price of each slot; NoPrice when a slot is not fully covered."""
    ordered = sorted(rates, key=lambda r: r.start)
    out: list[float] = []
    for i in range(n):
        a = start + timedelta(seconds=i * slot_s)
        b = a + timedelta(seconds=slot_s)
        covered = 0.0
        weighted = 0.0
        for r in ordered:
            lo, hi = max(a, r.start), min(b, r.end)
            if hi > lo:
                d = (hi - lo).total_seconds()
                covered += d
                weighted += d * r.price
        if covered < slot_s - 1e-6:
            raise NoPrice(f"no price from {a.isoformat()}")
        out.append(weighted / covered)
    return out


def cheapest(prices: list[float], energy: list[float], k: int, forced: int) -> tuple[float, list[int]]:
    """Exact minimum cost of charging `k` of the slots (the first `forced` of them whatever the
    price), where the j-th charged slot takes `energy[j]`; returns (cost, slot indices)."""
    n = len(prices)
    inf = math.inf
    # f[i][j]: cheapest cost over slots < i with j charged; choice[i][j]: whether slot i-1 was charged.
    f = [[inf] * (k + 1) for _ in range(n + 1)]
    took = [[False] * (k + 1) for _ in range(n + 1)]
    f[0][0] = 0.0
    for i in range(n):
        p = prices[i] + i * EARLIER
        row, nxt, nxt_took = f[i], f[i + 1], took[i + 1]
        for j in range(min(i, k) + 1):
            c = row[j]
            if c == inf:
                continue
            if i >= forced and c < nxt[j]:  # skip slot i (never one of the forced first slots)
                nxt[j] = c
                nxt_took[j] = False
            if j < k:
                cc = c + p * (energy[j] + EPSILON_KWH)
                if cc < nxt[j + 1]:
                    nxt[j + 1] = cc
                    nxt_took[j + 1] = True
    chosen: list[int] = []
    j = k
    for i in range(n, 0, -1):
        if took[i][j]:
            chosen.append(i - 1)
            j -= 1
    chosen.reverse()
    return f[n][k], chosen


def plan(inp: PlanInput) -> Plan:
    """The cheapest plan that reaches the target by the deadline (see the module's description)."""
    n = int((inp.deadline - inp.now).total_seconds() // inp.slot_s)
    target = max(inp.target, inp.minimum)
    if inp.soc >= target - 1e-6:
        return Plan((), True, 0.0, 0.0, 0.0, None, 0.0)
    if n <= 0:  # less than a slot left: charge for what remains of it
        end = max(inp.deadline, inp.now + timedelta(seconds=1))
        return Plan((Slot(inp.now, end, inp.charger_kw, 0.0, 0.0),), False, 0.0, 0.0, 0.0, None, 0.0,
                    f"The target of {target:.0f} % cannot be reached by the deadline; charging at once.")
    prices = slot_prices(inp.now, n, inp.slot_s, inp.prices)
    energy, socs, hedge = _trajectory(inp.soc, target, n, inp.slot_s, inp.charger_kw, inp.curve, inp.derate,
                                      inp.derate_slots)
    reached = next((i + 1 for i, s in enumerate(socs) if s >= target - 1e-6), None)
    forced = next((i + 1 for i, s in enumerate(socs) if s >= inp.minimum - 1e-6), n) if inp.minimum > inp.soc else 0
    margin = 0.0
    if reached is None:  # not reachable: charge at once, every slot
        k = n
        feasible = False
    else:
        margin = sum(hedge[:reached]) / reached
        extra = math.ceil(margin * reached - 1e-9)
        k = min(n, reached + extra)
        feasible = True
    forced = min(forced, k)
    _, chosen = cheapest(prices, energy, k, forced)
    slots = tuple(
        Slot(inp.now + timedelta(seconds=i * inp.slot_s), inp.now + timedelta(seconds=(i + 1) * inp.slot_s),
             round(energy[j] * 3600 / inp.slot_s, 3), energy[j], prices[i])
        for j, i in enumerate(chosen))
    non_smart = sum(prices[i] * energy[i] for i in range(k))
    smart = sum(s.price * s.energy_kwh for s in slots)
    finish = None
    if reached is not None:
        finish = slots[reached - 1].end if len(slots) >= reached else None
    reason = None if feasible else (
        f"The target of {target:.0f} % cannot be reached by the deadline; charging at once "
        f"(expected {socs[-1]:.0f} % by then).")
    return Plan(slots, feasible, round(sum(energy[:k]), 4), round(smart, 4), round(non_smart, 4), finish,
                margin, reason)
