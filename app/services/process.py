"""Start and stop what a process runs: database, broadcast, demo simulator, workers."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import socket
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

    async def start(self) -> Runtime:
        """Bring the process up."""
        settings = self.settings
        if self.demo and not settings.simulator_url:
            settings = dataclasses.replace(settings, simulator_url=await self._start_simulator())
        await db.init(settings)
        bus = EventBus(settings.broadcast_url, queue_size=settings.ws_queue_size,
                       namespace=settings.broadcast_namespace or namespace_for(settings.database_url),
                       max_message_bytes=settings.broadcast_max_message_bytes)
        await bus.connect()
        self.runtime = Runtime(settings=settings, bus=bus)
        set_current(self.runtime)
        if self.demo:
            from app.services.demo import seed

            await seed(self.runtime)
        if settings.embedded_workers or not self.web:
            from app.workers.runner import Workers

            self._workers = Workers(self.runtime)
            await self._workers.start()
        return self.runtime

    async def stop(self) -> None:
        """Bring the process down."""
        if self._workers is not None:
            await self._workers.stop()
        if self.runtime is not None:
            await self.runtime.aclose()
            await self.runtime.bus.disconnect()
            set_current(None)
        if self._sim_server is not None and self._sim_task is not None:
            self._sim_server.should_exit = True
            await self._sim_task
        await db.close()

    async def _start_simulator(self) -> str:
        from adapters.simulator.app import create_app as create_sim

        port = free_port()
        config = uvicorn.Config(create_sim(), host="127.0.0.1", port=port, log_level="warning", lifespan="off")
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
