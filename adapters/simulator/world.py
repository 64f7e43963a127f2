"""The simulated physical world: cars, chargers, cables, energy, and the clouds' view of them.

Physics is computed lazily when a device is read, so idle devices cost nothing. The vehicle
cloud answers from a cached copy that it refreshes only when a refresh boundary has passed
(every `vehicle_refresh_s` simulated seconds, each car with its own phase), like real clouds.
"""

from __future__ import annotations

import math
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from adapters.simulator import checks


class Clock:
    """Simulated time: real elapsed time × speed, plus manual advances."""

    def __init__(self, speed: float = 1.0, real: Callable[[], float] = time.monotonic,
                 real_stamps: bool = False) -> None:
        self.speed = speed
        self.real = real
        self.t0 = real()
        self.start = time.time()
        self.offset = 0.0
        #: Clouds stamp their data with wall-clock time rather than simulated time (at a speed
        #: other than 1 simulated time runs ahead of the wall clock, like a vendor clock that drifts).
        self.real_stamps = real_stamps

    def stamp(self, t: float) -> float:
        """The time a vendor cloud writes for simulated time `t` (Unix seconds)."""
        if not self.real_stamps or self.speed == 1:
            return t
        return self.start + (t - self.start - self.offset) / self.speed + self.offset

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
    #: Charge curve: the onboard power falls linearly from `taper_from` (SoC fraction; 1: no taper)
    #: to `taper_floor` × max_charge_kw at 100 %.
    taper_from: float = 1.0
    taper_floor: float = 0.25
    #: A cold battery takes `cold_derate` × its power for its first `cold_minutes` of charging per plug-in.
    cold_derate: float = 1.0
    cold_minutes: float = 0.0
    #: Battery kWh gained per kWh from the grid (the rest is lost as heat).
    charge_efficiency: float = 1.0
    can_start: bool = True
    can_stop: bool = True
    can_set_current: bool = False
    has_location: bool = True
    #: False: the make reports no battery or charge data at all (VEHICLE_NOT_CAPABLE).
    has_charge_state: bool = True
    reports_charge_rate: bool = True
    latitude: float = 59.91
    longitude: float = 10.75
    sleeps: bool = False
    sleep_after_s: float = 900.0
    min_soc_for_command: float | None = None
    vehicle_refresh_s: float = 300.0
    pushes_on_change: bool = False
    #: How far the clock its cloud stamps data with runs ahead (seconds; negative: behind).
    clock_skew_s: float = 0.0
    efficiency_km_per_kwh: float = 6.0
    #: An RFID card or ISO 15118 id the car presents at OCPP chargers (None: the charger's own card).
    id_tag: str | None = None
    plugged_into: str | None = None
    wants_charge: bool = True
    current_limit: float | None = None  # amps requested through /charge/ampere (None: no limit)
    power_kw: float = 0.0
    charged_s: float = 0.0  # simulated seconds charged since the plug-in (a cold battery warms)
    last_activity: float = 0.0
    awake_at: float = 0.0  # a woken car stays asleep until then
    phase: float = 0.0
    cache: dict[str, Any] = field(default_factory=dict)
    cache_at: float = -1e18
    dirty: bool = True
    pending: list[tuple[float, str, Any]] = field(default_factory=list)
    #: Recent cable events (time, plugged in afterwards), so a cloud refresh can see the past.
    cable_log: list[tuple[float, bool]] = field(default_factory=list)


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
    #: Charging starts at plug-in (free charging); False: it waits for a start command.
    auto_start: bool = True
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


