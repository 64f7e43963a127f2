"""Shared test fixtures: the database and broadcast under test, chosen by environment.

`TANDEM_TEST_DATABASE_URL` (default: a fresh SQLite file per test) and
`TANDEM_TEST_BROADCAST_URL` (default `memory://`) let `.ci/run` run the same suite against
PostgreSQL and Redis.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app import db
from app.settings import Settings

PG_TABLES = [
    "action_attempt", "charge_action", "ev_system", "observation", "vehicle", "charger", "location",
    "vendor_link", "user_token", "app_user", "client", "worker_lease", "worker_heartbeat",
]


def database_url(tmp_path: Path) -> str:
    """The database for one test."""
    return os.environ.get("TANDEM_TEST_DATABASE_URL") or f"sqlite://{tmp_path}/tandem.sqlite3"


def broadcast_url() -> str:
    """The broadcast for one test."""
    return os.environ.get("TANDEM_TEST_BROADCAST_URL") or "memory://"


async def reset_database(url: str) -> None:
    """Empty every table of a shared (PostgreSQL) test database."""
    if url.startswith("sqlite://"):
        return
    from tortoise import Tortoise, connections

    await db.migrate(Settings.from_env({}, database_url=url))
    await Tortoise.init(config=db.tortoise_config(url))
    try:
        await connections.get("default").execute_script(
            "TRUNCATE " + ", ".join(PG_TABLES) + " RESTART IDENTITY CASCADE;"
        )
    finally:
        await db.close()


def test_settings(tmp_path: Path, **overrides: object) -> Settings:
    """Settings for a test: its database and broadcast, fast intervals."""
    base: dict[str, object] = dict(
        database_url=database_url(tmp_path), broadcast_url=broadcast_url(), shards=4, lease_s=3.0,
    )
    base.update(overrides)
    return Settings.from_env({}, **base)


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Settings]:
    """An initialised, empty database (Tortoise ready) for unit tests."""
    settings = test_settings(tmp_path)
    await reset_database(settings.database_url)
    await db.init(settings)
    try:
        yield settings
    finally:
        await db.close()
