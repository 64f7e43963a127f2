"""What the simulator's routes share: the world, per-vendor faults, JSON helpers."""

from __future__ import annotations

import json
import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response

from adapters.simulator.faults import Faults
from adapters.simulator.world import World

VENDORS = {"smartcar": "vehicles", "easee": "chargers", "ocpp": "chargers"}
COMMAND_LOG = 10_000


@dataclass
class Sim:
    """The simulator's state."""

    world: World
    rng: random.Random
    faults: dict[str, Faults] = field(default_factory=lambda: {v: Faults() for v in VENDORS})
    #: Commands the clouds accepted, newest last (GET /sim/commands), so tests can count them.
    commands: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=COMMAND_LOG))
    #: Open push streams per account username (GET /sim/world), so tests can wait for a subscriber.
    streams: dict[str, int] = field(default_factory=dict)
    #: Simulated OCPP charge points by id (`adapters/simulator/ocpp_station.py`).
    stations: dict[str, Any] = field(default_factory=dict)
    #: Where OCPP charge points connect when an account does not say (`ws://host:port/ocpp`).
    central_system_url: str = ""

    def now(self) -> float:
        """Simulated time."""
        return self.world.clock.now()

    def stamp(self, vendor: str, t: float) -> str:
        """Simulated time `t` as the vendor's cloud writes it: its clock, skewed by its fault."""
        return iso(self.world.clock.stamp(t) + self.faults[vendor].clock_skew_s)

    def accepted(self, vendor: str, device: str, command: str) -> None:
        """Log a command the cloud accepted for `device` (vin or serial number)."""
        self.commands.append({"vendor": vendor, "device": device, "command": command, "at": iso(self.now())})


def iso(t: float) -> str:
    """Simulated Unix time as ISO-8601 UTC."""
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


async def body_of(request: Request) -> Any:
    """The JSON body, or None when absent or malformed."""
    raw = await request.body()
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        return None


def real_seconds(simulated: float, speed: float) -> int:
    """A simulated wait as whole real seconds for a Retry-After header (at least 1)."""
    return max(1, math.ceil(simulated / speed - 1e-9)) if speed > 0 else max(1, math.ceil(simulated))


def bad_request(message: str, status: int = 400) -> JSONResponse:
    """A control-endpoint error."""
    code = "NOT_FOUND" if status == 404 else "BAD_REQUEST"
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def bearer(request: HTTPConnection) -> str | None:
    """The bearer token of a request or websocket."""
    auth = request.headers.get("authorization", "")
    return auth[7:] if auth.lower().startswith("bearer ") else None


def limited(sim: Sim, vendor: str, account: str | None, *devices: str) -> tuple[str, str] | None:
    """(scope, Retry-After header) when the vendor's `limited` fault refuses this request, else None."""
    faults = sim.faults[vendor]
    scope = faults.limited_scope(account, devices)
    if scope is None:
        return None
    return scope, str(max(0, math.ceil(faults.limited_retry_after_s)))


async def gate(sim: Sim, vendor: str, command: bool, error: Callable[[int, str], Response]) -> Response | None:
    """Apply a vendor's latency, rate limit and random failures; a Response when the request fails."""
    faults = sim.faults[vendor]
    await faults.delay(sim.rng)
    wait = faults.rate_limited(sim.now())
    if wait > 0:
        resp = error(429, "rate limited")
        resp.headers["retry-after"] = str(real_seconds(wait, sim.world.clock.speed))
        return resp
    if faults.fails(sim.rng, command):
        return error(500, "injected failure")
    return None


def device_gate(sim: Sim, vendor: str, error: Callable[[int, str], Response], *ids: str) -> Response | None:
    """A 429 with Retry-After while the device's requests are rate limited (a per-device window)."""
    wait = sim.faults[vendor].device_retry_after(*ids)
    if wait <= 0:
        return None
    resp = error(429, "rate limited")
    resp.headers["retry-after"] = str(real_seconds(wait, sim.world.clock.speed))
    return resp
