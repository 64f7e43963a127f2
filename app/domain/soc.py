"""The battery level Tandem shows for a vehicle: the car's newest reading plus the energy its ACTIVE
charger delivered since, never lower than what was shown unless the car drove or discharged.

Rules (pure; the caller loads and saves an `Estimate` per vehicle):

- A reading's time is its data age clamped to when it was received (a vendor's time is a claim).
- An older reading never overwrites a newer estimate: a reading whose time is not after the
  estimate's time is ignored.
- While ACTIVE, energy counts from the charger's session meter (kWh) when it has one, else from its
  charge rate over time; the estimate is folded (re-based at "now") whenever the charger starts,
  stops, is unplugged or the pair ends, so it never depends on a charger state that has ended.
- The shown level never goes down while the car is not driving or discharging. A lower newer reading
  raises a floor (the level shown before it) instead; the floor is dropped once the estimate
  passes it, or when the reading shows the car driving (unplugged by its own account and moved at
  least `DRIVE_M`, or unplugged with no position to tell) or discharging (a negative charge rate).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime

#: A car that reports its position has driven when its position moved at least this far (metres).
DRIVE_M = 200.0


@dataclass(frozen=True)
class Estimate:
    """A vehicle's battery level as Tandem believes it.

    `level` (%) held at `at`; `energy_kwh` is the ACTIVE charger's session meter at `at` (None when
    unknown); `floor` (%) is the least that may be shown (None: no floor).
    """

    level: float | None = None
    at: datetime | None = None
    energy_kwh: float | None = None
    floor: float | None = None


@dataclass(frozen=True)
class Reading:
    """A vehicle poll's battery data; `at` is its data age clamped to the receipt time."""

    level: float | None
    at: datetime
    is_plugged_in: bool | None
    charge_rate: float | None
    position: tuple[float, float] | None


@dataclass(frozen=True)
class Meter:
    """What the ACTIVE charger says about the energy it delivers.

    `rate_kw` while `is_charging`; `changed_at`: when charging last started or stopped;
    `session_kwh`: its session meter (None: it has none) for the session plugged in at `session_start`.
    """

    is_charging: bool | None
    rate_kw: float | None
    changed_at: datetime | None
    session_kwh: float | None
    session_start: datetime | None


def reading_time(data_age: datetime | None, received: datetime) -> datetime:
    """When a reading's data was taken: its data age, never later than when it was received."""
    return received if data_age is None else min(data_age, received)


def _hours(start: datetime, end: datetime) -> float:
    return max(0.0, (end - start).total_seconds() / 3600)


def gained_kwh(est: Estimate, meter: Meter | None, now: datetime) -> float:
    """Energy (kWh) the charger delivered between `est.at` and `now`."""
    if meter is None or est.at is None:
        return 0.0
    if meter.session_kwh is not None and est.energy_kwh is not None:
        base = 0.0 if meter.session_start is not None and meter.session_start > est.at else est.energy_kwh
        return max(0.0, meter.session_kwh - base)
    if meter.is_charging and meter.rate_kw and meter.rate_kw > 0:
        since = max(est.at, meter.changed_at or est.at)
        return meter.rate_kw * _hours(since, now)
    return 0.0


def raw_level(est: Estimate, meter: Meter | None, capacity: float | None, limit: float | None,
              now: datetime) -> float | None:
    """The level (%) to show now, unrounded: the estimate plus the energy delivered since (capped at the
    charge limit, or 100, unless the car was already above it), never below the floor."""
    if est.level is None:
        return None
    level = est.level
    if capacity and capacity > 0:
        cap = max(100.0 if limit is None else limit, est.level)
        level = min(cap, est.level + gained_kwh(est, meter, now) / capacity * 100)
    return level if est.floor is None else max(level, est.floor)


def level_before(level: float, delivered_kwh: float, capacity_kwh: float | None) -> float:
    """The battery level (%) before `delivered_kwh` went in, from `level` (%) after: unchanged where
    the capacity is unknown; within 0..100, to 0.1 %."""
    if not capacity_kwh or capacity_kwh <= 0:
        return level
    return round(min(100.0, max(0.0, level - delivered_kwh / capacity_kwh * 100)), 1)


def shown_level(est: Estimate, meter: Meter | None, capacity: float | None, limit: float | None,
                now: datetime) -> float | None:
    """`raw_level` rounded to 0.1 % (as vehicle clouds report it)."""
    level = raw_level(est, meter, capacity, limit, now)
    return None if level is None else round(level, 1)


def fold(est: Estimate, meter: Meter | None, capacity: float | None, limit: float | None, now: datetime,
         energy_now: float | None) -> Estimate:
    """Re-base the estimate at `now` (what `meter`, the charger as it was, delivered until now), with the
    charger's meter now at `energy_now` (None: no meter, or no longer plugged into this car)."""
    if est.level is None:
        return est
    level = raw_level(est, meter, capacity, limit, now)
    return Estimate(level, now, energy_now, None)


def energy_at(meter: Meter | None, t: datetime, now: datetime, est: Estimate) -> float | None:
    """The charger's session meter (kWh) at time t, from its reading at `now` (None: cannot tell)."""
    if meter is None or meter.session_kwh is None:
        return None
    if meter.session_start is not None and t <= meter.session_start:
        return 0.0
    if not meter.is_charging:
        return meter.session_kwh if meter.changed_at is None or meter.changed_at <= t else None
    if meter.rate_kw is None:
        return None
    since = max(t, meter.changed_at or t)  # not charging before it started (its last change)
    low = est.energy_kwh if est.energy_kwh is not None and est.at is not None and est.at <= t else 0.0
    return min(meter.session_kwh, max(low, meter.session_kwh - meter.rate_kw * _hours(since, now)))


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in metres."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6_371_000 * math.asin(math.sqrt(min(1.0, h)))


def may_drop(reading: Reading, previous_position: tuple[float, float] | None) -> bool:
    """Whether a lower reading may lower the shown level: the car discharged (negative charge rate) or,
    unplugged by its own account, drove (moved `DRIVE_M`, or it reports no position to tell by)."""
    if reading.charge_rate is not None and reading.charge_rate < 0:
        return True
    if reading.is_plugged_in is not False:
        return False
    if reading.position is None or previous_position is None:
        return True
    return distance_m(reading.position, previous_position) >= DRIVE_M


def take_reading(est: Estimate, reading: Reading, previous_position: tuple[float, float] | None,
                 meter: Meter | None, capacity: float | None, limit: float | None, now: datetime) -> Estimate:
    """The estimate after a vehicle poll (`meter`: the ACTIVE charger, None when not ACTIVE)."""
    if reading.level is None:
        return est
    based = Estimate(reading.level, reading.at, energy_at(meter, reading.at, now, est), None)
    if est.level is None or est.at is None:
        return based
    if reading.at <= est.at:
        return est  # an older reading never overwrites a newer estimate
    before = raw_level(est, meter, capacity, limit, now)
    after = raw_level(based, meter, capacity, limit, now)
    if before is None or after is None or after >= before or may_drop(reading, previous_position):
        return based
    return replace(based, floor=before)