_FRACTION = "fractions, not percent"
CAR_RULES: dict[str, checks.Check] = {
    "vin": checks.id_text, "make": checks.text, "model": checks.text,
    "year": checks.number(1900, 2100, integer=True),
    "capacity_kwh": checks.number(above=0), "soc": checks.number(0, 1, note=_FRACTION),
    "charge_limit": checks.number(high=1, above=0, note=_FRACTION), "max_charge_kw": checks.number(above=0),
    "can_start": checks.flag, "can_stop": checks.flag, "can_set_current": checks.flag,
    "has_location": checks.flag, "has_charge_state": checks.flag, "reports_charge_rate": checks.flag,
    "sleeps": checks.flag,
    "pushes_on_change": checks.flag, "clock_skew_s": checks.number(-86400, 86400),
    "latitude": checks.number(-90, 90), "longitude": checks.number(-180, 180),
    "sleep_after_s": checks.number(0), "min_soc_for_command": checks.number(0, 1, optional=True, note=_FRACTION),
    "vehicle_refresh_s": checks.number(above=0), "efficiency_km_per_kwh": checks.number(above=0),
    "id_tag": checks.id_text,
    "taper_from": checks.number(0, 1, note=_FRACTION), "taper_floor": checks.number(high=1, above=0),
    "cold_derate": checks.number(high=1, above=0), "cold_minutes": checks.number(0, 1440),
    "charge_efficiency": checks.number(high=1, above=0.5),
}
BOX_RULES: dict[str, checks.Check] = {
    "serialNumber": checks.id_text, "max_current": checks.number(above=0), "phases": checks.number(1, 3, integer=True),
    "voltage": checks.number(above=0), "schedule": checks.schedule, "enabled": checks.flag,
    "charger_refresh_s": checks.number(above=0),
    "latitude": checks.number(-90, 90, optional=True), "longitude": checks.number(-180, 180, optional=True),
    "auto_start": checks.flag,
}
CAR_FIELDS = set(CAR_RULES)
#: Integration step while a car's power tapers (simulated s).
CURVE_STEP_S = 30.0


def taper(car: Car, soc: float) -> float:
    """The share of its onboard power the car takes at `soc` (a fraction): 1 up to `taper_from`, then
    falling linearly to `taper_floor` at 100 %."""
    if soc <= car.taper_from:
        return 1.0
    return 1 - (1 - car.taper_floor) * (soc - car.taper_from) / max(1e-9, 1 - car.taper_from)
