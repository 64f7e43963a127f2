"""Ticks of one vehicle's smart charging that overlap: a tick that read the policy before a boost
never stores its plan over the plan made after the boost, whether the two ticks run in one
process (the worker's loop and a mutation, embedded) or in two (a web process's mutation while the
worker's tick is in flight: the plan's revision tells)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from app.db.models import SmartChargingPlan, SmartChargingPolicy
from app.settings import Settings
from app.smart import service
from tests.unit.fixtures import now, runtime
from tests.unit.test_smart_learning import active, smart_home


def held_decide(monkeypatch: pytest.MonkeyPatch, during: Callable[[], Awaitable[None]] | None = None
                ) -> tuple[asyncio.Event, asyncio.Event, list[datetime]]:
    """`service.decide` as it is, except that its first call waits for `release` once `entered` is
    set (running `during` first, if given: what happens elsewhere meanwhile); the calls' times."""
    real = service.decide
    entered, release, calls = asyncio.Event(), asyncio.Event(), []

    async def decide(*args: Any, **kwargs: Any) -> service.Decision:
        calls.append(args[2])
        if len(calls) == 1:
            entered.set()
            if during is not None:
                await during()
            await release.wait()
        return await real(*args, **kwargs)
    monkeypatch.setattr(service, "decide", decide)
    return entered, release, calls


async def boosted_home(database: Settings) -> tuple[Any, str, str, datetime]:
    """Smart charging on for a car ACTIVE on a charger, its plan made once: (runtime, vehicle id,
    user id, plug-in time)."""
    rt = await runtime(database)
    t0 = now()
    vehicle, charger = await active(t0 - timedelta(minutes=5))
    await smart_home(vehicle, charger, t0)
    first = await service.tick(rt, vehicle.id)
    assert first is not None and "Boost" not in (first.reason or "")
    assert charger.plugged_in_at is not None
    return rt, vehicle.id, vehicle.user_id, charger.plugged_in_at


async def test_a_tick_in_flight_during_a_boost_does_not_overwrite_the_boosted_plan(
        database: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """One process: the loop's tick has read the policy when boostCharging comes; the boost's tick
    runs after it, so the plan stored last is the boosted one."""
    rt, vid, uid, _ = await boosted_home(database)
    entered, release, calls = held_decide(monkeypatch)
    loop_tick = asyncio.create_task(service.tick(rt, vid))
    await asyncio.wait_for(entered.wait(), 5)
    boost = asyncio.create_task(service.boost(rt, uid, vid))
    await asyncio.sleep(0.2)  # the boost's own work before its tick, which waits for the loop's tick
    assert len(calls) == 1, "the boost's tick did not wait its turn"
    release.set()
    await asyncio.wait_for(asyncio.gather(loop_tick, boost), 10)
    plan = await SmartChargingPlan.get(vehicle_id=vid)
    assert plan.state == "PLAN_EXECUTING_CHARGING" and "Boost" in (plan.reason or ""), plan.reason


async def test_a_plan_made_from_inputs_changed_meanwhile_elsewhere_is_made_again(
        database: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two processes: while the worker's tick is deciding, a web process boosts (its policy write
    raises the plan's revision). The worker's plan, made from the old policy, is not stored: it is
    made again from the boosted policy."""
    rt, vid, _, plugged_at = await boosted_home(database)
    before = (await SmartChargingPlan.get(vehicle_id=vid)).revision

    async def web_process_boosts() -> None:
        policy = await SmartChargingPolicy.get(vehicle_id=vid)
        policy.boost_session = plugged_at
        await policy.save()
        await service.inputs_changed(vehicle_id=vid)
    _, release, calls = held_decide(monkeypatch, web_process_boosts)
    release.set()
    stored = await service.tick(rt, vid)
    assert len(calls) == 2  # made again
    assert stored is not None and "Boost" in (stored.reason or ""), stored.reason if stored else None
    plan = await SmartChargingPlan.get(vehicle_id=vid)
    assert (plan.state, plan.revision) == ("PLAN_EXECUTING_CHARGING", before + 2)  # the boost's raise, this write


async def test_the_first_plan_stored_meanwhile_elsewhere_makes_the_tick_again(
        database: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """No plan yet when the tick read it; another process stores the first one meanwhile: the
    tick does not fail on the duplicate row, it plans again over that one."""
    rt, vid, _, _ = await boosted_home(database)
    await SmartChargingPlan.filter(vehicle_id=vid).delete()

    async def elsewhere() -> None:
        await service._store(SmartChargingPlan(vehicle_id=vid, user_id=(await SmartChargingPolicy.get(
            vehicle_id=vid)).user_id, state="CONSIDERING", reason="another process"), None)
    _, release, calls = held_decide(monkeypatch, elsewhere)
    release.set()
    stored = await service.tick(rt, vid)
    assert len(calls) == 2 and stored is not None and stored.reason != "another process"
    assert (await SmartChargingPlan.get(vehicle_id=vid)).revision == 2
