"""Fixtures of the integration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tortoise import Tortoise

from tests.conftest import database_url


@pytest.fixture
async def fresh_url(tmp_path: Path) -> AsyncIterator[str]:
    """An empty database: a new SQLite file, or a new PostgreSQL database beside the test one."""
    url = database_url(tmp_path)
    if url.startswith("sqlite://"):
        yield f"sqlite://{tmp_path}/migrate.sqlite3"
        return
    import asyncpg

    name = f"tandem_mig_{tmp_path.name[-20:]}".replace("-", "_").lower()
    admin = url.replace("postgres://", "postgresql://", 1)

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(admin, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    await run(f'DROP DATABASE IF EXISTS "{name}"')
    await run(f'CREATE DATABASE "{name}"')
    try:
        yield url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        await Tortoise.close_connections()
        await run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
