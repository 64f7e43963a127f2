"""`Workers`: everything a worker process (or the embedded web process) runs."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from typing import Any

from app.events import Event
from app.runtime import Runtime
from app.workers import kick
from app.workers.leases import LeaseManager
from app.workers.poller import Poller
from app.workers.push import PushWatcher

log = logging.getLogger("tandem.workers")


class Workers:
    """Shard leases, the poller, the poll-kick listener and the action runner."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.leases = LeaseManager(rt.worker_id, rt.settings.shards, rt.settings.lease_s)
        self.poller = Poller(rt, self.leases)
        self.push = PushWatcher(self.poller) if rt.settings.charger_push else None
        self.actions: Any = None
        self.probes: Any = None
        self.smart: Any = None
        self._listener: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start in dependency order."""
        await self.leases.start()
        await self.poller.start()
        if self.push is not None:
            self.poller.on_refresh.append(self.push.sync)
            self.push.sync()
        kick.register(self.poller)
        self._listener = asyncio.create_task(self._listen(), name="poll-kicks")
        from app.orchestrator.runner import ActionRunner

        self.actions = ActionRunner(self.rt, owns=self.leases.owns)
        await self.actions.start()
        from app.services import pairing
        from app.services.probe import ProbeRunner

        self.probes = ProbeRunner(self.rt, owns=self.leases.owns,
                                  recorder=functools.partial(pairing.record_probe, self.rt))
        await self.probes.start()
        from app.workers.smart import SmartLoop

        self.smart = SmartLoop(self.rt, owns=self.leases.owns)
        await self.smart.start()

    async def stop(self) -> None:
        """Stop in reverse order and release leases."""
        if self.smart is not None:
            await self.smart.stop()
        if self.probes is not None:
            await self.probes.stop()
        if self.actions is not None:
            await self.actions.stop()
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
        kick.unregister(self.poller)
        if self.push is not None:
            await self.push.stop()
        await self.poller.stop()
        await self.leases.stop()

    async def _listen(self) -> None:
        async with self.rt.bus.subscribe(kick.SYSTEM_USER) as sub:
            async for item in sub:
                if isinstance(item, Event) and item.topic == "poll":
                    with contextlib.suppress(ValueError):
                        _, asset_id = item.object_id.split(":", 1)
                        kick.kick_local(asset_id)