BOX_FIELDS = set(BOX_RULES)


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
        #: Called when a charger's cable goes in or out (by serial): an OCPP charge point reports
        #: it at once instead of looking at its cable on a timer.
        self.cable_watchers: dict[str, Callable[[], None]] = {}

    # -- accounts ------------------------------------------------------------------------------
    def add_account(self, vendor: str, devices: list[dict[str, Any]]) -> Account:
        """Create an account with devices (raises ValueError on unknown or bad fields)."""
        acct = Account(vendor, f"{vendor}-{secrets.token_hex(6)}", secrets.token_urlsafe(12))
        now = self.clock.now()
        built: list[Car | Box] = []
        shared: list[str] = []
        for spec in devices:
            if not isinstance(spec, dict):
                raise ValueError("each device must be an object")
            kind = spec.get("kind")
            rest = {k: v for k, v in spec.items() if k != "kind"}
            if rest.get("shared") is True:  # access to an existing device (a shared car or charger)
                shared.append(self._existing(vendor, kind, rest))
            elif kind == "vehicle" and vendor == "smartcar":
                built.append(self._car(acct, rest, now))
            elif kind == "charger" and vendor in ("easee", "ocpp"):
                built.append(self._box(acct, rest, now))
            else:
                raise ValueError(f"vendor {vendor!r} has no devices of kind {kind!r}")
        ids = [dev.vin if isinstance(dev, Car) else dev.id for dev in built]
        if len(set(ids)) != len(ids):
            raise ValueError("vin and serialNumber must be unique within an account's devices")
        for dev in built:
            if isinstance(dev, Car):
                self.cars[dev.id] = dev
                self.cars_by_vin[dev.vin] = dev
            else:
                self.boxes[dev.id] = dev
            acct.devices.append(dev.id)
        acct.devices.extend(shared)
        self.accounts[acct.username] = acct
        return acct

    def _existing(self, vendor: str, kind: object, spec: dict[str, Any]) -> str:
        """The vendor id of an existing device named by `{"vin"}` / `{"serialNumber"}` with `"shared": true`."""
        if set(spec) - {"shared", "vin", "serialNumber"}:
            raise ValueError("a shared device names only its vin or serialNumber")
        if kind == "vehicle" and vendor == "smartcar" and spec.get("vin") in self.cars_by_vin:
            return self.cars_by_vin[str(spec["vin"])].id
        if kind == "charger" and vendor == "easee" and spec.get("serialNumber") in self.boxes:
            return str(spec["serialNumber"])
        raise ValueError(f"no such {kind} of vendor {vendor!r} to share")

    def _car(self, acct: Account, spec: dict[str, Any], now: float) -> Car:
        _check_spec("vehicle", CAR_RULES, spec)
        fields = dict(spec)
        vin = fields.pop("vin", None) or "SIM" + "".join(self.rng.choices("0123456789ABCDEFGHJKLMNPRSTUVWXYZ", k=14))
        if vin in self.cars_by_vin:
            raise ValueError(f"vin already exists: {vin}")
        car = Car(id=secrets.token_hex(8), account=acct.username, vin=vin, **fields)
        car.last_activity = now
        car.phase = self.rng.uniform(0, car.vehicle_refresh_s)
        return car

    def _box(self, acct: Account, spec: dict[str, Any], now: float) -> Box:
        _check_spec("charger", BOX_RULES, spec)
        fields = dict(spec)
        serial = fields.pop("serialNumber", None) or self._new_serial()
        if serial in self.boxes:
            raise ValueError(f"serialNumber already exists: {serial}")
        box = Box(id=serial, account=acct.username, **fields)
        box.dynamic_current = box.max_current
        box.settled_at = now
        return box

    def _new_serial(self) -> str:
        """An unused Easee-style serial number (six digits while they last, then eight)."""
        digits = 6 if len(self.boxes) < 100_000 else 8
        while True:
            serial = f"EH{self.rng.randrange(10**digits):0{digits}d}"
            if serial not in self.boxes:
                return serial

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
        now = tod.tm_hour * 60 + tod.tm_min
        start, stop = checks.minutes(box.schedule["start"]), checks.minutes(box.schedule["stop"])
        inside = start <= now < stop if start <= stop else (now >= start or now < stop)
        return not inside

    def next_schedule_edge(self, box: Box, t: float) -> float:
        """The first time after t at which the schedule window opens or closes (inf: none)."""
        if not box.schedule or box.override:
            return math.inf
        midnight = math.floor(t / 86400) * 86400
        edges = [midnight + checks.minutes(box.schedule[k]) * 60 for k in ("start", "stop")]
        return min(e if e > t else e + 86400 for e in edges)

    def box_kw(self, box: Box) -> float:
        """The charger's power limit."""
        amps = min(box.max_current, box.dynamic_current)
        return amps * box.voltage * box.phases / 1000

    def car_kw(self, car: Car, box: Box) -> float:
        """The car's power limit on this charger now: its onboard charger, tapering above `taper_from`
        and derated while its battery is cold, and any requested current limit."""
        kw = car.max_charge_kw * taper(car, car.soc)
        if car.charged_s < car.cold_minutes * 60:
            kw *= car.cold_derate
        if car.current_limit is None:
            return kw
        return min(kw, car.current_limit * box.voltage * box.phases / 1000)

    def delivering(self, box: Box, car: Car | None, t: float) -> float:
        """Power flowing from box to car at time t (kW, grid side)."""
        if car is None or not box.enabled or box.paused or self.schedule_blocks(box, t):
            return 0.0
        if not car.wants_charge or car.soc >= car.charge_limit - 1e-9:
            return 0.0
        return min(self.box_kw(box), self.car_kw(car, box))

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
        """Deliver energy up to time t, piece by piece between schedule edges; then note the power at t."""
        while box.settled_at < t:
            end = min(t, self.next_schedule_edge(box, box.settled_at))
            self._deliver(box, car, box.settled_at, end)
            box.settled_at = end
        if car is not None:
            now_kw = self.delivering(box, car, t)
            if (car.power_kw > 0) != (now_kw > 0):
                car.dirty = True
            car.power_kw = now_kw

    def _deliver(self, box: Box, car: Car | None, start: float, end: float) -> None:
        """Energy over [start, end]: in one piece while the power holds, in `CURVE_STEP_S` pieces
        while it tapers, and ending when the car gets full (the battery gains `charge_efficiency`
        of the grid energy the charger meters)."""
        t = start
        while car is not None and t < end:
            kw = self.delivering(box, car, t)
            if kw <= 0:
                return
            dt = min(end - t, self._steady_s(car, kw))
            room_kwh = (car.charge_limit - car.soc) * car.capacity_kwh / car.charge_efficiency  # grid side
            energy = kw * dt / 3600
            if energy >= room_kwh:
                energy, dt = room_kwh, room_kwh / kw * 3600
                car.soc = car.charge_limit
            else:
                car.soc = min(car.charge_limit, car.soc + energy * car.charge_efficiency / car.capacity_kwh)
            box.session_energy += energy
            box.lifetime_energy += energy
            car.charged_s += dt
            t += dt
            car.last_activity = t
            if car.soc >= car.charge_limit - 1e-9:
                return

    def _steady_s(self, car: Car, kw: float) -> float:
        """How long (simulated s) the power `kw` holds: until the taper or the warm-up, if either lies ahead."""
        steady = math.inf
        if car.charged_s < car.cold_minutes * 60:
            steady = car.cold_minutes * 60 - car.charged_s
        if car.taper_from < car.charge_limit:
            if car.soc < car.taper_from - 1e-9:
                to_taper = (car.taper_from - car.soc) * car.capacity_kwh / car.charge_efficiency / kw * 3600
                steady = min(steady, to_taper)
            else:
                steady = min(steady, CURVE_STEP_S)
        return max(steady, 1e-3)

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
        self.settle_car(car, t)
        if car.plugged_into:
            self.unplug(vin)
        if box.plugged_vin:
            self.unplug(box.plugged_vin)
        self.settle(box, t)
        box.plugged_vin, car.plugged_into = vin, serial
        box.paused, box.override, box.session_energy = not box.auto_start, False, 0.0
        car.charged_s = 0.0
        car.wants_charge, car.dirty, car.last_activity, car.awake_at = True, True, t, min(car.awake_at, t)
        car.cable_log = [*car.cable_log[-7:], (t, True)]
        self._integrate(box, car, t)
        self._cable_moved(serial)

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
        car.cable_log = [*car.cable_log[-7:], (t, False)]
        self._cable_moved(box.id)

    def _cable_moved(self, serial: str) -> None:
        watcher = self.cable_watchers.get(serial)
        if watcher is not None:
            watcher()

    def configure(self, vin: str, spec: dict[str, Any]) -> None:
        """Change a car's settings from now on (the fields of CAR_RULES but its vin; ValueError naming a
        bad one, nothing changed then). Setting `soc` is a test lever: the battery as if it drove."""
        if "vin" in spec:
            raise ValueError("vin cannot be changed")
        _check_spec("vehicle", CAR_RULES, spec)
        car = self.cars_by_vin[vin]
        t = self.clock.now()
        self.settle_car(car, t)  # what happened until now follows the old settings
        for name, value in spec.items():
            setattr(car, name, value)
        car.dirty, car.last_activity = True, max(car.last_activity, t)
        if car.plugged_into:
            self._integrate(self.boxes[car.plugged_into], car, t)

    def move(self, vin: str, latitude: float, longitude: float) -> None:
        """The car drives to (latitude, longitude), unplugged first if it was plugged in."""
        car = self.cars_by_vin[vin]
        self.unplug(vin)
        car.latitude, car.longitude = latitude, longitude
        car.dirty, car.last_activity = True, max(car.last_activity, self.clock.now())

    # -- what clouds see -----------------------------------------------------------------------
    def asleep(self, car: Car, t: float, forced: set[str]) -> bool:
        """Whether the car is asleep at time t (forced: vins held asleep by a fault)."""
        if t < car.awake_at:
            return True  # woken, but not awake yet
        if car.vin in forced:
            return True
        return car.sleeps and car.power_kw <= 0 and t - car.last_activity > car.sleep_after_s

    def wake(self, car: Car, t: float, delay: float, forced: set[str]) -> None:
        """Wake the car: a sleeping car is awake `delay` simulated seconds later (an awake one stays awake).

        The caller lifts any forced sleep; the car then stays asleep until `awake_at`.
        """
        if t >= car.awake_at and self.asleep(car, t, forced):
            car.awake_at = t + delay
        car.last_activity = max(car.last_activity, car.awake_at, t)

    def car_view(self, car: Car, t: float, stale: bool = False, frozen: bool = False) -> tuple[dict[str, Any], float]:
        """The vehicle cloud's cached copy of the car, and when it was taken.

        The cloud refreshes at every `vehicle_refresh_s` boundary (computed lazily here): the copy
        describes the car at the latest boundary, not at the moment it is read. The cable state is
        taken from that moment; SoC and the rest are the present values (close enough at a lag).
        A car that pushes on change refreshes as soon as something changed, and at every read while
        it charges. A `stale` cloud (a
        fault) neither refreshes nor pushes: it serves its last copy as it was; a `frozen` one
        serves its last copy stamped as taken now.
        """
        self.settle_car(car, t)
        if (stale or frozen) and car.cache:
            return car.cache, t if frozen else car.cache_at
        boundary = car.phase + ((t - car.phase) // car.vehicle_refresh_s) * car.vehicle_refresh_s
        # a pushing car also streams while it charges (its state of charge changes all the time)
        if (car.pushes_on_change and (car.dirty or car.power_kw > 0)) or not car.cache:
            self._snapshot(car, t)
        elif boundary > car.cache_at:
            self._snapshot(car, boundary)
        return car.cache, car.cache_at

    def lose_touch(self, vins: set[str], t: float) -> None:
        """The clouds of `vins` lose touch with their cars at `t` (the `stale` and `frozen` faults):
        each keeps the copy it has then (copies are taken lazily, at reads: without this, a cloud
        not read since its last refresh, or never, would take that copy at its next read, after
        the fault, from the car as it is then)."""
        for vin in vins:
            car = self.cars_by_vin.get(vin)
            if car is not None:
                self.car_view(car, t)

    def _snapshot(self, car: Car, at: float) -> None:
        plugged_now = car.plugged_into is not None
        plugged = plugged_now
        if car.cable_log and car.cable_log[-1][0] > at:  # the cable moved since the refresh
            plugged = next((p for when, p in reversed(car.cable_log) if when <= at), not car.cable_log[0][1])
        car.cache = {
            "soc": car.soc, "plugged": plugged, "kw": car.power_kw if plugged == plugged_now else 0.0,
            "full": plugged and car.soc >= car.charge_limit - 1e-6,
            "limit": car.charge_limit, "lat": car.latitude, "lon": car.longitude,
        }
        car.cache_at, car.dirty = at, False

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


def _check_spec(kind: str, rules: dict[str, checks.Check], spec: dict[str, Any]) -> None:
    """Reject unknown fields and badly typed or out-of-range values (ValueError naming the field)."""
    unknown = set(spec) - set(rules)
    if unknown:
        raise ValueError(f"unknown {kind} fields: {sorted(map(str, unknown))}")
    checks.apply(rules, spec)
