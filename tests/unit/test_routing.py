"""Path choice for actions (app.orchestrator.routing): capability order, success rates, tries.

Success rates are kept in the database: these tests run on the test database (SQLite, or
PostgreSQL with `TANDEM_TEST_DATABASE_URL`)."""

from __future__ import annotations

import asyncio

import pytest
from tortoise import Tortoise

from app import db
from app.db.models import PathScore
from app.domain.capabilities import Path
from app.orchestrator import routing
from app.settings import Settings

VEHICLE, CHARGER = Path("VEHICLE"), Path("CHARGER", "box-1")
ASSETS = {"VEHICLE": "car-1", "CHARGER": "box-1"}
pytestmark = pytest.mark.usefixtures("database")


def vias(paths: list[Path]) -> list[str]:
    return [p.via for p in paths]


async def ordered(tries: dict[str, int] | None = None, excluded: set[str] | None = None,
                  first: str | None = None) -> list[str]:
    rates = await routing.scores(ASSETS.values())
    return vias(routing.order([VEHICLE, CHARGER], ASSETS, tries or {}, excluded or set(), first, rates))


async def test_ties_keep_the_capability_order() -> None:
    assert await ordered() == ["VEHICLE", "CHARGER"]


async def test_a_failing_path_falls_behind_and_recovers_with_successes() -> None:
    await routing.record("car-1", "smartcar", "VEHICLE", False)
    assert await ordered() == ["CHARGER", "VEHICLE"]
    for _ in range(5):
        await routing.record("car-1", "smartcar", "VEHICLE", True)
    assert await routing.score("car-1", "VEHICLE") > await routing.score("box-1", "CHARGER")
    assert await ordered() == ["VEHICLE", "CHARGER"]


async def test_the_rate_is_an_exponentially_weighted_mean() -> None:
    assert await routing.record("car-1", "smartcar", "VEHICLE", False) == pytest.approx(0.8 * routing.PRIOR)
    assert await routing.record("car-1", "smartcar", "VEHICLE", True) == pytest.approx(
        0.8 * 0.8 * routing.PRIOR + 0.2)


async def test_rates_are_kept_per_asset_and_path() -> None:
    await routing.record("other-car", "smartcar", "VEHICLE", False)
    await routing.record("car-1", "easee", "CHARGER", False)
    assert await routing.score("car-1", "VEHICLE") == routing.PRIOR
    assert await routing.score("car-1", "CHARGER") < routing.PRIOR


async def test_concurrent_records_all_count() -> None:
    await asyncio.gather(*(routing.record("car-1", "smartcar", "VEHICLE", False) for _ in range(6)))
    assert await routing.score("car-1", "VEHICLE") == pytest.approx(routing.PRIOR * 0.8 ** 6)
    assert await PathScore.filter(asset_id="car-1").count() == 1


async def test_routing_remembers_after_a_restart(database: Settings) -> None:
    await routing.record("car-1", "smartcar", "VEHICLE", False)
    await db.close()  # a new process: nothing but the database carries over
    await Tortoise.init(config=db.tortoise_config(database.database_url))
    assert await ordered() == ["CHARGER", "VEHICLE"]


async def test_forget_drops_an_assets_rates() -> None:
    await routing.record("car-1", "smartcar", "VEHICLE", False)
    await routing.forget("car-1")
    assert await routing.score("car-1", "VEHICLE") == routing.PRIOR


async def test_the_path_tried_least_by_this_action_goes_first_and_excluded_never() -> None:
    assert await ordered({"VEHICLE": 1}) == ["CHARGER", "VEHICLE"]
    assert await ordered(excluded={"VEHICLE"}) == ["CHARGER"]
    assert await ordered(excluded={"VEHICLE", "CHARGER"}) == []


async def test_first_leads_when_usable() -> None:
    assert await ordered(first="CHARGER") == ["CHARGER", "VEHICLE"]
    assert await ordered(excluded={"CHARGER"}, first="CHARGER") == ["VEHICLE"]
