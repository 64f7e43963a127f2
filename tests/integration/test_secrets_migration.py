"""Migration 0002 encrypts plaintext vendor secrets; `rotate-secrets` re-keys them; a wrong key
refuses to start. On the engine under test (SQLite by default, PostgreSQL with
TANDEM_TEST_DATABASE_URL), each test in a database of its own."""

from __future__ import annotations

import pytest

from app import crypto, db
from app.db.models import VendorLink
from app.settings import ConfigError, Settings
from tests.integration.migrating import PLAIN, seed_0001, sql


async def test_migration_encrypts_plaintext_rows_and_the_app_reads_them(fresh_url: str) -> None:
    await seed_0001(fresh_url)
    raw = (await sql(fresh_url, "SELECT credentials, access_token FROM vendor_link"))[0]
    assert PLAIN["password"] in str(raw["credentials"])  # the bug: plaintext at rest
    settings = Settings(database_url=fresh_url, secret_keys=crypto.generate_key())
    await db.init(settings)
    try:
        link = await VendorLink.get(id="l1")
        assert link.credentials == PLAIN and link.access_token == "plain-access-token"
    finally:
        await db.close()
    raw = (await sql(fresh_url, "SELECT credentials, access_token FROM vendor_link"))[0]
    for secret in (PLAIN["password"], PLAIN["username"], "plain-access-token"):
        assert secret not in str(raw["credentials"]) and secret not in str(raw["access_token"])
    # the other key cannot open them: start-up is refused, naming the variable
    with pytest.raises(ConfigError, match="TANDEM_SECRET_KEYS"):
        await db.init(Settings(database_url=fresh_url, secret_keys=crypto.generate_key()))


async def test_rotate_secrets_moves_rows_to_the_first_key(fresh_url: str) -> None:
    await seed_0001(fresh_url)
    old, new = crypto.generate_key(), crypto.generate_key()
    await db.init(Settings(database_url=fresh_url, secret_keys=old))
    await db.close()
    await db.init(Settings(database_url=fresh_url, secret_keys=f"{new},{old}"))
    try:
        assert await db.rotate_secrets() == 1
        assert await db.rotate_secrets() == 0  # already under the first key
    finally:
        await db.close()
    await db.init(Settings(database_url=fresh_url, secret_keys=new))  # the old key is no longer needed
    try:
        link = await VendorLink.get(id="l1")
        assert link.credentials == PLAIN and link.access_token == "plain-access-token"
        link.access_token = "next-token"
        await link.save()
        await VendorLink.filter(id="l1").update(access_token="updated-token")
    finally:
        await db.close()
    raw = (await sql(fresh_url, "SELECT access_token FROM vendor_link"))[0]
    assert "updated-token" not in str(raw["access_token"])
    assert crypto.Keyring((new,)).decrypt(str(raw["access_token"])) == "updated-token"


async def _add_user_link(url: str, user_id: str, link_id: str, charger_id: str | None) -> None:
    """Another user linking the same account (vendor easee, key k1), with one charger or none."""
    pg = not url.startswith("sqlite://")
    m = [f"${i}" for i in range(1, 7)] if pg else ["?"] * 6
    await sql(url, f"INSERT INTO app_user (id, client_id, external_id, created_at) VALUES ({m[0]}, {m[1]}, "
                    f"{m[2]}, CURRENT_TIMESTAMP)", [user_id, "c1", user_id])
    await sql(url, "INSERT INTO vendor_link (id, user_id, vendor, account_key, credentials, access_token,"
                    f" status, created_at) VALUES ({m[0]}, {m[1]}, 'easee', 'k1', '{{}}', '', 'OK',"
                    " CURRENT_TIMESTAMP)", [link_id, user_id])
    if charger_id is not None:
        await sql(url, "INSERT INTO charger (id, vendor, vendor_id, capabilities, is_reachable, shard, created_at,"
                        " user_id, link_id, is_online, power_state, schedule_blocking) VALUES"
                        f" ({m[0]}, 'easee', {m[1]}, '[]', {m[2]}, 0, CURRENT_TIMESTAMP, {m[3]}, {m[4]}, {m[5]},"
                        " 'UNKNOWN', FALSE)",
                   [charger_id, "EH" + charger_id, False, user_id, link_id, False])


async def test_migration_drops_a_leftover_link_of_an_account_another_user_links(fresh_url: str) -> None:
    await seed_0001(fresh_url)
    await _add_user_link(fresh_url, "u0", "l0", "ch0")  # holds the account's charger
    await _add_user_link(fresh_url, "u2", "l2", None)  # unlinked its last asset long ago
    await db.init(Settings(database_url=fresh_url, secret_keys=crypto.generate_key()))
    await db.close()
    rows = await sql(fresh_url, "SELECT id FROM vendor_link WHERE account_key = 'k1'")
    assert [r["id"] for r in rows] == ["l0"]


async def test_migration_refuses_an_account_two_users_hold_assets_of(fresh_url: str) -> None:
    await seed_0001(fresh_url)
    await _add_user_link(fresh_url, "u0", "l0", "ch0")
    await _add_user_link(fresh_url, "u2", "l2", "ch2")
    with pytest.raises(RuntimeError, match="linked by more than one user"):
        await db.migrate(Settings(database_url=fresh_url, secret_keys=crypto.generate_key()))
    rows = await sql(fresh_url, "SELECT id FROM vendor_link WHERE account_key = 'k1' ORDER BY id")
    assert [r["id"] for r in rows] == ["l0", "l1", "l2"]  # rolled back: nothing was deleted
