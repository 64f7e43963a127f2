"""Control endpoints (/sim): accounts, cables, faults, time, and the world's true state."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from adapters.simulator.common import VENDORS, Sim, bad_request, body_of, iso
from adapters.simulator.faults import Faults


def routes(sim: Sim) -> list[Route]:
    """The control routes."""
    world = sim.world

    async def obj(request: Request) -> dict[str, Any] | Response:
        body = await body_of(request)
        return body if isinstance(body, dict) else bad_request("body must be a JSON object")

    async def accounts(request: Request) -> Response:
        body = await obj(request)
        if isinstance(body, Response):
            return body
        vendor, devices = body.get("vendor"), body.get("devices", [])
        if vendor not in VENDORS:
            return bad_request(f"unknown vendor; known: {sorted(VENDORS)}")
        if set(body) - {"vendor", "devices"} or not isinstance(devices, list):
            return bad_request("fields: vendor, devices (a list)")
        try:
            acct = world.add_account(str(vendor), devices)
        except ValueError as exc:
            return bad_request(str(exc))
        return JSONResponse({"credentials": {"username": acct.username, "password": acct.password},
                             "devices": acct.devices})

    async def plug(request: Request) -> Response:
        body = await obj(request)
        if isinstance(body, Response):
            return body
        vin, serial = body.get("vin"), body.get("serialNumber")
        if vin not in world.cars_by_vin or serial not in world.boxes:
            return bad_request("unknown vin or serialNumber", 404)
        world.plug(str(vin), str(serial))
        return JSONResponse({"plugged": True, "at": iso(sim.now())})

    async def unplug(request: Request) -> Response:
        body = await obj(request)
        if isinstance(body, Response):
            return body
        vin = body.get("vin")
        if vin not in world.cars_by_vin:
            return bad_request("unknown vin", 404)
        world.unplug(str(vin))
        return JSONResponse({"plugged": False, "at": iso(sim.now())})

    async def faults(request: Request) -> Response:
        body = await obj(request)
        if isinstance(body, Response):
            return body
        if not body:
            sim.faults = {v: Faults() for v in VENDORS}
            return JSONResponse({"reset": sorted(VENDORS)})
        vendor = body.get("vendor")
        if vendor not in VENDORS:
            return bad_request(f"unknown vendor; known: {sorted(VENDORS)}")
        try:
            sim.faults[str(vendor)] = Faults.parse(body, sim.now())
        except (ValueError, TypeError) as exc:
            return bad_request(str(exc))
        return JSONResponse({"vendor": vendor, "set": sorted(set(body) - {"vendor"})})

    async def advance(request: Request) -> Response:
        body = await obj(request)
        if isinstance(body, Response):
            return body
        secs = body.get("advance_s")
        if not isinstance(secs, int | float) or isinstance(secs, bool) or not 0 <= secs <= 86400 * 30:
            return bad_request("advance_s must be a number of seconds (0 to 30 days)")
        world.clock.advance(float(secs))
        return JSONResponse({"time": iso(sim.now())})

    async def state(_: Request) -> Response:
        t = sim.now()
        for box in world.boxes.values():
            world.settle(box, t)
        cars = [{
            "vin": c.vin, "id": c.id, "account": c.account, "make": c.make, "model": c.model,
            "soc": round(c.soc, 4), "charge_limit": c.charge_limit, "plugged_into": c.plugged_into,
            "charging": c.power_kw > 0, "power_kw": c.power_kw,
            "asleep": world.asleep(c, t, sim.faults["smartcar"].asleep),
            "can_start": c.can_start, "can_stop": c.can_stop, "has_location": c.has_location,
            "latitude": c.latitude, "longitude": c.longitude,
        } for c in world.cars.values()]
        boxes = [{
            "serialNumber": b.id, "account": b.account, "plugged_vin": b.plugged_vin,
            "op_mode": world.box_state(b, t)["mode"], "power_kw": world.box_state(b, t)["kw"],
            "paused": b.paused, "schedule": b.schedule, "dynamic_current": b.dynamic_current,
        } for b in world.boxes.values()]
        return JSONResponse({
            "time": iso(t), "speed": world.clock.speed,
            "vendors": [{"name": n, "serves": s} for n, s in sorted(VENDORS.items())],
            "accounts": [{"vendor": a.vendor, "username": a.username, "devices": a.devices}
                         for a in world.accounts.values()],
            "vehicles": cars, "chargers": boxes,
        })

    return [
        Route("/sim/accounts", accounts, methods=["POST"]),
        Route("/sim/plug", plug, methods=["POST"]),
        Route("/sim/unplug", unplug, methods=["POST"]),
        Route("/sim/faults", faults, methods=["POST"]),
        Route("/sim/time", advance, methods=["POST"]),
        Route("/sim/world", state, methods=["GET"]),
    ]
