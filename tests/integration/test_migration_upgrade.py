"""Upgrading a database that holds rows: a migration that adds a required (NOT NULL) column gives
it a database default, so the rows already there take it instead of failing the upgrade. On the
engine under test (SQLite by default, PostgreSQL with TANDEM_TEST_DATABASE_URL)."""

from __future__ import annotations

import importlib
import json
import pkgutil

from tortoise import Tortoise
from tortoise.migrations import operations as ops
from tortoise.migrations.api.migrate import migrate as tortoise_migrate

import app.db.migrations as migrations
from app import crypto, db
from app.db.models import SmartChargingPlan, Vehicle
from app.settings import Settings
from tests.integration.migrating import placeholders, seed_0001, sql


def added_required_columns() -> list[tuple[str, str, str, bool]]:
    """Every column a migration adds that may not be NULL: (migration, model, field, has a DB default)."""
    found = []
    for info in sorted(pkgutil.iter_modules(migrations.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{migrations.__name__}.{info.name}")
        for op in module.Migration.operations:
            if isinstance(op, ops.AddField) and not op.field.null:
                found.append((info.name, op.model_name, op.name, op.field.has_db_default()))
    return found


def test_every_required_column_a_migration_adds_has_a_database_default() -> None:
    added = added_required_columns()
    assert {(m, f) for _, m, f, _ in added} >= {("SmartChargingPlan", "revision"), ("Vehicle", "id_tags")}
    assert [a for a in added if not a[3]] == []


async def test_rows_from_before_take_the_defaults_of_the_columns_added_since(fresh_url: str) -> None:
    """A vehicle from 0001 (before idTags) and a smart charging plan from 0014 (before its revision)
    upgrade to the newest schema, taking the added columns' defaults: no idTags, revision 0."""
    await seed_0001(fresh_url)
    await sql(fresh_url, "INSERT INTO vehicle (id, vendor, vendor_id, capabilities, is_reachable, shard, link_id, "
                          f"user_id, created_at) VALUES ({placeholders(fresh_url, 8)}, CURRENT_TIMESTAMP)",
               ["v1", "smartcar", "VIN1", json.dumps([]), True, 0, "l1", "u1"])
    settings = Settings(database_url=fresh_url, secret_keys=crypto.generate_key())
    crypto.configure(crypto.keys_for(settings))  # 0002 encrypts the link's secrets on the way
    await tortoise_migrate(config=db.tortoise_config(fresh_url), target="models.0014_session_start_level")
    await Tortoise.close_connections()
    await sql(fresh_url, "INSERT INTO smart_charging_plan (vehicle_id, user_id, plan_id, state, slots, planned, "
                          f"updated_at) VALUES ({placeholders(fresh_url, 6)}, CURRENT_TIMESTAMP)",
               ["v1", "u1", "p1", "DISABLED", json.dumps([]), False])
    await db.init(settings)
    try:
        vehicle = await Vehicle.get(id="v1")
        assert (vehicle.id_tags, vehicle.learnt_id_tags) == ([], [])
        assert (await SmartChargingPlan.get(vehicle_id="v1")).revision == 0
    finally:
        await db.close()
