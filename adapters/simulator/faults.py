"""Per-vendor misbehaviour set through /sim/faults: failures, latency, outages, rate limits."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import Any

from adapters.simulator import checks

FAULT_FIELDS = {"vendor", "failure_rate", "command_failure_rate", "latency_ms", "offline", "rate_limit",
                "revoked", "asleep", "stale", "frozen", "clock_skew_s"}
MAX_SKEW_S = 86400.0


@dataclass
class Faults:
    """What one vendor's cloud does wrong."""

    failure_rate: float = 0.0
    command_failure_rate: float = 0.0
    latency_ms: tuple[float, float] = (0.0, 0.0)
    offline_all: bool = False
    offline: set[str] = field(default_factory=set)
    revoked: set[str] = field(default_factory=set)
    asleep: set[str] = field(default_factory=set)
    #: vins whose cloud copy goes stale: no refresh, no push, the last copy served as it was.
    stale: set[str] = field(default_factory=set)
    #: vins whose cloud serves its last copy stamped as fresh (a cache that re-stamps old data).
    frozen: set[str] = field(default_factory=set)
    #: How far the cloud's clock runs ahead of true time (seconds; negative: behind).
    clock_skew_s: float = 0.0
    capacity: float = 0.0  # 0: no rate limit
    refill_per_s: float = 0.0
    tokens: float = 0.0
    updated: float = 0.0

    @staticmethod
    def parse(body: dict[str, Any], now: float) -> Faults:
        """From a /sim/faults body (raises ValueError naming the bad field)."""
        unknown = set(body) - FAULT_FIELDS
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        f = Faults()
        f.failure_rate = _rate(body.get("failure_rate", 0))
        f.command_failure_rate = _rate(body.get("command_failure_rate", 0))
        f.latency_ms = _latency(body.get("latency_ms", [0, 0]))
        off = body.get("offline", [])
        if off is True:
            f.offline_all = True
        elif isinstance(off, list) and all(isinstance(x, str) for x in off):
            f.offline = set(off)
        else:
            raise ValueError("offline must be a list of ids or true")
        for name in ("revoked", "asleep", "stale", "frozen"):
            value = [] if body.get(name) is None else body[name]
            checks.strings(name, value)
            setattr(f, name, set(value))
        skew = body.get("clock_skew_s", 0)
        if not checks.is_number(skew) or abs(skew) > MAX_SKEW_S:
            raise ValueError(f"clock_skew_s must be a number of seconds within ±{MAX_SKEW_S:.0f}")
        f.clock_skew_s = float(skew)
        rl = body.get("rate_limit")
        if rl is not None:
            f.capacity, f.refill_per_s = _rate_limit(rl)
            f.tokens, f.updated = f.capacity, now
        return f

    def is_offline(self, *ids: str) -> bool:
        """Whether a device (by any of its ids) is offline."""
        return self.offline_all or any(i in self.offline for i in ids)

    def rate_limited(self, now: float) -> float:
        """0 when a request may pass, else the simulated seconds until the next token."""
        if self.capacity <= 0:
            return 0.0
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.refill_per_s)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.refill_per_s if self.refill_per_s > 0 else 60.0

    async def delay(self, rng: random.Random) -> None:
        """Sleep the injected latency."""
        lo, hi = self.latency_ms
        if hi > 0:
            await asyncio.sleep(rng.uniform(lo, hi) / 1000)

    def fails(self, rng: random.Random, command: bool) -> bool:
        """Whether this request fails."""
        rate = self.failure_rate + (self.command_failure_rate if command else 0.0)
        return rate > 0 and rng.random() < rate


def _rate(value: Any) -> float:
    if not checks.is_number(value) or not 0 <= value <= 1:
        raise ValueError("rates must be numbers in [0, 1]")
    return float(value)


def _latency(value: Any) -> tuple[float, float]:
    if not (isinstance(value, list) and len(value) == 2 and all(checks.is_number(x) and x >= 0 for x in value)):
        raise ValueError("latency_ms must be [min, max] (milliseconds >= 0)")
    return float(min(value)), float(max(value))


def _rate_limit(value: Any) -> tuple[float, float]:
    """(capacity, refill_per_s) of a {capacity, refill_per_s} object."""
    if not isinstance(value, dict) or set(value) - {"capacity", "refill_per_s"}:
        raise ValueError("rate_limit must be {capacity, refill_per_s}")
    capacity, refill = value.get("capacity", 0), value.get("refill_per_s", 0)
    if not all(checks.is_number(x) and x >= 0 for x in (capacity, refill)):
        raise ValueError("rate_limit capacity and refill_per_s must be numbers >= 0")
    return float(capacity), float(refill)
