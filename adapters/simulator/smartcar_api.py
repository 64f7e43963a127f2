"""The Smartcar-shaped vehicle cloud (docs/vendor-api.md)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from adapters.simulator.checks import is_number
from adapters.simulator.common import Sim, bearer, body_of, device_gate, gate, limited
from adapters.simulator.faults import DEVICE
from adapters.simulator.world import Car

Answer = tuple[int, Any, dict[str, str]]
_ERRORS = {
    400: ("VALIDATION", "PARAMETER", None), 401: ("AUTHENTICATION", None, "REAUTHENTICATE"),
    404: ("RESOURCE_NOT_FOUND", "PATH", None), 429: ("RATE_LIMIT", "SMARTCAR_API", "RETRY_LATER"),
    500: ("SERVER", "INTERNAL", "RETRY_LATER"), 501: ("COMPATIBILITY", "VEHICLE_NOT_CAPABLE", None),
}


def error_body(status: int, code: str | None = None, description: str = "") -> dict[str, Any]:
    """A Smartcar error body."""
    kind, default_code, resolution = _ERRORS.get(status, ("VEHICLE_STATE", None, None))
    if status == 409:
        resolution = "RETRY_LATER" if code in ("ASLEEP", "UNREACHABLE") else None
    return {"type": kind, "code": code or default_code, "description": description or kind,
            "statusCode": status, "requestId": "sim", "resolution": {"type": resolution}}


def error(status: int, description: str = "", code: str | None = None) -> JSONResponse:
    """A Smartcar error response."""
    return JSONResponse(error_body(status, code, description), status_code=status)


def vehicle_limit(status: int, description: str) -> JSONResponse:
    """Smartcar's 429 for one vehicle (RATE_LIMIT:VEHICLE)."""
    return error(status, description, "VEHICLE")


def limit_error(scope: str, retry_after: str) -> JSONResponse:
    """A 429 of the `limited` fault: RATE_LIMIT:VEHICLE for one vehicle, else the app's quota
    (RATE_LIMIT:SMARTCAR_API; Smartcar has no per-account limit, an account's cars share the app's)."""
    resp = error(429, "rate limited", "VEHICLE" if scope == DEVICE else "SMARTCAR_API")
    resp.headers["retry-after"] = retry_after
    return resp


