"""ActionRunner: executes due PENDING actions of owned shards, one worker per action (leases).

Each action steps in its own task: the loop never waits for a step, so a slow vendor holds only
the action talking to it, never another user's or asset's. A step is bounded in time too.

An action is stepped at its next check (`action_check_s` while a command is verified), or at once
when a device of its user shows a visible change (`device_changed`, called by the poller after
a poll: a pushed report such as an OCPP charger's or Easee's stream is polled at once), so a
confirmation waits for the device's report, not for the check interval.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta

from tortoise.expressions import Q

from app.db import column
from app.db.models import ChargeAction, Charger, Vehicle
from app.orchestrator.api import utcnow
from app.orchestrator.engine import step
from app.runtime import Runtime

log = logging.getLogger("tandem.actions")
TICK_S = 0.5
_local: list[ActionRunner] = []


def nudge() -> None:
    """Wake local runners now (a new action was created)."""
    for runner in _local:
        runner.wake.set()


def device_changed(user_id: str) -> None:
    """A device of `user_id` shows a visible change: step their actions stepped here at once."""
    for runner in _local:
        runner.changed(user_id)


class ActionRunner:
    """Claims and steps actions whose target lives in a shard this worker owns."""

    def __init__(self, rt: Runtime, owns: Callable[[int], bool]) -> None:
        self.rt = rt
        self.owns = owns
        self.wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._running: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._shards: dict[str, int] = {}
        self._users: dict[str, set[str]] = {}  # user id -> their actions stepped here (maybe pending)
        self._recheck: set[str] = set()  # actions whose user's devices changed during their step

    async def start(self) -> None:
        """Start the loop."""
        _local.append(self)
        self._task = asyncio.create_task(self._loop(), name="actions")

    async def stop(self) -> None:
        """Stop and release leases held."""
        if self in _local:
            _local.remove(self)
        tasks = [t for t in (self._task, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await ChargeAction.filter(lease_owner=self.rt.worker_id).update(lease_owner=None, lease_until=None)

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_due()
            except Exception:
                log.exception("action loop failed")
            self.wake.clear()
            try:
                await asyncio.wait_for(self.wake.wait(), TICK_S)
            except TimeoutError:
                pass

    def changed(self, user_id: str) -> None:
        """Make `user_id`'s actions due now (an action in its step is made due after it)."""
        ids = self._users.get(user_id)
        if not ids:
            return
        self._recheck.update(ids & self._running)
        if idle := ids - self._running:
            task = asyncio.create_task(self._due_now(user_id, idle))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _due_now(self, user_id: str, ids: set[str]) -> None:
        pending = set(await column(ChargeAction.filter(id__in=list(ids), state="PENDING"), "id"))
        if gone := ids - pending:
            self._forget(user_id, gone)
        if pending and await ChargeAction.filter(id__in=list(pending), state="PENDING",
                                                 next_step_at__gt=utcnow()).update(next_step_at=utcnow()):
            self.wake.set()

    def _forget(self, user_id: str, ids: set[str]) -> None:
        left = self._users.get(user_id, set()) - ids
        if left:
            self._users[user_id] = left
        else:
            self._users.pop(user_id, None)

    async def _shard(self, action: ChargeAction) -> int | None:
        if action.target_id not in self._shards:
            model = Vehicle if action.target_type == "VEHICLE" else Charger
            shard = await column(model.filter(id=action.target_id), "shard")
            if not shard:
                return None
            self._shards[action.target_id] = int(shard[0])
        return self._shards[action.target_id]

    async def run_due(self) -> int:
        """Start a step for every due action this worker may take (without waiting for them);
        returns how many started."""
        now = utcnow()
        due = await ChargeAction.filter(state="PENDING", next_step_at__lte=now).order_by("next_step_at").limit(100)
        ran = 0
        for action in due:
            if action.id in self._running:
                continue
            shard = await self._shard(action)
            if shard is not None and not self.owns(shard):
                continue
            if not await self._claim(action.id):
                continue
            self._running.add(action.id)
            task = asyncio.create_task(self._step(action.id), name=f"action-{action.id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            ran += 1
        return ran

    async def _claim(self, action_id: str) -> bool:
        now = utcnow()
        me = self.rt.worker_id
        won = await ChargeAction.filter(
            Q(id=action_id) & Q(state="PENDING") & (Q(lease_owner=None) | Q(lease_until__lt=now) | Q(lease_owner=me))
        ).update(lease_owner=me, lease_until=now + timedelta(seconds=self.rt.settings.lease_s))
        return bool(won)

    async def _renew(self, action_id: str) -> None:
        """Keep the lease while a step waits on a vendor (a step may outlast one lease)."""
        while True:
            await asyncio.sleep(self.rt.settings.lease_s / 3)
            await ChargeAction.filter(id=action_id, lease_owner=self.rt.worker_id).update(
                lease_until=utcnow() + timedelta(seconds=self.rt.settings.lease_s))

    async def _step(self, action_id: str) -> None:
        action: ChargeAction | None = None
        try:
            action = await ChargeAction.get(id=action_id)
            if action.state == "PENDING" and action.lease_owner == self.rt.worker_id:
                self._users.setdefault(action.user_id, set()).add(action_id)  # type: ignore[attr-defined]
                # Every vendor call inside is bounded; this bounds the whole step (several calls).
                renew = asyncio.create_task(self._renew(action_id))
                try:
                    async with asyncio.timeout(4 * (self.rt.settings.vendor_timeout_s + 1) + self.rt.settings.lease_s):
                        await step(self.rt, action)
                finally:
                    renew.cancel()
        except TimeoutError:
            log.warning("action %s step took too long; it resumes at its next check", action_id)
        except Exception:
            log.exception("action %s step failed", action_id)
        finally:
            self._running.discard(action_id)
            await ChargeAction.filter(id=action_id, lease_owner=self.rt.worker_id).update(lease_owner=None)
            if action is not None and action.state != "PENDING":
                self._forget(action.user_id, {action_id})  # type: ignore[attr-defined]
            if action_id in self._recheck:
                self._recheck.discard(action_id)
                if action is not None and action.state == "PENDING":
                    await self._due_now(action.user_id, {action_id})  # type: ignore[attr-defined]
