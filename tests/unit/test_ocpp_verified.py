"""The per-process cache of verified charge point credentials, and the busy handshake's Retry-After."""

from __future__ import annotations

import pytest

from app.ocpp import passwords
from app.ocpp.verified import VerifiedCredentials


@pytest.fixture
def scrypt_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every password the real `passwords.verify` is asked about, in order."""
    calls: list[str] = []
    real = passwords.verify

    def counting(password: str, stored: str | None) -> bool:
        calls.append(password)
        return real(password, stored)

    monkeypatch.setattr(passwords, "verify", counting)
    return calls


async def test_a_reconnect_with_the_verified_password_skips_scrypt(scrypt_calls: list[str]) -> None:
    cache = VerifiedCredentials()
    stored = passwords.hash_password("right-password")
    assert await cache.check("CP-1", "right-password", stored) == "accepted"
    assert await cache.check("CP-1", "right-password", stored) == "cached"
    assert await cache.check("CP-1", "right-password", stored) == "cached"
    assert scrypt_calls == ["right-password"]


async def test_a_wrong_password_always_goes_to_scrypt_and_fails(scrypt_calls: list[str]) -> None:
    cache = VerifiedCredentials()
    stored = passwords.hash_password("right-password")
    assert await cache.check("CP-1", "right-password", stored) == "accepted"
    assert await cache.check("CP-1", "wrong-password", stored) == "unauthenticated"
    assert await cache.check("CP-1", "wrong-password", stored) == "unauthenticated"
    assert await cache.check("CP-2", "right-password", stored) == "accepted"  # another id: its own entry
    assert scrypt_calls == ["right-password", "wrong-password", "wrong-password", "right-password"]
    assert await cache.check("CP-1", "right-password", stored) == "cached"  # still its own


async def test_a_relinked_charge_point_misses(scrypt_calls: list[str]) -> None:
    """A new stored hash (relinked, or a new password) is checked with scrypt again: the old
    password no longer passes, the new one does and is remembered."""
    cache = VerifiedCredentials()
    old = passwords.hash_password("old-password")
    assert await cache.check("CP-1", "old-password", old) == "accepted"
    new = passwords.hash_password("new-password")
    assert await cache.check("CP-1", "old-password", new) == "unauthenticated"
    assert await cache.check("CP-1", "new-password", new) == "accepted"
    assert await cache.check("CP-1", "new-password", new) == "cached"
    # the same password hashed again (a relink with an unchanged password) is another hash: a miss
    again = passwords.hash_password("new-password")
    assert await cache.check("CP-1", "new-password", again) == "accepted"
    assert scrypt_calls == ["old-password", "old-password", "new-password", "new-password"]


async def test_an_unknown_id_is_never_cached(scrypt_calls: list[str]) -> None:
    cache = VerifiedCredentials()
    assert await cache.check("CP-NOBODY", "any-password", None) == "unauthenticated"
    assert await cache.check("CP-NOBODY", "any-password", None) == "unauthenticated"
    assert len(scrypt_calls) == 2 and not cache.knows("CP-NOBODY")


def test_no_password_is_kept_and_the_size_is_bounded() -> None:
    cache = VerifiedCredentials(max_entries=2)
    cache.remember("CP-1", "password-one", "scrypt$h1")
    cache.remember("CP-2", "password-two", "scrypt$h2")
    assert cache.hit("CP-1", "password-one", "scrypt$h1")  # CP-1 now the most recently used
    cache.remember("CP-3", "password-three", "scrypt$h3")
    assert len(cache) == 2
    assert not cache.knows("CP-2") and cache.knows("CP-1") and cache.knows("CP-3")
    assert "password-one" not in repr(cache._entries)
    # another process (another key) cannot use these entries
    other = VerifiedCredentials()
    other._entries.update(cache._entries)
    assert not other.hit("CP-1", "password-one", "scrypt$h1")


async def test_busy_password_threads_refuse_a_miss_but_not_a_hit(monkeypatch: pytest.MonkeyPatch,
                                                                 scrypt_calls: list[str]) -> None:
    cache = VerifiedCredentials()
    stored = passwords.hash_password("right-password")
    assert await cache.check("CP-1", "right-password", stored) == "accepted"
    monkeypatch.setattr(passwords, "_checks", passwords.MAX_WAITING)
    assert await cache.check("CP-1", "right-password", stored) == "cached"
    assert await cache.check("CP-1", "wrong-password", stored) == "busy"
    assert await cache.check("CP-2", "right-password", stored) == "busy"
    assert scrypt_calls == ["right-password"]


def test_retry_after_follows_the_queued_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The queued checks' time at the measured pace, times a random 1-2, in whole seconds, at
    least 1."""
    monkeypatch.setattr(passwords, "_per_check_s", 0.5)
    monkeypatch.setattr(passwords, "_checks", 0)
    assert {passwords.retry_after_s() for _ in range(50)} == {1}
    monkeypatch.setattr(passwords, "_checks", 20 * passwords.THREADS)  # 10 s of work per thread
    seen = {passwords.retry_after_s() for _ in range(200)}
    assert min(seen) >= 10 and max(seen) <= 20 and len(seen) > 1
