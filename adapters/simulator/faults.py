"""Per-vendor misbehaviour set through /sim/faults: failures, latency, outages, rate limits."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from adapters.simulator import checks

FAULT_FIELDS = {"vendor", "failure_rate", "command_failure_rate", "latency_ms", "offline", "rate_limit",
                "revoked", "asleep", "stale", "frozen", "clock_skew_s", "ocpp", "limited"}
MAX_SKEW_S = 86400.0
OCPP_FAULTS = {"drop", "reboot", "silent", "slow_s", "require_known_id_tag", "boot_unavailable", "stale_status",
               "no_soc", "call_error"}
#: What a `limited` fault covers: the whole cloud (the app's quota), one account, one device.
APP, ACCOUNT, DEVICE = "app", "account", "device"
#: Field-like faults in time windows, per device (seconds from when the faults are set, simulated):
#: `offline_windows` {"<vin or serial>": [[from_s, to_s], ...]} (out of coverage, charger offline);
#: `rate_limit_windows` {"<id>": [[from_s, to_s, retry_after_s], ...]}: that device's requests answer
#: 429 with that Retry-After; `reply_latency_ms` [min, max]: a command is carried out at once but
#: the cloud answers late (a caller that dies meanwhile has sent it without hearing back).
FAULT_FIELDS |= {"offline_windows", "rate_limit_windows", "reply_latency_ms"}


@dataclass
class OcppFaults:
    """OCPP-specific misbehaviour: each a set of charge point ids (`"*"`: all), or a number."""

    flags: dict[str, set[str]] = field(default_factory=dict)
    slow_s: float = 0.0
    spent: dict[str, set[str]] = field(default_factory=dict)

    @staticmethod
    def parse(raw: Any) -> OcppFaults:
        """From the `ocpp` object of a /sim/faults body (ValueError naming the bad field)."""
        if raw is None:
            return OcppFaults()
        if not isinstance(raw, dict) or set(raw) - OCPP_FAULTS:
            raise ValueError(f"ocpp faults take only {sorted(OCPP_FAULTS)}")
        f = OcppFaults()
        for name, value in raw.items():
            if name == "slow_s":
                if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 600:
                    raise ValueError("ocpp.slow_s must be seconds (0-600)")
                f.slow_s = float(value)
            elif value is True:
                f.flags[name] = {"*"}
            elif isinstance(value, list) and all(isinstance(x, str) for x in value):
                f.flags[name] = set(value)
            elif value not in (False, None):
                raise ValueError(f"ocpp.{name} must be true or a list of charge point ids")
        return f

    def on(self, name: str, cp_id: str) -> bool:
        """Whether fault `name` applies to `cp_id`."""
        ids = self.flags.get(name, set())
        return "*" in ids or cp_id in ids

    def take(self, name: str, cp_id: str) -> bool:
        """A one-shot fault (drop, reboot): True once per charge point, then it is spent."""
        spent = self.spent.setdefault(name, set())
        if not self.on(name, cp_id) or cp_id in spent:
            return False
        spent.add(cp_id)
        return True

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
    offline_windows: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    rate_limit_windows: dict[str, list[tuple[float, float, float]]] = field(default_factory=dict)
    reply_latency_ms: tuple[float, float] = (0.0, 0.0)
    clock: Callable[[], float] | None = None  # simulated time, for the windows
    ocpp: OcppFaults = field(default_factory=lambda: OcppFaults())
    #: `limited`: requests for these accounts (usernames) or devices (any id), or all when
    #: `limited_all`, are refused with 429 and a Retry-After of `limited_retry_after_s` real seconds.
    limited_all: bool = False
    limited: set[str] = field(default_factory=set)
    limited_retry_after_s: float = 0.0

    @staticmethod
    def parse(body: dict[str, Any], now: float, clock: Callable[[], float] | None = None) -> Faults:
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
        f.ocpp = OcppFaults.parse(body.get("ocpp"))
        if body.get("limited") is not None:
            f.limited_all, f.limited, f.limited_retry_after_s = _limited(body["limited"])
        rl = body.get("rate_limit")
        if rl is not None:
            f.capacity, f.refill_per_s = _rate_limit(rl)
            f.tokens, f.updated = f.capacity, now
        f.clock = clock
        f.offline_windows = {k: [(now + a, now + b) for a, b, *_ in w]
                             for k, w in _windows(body.get("offline_windows", {}), 2).items()}
        f.rate_limit_windows = {k: [(now + a, now + b, float(r)) for a, b, r in w]
                                for k, w in _windows(body.get("rate_limit_windows", {}), 3).items()}
        f.reply_latency_ms = _latency(body.get("reply_latency_ms", [0, 0]))
        return f

    def is_offline(self, *ids: str) -> bool:
        """Whether a device (by any of its ids) is offline (now, or in one of its windows)."""
        if self.offline_all or any(i in self.offline for i in ids):
            return True
        now = self.clock() if self.clock and self.offline_windows else 0.0
        return any(a <= now < b for i in ids for a, b in self.offline_windows.get(i, ()))

    def device_retry_after(self, *ids: str) -> float:
        """Simulated seconds of Retry-After when a device's requests are rate limited now, else 0."""
        if not self.rate_limit_windows or self.clock is None:
            return 0.0
        now = self.clock()
        return max((r for i in ids for a, b, r in self.rate_limit_windows.get(i, ()) if a <= now < b), default=0.0)

    async def reply_delay(self, rng: random.Random) -> None:
        """Sleep the injected reply latency (after a command was carried out)."""
        lo, hi = self.reply_latency_ms
        if hi > 0:
            await asyncio.sleep(rng.uniform(lo, hi) / 1000)

    def limited_scope(self, account: str | None, devices: tuple[str, ...] = ()) -> str | None:
        """What the `limited` fault refuses this request for (APP, ACCOUNT, DEVICE), or None."""
        if self.limited_all:
            return APP
        if account is not None and account in self.limited:
            return ACCOUNT
        if any(d in self.limited for d in devices):
            return DEVICE
        return None

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


