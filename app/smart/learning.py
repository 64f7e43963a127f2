"""Each vehicle's charge curve, learned in the running service from its own sessions.

While a vehicle charges in an ACTIVE EV system, every new SoC reading (the car's own, or the
charger's where it reports one, as OCPP MeterValues may) becomes a sample: SoC (%), the grid
power the charger reports (kW) and the charger's limit (kW). A vehicle keeps its newest
`MAX_SAMPLES`, and of the session being recorded its first and last (meter kWh, SoC %). When the
session ends (the unplug; or, if that was missed, when samples of a new session arrive) the curve
is learned again (`app.smart.curve.learn`) from the samples, the metered kWh over the SoC points
of every session learned from, and the previous curve as the prior. The planner then uses it
(`stored`), with the narrower margin of a learned curve.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from app.db.models import Charger, VehicleChargeCurve
from app.smart.curve import ChargeCurve, SessionSample, learn

#: Samples kept per vehicle (about two full sessions at `MIN_STEP`).
MAX_SAMPLES = 400
#: SoC (%) a reading must move from the last sample to be a new one (a stuck SoC teaches nothing).
MIN_STEP = 0.2
#: A reading older than this says little about the power the charger reports now.
MAX_READING_AGE = timedelta(minutes=15)
#: SoC points (%) a session must gain for its kWh to count towards the capacity.
MIN_GAIN = 5.0
#: SoC (%) of the points a plan shows of its curve.
POINTS = tuple(range(50, 101, 5))
#: A charger whose limit is unknown is taken to give this much (kW): 16 A on three phases.
DEFAULT_CHARGER_KW = 11.0


def charger_limit_kw(charger: Charger) -> float:
    """The most the charger gives (kW): the lower of its hardware and set current on three phases."""
    amps = [a for a in (charger.hw_max_current, charger.max_current) if a]
    return round(min(amps) * 230 * 3 / 1000, 2) if amps else DEFAULT_CHARGER_KW


@dataclass(frozen=True)
class Learned:
    """A vehicle's learned curve and how many sessions it was learned from."""

    curve: ChargeCurve
    sessions: int


def curve_of(row: VehicleChargeCurve) -> ChargeCurve | None:
    """The curve a row holds (None until learned)."""
    if row.max_kw is None or row.capacity_kwh is None or row.efficiency is None:
        return None
    return ChargeCurve(max_kw=row.max_kw, capacity_kwh=row.capacity_kwh, efficiency=row.efficiency, learned=True,
                       shape=tuple(row.shape) if row.shape else None)


async def stored(vehicle_id: str) -> Learned | None:
    """The vehicle's learned curve, if any."""
    row = await VehicleChargeCurve.filter(vehicle_id=vehicle_id).first()
    curve = curve_of(row) if row is not None else None
    return Learned(curve, row.sessions) if row is not None and curve is not None else None


async def record(vehicle_id: str, charger: Charger, level: float | None, at: datetime, now: datetime) -> bool:
    """Note a SoC reading (`level` %, taken at `at`) of a vehicle ACTIVE on `charger` as a sample, when
    the charger is charging it and the reading is fresh; whether it was kept."""
    rate = charger.charge_rate
    if level is None or not charger.is_charging or not rate or rate <= 0 or charger.plugged_in_at is None:
        return False
    if now - at > MAX_READING_AGE:
        return False
    row = await VehicleChargeCurve.filter(vehicle_id=vehicle_id).first() or VehicleChargeCurve(vehicle_id=vehicle_id)
    if row.session_plugged_at is not None and row.session_plugged_at != charger.plugged_in_at:
        fold(row, now)  # the previous session's end was missed
    if row.session_plugged_at is None:
        row.session_plugged_at = charger.plugged_in_at
    elif row.samples and abs(row.samples[-1][0] - level) < MIN_STEP:
        return False
    row.samples = [*row.samples, [round(level, 2), round(rate, 3), charger_limit_kw(charger)]][-MAX_SAMPLES:]
    row.session_samples += 1
    if charger.session_energy is not None:
        point = [charger.session_energy, level]
        row.session_first = row.session_first or point
        row.session_last = point
    await row.save()
    return True


def fold(row: VehicleChargeCurve, now: datetime) -> bool:
    """Learn from the session being recorded and close it (the caller saves); whether the curve was
    learned again (enough samples)."""
    first, last = row.session_first, row.session_last
    if first and last and last[0] > first[0] and last[1] - first[1] >= MIN_GAIN:
        row.energy_kwh += last[0] - first[0]
        row.soc_gained += last[1] - first[1]
    learned = False
    if row.session_samples >= 5:
        samples = [SessionSample(soc, kw, limit) for soc, kw, limit in row.samples]
        curve = learn(samples, row.energy_kwh or None, row.soc_gained or None, curve_of(row))
        if curve.learned:
            row.max_kw, row.capacity_kwh, row.efficiency = round(curve.max_kw, 3), round(curve.capacity_kwh, 3), \
                curve.efficiency
            row.shape = list(curve.shape) if curve.shape else None
            row.sessions += 1
            row.learned_at = now
            learned = True
    row.session_plugged_at, row.session_first, row.session_last, row.session_samples = None, None, None, 0
    return learned


async def session_ended(vehicle_id: str, now: datetime) -> bool:
    """The vehicle's plug session ended: learn from it; whether the curve was learned again."""
    row = await VehicleChargeCurve.filter(vehicle_id=vehicle_id).first()
    if row is None or row.session_plugged_at is None:
        return False
    learned = fold(row, now)
    await row.save()
    return learned


def curve_view(curve: ChargeCurve, charger_kw: float, sessions: int) -> dict[str, Any]:
    """What a plan shows of the curve it assumed: {"learned", "maxKw", "capacityKwh", "efficiency",
    "sessions", "points": [[SoC %, grid kW on this charger]]}."""
    return {"learned": curve.learned, "maxKw": round(curve.max_kw, 3), "capacityKwh": round(curve.capacity_kwh, 3),
            "efficiency": curve.efficiency, "sessions": sessions,
            "points": [[soc, round(curve.power_kw(soc, charger_kw), 3)] for soc in POINTS]}
