"""How Tandem opens SQLite: WAL, and commits that do not wait for a disk flush."""

from __future__ import annotations

from pathlib import Path

from tortoise import Tortoise, connections

from app.db import sqlite_url, tortoise_config


async def _pragmas(url: str) -> tuple[int, str]:
    await Tortoise.init(config=tortoise_config(url))
    try:
        conn = connections.get("default")
        _, sync = await conn.execute_query("PRAGMA synchronous")
        _, mode = await conn.execute_query("PRAGMA journal_mode")
        return int(sync[0][0]), str(mode[0][0])
    finally:
        await Tortoise.close_connections()


async def test_sqlite_is_opened_in_wal_mode_with_normal_sync(tmp_path: Path) -> None:
    """synchronous=NORMAL (1): the log is flushed at checkpoints, not at every commit."""
    assert await _pragmas(f"sqlite://{tmp_path}/a.sqlite3") == (1, "wal")


async def test_a_synchronous_given_in_the_url_is_kept(tmp_path: Path) -> None:
    assert await _pragmas(f"sqlite://{tmp_path}/b.sqlite3?synchronous=FULL") == (2, "wal")
    assert sqlite_url("sqlite:///x.sqlite3?journal_size_limit=1") == "sqlite:///x.sqlite3?journal_size_limit=1&synchronous=NORMAL"