def _windows(value: Any, width: int) -> dict[str, list[list[float]]]:
    """{"<id>": [[from_s, to_s, ...], ...]} with `width` numbers >= 0 per window, from <= to."""
    def ok(w: Any) -> bool:
        return (isinstance(w, list) and len(w) == width and all(checks.is_number(x) and x >= 0 for x in w)
                and w[0] <= w[1])
    if not (isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, list) and all(map(ok, v))
                                            for k, v in value.items())):
        shape = "[from_s, to_s]" if width == 2 else "[from_s, to_s, retry_after_s]"
        raise ValueError(f"windows must be {{id: [{shape}, ...]}} with seconds >= 0 and from_s <= to_s")
    return value


def _rate_limit(value: Any) -> tuple[float, float]:
    """(capacity, refill_per_s) of a {capacity, refill_per_s} object."""
    if not isinstance(value, dict) or set(value) - {"capacity", "refill_per_s"}:
        raise ValueError("rate_limit must be {capacity, refill_per_s}")
    capacity, refill = value.get("capacity", 0), value.get("refill_per_s", 0)
    if not all(checks.is_number(x) and x >= 0 for x in (capacity, refill)):
        raise ValueError("rate_limit capacity and refill_per_s must be numbers >= 0")
    return float(capacity), float(refill)


def _limited(value: Any) -> tuple[bool, set[str], float]:
    """(all, ids, retry_after_s) of a {retry_after_s, ids} object (`ids` true or absent: every request)."""
    if not isinstance(value, dict) or set(value) - {"retry_after_s", "ids"}:
        raise ValueError("limited must be {retry_after_s, ids}")
    seconds, ids = value.get("retry_after_s", 60), value.get("ids", True)
    if not checks.is_number(seconds) or seconds < 0:
        raise ValueError("limited.retry_after_s must be a number >= 0")
    if ids is True:
        return True, set(), float(seconds)
    checks.strings("limited.ids", ids)
    return False, set(ids), float(seconds)
