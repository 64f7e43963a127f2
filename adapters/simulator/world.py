"""The simulated physical world: cars, chargers, cables, energy, and the clouds' view of them.

Physics is computed lazily when a device is read, so idle devices cost nothing. The vehicle
cloud answers from a cached copy that it refreshes only when a refresh boundary has passed
(every `vehicle_refresh_s` simulated seconds, each car with its own phase), like real clouds.
"""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class Clock:
    """Simulated time: real elapsed time × speed, plus manual advances."""

    def __init__(self, speed: float = 1.0, real: Callable[[], float] = time.monotonic) -> None:
        self.speed = speed
        self.real = real
        self.t0 = real()
        self.start = time.time()
        self.offset = 0.0

    def now(self) -> float:
        """Simulated Unix time."""
        return self.start + (self.real() - self.t0) * self.speed + self.offset

    def advance(self, seconds: float) -> None:
        """Jump forward."""
        self.offset += seconds


@dataclass
class Car:
    """A vehicle and its vendor-cloud cache."""

    id: str
    account: str
    vin: str
    make: str = "Volkswagen"
    model: str = "ID.4"
    year: int = 2023
    capacity_kwh: float = 77.0
    soc: float = 0.5
    charge_limit: float = 0.8
    max_charge_kw: float = 11.0
    can_start: bool = True
    can_stop: bool = True
    can_set_current: bool = False
    has_location: bool = True
    reports_charge_rate: bool = True
    latitude: float = 59.91
    longitude: float = 10.75
    sleeps: bool = False
    sleep_after_s: float = 900.0
    min_soc_for_command: float | None = None
    vehicle_refresh_s: float = 300.0
    pushes_on_change: bool = False
    efficiency_km_per_kwh: float = 6.0
    plugged_into: str | None = None
    wants_charge: bool = True
    power_kw: float = 0.0
    last_activity: float = 0.0
    awake_at: float = 0.0
    phase: float = 0.0
    cache: dict[str, Any] = field(default_factory=dict)
    cache_at: float = -1e18
    dirty: bool = True
    pending: list[tuple[float, str, Any]] = field(default_factory=list)


@dataclass
class Box:
    """A charger."""

    id: str
    account: str
    max_current: float = 32.0
    phases: int = 3
    voltage: float = 230.0
    schedule: dict[str, str] | None = None
    enabled: bool = True
    charger_refresh_s: float = 2.0
    latitude: float | None = None
    longitude: float | None = None
    dynamic_current: float = 0.0
    paused: bool = False
    override: bool = False
    plugged_vin: str | None = None
    session_energy: float = 0.0
    lifetime_energy: float = 0.0
    settled_at: float = 0.0
    pending: list[tuple[float, str, Any]] = field(default_factory=list)


@dataclass
class Account:
    """A vendor account."""

    vendor: str
    username: str
    password: str
    devices: list[str] = field(default_factory=list)


CAR_FIELDS = {f for f in Car.__dataclass_fields__ if f not in {
    "id", "account", "plugged_into", "wants_charge", "power_kw", "last_activity", "awake_at", "phase",
    "cache", "cache_at", "dirty", "pending"}}
BOX_FIELDS = {"serialNumber", "max_current", "phases", "voltage", "schedule", "enabled", "charger_refresh_s",
              "latitude", "longitude"}


