"""Input checks for the simulator's control endpoints: each names the field it rejects.

A check is a function `(field name, value) -> None` that raises ValueError with a message that
starts with the field name, so /sim answers a clear 400 instead of crashing later.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any, TypeGuard

Check = Callable[[str, Any], None]

_HHMM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")


def is_number(value: Any) -> TypeGuard[int | float]:
    """A finite JSON number (booleans are not numbers)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def number(low: float | None = None, high: float | None = None, *, above: float | None = None,
           integer: bool = False, optional: bool = False, note: str = "") -> Check:
    """A number (or integer) within [low, high] and > above; null too when optional."""
    wanted = f"{'an integer' if integer else 'a number'} {_bounds(low, high, above)}".strip()
    wanted += " or null" if optional else ""
    wanted += f" ({note})" if note else ""

    def check(name: str, value: Any) -> None:
        if value is None and optional:
            return
        ok = is_number(value) and (not integer or isinstance(value, int))
        ok = ok and (low is None or value >= low) and (high is None or value <= high)
        if not ok or (above is not None and value <= above):
            raise ValueError(f"{name} must be {wanted}")

    return check


def _bounds(low: float | None, high: float | None, above: float | None) -> str:
    """The range of number(), in words: "from 0 to 1", "> 0 and <= 1"."""
    if low is not None and high is not None and above is None:
        return f"from {low} to {high}"
    parts = [f">= {low}" if low is not None else "", f"> {above}" if above is not None else "",
             f"<= {high}" if high is not None else ""]
    return " and ".join(p for p in parts if p)


def flag(name: str, value: Any) -> None:
    """true or false."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false")


def text(name: str, value: Any) -> None:
    """A non-empty string of at most 100 characters."""
    if not isinstance(value, str) or not 0 < len(value) <= 100:
        raise ValueError(f"{name} must be a non-empty string (at most 100 characters)")


def id_text(name: str, value: Any) -> None:
    """An id: null (the simulator picks one) or a non-empty string."""
    if value is not None:
        text(name, value)


def is_hhmm(value: Any) -> TypeGuard[str]:
    """Whether value is a time of day "HH:MM" (00:00 to 23:59)."""
    return isinstance(value, str) and _HHMM.fullmatch(value) is not None


def minutes(hhmm: str) -> int:
    """Minutes after midnight of a valid "HH:MM"."""
    hours, _, mins = hhmm.partition(":")
    return int(hours) * 60 + int(mins)


def schedule(name: str, value: Any) -> None:
    """null or {"start": "HH:MM", "stop": "HH:MM"}."""
    if value is None:
        return
    if not isinstance(value, dict) or set(value) != {"start", "stop"} or not all(map(is_hhmm, value.values())):
        raise ValueError(f'{name} must be null or {{"start": "HH:MM", "stop": "HH:MM"}}')


def strings(name: str, value: Any) -> None:
    """A list of strings."""
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise ValueError(f"{name} must be a list of strings")


def apply(rules: dict[str, Check], spec: dict[str, Any]) -> None:
    """Run the rule of each field present in spec (fields without a rule are not checked here)."""
    for name, value in spec.items():
        if name in rules:
            rules[name](name, value)
