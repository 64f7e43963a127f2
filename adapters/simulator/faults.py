"""Per-vendor misbehaviour set through /sim/faults: failures, latency, outages, rate limits."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import Any

FAULT_FIELDS = {"vendor", "failure_rate", "command_failure_rate", "latency_ms", "offline", "rate_limit",
                "revoked", "asleep"}


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
    capacity: float = 0.0  # 0: no rate limit
    refill_per_s: float = 0.0
    tokens: float = 0.0
    updated: float = 0.0

    @staticmethod
    def parse(body: dict[str, Any], now: float) -> Faults:
        """From a /sim/faults body (raises ValueError on bad input)."""
        unknown = set(body) - FAULT_FIELDS
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        f = Faults()
        f.failure_rate = _rate(body.get("failure_rate", 0))
        f.command_failure_rate = _rate(body.get("command_failure_rate", 0))
        lat = body.get("latency_ms", [0, 0])
        if not (isinstance(lat, list) and len(lat) == 2 and all(isinstance(x, int | float) for x in lat)):
            raise ValueError("latency_ms must be [min, max]")
        f.latency_ms = (float(min(lat)), float(max(lat)))
        off = body.get("offline", [])
        if off is True:
            f.offline_all = True
        elif isinstance(off, list):
            f.offline = {str(x) for x in off}
        else:
            raise ValueError("offline must be a list of ids or true")
        f.revoked = {str(x) for x in body.get("revoked", []) or []}
        f.asleep = {str(x) for x in body.get("asleep", []) or []}
        rl = body.get("rate_limit")
        if rl is not None:
            if not isinstance(rl, dict):
                raise ValueError("rate_limit must be {capacity, refill_per_s}")
            f.capacity = float(rl.get("capacity", 0))
            f.refill_per_s = float(rl.get("refill_per_s", 0))
            f.tokens, f.updated = f.capacity, now
        return f

    def is_offline(self, *ids: str) -> bool:
        """Whether a device (by any of its ids) is offline."""
        return self.offline_all or any(i in self.offline for i in ids)

    def rate_limited(self, now: float) -> float:
        """0 when a request may pass, else seconds to wait."""
        if self.capacity <= 0:
            return 0.0
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.refill_per_s)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return max(1.0, (1 - self.tokens) / self.refill_per_s) if self.refill_per_s > 0 else 60.0

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
    if not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValueError("rates must be numbers in [0, 1]")
    return float(value)
