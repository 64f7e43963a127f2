"""Control endpoints (/sim): accounts, cables, faults, time, and the world's true state."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from adapters.simulator.checks import is_number
from adapters.simulator.common import VENDORS, Sim, bad_request, body_of, iso
from adapters.simulator.faults import Faults
from adapters.simulator.ocpp_station import Station
from adapters.simulator.world import Box


def vendor_of(body: dict[str, Any]) -> str | Response:
    """The body's known vendor, or a 400."""
    vendor = body.get("vendor")
    if not isinstance(vendor, str) or vendor not in VENDORS:
        return bad_request(f"unknown vendor; known: {sorted(VENDORS)}")
    return vendor


def ids_of(body: dict[str, Any], *names: str) -> tuple[str | None, ...] | Response:
    """The named id fields (strings or absent), or a 400 naming the first of another type."""
    for name in names:
        if body.get(name) is not None and not isinstance(body[name], str):
            return bad_request(f"{name} must be a string")
    return tuple(body.get(name) for name in names)


def charger_row(box: Box, state: dict[str, Any]) -> dict[str, Any]:
    """A charger as /sim/world shows it, given its current state."""
    return {"serialNumber": box.id, "account": box.account, "plugged_vin": box.plugged_vin,
            "op_mode": state["mode"], "power_kw": state["kw"], "paused": box.paused, "schedule": box.schedule,
            "dynamic_current": box.dynamic_current}


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
        vendor, devices = vendor_of(body), body.get("devices", [])
        if isinstance(vendor, Response):
            return vendor
        if vendor == "ocpp":
            return ocpp_account(body)
        if set(body) - {"vendor", "devices"} or not isinstance(devices, list):
            return bad_request("fields: vendor, devices (a list)")
        try:
            acct = world.add_account(vendor, devices)
        except ValueError as exc:
            return bad_request(str(exc))
        return JSONResponse({"credentials": {"username": acct.username, "password": acct.password},
                             "devices": acct.devices})

    def ocpp_account(body: dict[str, Any]) -> Response:
        """OCPP charge points: created, then connected to the central system's URL."""
        devices, url = body.get("devices", []), body.get("centralSystemUrl") or sim.central_system_url
        options = body.get("ocppOptions") or {}
        if set(body) - {"vendor", "devices", "centralSystemUrl", "ocppOptions"} or not isinstance(devices, list):
            return bad_request("fields: vendor, devices (a list), centralSystemUrl, ocppOptions")
        if not isinstance(url, str) or not url.startswith(("ws://", "wss://")):
            return bad_request("centralSystemUrl must be a ws:// or wss:// URL (Tandem's /ocpp)")
        known = {"rateUnit", "heartbeatS", "featureProfiles", "energyRegister"}
        if not isinstance(options, dict) or set(options) - known or \
                options.get("rateUnit", "Current") not in ("Current", "Power") or \
                not isinstance(options.get("heartbeatS", 60), int) or not 10 <= options.get("heartbeatS", 60) <= 3600 \
                or not isinstance(options.get("featureProfiles", ""), str) \
                or options.get("energyRegister", "lifetime") not in ("lifetime", "transaction"):
            return bad_request("ocppOptions: rateUnit Current|Power, heartbeatS 10-3600, featureProfiles (a string), "
                               "energyRegister lifetime|transaction")
        try:
            acct = world.add_account("ocpp", devices)
        except ValueError as exc:
            return bad_request(str(exc))
        points = []
        for serial in acct.devices:
            station = Station(sim, world.boxes[serial], url, acct.password,
                              rate_unit=options.get("rateUnit", "Current"), heartbeat_s=options.get("heartbeatS", 60),
                              features=options.get("featureProfiles") or "Core,SmartCharging,RemoteTrigger",
                              register=options.get("energyRegister", "lifetime"))
            sim.stations[serial] = station
            station.start()
            points.append({"chargePointId": serial, "password": acct.password})
        return JSONResponse({"credentials": points[0] if points else {}, "chargePoints": points,
                             "devices": acct.devices})

    async def plug(request: Request) -> Response:
        body = await obj(request)
        ids = body if isinstance(body, Response) else ids_of(body, "vin", "serialNumber")
        if isinstance(ids, Response):
            return ids
        vin, serial = ids
        if vin is None or serial is None or vin not in world.cars_by_vin or serial not in world.boxes:
            return bad_request("unknown vin or serialNumber", 404)
        world.plug(vin, serial)
        return JSONResponse({"plugged": True, "at": iso(sim.now())})

    async def car_body(request: Request) -> tuple[str, dict[str, Any]] | Response:
        """A body naming a known car by `vin`: (vin, body), or a 400/404."""
        body = await obj(request)
        ids = body if isinstance(body, Response) else ids_of(body, "vin")
        if isinstance(ids, Response):
            return ids
        (vin,) = ids
        if vin is None or vin not in world.cars_by_vin:
            return bad_request("unknown vin", 404)
        assert isinstance(body, dict)
        return vin, body

    async def unplug(request: Request) -> Response:
        named = await car_body(request)
        if isinstance(named, Response):
            return named
        world.unplug(named[0])
        return JSONResponse({"plugged": False, "at": iso(sim.now())})

    async def vehicle(request: Request) -> Response:
        named = await car_body(request)
        if isinstance(named, Response):
            return named
        vin, body = named
        try:
            world.configure(vin, {k: v for k, v in body.items() if k != "vin"})
        except ValueError as exc:
            return bad_request(str(exc))
        return JSONResponse({"configured": sorted(set(body) - {"vin"}), "at": iso(sim.now())})

    async def move(request: Request) -> Response:
        named = await car_body(request)
        if isinstance(named, Response):
            return named
        vin, body = named
        lat, lon = body.get("latitude"), body.get("longitude")
        if not (is_number(lat) and -90 <= lat <= 90 and is_number(lon) and -180 <= lon <= 180):
            return bad_request("latitude (-90..90) and longitude (-180..180) must be numbers")
        world.move(vin, float(lat), float(lon))
        return JSONResponse({"moved": True, "at": iso(sim.now())})

    async def faults(request: Request) -> Response:
        body = await obj(request)
        if isinstance(body, Response):
            return body
        if not body:
            sim.faults = {v: Faults() for v in VENDORS}
            for station in sim.stations.values():
                station.nudge()
            return JSONResponse({"reset": sorted(VENDORS)})
        vendor = vendor_of(body)
        if isinstance(vendor, Response):
            return vendor
        before = sim.faults[vendor]
        try:
            sim.faults[vendor] = Faults.parse(body, sim.now(), clock=sim.now)
        except ValueError as exc:
            return bad_request(str(exc))
        now_out = sim.faults[vendor].stale | sim.faults[vendor].frozen
        world.lose_touch(now_out - before.stale - before.frozen, sim.now())
        for station in sim.stations.values():  # charge points act on a fault at once
            station.nudge()
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
            "max_charge_kw": c.max_charge_kw, "taper_from": c.taper_from, "taper_floor": c.taper_floor,
            "cold_derate": c.cold_derate, "cold_minutes": c.cold_minutes, "charge_efficiency": c.charge_efficiency,
            "latitude": c.latitude, "longitude": c.longitude,
        } for c in world.cars.values()]
        boxes = [charger_row(b, world.box_state(b, t)) for b in world.boxes.values()]
        return JSONResponse({
            "time": iso(t), "speed": world.clock.speed,
            "vendors": [{"name": n, "serves": s} for n, s in sorted(VENDORS.items())],
            "accounts": [{"vendor": a.vendor, "username": a.username, "devices": a.devices}
                         for a in world.accounts.values()],
            "vehicles": cars, "chargers": boxes,
            "streams": dict(sim.streams),
            "chargePoints": {cp: {"connected": s.connected.is_set(), "connects": s.connects,
                                  "transactionId": s.transaction_id, "status": s.status(),
                                  "staleSent": s.stale_sent}
                             for cp, s in sim.stations.items()},
        })

    async def ocpp_summary(_: Request) -> Response:
        """The simulated charge points in totals (a few bytes, however many there are)."""
        refused: dict[str, int] = {}
        failed: dict[str, int] = {}
        for s in sim.stations.values():
            for status, n in s.refused.items():
                refused[str(status)] = refused.get(str(status), 0) + n
            for kind, n in s.failed.items():
                failed[kind] = failed.get(kind, 0) + n
        return JSONResponse({"chargePoints": len(sim.stations),
                             "connected": sum(1 for s in sim.stations.values() if s.connected.is_set()),
                             "connects": sum(s.connects for s in sim.stations.values()),
                             "attempts": sum(s.attempts for s in sim.stations.values()),
                             "refused": refused, "failed": failed})

    async def commands(_: Request) -> Response:
        return JSONResponse({"commands": list(sim.commands)})

    return [
        Route("/sim/commands", commands, methods=["GET"]),
        Route("/sim/accounts", accounts, methods=["POST"]),
        Route("/sim/plug", plug, methods=["POST"]),
        Route("/sim/unplug", unplug, methods=["POST"]),
        Route("/sim/move", move, methods=["POST"]),
        Route("/sim/vehicle", vehicle, methods=["POST"]),
        Route("/sim/faults", faults, methods=["POST"]),
        Route("/sim/time", advance, methods=["POST"]),
        Route("/sim/world", state, methods=["GET"]),
        Route("/sim/ocpp", ocpp_summary, methods=["GET"]),
    ]
