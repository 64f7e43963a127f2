"""Rewriting stored vendor secrets: encrypt plaintext rows (migration 0002) and re-encrypt rows
under the first key (`tandem rotate-secrets`). Works on raw rows, so it runs inside a migration
as well as in a running process, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import json
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from app import crypto
from app.db.fields import is_encrypted_json, seal_json
from app.settings import ConfigError


def _placeholders(client: BaseDBAsyncClient, n: int) -> list[str]:
    if client.capabilities.dialect == "sqlite":
        return ["?"] * n
    return [f"${i}" for i in range(1, n + 1)]


def _rekey_json(raw: Any, keyring: crypto.Keyring) -> str | None:
    """The new column text of a credentials value, or None when it is already right."""
    if raw is None:
        return None
    data = json.loads(raw) if isinstance(raw, (str, bytes)) else raw
    if is_encrypted_json(data):
        token = data["fernet"]
        if keyring.is_current(token):
            return None
        return json.dumps({"fernet": keyring.rotate(token)}, separators=(",", ":"))
    return json.dumps(seal_json(data), separators=(",", ":"))


def _rekey_text(raw: Any, keyring: crypto.Keyring) -> str | None:
    """The new column text of an access token, or None when it is already right."""
    if raw is None or raw == "":
        return None
    text = str(raw)
    if text.startswith(crypto.TOKEN_PREFIX):
        return None if keyring.is_current(text) else keyring.rotate(text)
    return keyring.encrypt(text)


async def rewrite_vendor_secrets(client: BaseDBAsyncClient) -> int:
    """Encrypt every plaintext vendor secret and re-encrypt every one not under the first key.

    Returns the number of rows changed. Needs the process keyring only when a row needs it
    (raises `SecretsUnavailable` then, or when a row is encrypted with no configured key).
    """
    rows = await client.execute_query_dict("SELECT id, credentials, access_token FROM vendor_link")
    changed = 0
    for row in rows:
        if not row["credentials"] and not row["access_token"]:
            continue
        keyring = crypto.current()
        creds = _rekey_json(row["credentials"], keyring)
        token = _rekey_text(row["access_token"], keyring)
        if creds is None and token is None:
            continue
        sets: list[str] = []
        values: list[Any] = []
        if creds is not None:
            sets.append("credentials")
            values.append(creds)
        if token is not None:
            sets.append("access_token")
            values.append(token)
        marks = _placeholders(client, len(sets) + 1)
        assignments = ", ".join(f"{col} = {mark}" for col, mark in zip(sets, marks, strict=False))
        await client.execute_query(f"UPDATE vendor_link SET {assignments} WHERE id = {marks[-1]}", [*values, row["id"]])
        changed += 1
    return changed


async def drop_stale_shared_links(client: BaseDBAsyncClient) -> int:
    """Delete vendor links that hold no asset any more while another user links the same account.

    Such leftovers (an unlinked account's credentials) would block the one-user-per-account
    constraint. Returns how many were deleted. Links that still hold assets are kept.
    """
    rows = await client.execute_query_dict(
        "SELECT l.id FROM vendor_link l WHERE EXISTS (SELECT 1 FROM vendor_link o WHERE o.vendor = l.vendor"
        " AND o.account_key = l.account_key AND o.user_id <> l.user_id)"
        " AND NOT EXISTS (SELECT 1 FROM vehicle v WHERE v.link_id = l.id)"
        " AND NOT EXISTS (SELECT 1 FROM charger c WHERE c.link_id = l.id)"
    )
    for row in rows:
        mark = _placeholders(client, 1)[0]
        await client.execute_query(f"DELETE FROM vendor_link WHERE id = {mark}", [row["id"]])
    return len(rows)


async def shared_accounts(client: BaseDBAsyncClient) -> int:
    """How many vendor accounts are linked by more than one user."""
    rows = await client.execute_query_dict(
        "SELECT vendor, account_key FROM vendor_link GROUP BY vendor, account_key HAVING COUNT(*) > 1"
    )
    return len(rows)


async def check_readable(client: BaseDBAsyncClient, sample: int = 100) -> None:
    """Refuse to run when the configured keys cannot open stored secrets (a key was dropped too
    early, or the wrong `TANDEM_SECRET_KEYS`): raises ConfigError after trying up to `sample` rows."""
    rows = await client.execute_query_dict(f"SELECT credentials, access_token FROM vendor_link LIMIT {int(sample)}")
    try:
        for row in rows:
            raw = row["credentials"]
            data = json.loads(raw) if isinstance(raw, (str, bytes)) else raw
            if is_encrypted_json(data):
                crypto.decrypt(data["fernet"])
            token = row["access_token"]
            if isinstance(token, str) and token.startswith(crypto.TOKEN_PREFIX):
                crypto.decrypt(token)
    except crypto.SecretsUnavailable as exc:
        raise ConfigError(str(exc)) from None
