"""The smart charging loop: every `TANDEM_SMART_CHECK_S`, re-plan and steer each vehicle with
smart charging on whose shard this worker owns (a plan's slot edges and failed actions are
caught here; plug-ins, SoC readings, price and policy changes re-plan at once elsewhere)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from app.db.models import SmartChargingPolicy, Vehicle
from app.runtime import Runtime
from app.smart import service

log = logging.getLogger("tandem.smart")


class SmartLoop:
    """Periodic re-planning of owned vehicles."""

    def __init__(self, rt: Runtime, owns: Callable[[int], bool]) -> None:
        self.rt = rt
        self.owns = owns
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the loop."""
        self._task = asyncio.create_task(self._run(), name="smart-charging")

    async def stop(self) -> None:
        """Stop it."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def run_once(self) -> int:
        """Re-plan every owned vehicle with smart charging on; how many."""
        ids = [p.vehicle_id for p in await SmartChargingPolicy.filter(is_enabled=True)]
        done = 0
        for vehicle in await Vehicle.filter(id__in=ids):
            if self.owns(vehicle.shard):
                await service.tick(self.rt, vehicle.id)
                done += 1
        return done

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.rt.settings.smart_check_s)
            try:
                await self.run_once()
            except Exception:  # one bad tick must not stop smart charging for everyone
                log.exception("smart charging loop failed; retrying at the next check")
