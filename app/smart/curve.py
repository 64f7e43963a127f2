"""How fast a car charges at a given SoC (its charge curve), and learning it from sessions.

AC charging is flat at the lower of the charger's and the car's onboard limit until the battery
management starts to taper, then falls roughly linearly towards the top. A car's curve is
learned from what its sessions showed (power against SoC, kWh delivered per SoC percent); until
then defaults stand in, and the planner widens its safety margin.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

DEFAULT_CAPACITY_KWH = 60.0
DEFAULT_EFFICIENCY = 0.9  # kWh into the battery per kWh from the grid


@dataclass(frozen=True)
class ChargeCurve:
    """Power the car draws from the grid (kW) by SoC (%): its onboard limit, tapering at the top.
    The battery gains `efficiency` of it."""

    max_kw: float = 11.0
    #: SoC (%) at which the power starts to fall, and the fraction of max_kw left at 100 %.
    taper_start: float = 80.0
    taper_floor: float = 0.35
    #: Usable battery energy (kWh) per 100 %, and battery kWh per grid kWh.
    capacity_kwh: float = DEFAULT_CAPACITY_KWH
    efficiency: float = DEFAULT_EFFICIENCY
    #: Whether this came from the car's own sessions (else defaults: the planner adds margin).
    learned: bool = False

    def power_kw(self, soc: float, charger_kw: float, derate: float = 1.0) -> float:
        """Grid-side power at `soc` on a charger that gives at most `charger_kw`; `derate` scales the
        car's own limit (a cold battery)."""
        top = self.max_kw * derate
        if soc > self.taper_start:
            span = max(1e-9, 100.0 - self.taper_start)
            top *= 1 - (1 - self.taper_floor) * min(1.0, (soc - self.taper_start) / span)
        return max(0.0, min(top, charger_kw))


@dataclass(frozen=True)
class SessionSample:
    """One observation during a session: SoC (%) and the power the car took (kW, grid side)."""

    soc: float
    power_kw: float


def learn(samples: list[SessionSample], energy_kwh: float | None = None, soc_gained: float | None = None,
          prior: ChargeCurve | None = None) -> ChargeCurve:
    """A curve from a car's charging samples (and, when known, grid kWh for the SoC points gained).

    Needs at least 5 samples; else `prior` (or the defaults) is returned unchanged.
    """
    base = prior or ChargeCurve()
    charging = [s for s in samples if s.power_kw > 0.5 and 0 <= s.soc <= 100]
    if len(charging) < 5:
        return base
    flat = [s.power_kw for s in charging if s.soc < 70] or [s.power_kw for s in charging]
    max_kw = statistics.quantiles(flat, n=10)[-1] if len(flat) >= 2 else flat[0]
    taper_start = base.taper_start
    high = sorted((s for s in charging if s.soc >= 70), key=lambda s: s.soc)
    slow = [s.soc for s in high if s.power_kw < 0.93 * max_kw]
    if slow:
        taper_start = max(50.0, min(99.0, slow[0] - 1))
    capacity, efficiency = base.capacity_kwh, base.efficiency
    if energy_kwh and soc_gained and soc_gained >= 5:
        capacity = max(10.0, min(200.0, energy_kwh * efficiency / soc_gained * 100))
    return ChargeCurve(max_kw=max_kw, taper_start=taper_start, taper_floor=base.taper_floor,
                       capacity_kwh=capacity, efficiency=efficiency, learned=True)
