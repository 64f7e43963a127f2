"""Databases at an old migration, for tests of upgrades: raw SQL, and the rows of migration 0001."""

from __future__ import annotations

import json

from tortoise import Tortoise, connections
from tortoise.migrations.api.migrate import migrate as tortoise_migrate

from app import db

PLAIN = {"username": "owner@example.com", "password": "correct horse battery staple"}


def placeholders(url: str, n: int) -> str:
    """`n` query parameters for the database at `url`: "$1, $2" on PostgreSQL, "?, ?" on SQLite."""
    return ", ".join(f"${i}" for i in range(1, n + 1)) if url.startswith("postgres") else ", ".join("?" * n)


async def sql(url: str, query: str, values: list[object] | None = None) -> list[dict[str, object]]:
    """Run one statement on the database at `url` (Tortoise opened and closed around it); its rows."""
    await Tortoise.init(config=db.tortoise_config(url))
    try:
        return await connections.get("default").execute_query_dict(query, values or [])
    finally:
        await Tortoise.close_connections()


async def seed_0001(url: str) -> None:
    """A database at migration 0001 holding a user with a plaintext vendor link."""
    await tortoise_migrate(config=db.tortoise_config(url), target="models.0001_initial")
    await Tortoise.close_connections()
    pg = not url.startswith("sqlite://")
    marks = ["$1", "$2", "$3", "$4", "$5", "$6"] if pg else ["?"] * 6
    await sql(url, f"INSERT INTO client (id, name, secret_hash, created_at) VALUES ({marks[0]}, 'c', 'h', "
                    f"CURRENT_TIMESTAMP)", ["c1"])
    await sql(url, f"INSERT INTO app_user (id, client_id, external_id, created_at) VALUES ({marks[0]}, "
                    f"{marks[1]}, 'u', CURRENT_TIMESTAMP)", ["u1", "c1"])
    await sql(url, "INSERT INTO vendor_link (id, user_id, vendor, account_key, credentials, access_token, status,"
                    f" created_at) VALUES ({', '.join(marks[:6])}, 'OK', CURRENT_TIMESTAMP)",
               ["l1", "u1", "easee", "k1", json.dumps(PLAIN), "plain-access-token"])
