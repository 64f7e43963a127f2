"""Database set-up: Tortoise config from settings, init/close, migrations."""

from __future__ import annotations

from typing import Any

from tortoise import Tortoise, connections
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.migrations.api.migrate import migrate as tortoise_migrate
from tortoise.queryset import QuerySet

from app import crypto
from app.db.secrets import check_readable, rewrite_vendor_secrets
from app.settings import Settings

MODELS_MODULE = "app.db.models"


def tortoise_config(database_url: str) -> dict[str, Any]:
    """The Tortoise config for a database URL (sqlite:// or postgres://)."""
    url = database_url
    if url.startswith("postgresql://"):
        url = "postgres://" + url[len("postgresql://") :]
    if url.startswith("sqlite://"):
        import os

        path = url[len("sqlite://") :].split("?", 1)[0]
        if path not in ("", ":memory:"):
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        url = sqlite_url(url)
    return {
        "connections": {"default": url},
        "apps": {
            "models": {
                "models": [MODELS_MODULE],
                "migrations": "app.db.migrations",
                "default_connection": "default",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


def sqlite_url(url: str) -> str:
    """A SQLite URL with the server's pragmas added unless given: Tortoise opens SQLite in WAL
    mode; `synchronous=NORMAL` syncs the log at checkpoints rather than at every commit (a
    crash keeps every transaction but the last few; the database stays consistent), which
    takes a disk flush off each of the central system's per-message writes."""
    if "synchronous=" in url.partition("?")[2]:
        return url
    return url + ("&" if "?" in url else "?") + "synchronous=NORMAL"


async def migrate(settings: Settings) -> None:
    """Apply every migration (idempotent). Configures the vendor-secret keyring first (migration
    0002 encrypts plaintext rows with it); ConfigError when no key can be had."""
    crypto.configure(crypto.keys_for(settings))
    try:
        await tortoise_migrate(config=tortoise_config(settings.database_url))
    finally:
        await Tortoise.close_connections()


async def init(settings: Settings) -> None:
    """Migrate, then initialise Tortoise for this process (usable from any task)."""
    await migrate(settings)
    # Tortoise caches each table's SQL per connection *name* ("default"), whatever database it
    # points at: a process that opens another database (a test session switching between SQLite
    # and PostgreSQL) must not reuse the other dialect's statements.
    EXECUTOR_CACHE.clear()
    await Tortoise.init(config=tortoise_config(settings.database_url), _enable_global_fallback=True)
    try:
        await check_readable(connections.get("default"))
    except BaseException:
        await Tortoise.close_connections()
        raise


async def rotate_secrets() -> int:
    """Re-encrypt every stored vendor secret with the first configured key (after `init`);
    returns the rows changed. Afterwards older keys may be dropped from TANDEM_SECRET_KEYS."""
    return await rewrite_vendor_secrets(connections.get("default"))


async def close() -> None:
    """Close every database connection."""
    await Tortoise.close_connections()


async def column(query: QuerySet[Any], name: str) -> list[Any]:
    """One column of the rows `query` selects (a typed `values_list(name, flat=True)`)."""
    return [row[name] for row in await query.values(name)]
