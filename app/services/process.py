"""Start and stop what a process runs: database, broadcast, demo simulator, workers."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import socket
from collections.abc import Awaitable
from typing import Any

import uvicorn

from app import db
from app.events import EventBus, namespace_for
from app.runtime import Runtime, set_current
from app.settings import Settings

log = logging.getLogger("tandem.process")


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ProcessServices:
    """Everything a web or worker process owns, started in order and stopped in reverse."""

    def __init__(self, settings: Settings, *, demo: bool = False, web: bool = True) -> None:
        self.settings = settings
        self.demo = demo
        self.web = web
        self.runtime: Runtime | None = None
        self._sim_server: uvicorn.Server | None = None
        self._sim_task: asyncio.Task[Any] | None = None
        self._workers: Any = None
        self._revocations: asyncio.Task[None] | None = None
        #: What `--demo` seeded (client_secret, user_token, user_id, simulator), once started.
        self.demo_info: dict[str, str] | None = None

    async def start(self) -> Runtime:
        """Bring the process up; on failure, stop what was started (then re-raise)."""
        try:
            return await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> Runtime:
        settings = self.settings
        if self.demo and not settings.simulator_url:
            settings = dataclasses.replace(settings, simulator_url=await self._start_simulator())
        await db.init(settings)
        bus = EventBus(settings.broadcast_url, queue_size=settings.ws_queue_size,
                       namespace=settings.broadcast_namespace or namespace_for(settings.database_url),
                       max_message_bytes=settings.broadcast_max_message_bytes)
        await bus.connect()
        self.runtime = Runtime(settings=settings, bus=bus)
        from app.ocpp.hub import OcppHub

        self.runtime.ocpp = OcppHub(settings, self.runtime.worker_id)
        await self.runtime.ocpp.start()
        self.runtime.adapter_options["ocpp"] = {"hub": self.runtime.ocpp, "id_tag": settings.ocpp_id_tag}
        set_current(self.runtime)
        if self.web:
            from app import revocation

            self._revocations = asyncio.create_task(revocation.follow(bus), name="revocations")
        if self.demo:
            from app.services.demo import seed

            self.demo_info = await seed(self.runtime)
        if settings.embedded_workers or not self.web:
            from app.workers.runner import Workers

            self._workers = Workers(self.runtime)
            await self._workers.start()
        return self.runtime

    async def stop(self, timeout_s: float | None = None) -> None:
        """Bring the process down within about `timeout_s` (default: the setting
        `shutdown_timeout_s`) whatever vendors do: a step that overruns its share is abandoned
        (and logged) so the next still runs."""
        share = (self.settings.shutdown_timeout_s if timeout_s is None else timeout_s) / 4
        if self._workers is not None:
            await _bounded(self._workers.stop(), 2 * share, "workers")
        if self._revocations is not None:
            self._revocations.cancel()
            await asyncio.gather(self._revocations, return_exceptions=True)
        if self.runtime is not None:
            await _bounded(self.runtime.ocpp.stop(), share / 2, "OCPP charge points")
            await _bounded(self.runtime.aclose(), share / 2, "vendor connections")
            await _bounded(self.runtime.bus.disconnect(), share / 2, "broadcast")
            set_current(None)
        if self._sim_server is not None and self._sim_task is not None:
            self._sim_server.should_exit = True
            await _bounded(self._sim_task, share / 2, "simulator")
        await _bounded(db.close(), share / 2, "database")

    async def _start_simulator(self) -> str:
        from adapters.simulator.app import create_app as create_sim

        port = free_port()
        sim_app = create_sim()
        sim_app.state.sim.central_system_url = f"ws://{self.settings.host}:{self.settings.port}/ocpp"
        config = uvicorn.Config(sim_app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
        self._sim_server = uvicorn.Server(config)
        self._sim_task = asyncio.create_task(self._sim_server.serve())
        # uvicorn exposes only a `started` flag, no event to await.
        while not self._sim_server.started:
            if self._sim_task.done():
                raise RuntimeError("the embedded simulator failed to start")
            await asyncio.sleep(0.02)
        url = f"http://127.0.0.1:{port}"
        print(f"simulator: {url}", flush=True)
        return url


async def _bounded(step: Awaitable[Any], seconds: float, what: str) -> None:
    """Await a shutdown step for at most `seconds` (cancelled after that); never raises."""
    try:
        async with asyncio.timeout(seconds):
            await step
    except TimeoutError:
        log.warning("shutdown: %s did not stop within %.1f s; abandoned", what, seconds)
    except Exception:
        log.exception("shutdown: %s failed", what)