def routes(sim: Sim) -> list[Route]:
    """The vehicle cloud's routes."""
    world = sim.world

    def car_of(request: Request) -> Car | Response:
        acct = world.account_of(bearer(request))
        if acct is None or acct.vendor != "smartcar" or acct.username in sim.faults["smartcar"].revoked:
            return error(401, "invalid or revoked access token")
        car = world.cars.get(request.path_params.get("vid", ""))
        if car is None or car.id not in acct.devices:  # its own or shared with it
            return error(404, "no such vehicle")
        if (lim := limited(sim, "smartcar", acct.username, car.vin, car.id)) is not None:
            return limit_error(*lim)
        return device_gate(sim, "smartcar", vehicle_limit, car.vin, car.id) or car

    def data(car: Car, path: str, t: float) -> Answer:
        faults = sim.faults["smartcar"]
        if path in ("", "/"):
            return 200, {"id": car.id, "make": car.make, "model": car.model, "year": car.year}, {}
        if path == "/vin":
            return 200, {"vin": car.vin}, {}
        if path == "/capabilities":
            caps = [("read_battery", car.has_charge_state), ("read_charge", car.has_charge_state),
                    ("read_location", car.has_location),
                    ("control_charge_start", car.can_start), ("control_charge", car.can_stop),
                    ("control_charge_amperage", car.can_set_current), ("wake", car.sleeps)]
            items = [{"permission": p, "capable": c, "reason": None if c else "VEHICLE_NOT_CAPABLE"} for p, c in caps]
            return 200, {"capabilities": items}, {}
        if path == "/battery/capacity":
            return 200, {"capacity": car.capacity_kwh}, {}
        if faults.is_offline(car.vin, car.id):
            return 409, error_body(409, "UNREACHABLE", "vehicle offline"), {}
        world.settle_car(car, t)  # so that sleep sees whether it is charging now
        if world.asleep(car, t, faults.asleep):
            return 409, error_body(409, "ASLEEP", "vehicle asleep"), {}
        if path in ("/battery", "/charge", "/charge/limit") and not car.has_charge_state:
            return 501, error_body(501), {}
        view, at = world.car_view(car, t, stale=car.vin in faults.stale, frozen=car.vin in faults.frozen)
        hdr = {"sc-data-age": sim.stamp("smartcar", at + car.clock_skew_s)}
        if path == "/battery":
            rng = view["soc"] * car.capacity_kwh * car.efficiency_km_per_kwh
            return 200, {"percentRemaining": round(view["soc"], 4), "range": round(rng, 1)}, hdr
        if path == "/charge":
            state = "CHARGING" if view["kw"] > 0 else ("FULLY_CHARGED" if view["full"] else "NOT_CHARGING")
            rate = round(view["kw"] * 0.95, 2) if car.reports_charge_rate else None
            return 200, {"isPluggedIn": view["plugged"], "state": state, "chargeRate": rate}, hdr
        if path == "/charge/limit":
            return 200, {"limit": view["limit"]}, hdr
        if path == "/location":
            if not car.has_location:
                return 501, error_body(501), {}
            return 200, {"latitude": view["lat"], "longitude": view["lon"]}, hdr
        return 404, error_body(404), {}

    async def read(request: Request) -> Response:
        if (failed := await gate(sim, "smartcar", False, error)) is not None:
            return failed
        car = car_of(request)
        if isinstance(car, Response):
            return car
        status, body, hdr = data(car, "/" + request.path_params.get("rest", ""), sim.now())
        return JSONResponse(body, status_code=status, headers=hdr)

    async def batch(request: Request) -> Response:
        if (failed := await gate(sim, "smartcar", False, error)) is not None:
            return failed
        car = car_of(request)
        if isinstance(car, Response):
            return car
        body = await body_of(request)
        reqs = body.get("requests") if isinstance(body, dict) else None
        if not isinstance(reqs, list) or not all(isinstance(r, dict) and isinstance(r.get("path"), str) for r in reqs):
            return error(400, "requests must be a list of {path}")
        t = sim.now()
        out = []
        for r in reqs:
            status, sub, hdr = data(car, r["path"], t)
            out.append({"path": r["path"], "code": status, "body": sub, "headers": hdr})
        return JSONResponse({"responses": out})

    async def command(request: Request) -> Response:
        if (failed := await gate(sim, "smartcar", True, error)) is not None:
            return failed
        car = car_of(request)
        if isinstance(car, Response):
            return car
        body = await body_of(request)
        if not isinstance(body, dict):
            return error(400, "body must be a JSON object")
        t, what = sim.now(), request.path_params.get("what", "ampere")
        if what not in ("charge", "ampere", "wake"):
            return error(404, "no such command")
        faults = sim.faults["smartcar"]
        world.settle_car(car, t)
        if what == "wake":
            if not faults.is_offline(car.vin, car.id):
                world.wake(car, t, sim.rng.uniform(3, 8), faults.asleep)
                faults.asleep.discard(car.vin)
                sim.accepted("smartcar", car.vin, "wake")
            return JSONResponse({"status": "success"})
        if faults.is_offline(car.vin, car.id):
            return error(409, "vehicle offline", "UNREACHABLE")
        if world.asleep(car, t, faults.asleep):
            return error(409, "vehicle asleep", "ASLEEP")
        refused = charge(car, body, t) if what == "charge" else ampere(car, body, t)
        if refused is not None:
            return refused
        car.last_activity = t
        sim.accepted("smartcar", car.vin, f"{what} {body.get('action', body.get('amperage'))}".lower())
        await faults.reply_delay(sim.rng)
        return JSONResponse({"status": "success"})

    def charge(car: Car, body: dict[str, Any], t: float) -> Response | None:
        """START or STOP charging, acted on after a short delay; an error response when refused."""
        action = body.get("action")
        if action not in ("START", "STOP"):
            return error(400, "action must be START or STOP")
        if not (car.can_start if action == "START" else car.can_stop):
            return error(501, f"this make cannot {action.lower()} charging")
        if action == "START" and car.min_soc_for_command is not None and car.soc < car.min_soc_for_command:
            return error(409, "state of charge too low to start charging remotely", "CHARGING_SOC_TOO_LOW")
        if car.plugged_into is None:
            return error(409, "charging cable not connected", "CHARGING_PLUG_NOT_CONNECTED")
        car.pending.append((t + sim.rng.uniform(5, 15), "wants", action == "START"))
        return None

    def ampere(car: Car, body: dict[str, Any], t: float) -> Response | None:
        """Set the car's charging-current limit (it may be raised again); an error response when refused."""
        amps = body.get("amperage")
        if not car.can_set_current:
            return error(501, "this make cannot set the charging current")
        if not is_number(amps) or not 0 <= amps <= 80:
            return error(400, "amperage must be a number 0-80")
        car.current_limit = float(amps)
        world.settle_car(car, t)  # the car was settled to t before: this only notes the new power
        return None

    async def token(request: Request) -> Response:
        body = await body_of(request)
        if not isinstance(body, dict):
            return error(400, "body must be a JSON object")
        user = body.get("username")
        if (lim := limited(sim, "smartcar", user if isinstance(user, str) else None)) is not None:
            return limit_error(*lim)
        tok = world.login("smartcar", user, body.get("password"), sim.faults["smartcar"].revoked)
        if tok is None:
            return error(401, "invalid credentials")
        return JSONResponse({"access_token": tok, "token_type": "Bearer", "expires_in": 7200})

    async def listing(request: Request) -> Response:
        if (failed := await gate(sim, "smartcar", False, error)) is not None:
            return failed
        acct = world.account_of(bearer(request))
        if acct is None or acct.vendor != "smartcar" or acct.username in sim.faults["smartcar"].revoked:
            return error(401, "invalid or revoked access token")
        if (lim := limited(sim, "smartcar", acct.username)) is not None:
            return limit_error(*lim)
        return JSONResponse({"vehicles": acct.devices, "paging": {"count": len(acct.devices), "offset": 0}})

    return [
        Route("/smartcar/oauth/token", token, methods=["POST"]),
        Route("/smartcar/v2.0/vehicles", listing, methods=["GET"]),
        Route("/smartcar/v2.0/vehicles/{vid}/batch", batch, methods=["POST"]),
        Route("/smartcar/v2.0/vehicles/{vid}/charge/ampere", command, methods=["POST"]),
        Route("/smartcar/v2.0/vehicles/{vid}/{what:str}", command, methods=["POST"]),
        Route("/smartcar/v2.0/vehicles/{vid}", read, methods=["GET"]),
        Route("/smartcar/v2.0/vehicles/{vid}/{rest:path}", read, methods=["GET"]),
    ]
