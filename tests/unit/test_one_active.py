"""At most one ACTIVE EV system per vehicle and per charger is a database constraint, and an
activation that loses the race stays ESTABLISHED with evidence (SQLite, and PostgreSQL with
`TANDEM_TEST_DATABASE_URL`)."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from tortoise import connections
from tortoise.exceptions import IntegrityError

from app.db.models import EvSystem
from app.runtime import Runtime
from app.services import pairing
from app.settings import Settings
from tests.unit.fixtures import household, now, runtime

migration = importlib.import_module("app.db.migrations.0006_decisions")


@pytest.fixture
async def rt(database: Settings) -> AsyncIterator[Runtime]:
    running = await runtime(database)
    yield running
    await running.bus.disconnect()


async def _active() -> list[EvSystem]:
    return await EvSystem.filter(status="ACTIVE")


async def test_the_database_refuses_a_second_active_system_on_a_charger(rt: Runtime) -> None:
    h = await household(2, 1)
    await EvSystem.filter(id=h.systems[("v1", "c1")].id).update(status="ACTIVE", activated_at=now())
    with pytest.raises(IntegrityError):
        await EvSystem.filter(id=h.systems[("v2", "c1")].id).update(status="ACTIVE", activated_at=now())
    assert [s.id for s in await _active()] == [h.systems[("v1", "c1")].id]


async def test_the_database_refuses_a_second_active_system_for_a_vehicle(rt: Runtime) -> None:
    h = await household(1, 2)
    await EvSystem.filter(id=h.systems[("v1", "c1")].id).update(status="ACTIVE", activated_at=now())
    with pytest.raises(IntegrityError):
        await EvSystem.filter(id=h.systems[("v1", "c2")].id).update(status="ACTIVE", activated_at=now())


async def test_established_systems_are_not_constrained(rt: Runtime) -> None:
    h = await household(2, 2)
    assert await EvSystem.filter(status="ESTABLISHED").count() == len(h.systems) == 4
    await EvSystem.filter(id=h.systems[("v1", "c1")].id).update(status="ACTIVE", activated_at=now())
    await EvSystem.filter(id=h.systems[("v2", "c2")].id).update(status="ACTIVE", activated_at=now())
    assert len(await _active()) == 2


def _deciding(system: EvSystem) -> EvSystem:
    """What a process that decided to activate `system` holds in memory."""
    system.status, system.activated_at = "ACTIVE", now()
    system.evidence = ["charge rates match", "activated"]
    return system


@pytest.mark.parametrize("shared", ["charger", "vehicle"])
async def test_two_processes_activating_from_the_same_view_leave_one_active(rt: Runtime, shared: str) -> None:
    h = await household(2, 1) if shared == "charger" else await household(1, 2)
    first, second = (_deciding(s) for s in list(h.systems.values()))
    assert await pairing._save(rt, h.user.id, [first]) == {first.id}
    assert await pairing._save(rt, h.user.id, [second]) == set(), "a compare-and-set that loses is no error"
    assert [s.id for s in await _active()] == [first.id]
    loser = await EvSystem.get(id=second.id)
    assert loser.status == "ESTABLISHED" and loser.activated_at is None
    assert loser.evidence[-1].startswith(f"not activated: the {shared} is already ACTIVE")
    assert "activated" not in loser.evidence


async def test_concurrent_activations_for_one_charger_leave_exactly_one_active(rt: Runtime) -> None:
    h = await household(3, 1)
    deciding = [_deciding(s) for s in h.systems.values()]
    won = await asyncio.gather(*(pairing._save(rt, h.user.id, [s]) for s in deciding))
    assert sorted(len(w) for w in won) == [0, 0, 1]
    assert len(await _active()) == 1
    losers = await EvSystem.filter(status="ESTABLISHED")
    assert len(losers) == 2 and all(s.evidence[-1].startswith("not activated:") for s in losers)


async def test_a_probe_activation_loses_to_an_activation_made_elsewhere(rt: Runtime) -> None:
    plugged = now()
    h = await household(2, 1, plugged_in_at=plugged)
    elsewhere = _deciding(h.systems[("v1", "c1")])
    assert await pairing._save(rt, h.user.id, [elsewhere]) == {elsewhere.id}
    assert not await pairing.activate_if_still_open(rt, h.user.id, h.chargers["c1"].id, h.vehicles["v2"].id,
                                                    plugged)
    assert [s.id for s in await _active()] == [elsewhere.id]


async def test_the_migration_demotes_duplicate_activations_keeping_the_latest(rt: Runtime) -> None:
    conn = connections.get("default")
    h = await household(3, 2)
    for name in ("ev_system_one_active_vehicle", "ev_system_one_active_charger"):
        await conn.execute_script(f"DROP INDEX {name}")
    try:
        base = now().replace(microsecond=0)
        # v1+c1 and v2+c1 share the charger; v3+c2 is alone. Oldest first.
        for i, key in enumerate([("v1", "c1"), ("v2", "c1"), ("v3", "c2")]):
            await EvSystem.filter(id=h.systems[key].id).update(status="ACTIVE",
                                                               activated_at=base + timedelta(seconds=i))
        await conn.execute_script(migration.DEMOTE_DUPLICATES)
    finally:
        for sql in migration.ONE_ACTIVE:
            await conn.execute_script(sql)
    kept = {s.id for s in await _active()}
    assert kept == {h.systems[("v2", "c1")].id, h.systems[("v3", "c2")].id}
    demoted = await EvSystem.get(id=h.systems[("v1", "c1")].id)
    assert demoted.status == "ESTABLISHED" and demoted.activated_at is None


async def test_an_activation_is_written_after_the_other_systems_evidence(rt: Runtime,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Whoever sees a system ACTIVE (a client reading just then) finds the other systems of the
    same evaluation already saying why not them, whatever order the evaluation listed them in."""
    h = await household(2, 1)
    chosen, other = _deciding(h.systems[("v1", "c1")]), h.systems[("v2", "c1")]
    other.evidence = ["the session was started with idTag T, which names v1, not v2: excluded"]
    seen: list[list[str]] = []
    activate = pairing._activate

    async def watching(rt_: Runtime, user_id: str, system: EvSystem) -> bool:
        seen.append(list((await EvSystem.get(id=other.id)).evidence))
        return await activate(rt_, user_id, system)
    monkeypatch.setattr(pairing, "_activate", watching)
    assert await pairing._save(rt, h.user.id, [chosen, other]) == {chosen.id, other.id}
    assert seen == [other.evidence]