class World:
    """Every account, car and charger, and the physics between them."""

    def __init__(self, clock: Clock | None = None, seed: int | None = None) -> None:
        self.clock = clock or Clock()
        self.rng = random.Random(seed)
        self.accounts: dict[str, Account] = {}
        self.tokens: dict[str, str] = {}  # token -> username
        self.cars: dict[str, Car] = {}  # by vendor id
        self.cars_by_vin: dict[str, Car] = {}
        self.boxes: dict[str, Box] = {}  # by serial

    # -- accounts ------------------------------------------------------------------------------
    def add_account(self, vendor: str, devices: list[dict[str, Any]]) -> Account:
        """Create an account with devices (raises ValueError on unknown or bad fields)."""
        acct = Account(vendor, f"{vendor}-{secrets.token_hex(6)}", secrets.token_urlsafe(12))
        now = self.clock.now()
        built: list[Car | Box] = []
        for spec in devices:
            if not isinstance(spec, dict):
                raise ValueError("each device must be an object")
            kind = spec.get("kind")
            rest = {k: v for k, v in spec.items() if k != "kind"}
            if kind == "vehicle" and vendor == "smartcar":
                built.append(self._car(acct, rest, now))
            elif kind == "charger" and vendor == "easee":
                built.append(self._box(acct, rest, now))
            else:
                raise ValueError(f"vendor {vendor!r} has no devices of kind {kind!r}")
        for dev in built:
            if isinstance(dev, Car):
                self.cars[dev.id] = dev
                self.cars_by_vin[dev.vin] = dev
            else:
                self.boxes[dev.id] = dev
            acct.devices.append(dev.id)
        self.accounts[acct.username] = acct
        return acct

    def _car(self, acct: Account, spec: dict[str, Any], now: float) -> Car:
        unknown = set(spec) - CAR_FIELDS
        if unknown:
            raise ValueError(f"unknown vehicle fields: {sorted(unknown)}")
        vin = str(spec.pop("vin", None) or "SIM" + "".join(self.rng.choices("0123456789ABCDEFGHJKLMNPRSTUVWXYZ", k=14)))
        if vin in self.cars_by_vin:
            raise ValueError(f"vin already exists: {vin}")
        try:
            car = Car(id=secrets.token_hex(8), account=acct.username, vin=vin, **spec)
        except TypeError as exc:
            raise ValueError(str(exc)) from None
        if not 0 <= car.soc <= 1 or not 0 < car.charge_limit <= 1 or car.capacity_kwh <= 0:
            raise ValueError("soc and charge_limit are fractions 0-1; capacity_kwh > 0")
        car.last_activity = now
        car.phase = self.rng.uniform(0, car.vehicle_refresh_s)
        return car

    def _box(self, acct: Account, spec: dict[str, Any], now: float) -> Box:
        unknown = set(spec) - BOX_FIELDS
        if unknown:
            raise ValueError(f"unknown charger fields: {sorted(unknown)}")
        serial = str(spec.pop("serialNumber", None) or f"EH{self.rng.randrange(10**6):06d}")
        if serial in self.boxes:
            raise ValueError(f"serialNumber already exists: {serial}")
        try:
            box = Box(id=serial, account=acct.username, **spec)
        except TypeError as exc:
            raise ValueError(str(exc)) from None
        box.dynamic_current = box.max_current
        box.settled_at = now
        return box

    def login(self, vendor: str, username: Any, password: Any, revoked: set[str]) -> str | None:
        """A new token for valid credentials."""
        acct = self.accounts.get(username) if isinstance(username, str) else None
        if acct is None or acct.vendor != vendor or acct.password != password or username in revoked:
            return None
        token = secrets.token_urlsafe(24)
        self.tokens[token] = acct.username
        return token

    def account_of(self, token: str | None) -> Account | None:
        """The account a token belongs to."""
        name = self.tokens.get(token or "")
        return self.accounts.get(name) if name else None

    # -- physics -------------------------------------------------------------------------------
    def schedule_blocks(self, box: Box, t: float) -> bool:
        """Whether the charger's schedule holds charging at time t (outside its window)."""
        if not box.schedule or box.override:
            return False
        tod = time.gmtime(t)
        minutes = tod.tm_hour * 60 + tod.tm_min
        start = _minutes(box.schedule.get("start", "00:00"))
        stop = _minutes(box.schedule.get("stop", "00:00"))
        inside = start <= minutes < stop if start <= stop else (minutes >= start or minutes < stop)
        return not inside

    def box_kw(self, box: Box) -> float:
        """The charger's power limit."""
        amps = min(box.max_current, box.dynamic_current)
        return amps * box.voltage * box.phases / 1000

    def delivering(self, box: Box, car: Car | None, t: float) -> float:
        """Power flowing from box to car at time t (kW)."""
        if car is None or not box.enabled or box.paused or self.schedule_blocks(box, t):
            return 0.0
        if not car.wants_charge or car.soc >= car.charge_limit - 1e-9:
            return 0.0
        return min(self.box_kw(box), car.max_charge_kw)

    def settle(self, box: Box, t: float) -> None:
        """Advance a charger (and the car on it) to time t, applying due commands in order."""
        car = self.cars_by_vin.get(box.plugged_vin) if box.plugged_vin else None
        events = sorted([(at, "box", k, v) for at, k, v in box.pending if at <= t] +
                        ([(at, "car", k, v) for at, k, v in car.pending if at <= t] if car else []),
                        key=lambda e: e[0])
        box.pending = [p for p in box.pending if p[0] > t]
        if car:
            car.pending = [p for p in car.pending if p[0] > t]
        for at, who, kind, value in events:
            self._integrate(box, car, at)
            self._apply(box if who == "box" else car, kind, value, at)
        self._integrate(box, car, t)

    def _integrate(self, box: Box, car: Car | None, t: float) -> None:
        dt = t - box.settled_at
        if dt <= 0:
            return
        kw = self.delivering(box, car, box.settled_at)
        if car is not None and kw > 0:
            room_kwh = (car.charge_limit - car.soc) * car.capacity_kwh
            energy = min(kw * dt / 3600, room_kwh)
            car.soc = min(car.charge_limit, car.soc + energy / car.capacity_kwh)
            box.session_energy += energy
            box.lifetime_energy += energy
            car.last_activity = t
        box.settled_at = t
        now_kw = self.delivering(box, car, t)
        if car is not None:
            if (car.power_kw > 0) != (now_kw > 0):
                car.dirty = True
            car.power_kw = now_kw

    def _apply(self, target: Car | Box | None, kind: str, value: Any, t: float) -> None:
        if isinstance(target, Box):
            if kind == "pause":
                target.paused = True
            elif kind == "start":
                target.paused = False
            elif kind == "override":
                target.override = True
            elif kind == "current":
                target.dynamic_current = float(value)
        elif isinstance(target, Car):
            if kind == "wants":
                target.wants_charge = bool(value)
                target.dirty = True

    def settle_car(self, car: Car, t: float) -> None:
        """Advance a car (via its charger, or alone) to time t."""
        if car.plugged_into:
            self.settle(self.boxes[car.plugged_into], t)
        else:
            for at, kind, value in sorted(p for p in car.pending if p[0] <= t):
                self._apply(car, kind, value, at)
            car.pending = [p for p in car.pending if p[0] > t]

    # -- cables --------------------------------------------------------------------------------
    def plug(self, vin: str, serial: str) -> None:
        """Plug a car into a charger (unplugging either first)."""
        car, box = self.cars_by_vin[vin], self.boxes[serial]
        t = self.clock.now()
        if car.plugged_into:
            self.unplug(vin)
        if box.plugged_vin:
            self.unplug(box.plugged_vin)
        self.settle(box, t)
        box.plugged_vin, car.plugged_into = vin, serial
        box.paused, box.override, box.session_energy = False, False, 0.0
        car.wants_charge, car.dirty, car.last_activity, car.awake_at = True, True, t, min(car.awake_at, t)
        self._integrate(box, car, t)

    def unplug(self, vin: str) -> None:
        """Pull the cable."""
        car = self.cars_by_vin[vin]
        if not car.plugged_into:
            return
        box = self.boxes[car.plugged_into]
        t = self.clock.now()
        self.settle(box, t)
        box.plugged_vin, car.plugged_into, car.power_kw = None, None, 0.0
        box.paused, box.override = False, False
        car.dirty, car.last_activity = True, t

    # -- what clouds see -----------------------------------------------------------------------
    def asleep(self, car: Car, t: float, forced: set[str]) -> bool:
        """Whether the car is asleep at time t."""
        if t < car.awake_at:
            return False
        if car.vin in forced:
            return True
        return car.sleeps and car.power_kw <= 0 and t - car.last_activity > car.sleep_after_s

    def wake(self, car: Car, t: float, delay: float) -> None:
        """Wake the car after `delay` simulated seconds."""
        car.last_activity = t + delay
        car.awake_at = t + delay

    def car_view(self, car: Car, t: float) -> tuple[dict[str, Any], float]:
        """The vehicle cloud's cached copy of the car, and when it was taken."""
        self.settle_car(car, t)
        due = int((t - car.phase) // car.vehicle_refresh_s) > int((car.cache_at - car.phase) // car.vehicle_refresh_s)
        if due or (car.pushes_on_change and car.dirty) or not car.cache:
            car.cache = {
                "soc": car.soc, "plugged": car.plugged_into is not None, "kw": car.power_kw,
                "full": car.plugged_into is not None and car.soc >= car.charge_limit - 1e-6,
                "limit": car.charge_limit, "lat": car.latitude, "lon": car.longitude,
            }
            car.cache_at, car.dirty = t, False
        return car.cache, car.cache_at

    def box_state(self, box: Box, t: float) -> dict[str, Any]:
        """The charger cloud's view (chargers push state within seconds: served current)."""
        self.settle(box, t)
        car = self.cars_by_vin.get(box.plugged_vin) if box.plugged_vin else None
        kw = self.delivering(box, car, t)
        reason: int | None = None
        if car is None:
            mode = 1
        elif not box.enabled:
            mode, reason = 2, 4
        elif box.paused:
            mode, reason = 2, 2
        elif self.schedule_blocks(box, t):
            mode, reason = 2, 1
        elif car.soc >= car.charge_limit - 1e-6:
            mode, reason = 4, 3
        elif not car.wants_charge:
            mode, reason = 6, 3
        else:
            mode = 3
        return {"mode": mode, "kw": round(kw, 2), "reason": reason,
                "amps": round(kw * 1000 / (box.voltage * box.phases), 1) if kw else 0.0}


def _minutes(hhmm: str) -> int:
    hours, _, mins = hhmm.partition(":")
    return int(hours) * 60 + int(mins or 0)
