"""Checks that decide an action without sending anything (pure): what retrying cannot change.

Used when an action is requested (it is answered at once) and at every step while it runs (a
car that became full or was unplugged ends its action at once instead of being retried).
"""

from __future__ import annotations

from dataclasses import dataclass

#: IEC 61851: a car does not charge below 6 A; stopping is stopCharging, not a 0 A limit.
MIN_CURRENT_A = 6.0
#: The widest limit any target takes when its device does not say (the API's own bound).
MAX_CURRENT_A = 80.0
#: Two currents closer than this are the same setting (vendors round to whole amperes).
CURRENT_TOLERANCE_A = 0.5


@dataclass(frozen=True)
class Facts:
    """What the checks read from device data; None where the devices cannot tell."""

    kind: str  # START | STOP | SET_MAX_CURRENT
    has_path: bool  # some path can carry the command now
    capable_when_plugged: bool  # no path now, but a linked charger will carry it once plugged together
    plugged: bool | None
    charging: bool | None
    full: bool | None  # the battery is at its charge limit (car's flag, charger COMPLETE, SoC)
    charge_limit: float | None  # percent
    max_current: float | None  # amperes now
    charger_target: bool = False  # the action targets a charger (for wording)


#: (state, failure type, detail) of an action that ends without running.
Outcome = tuple[str, str, str]


def refusal(f: Facts, max_current: float | None, not_capable: str, plug_in: str) -> Outcome | None:
    """Why the action cannot or need not run, or None. `not_capable` / `plug_in`: the words for
    "no path at all" and "capable once plugged into a linked charger"."""
    if not f.has_path:
        if f.capable_when_plugged:
            return "CANCELLED", "FAILED_PRECONDITION", plug_in
        return "FAILED", "NOT_CAPABLE", not_capable
    if f.kind == "SET_MAX_CURRENT":
        if f.max_current is not None and max_current is not None \
                and abs(f.max_current - max_current) < CURRENT_TOLERANCE_A:
            return "CANCELLED", "UNNECESSARY", f"The max current is already {f.max_current:g} A."
        return None
    if f.plugged is False:
        if f.kind == "STOP":
            return "CANCELLED", "UNNECESSARY", "Not plugged in, so not charging."
        return "CANCELLED", "FAILED_PRECONDITION", "Not plugged in: plug in, then start charging."
    if f.kind == "START" and f.charging is True:
        return "CANCELLED", "UNNECESSARY", "Already charging."
    if f.kind == "START" and f.full:
        return "CANCELLED", "FAILED_PRECONDITION", full_detail(f)
    if f.kind == "STOP" and f.charging is False:
        return "CANCELLED", "UNNECESSARY", "Not charging."
    return None


def full_detail(f: Facts) -> str:
    """Why a start cannot work on a full battery, and what to do."""
    limit = f" ({f.charge_limit:g} %)" if f.charge_limit is not None else ""
    who = "The charger reports the car full: it is" if f.charger_target else "The vehicle is"
    return f"{who} at its charge limit{limit}. Raise the vehicle's charge limit to charge further."


def current_range(hw_max_a: float | None) -> tuple[float, float]:
    """The charging currents a target takes (A): from 6 A to its device's maximum when known."""
    high = MAX_CURRENT_A if hw_max_a is None else min(MAX_CURRENT_A, hw_max_a)
    return MIN_CURRENT_A, max(MIN_CURRENT_A, high)


def range_problem(value: float, allowed: tuple[float, float], asset: str) -> str | None:
    """A message naming the asset's range when `value` lies outside it, else None."""
    low, high = allowed
    if low - 1e-9 <= value <= high + 1e-9:
        return None
    below = " (cars do not charge below 6 A; to stop, use stopCharging)" if value < low else ""
    return f"maxCurrent {value:g} A is outside the range of {asset}: {low:g}–{high:g} A{below}."
