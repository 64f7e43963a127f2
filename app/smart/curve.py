"""How fast a car charges at a given SoC (its charge curve), and learning it from sessions.

AC charging is flat at the lower of the charger's and the car's onboard limit until the battery
management starts to taper, then falls towards the top. A car's curve is learned from what its
sessions showed: its plateau power, the shape of the taper (power as a fraction of that
session's plateau, by SoC), and kWh drawn per SoC percent. Until then defaults stand in, and the
planner widens its safety margin.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass

DEFAULT_CAPACITY_KWH = 60.0
DEFAULT_EFFICIENCY = 0.9  # kWh into the battery per kWh from the grid
#: A learned usable capacity is held within [MIN_CAPACITY_KWH, 200] kWh (tests run cars with tiny batteries).
MIN_CAPACITY_KWH = 0.1
#: SoC buckets (%) of a learned taper: the fraction of plateau power at 60, 65, ... 100 %.
SHAPE_FROM = 60
SHAPE_STEP = 5


@dataclass(frozen=True)
class ChargeCurve:
    """Power the car draws from the grid (kW) by SoC (%): its onboard limit, tapering at the top.
    The battery gains `efficiency` of it."""

    max_kw: float = 11.0
    #: SoC (%) at which the power starts to fall, and the fraction of max_kw left at 100 %
    #: (defaults on the slow side of what cars do: an unknown car is planned to need longer).
    taper_start: float = 70.0
    taper_floor: float = 0.25
    #: Usable battery energy (kWh) per 100 %, and battery kWh per grid kWh.
    capacity_kwh: float = DEFAULT_CAPACITY_KWH
    efficiency: float = DEFAULT_EFFICIENCY
    #: Whether this came from the car's own sessions (else defaults: the planner adds margin).
    learned: bool = False
    #: A learned taper: fraction of plateau power at SHAPE_FROM, +SHAPE_STEP, ... 100 % (None: linear).
    shape: tuple[float, ...] | None = None

    def fraction(self, soc: float) -> float:
        """The share of the plateau power the car takes at `soc`."""
        if self.shape:
            if soc <= SHAPE_FROM:
                return 1.0
            x = (soc - SHAPE_FROM) / SHAPE_STEP
            i = min(int(x), len(self.shape) - 2)
            w = min(1.0, x - i)
            return self.shape[i] * (1 - w) + self.shape[i + 1] * w
        if soc <= self.taper_start:
            return 1.0
        span = max(1e-9, 100.0 - self.taper_start)
        return 1 - (1 - self.taper_floor) * min(1.0, (soc - self.taper_start) / span)

    def power_kw(self, soc: float, charger_kw: float, derate: float = 1.0) -> float:
        """Grid-side power at `soc` on a charger that gives at most `charger_kw`; `derate` scales the
        car's own limit (a cold battery)."""
        return max(0.0, min(self.max_kw * derate * self.fraction(soc), charger_kw))


@dataclass(frozen=True)
class SessionSample:
    """One observation while charging: SoC (%), the power the car took (grid kW), and the most
    the charger would give then (kW)."""

    soc: float
    power_kw: float
    charger_kw: float = 1e9


def _high(values: list[float]) -> float:
    """The 90th percentile: what the car takes when warm (a cold battery's slower samples are the
    planner's live derate, not the car's curve)."""
    return statistics.quantiles(values, n=10)[-1] if len(values) >= 2 else values[0]


def learn(samples: list[SessionSample], energy_kwh: float | None = None, soc_gained: float | None = None,
          prior: ChargeCurve | None = None) -> ChargeCurve:
    """A curve from a car's charging samples (and, when known, grid kWh for the SoC points gained).

    The plateau is what the car took below 60 % where the charger did not hold it back (its 90th
    percentile, as for every bucket: a cold battery's slower samples are not the curve; when the
    charger held it back every time, the prior's limit stands if higher); the taper
    is each sample's power over the plateau it could reach (the lower of the plateau and the
    charger's limit) above 60 %, where the car, not the charger, set the pace. Needs at least 5
    samples; else `prior` (or the defaults) is returned unchanged.
    """
    base = prior or ChargeCurve()
    charging = [s for s in samples if s.power_kw > 0.5 and 0 <= s.soc <= 100]
    if len(charging) < 5:
        return base
    free = [s.power_kw for s in charging if s.soc < SHAPE_FROM and s.power_kw < s.charger_kw * 0.97]
    low = free or [s.power_kw for s in charging if s.soc < SHAPE_FROM] or [s.power_kw for s in charging]
    max_kw = _high(low)
    if not free:  # the charger held the car back every time: the car takes at least that, maybe more
        max_kw = max(max_kw, base.max_kw)
    buckets: dict[int, list[float]] = defaultdict(list)
    for s in charging:
        if s.soc < SHAPE_FROM:
            continue
        capped = s.charger_kw < max_kw * 0.97
        if capped and s.power_kw >= s.charger_kw * 0.97:
            continue  # the charger set the pace: it says nothing of the car's taper
        buckets[round((s.soc - SHAPE_FROM) / SHAPE_STEP)].append(min(1.0, s.power_kw / max_kw))
    n = (100 - SHAPE_FROM) // SHAPE_STEP + 1
    shape: list[float] = []
    prev = 1.0
    for i in range(n):
        soc = SHAPE_FROM + i * SHAPE_STEP
        seen = buckets.get(i)
        value = _high(seen) if seen else (base.fraction(soc) if not base.shape else base.shape[i])
        prev = min(prev, value)  # a taper never rises again
        shape.append(round(prev, 3))
    capacity, efficiency = base.capacity_kwh, base.efficiency
    if energy_kwh and soc_gained and soc_gained >= 5:
        capacity = max(MIN_CAPACITY_KWH, min(200.0, energy_kwh * efficiency / soc_gained * 100))
    return ChargeCurve(max_kw=max_kw, taper_start=base.taper_start, taper_floor=base.taper_floor,
                       capacity_kwh=capacity, efficiency=efficiency, learned=True, shape=tuple(shape))
