"""The simulator as an ASGI app, in-process or standalone (`tandem simulate`)."""

from __future__ import annotations

import os
import random

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse

from adapters.simulator import control_api, easee_api, easee_stream, smartcar_api
from adapters.simulator.common import Sim
from adapters.simulator.world import Clock, World


def create_app(world: World | None = None, *, speed: float | None = None, seed: int | None = None) -> Starlette:
    """A simulator app; `speed` (default env TANDEM_SIM_SPEED or 1) runs simulated time faster."""
    if world is None:
        speed = speed if speed is not None else float(os.environ.get("TANDEM_SIM_SPEED", "1"))
        world = World(Clock(speed, real_stamps=os.environ.get("TANDEM_SIM_REAL_STAMPS") == "1"), seed=seed)
    sim = Sim(world=world, rng=random.Random(seed))

    async def not_found(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"error": {"code": "NOT_FOUND", "message": "no such endpoint"}}, status_code=404)

    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        # Last resort: input is validated up front, so reaching this is a simulator bug, not a client error.
        return JSONResponse({"error": {"code": "INTERNAL", "message": "simulator error"}}, status_code=500)

    app = Starlette(
        routes=[*smartcar_api.routes(sim), *easee_api.routes(sim), *easee_stream.routes(sim), *control_api.routes(sim)],
        exception_handlers={404: not_found, 405: not_found, Exception: crashed},
    )
    app.state.sim = sim
    return app


def run(port: int, speed: float = 1.0, host: str = "127.0.0.1", keep_alive_s: int = 5) -> None:
    """Serve the simulator standalone; idle keep-alive connections are closed after `keep_alive_s`."""
    import uvicorn

    print(f"simulator: http://{host}:{port}", flush=True)
    uvicorn.run(create_app(speed=speed), host=host, port=port, log_level="warning", access_log=False,
                timeout_keep_alive=keep_alive_s)
