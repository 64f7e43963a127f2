"""Shared test fixtures: the database and broadcast under test, chosen by environment.

`TANDEM_TEST_DATABASE_URL` (default: a fresh SQLite file per test) and
`TANDEM_TEST_BROADCAST_URL` (default `memory://`) let `.ci/run` run the same suite against
PostgreSQL and Redis.
"""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from app import crypto, db
from app.settings import Settings

#: The vendor-secret key of this test session (PostgreSQL needs one; SQLite files get a key file).
#: In the environment, so `tandem` subprocesses of tests share it.
TEST_SECRET_KEYS = os.environ.setdefault("TANDEM_SECRET_KEYS", crypto.generate_key())

PG_TABLES = [
    "action_attempt", "charge_action", "ev_system", "observation", "vehicle", "charger", "location",
    "charger_probe", "path_score", "vendor_link", "user_token", "app_user", "client", "worker_lease",
    "worker_heartbeat", "ocpp_station", "smart_charging_policy", "smart_charging_plan", "tariff",
    "charging_session", "vehicle_charge_curve", "id_tag_sighting",
]


REDIS_DEFAULT = "redis://127.0.0.1:6379/0"


def _private_postgres_database() -> None:
    """Point `TANDEM_TEST_DATABASE_URL` at a database of this test session's own.

    The PostgreSQL server is shared: the URL given names a database to connect to (`test`),
    and this session creates `tandem_test_<pid>` beside it, dropped again at exit, so two runs
    never truncate each other's tables. Subprocesses inherit the rewritten variable.
    """
    url = os.environ.get("TANDEM_TEST_DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")) or os.environ.get("TANDEM_TEST_DB_PRIVATE"):
        return
    import asyncio
    import atexit

    import asyncpg

    parts = urlsplit(url)
    name = f"tandem_test_{os.getpid()}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1), timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    try:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}"'))
        asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError):
        return  # unreachable: require_service skips or fails the tests that need it

    def drop() -> None:
        try:
            asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        except (OSError, asyncpg.PostgresError):
            pass

    atexit.register(drop)
    os.environ["TANDEM_TEST_DATABASE_URL"] = parts._replace(path=f"/{name}").geturl()
    os.environ["TANDEM_TEST_DB_PRIVATE"] = "1"


_private_postgres_database()


def require_service(url: str) -> str:
    """`url` if its server accepts connections; otherwise skip the test (fail it under CI=true)."""
    parts = urlsplit(url)
    if parts.scheme in ("sqlite", "memory"):
        return url
    host, port = parts.hostname or "127.0.0.1", parts.port or {"redis": 6379}.get(parts.scheme, 5432)
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError:
        reason = f"{parts.scheme} at {host}:{port} is not reachable"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"{reason} (CI=true: the service is required)")
        pytest.skip(reason)
    return url


def database_url(tmp_path: Path) -> str:
    """The database for one test."""
    return require_service(os.environ.get("TANDEM_TEST_DATABASE_URL") or f"sqlite://{tmp_path}/tandem.sqlite3")


def broadcast_url() -> str:
    """The broadcast for one test."""
    return require_service(os.environ.get("TANDEM_TEST_BROADCAST_URL") or "memory://")


@pytest.fixture
def redis_url() -> str:
    """A reachable Redis for tests that need one whatever the engine under test."""
    url = os.environ.get("TANDEM_TEST_BROADCAST_URL", "")
    return require_service(url if url.startswith("redis") else REDIS_DEFAULT)


async def reset_database(url: str) -> None:
    """Empty every table of a shared (PostgreSQL) test database."""
    if url.startswith("sqlite://"):
        return
    from tortoise import Tortoise, connections

    await db.migrate(Settings.from_env({}, database_url=url, secret_keys=TEST_SECRET_KEYS))
    await Tortoise.init(config=db.tortoise_config(url))
    try:
        await connections.get("default").execute_script(
            "TRUNCATE " + ", ".join(PG_TABLES) + " RESTART IDENTITY CASCADE;"
        )
    finally:
        await db.close()


def settings_for(tmp_path: Path, **overrides: object) -> Settings:
    """Settings for a test: its database and broadcast, fast intervals."""
    base: dict[str, object] = dict(
        database_url=database_url(tmp_path), broadcast_url=broadcast_url(), shards=4, lease_s=3.0,
        # The suite sends many requests from 127.0.0.1; tests of the limiter set their own.
        rate_limit_per_minute=0,
        secret_keys=TEST_SECRET_KEYS,
    )
    base.update(overrides)
    return Settings.from_env({}, **base)


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Settings]:
    """An initialised, empty database (Tortoise ready) for unit tests."""
    settings = settings_for(tmp_path)
    await reset_database(settings.database_url)
    await db.init(settings)
    try:
        yield settings
    finally:
        await db.close()
