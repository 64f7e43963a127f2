"""The Easee-shaped charger cloud (docs/vendor-api.md)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from adapters.simulator.checks import is_hhmm, is_number
from adapters.simulator.common import Sim, bearer, body_of, device_gate, gate, iso, limited
from adapters.simulator.faults import Faults
from adapters.simulator.world import Box

_NAMES = {400: "BadRequest", 401: "Unauthorized", 404: "ChargerNotFound", 429: "TooManyRequests",
          500: "InternalError"}
COMMANDS = {"start_charging": "start", "resume_charging": "start", "stop_charging": "pause",
            "pause_charging": "pause", "override_schedule": "override"}


def error(status: int, title: str = "", name: str | None = None) -> JSONResponse:
    """An Easee error response."""
    return JSONResponse({"errorCode": status * 10, "errorCodeName": name or _NAMES.get(status, "Error"),
                         "title": title or _NAMES.get(status, "Error"), "status": status}, status_code=status)


def limit_error(_scope: str, retry_after: str) -> JSONResponse:
    """A 429 of the `limited` fault (Easee's body does not say what is limited)."""
    resp = error(429)
    resp.headers["retry-after"] = retry_after
    return resp


def routes(sim: Sim) -> list[Route]:
    """The charger cloud's routes."""
    world = sim.world

    def faults() -> Faults:
        # Read at every use: /sim/faults replaces the object.
        return sim.faults["easee"]

    def account(request: Request) -> str | Response:
        acct = world.account_of(bearer(request))
        if acct is None or acct.vendor != "easee" or acct.username in faults().revoked:
            return error(401, "invalid or revoked access token")
        if (lim := limited(sim, "easee", acct.username)) is not None:
            return limit_error(*lim)
        return acct.username

    def box_of(request: Request) -> Box | Response:
        owner = account(request)
        if isinstance(owner, Response):
            return owner
        box = world.boxes.get(request.path_params["cid"])
        if box is None or box.id not in world.accounts[owner].devices:  # its own or shared with it
            return error(404, "no such charger")
        if (lim := limited(sim, "easee", None, box.id)) is not None:
            return limit_error(*lim)
        return device_gate(sim, "easee", error, box.id) or box

    async def login(request: Request) -> Response:
        body = await body_of(request)
        if not isinstance(body, dict):
            return error(400, "body must be a JSON object")
        user = body.get("userName")
        if (lim := limited(sim, "easee", user if isinstance(user, str) else None)) is not None:
            return limit_error(*lim)
        tok = world.login("easee", user, body.get("password"), faults().revoked)
        if tok is None:
            return JSONResponse({"errorCode": 100, "errorCodeName": "InvalidUserPassword", "title": "Unauthorized",
                                 "status": 401}, status_code=401)
        return JSONResponse({"accessToken": tok, "expiresIn": 86400, "tokenType": "Bearer", "refreshToken": tok[::-1]})

    async def listing(request: Request) -> Response:
        if (failed := await gate(sim, "easee", False, error)) is not None:
            return failed
        owner = account(request)
        if isinstance(owner, Response):
            return owner
        acct = world.accounts[owner]
        return JSONResponse([{"id": d, "name": d, "productCode": 1, "createdOn": iso(0)} for d in acct.devices])

    async def read(request: Request) -> Response:
        if (failed := await gate(sim, "easee", False, error)) is not None:
            return failed
        box = box_of(request)
        if isinstance(box, Response):
            return box
        what, t = request.path_params["what"], sim.now()
        if what == "details":
            return JSONResponse({"serialNumber": box.id, "product": "Easee Home", "manufacturer": "Easee"})
        if what == "config":
            return JSONResponse({"maxChargerCurrent": box.max_current, "isEnabled": box.enabled, "phaseMode": 2,
                                 "authorizationRequired": False})
        if what == "basic_charge_plan":
            if not box.schedule:
                return error(404, "no charge plan", "NotFound")
            return JSONResponse({"id": 1, "chargeStartTime": box.schedule.get("start"),
                                 "chargeStopTime": box.schedule.get("stop"), "repeat": True, "isEnabled": True})
        if what != "state":
            return error(404, "no such resource", "NotFound")
        if faults().is_offline(box.id):
            return JSONResponse({"chargerOpMode": 0, "isOnline": False, "totalPower": 0.0, "sessionEnergy": None,
                                 "lifetimeEnergy": None, "dynamicChargerCurrent": box.dynamic_current,
                                 "outputCurrent": 0.0, "cableLocked": False,
                                 "latestPulse": sim.stamp("easee", box.settled_at),
                                 "reasonForNoCurrent": None, "voltage": box.voltage})
        st = world.box_state(box, t)
        return JSONResponse({
            "chargerOpMode": st["mode"], "isOnline": True, "totalPower": st["kw"],
            "sessionEnergy": round(box.session_energy, 3), "lifetimeEnergy": round(box.lifetime_energy, 3),
            "dynamicChargerCurrent": box.dynamic_current, "outputCurrent": st["amps"],
            "cableLocked": box.plugged_vin is not None, "latestPulse": sim.stamp("easee", t),
            "reasonForNoCurrent": st["reason"],
            "voltage": box.voltage,
        })

    async def command(request: Request) -> Response:
        if (failed := await gate(sim, "easee", True, error)) is not None:
            return failed
        box = box_of(request)
        if isinstance(box, Response):
            return box
        name = request.path_params["command"]
        if name not in COMMANDS:
            return error(400, f"unknown command {name[:40]}")
        if faults().is_offline(box.id):
            return error(400, "charger is not online", "ChargerNotOnline")
        t = sim.now()
        world.settle(box, t)
        box.pending.append((t + sim.rng.uniform(2, 5), COMMANDS[name], None))
        sim.accepted("easee", box.id, name)
        await faults().reply_delay(sim.rng)
        return JSONResponse({"commandId": sim.rng.randrange(10**6), "device": box.id, "ticks": int(t * 1e7)},
                            status_code=202)

    async def settings(request: Request) -> Response:
        if (failed := await gate(sim, "easee", True, error)) is not None:
            return failed
        box = box_of(request)
        if isinstance(box, Response):
            return box
        body = await body_of(request)
        amps = body.get("dynamicChargerCurrent") if isinstance(body, dict) else None
        if not is_number(amps) or not 0 <= amps <= box.max_current:
            return error(400, f"dynamicChargerCurrent must be 0-{box.max_current}")
        if faults().is_offline(box.id):
            return error(400, "charger is not online", "ChargerNotOnline")
        t = sim.now()
        world.settle(box, t)
        box.pending.append((t + sim.rng.uniform(2, 5), "current", float(amps)))
        sim.accepted("easee", box.id, f"current {amps:g}")
        await faults().reply_delay(sim.rng)
        return JSONResponse({"commandId": sim.rng.randrange(10**6)}, status_code=202)

    async def plan(request: Request) -> Response:
        box = box_of(request)
        if isinstance(box, Response):
            return box
        world.settle(box, sim.now())
        if request.method == "DELETE":
            box.schedule = None
            return JSONResponse({})
        body = await body_of(request)
        start = body.get("chargeStartTime") if isinstance(body, dict) else None
        stop = body.get("chargeStopTime") if isinstance(body, dict) else None
        if not is_hhmm(start) or not is_hhmm(stop):
            return error(400, "chargeStartTime and chargeStopTime (HH:MM) are required")
        box.schedule = {"start": start, "stop": stop}
        return JSONResponse({"id": 1, "chargeStartTime": start, "chargeStopTime": stop, "repeat": True,
                             "isEnabled": True})

    return [
        Route("/easee/api/accounts/login", login, methods=["POST"]),
        Route("/easee/api/chargers", listing, methods=["GET"]),
        Route("/easee/api/chargers/{cid}/commands/{command}", command, methods=["POST"]),
        Route("/easee/api/chargers/{cid}/settings", settings, methods=["POST"]),
        Route("/easee/api/chargers/{cid}/basic_charge_plan", plan, methods=["POST", "DELETE"]),
        Route("/easee/api/chargers/{cid}/{what}", read, methods=["GET"]),
    ]
